"""narrative_vcs/rules/protected.py: a protected branch moves forward through decided changes only."""

from __future__ import annotations

import pytest

from narrative_vcs import governance
from narrative_vcs.gate import RuleBroken
from narrative_vcs.governance import GOVERNANCE_BRANCH
from narrative_vcs.objects import Actor, Story
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.rules import story_rules
from narrative_vcs.transfer import copy_refs
from tests.conftest import Writer

from .conftest import head

T0 = 1_800_000_000


@pytest.fixture
def protected(story: Repository, writer: Writer) -> Repository:
    writer.commit(ChangeSet().upsert_actor(Actor("dot", "Dot Voter")), actor="dot")
    record = story.read_story_record()
    assert record is not None
    settings = (*record.settings, ("protected", ["main"]), ("governance", {"quorum": 2, "window": 600}))
    writer.commit(ChangeSet().set_story(Story(record.title, settings)))
    story.create_branch("side")
    writer.page("door", "The door stood open.", branch="side", title="Door", follows=("prologue",))
    return story


def test_events_land_on_a_protected_branch_without_a_vote(protected: Repository, writer: Writer) -> None:
    writer.mint({"bot": 5})
    writer.event("gift.txn.v1", {"op": "transfer", "to": "cal", "amount": 2}, actor="bot")
    writer.event("ritual.performed.v1", {"glyph": "ink", "rotation": 180}, actor="cal")
    assert [c.kind for c in protected.iter_log(["main"])][:3] == [
        "ritual.performed.v1",
        "gift.txn.v1",
        "gift.txn.v1",
    ]
    with pytest.raises(RuleBroken, match="main is protected: open a proposal"):
        writer.page("door", "An agent's door.", actor="bot", kind="agent.emit.v1", title="Door")


def test_protection_stays_until_a_proposal_lifts_it(protected: Repository, writer: Writer) -> None:
    record = protected.read_story_record()
    assert record is not None
    unprotected = Story(record.title, tuple(s for s in record.settings if s[0] != "protected"))
    with pytest.raises(RuleBroken, match="main is protected: open a proposal"):
        writer.commit(ChangeSet().set_story(unprotected))
    writer.commit(ChangeSet().set_story(unprotected), branch="side")
    governance.propose(protected, "side", "main", actor="ada", message="Lift it", now=T0)
    governance.vote(protected, 1, actor="bot", choice="yes", now=T0 + 1)
    assert governance.vote(protected, 1, actor="cal", choice="yes", now=T0 + 2).status == "executed"
    writer.page("hall", "Free again.")  # main is no longer protected


def test_a_proposal_decided_under_other_rules_is_stale(protected: Repository, writer: Writer) -> None:
    governance.propose(protected, "side", "main", actor="ada", message="Open the door", now=T0)
    record = protected.read_story_record()
    assert record is not None
    others = tuple(s for s in record.settings if s[0] != "governance")
    stricter = Story(record.title, (*others, ("governance", {"quorum": 3, "window": 600})))
    protected.create_branch("rules")
    writer.commit(ChangeSet().set_story(stricter), branch="rules")
    governance.propose(protected, "rules", "main", actor="ada", message="Stricter", now=T0 + 1)
    governance.vote(protected, 2, actor="bot", choice="yes", now=T0 + 2)
    assert governance.vote(protected, 2, actor="cal", choice="yes", now=T0 + 3).status == "executed"
    governance.vote(protected, 1, actor="bot", choice="yes", now=T0 + 4)
    state = governance.vote(protected, 1, actor="cal", choice="yes", now=T0 + 5)
    assert state.status == "failed" and state.result is not None
    assert "decided under other rules than main has now" in state.result.reason


def test_governed_history_travels_with_its_proposals(protected: Repository) -> None:
    governance.propose(protected, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(protected, 1, actor="bot", choice="yes", now=T0 + 1)
    governance.vote(protected, 1, actor="cal", choice="yes", now=T0 + 2)
    clone = Repository.memory(rules=story_rules())
    main, gov = branch_ref("main"), branch_ref(GOVERNANCE_BRANCH)
    protected.create_branch("before", protected.commits.get(head(protected)).parents[0])
    copy_refs(protected, clone, [(branch_ref("before"), main)])  # the clone's main as it was
    # main alone: the merge names proposal 1, which the clone's governance branch does not have
    with pytest.raises(RuleBroken, match="the governance branch has no proposal 1"):
        copy_refs(protected, clone, [(main, main)])
    results = copy_refs(protected, clone, [(gov, gov), (main, main)])
    assert [r.new for r in results] == [head(protected, GOVERNANCE_BRANCH), head(protected)]
    assert clone.fsck_rules().ok
