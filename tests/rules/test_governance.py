"""narrative_vcs/rules/governance.py: the governance branch is the engine's, every step replayed."""

from __future__ import annotations

import dataclasses

import pytest

from narrative_vcs import governance
from narrative_vcs.gate import RuleBroken
from narrative_vcs.governance import GOVERNANCE_BRANCH
from narrative_vcs.governance.proposal import ProposalResult, ProposalState, Vote
from narrative_vcs.objects import Actor, Story
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move

T0 = 1_800_000_000
DOT = Actor("dot", "Dot Voter", "human")


@pytest.fixture
def governed(story: Repository, writer: Writer) -> Repository:
    """main protected (quorum 2, one actor one vote); side edits door; proposal 1 opened by ada."""
    writer.commit(ChangeSet().upsert_actor(DOT), actor="dot")
    record = story.read_story_record()
    assert record is not None
    settings = (*record.settings, ("protected", ["main"]), ("governance", {"quorum": 2, "window": 600}))
    writer.commit(ChangeSet().set_story(Story(record.title, settings)))
    story.create_branch("side")
    writer.page("door", "The door stood open.", branch="side", title="Door", follows=("prologue",))
    governance.propose(story, "side", "main", actor="ada", message="Open the door", now=T0)
    return story


def proposal(repo: Repository) -> tuple[ObjectId, ProposalState]:
    gov = head(repo, GOVERNANCE_BRANCH)
    return gov, governance.show(repo, 1)


def step(repo: Repository, state: ProposalState, author: str, kind: str, when: int) -> ObjectId:
    """A governance commit writing ``state`` as proposals/1.yaml (and the author's record), by hand."""
    gov = head(repo, GOVERNANCE_BRANCH)
    files = {"proposals/1.yaml": state.serialise()}
    record = repo.snapshots.read(repo.commits.get(state.target_head).tree, f"actors/{author}.yaml")
    if record is not None:
        files[f"actors/{author}.yaml"] = record
    event = {"proposal": 1, "status": state.status, "source": state.source, "target": state.target}
    return forge(repo, gov, files, author=author, kind=kind, event=event, time=when)


def refused(repo: Repository, forged: ObjectId, message: str, branch: str = GOVERNANCE_BRANCH) -> None:
    before = repo.branch_head(branch)
    with pytest.raises(RuleBroken, match=message):
        move(repo, branch, forged)
    assert repo.branch_head(branch) == before


def test_votes_cannot_be_forged(governed: Repository) -> None:
    _, state = proposal(governed)
    two = state.changed(votes={a: Vote(a, "yes", 0, 1.0, T0 + 5) for a in ("bot", "cal")}, status="passed")
    refused(
        governed,
        step(governed, two, "bot", "proposal.vote", T0 + 5),
        r"proposals/1.yaml is not what this proposal.vote gives",
    )
    for_other = state.changed(votes={"cal": Vote("cal", "yes", 0, 1.0, T0 + 5)})
    refused(
        governed,
        step(governed, for_other, "bot", "proposal.vote", T0 + 5),
        "the vote of bot is not in proposals/1.yaml",
    )
    heavy = state.changed(votes={"bot": Vote("bot", "yes", 0, 5.0, T0 + 5)})
    refused(governed, step(governed, heavy, "bot", "proposal.vote", T0 + 5), "votes should be")
    late = state.changed(votes={"bot": Vote("bot", "yes", 0, 1.0, T0 + 600)})
    refused(governed, step(governed, late, "bot", "proposal.vote", T0 + 600), "proposal 1 is past its window")
    outsider = state.changed(votes={"zed": Vote("zed", "yes", 0, 1.0, T0 + 5)})
    refused(governed, step(governed, outsider, "zed", "proposal.vote", T0 + 5), "zed")
    honest = state.changed(votes={"bot": Vote("bot", "yes", 0, 1.0, T0 + 5)})
    move(governed, GOVERNANCE_BRANCH, step(governed, honest, "bot", "proposal.vote", T0 + 5))
    again = honest.changed(votes={**honest.votes, "bot": Vote("bot", "no", 0, 1.0, T0 + 6)})
    refused(
        governed, step(governed, again, "bot", "proposal.vote", T0 + 6), "bot already voted on proposal 1"
    )


def test_a_proposal_closes_as_its_tally_says(governed: Repository) -> None:
    _, state = proposal(governed)
    early = state.changed(
        status="expired", result=ProposalResult("expired", T0 + 10, reason="window ended: quorum not reached")
    )
    refused(governed, step(governed, early, "ada", "proposal.executed", T0 + 10), "open until")
    by_other = dataclasses.replace(
        early, result=ProposalResult("expired", T0 + 600, reason="window ended: quorum not reached")
    )
    refused(
        governed,
        step(governed, by_other, "bot", "proposal.executed", T0 + 600),
        r"the proposer \(ada\) signs",
    )
    merged = state.changed(
        status="executed", result=ProposalResult("merged", T0 + 600, commit=head(governed))
    )
    refused(governed, step(governed, merged, "ada", "proposal.executed", T0 + 600), "status should be")
    governance.close_expired(governed, now=T0 + 600)
    assert governance.show(governed, 1).status == "expired"


def test_the_governance_branch_only_moves_forward_by_governance(governed: Repository, writer: Writer) -> None:
    gov = head(governed, GOVERNANCE_BRANCH)
    with pytest.raises(RuleBroken, match=r"the governance branch holds every proposal: it cannot be deleted"):
        governed.delete_branch(GOVERNANCE_BRANCH)
    governance.vote(governed, 1, actor="bot", choice="no", now=T0 + 1)
    with pytest.raises(RuleBroken, match="only moves forward"):
        governed.refs.set_if_equals(branch_ref(GOVERNANCE_BRANCH), head(governed, GOVERNANCE_BRANCH), gov)
    with pytest.raises(RuleBroken, match="only governance writes the governance branch"):
        writer.page("hall", "A hall.", branch=GOVERNANCE_BRANCH)
    with pytest.raises(RuleBroken, match=r"proposal\.opened commits belong on the governance branch"):
        move(governed, "side", gov)
    assert [p.number for p in governance.list_proposals(governed)] == [1]


def test_a_passed_proposal_is_the_only_way_into_main(governed: Repository, writer: Writer) -> None:
    main = head(governed)
    with pytest.raises(RuleBroken, match=r"main is protected: open a proposal"):
        writer.page("hall", "Direct.")
    side = head(governed, "side")
    door = governed.read_file("pages/door.md", "side")
    assert door is not None
    proposal_1 = {"Gvcs-Proposal": "1"}
    forged = forge(
        governed, main, {"pages/door.md": door}, kind="merge", parents=(main, side), trailers=proposal_1
    )
    refused(governed, forged, r"main is protected, and proposal 1 is open, not passed", branch="main")
    governance.vote(governed, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(governed, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed" and state.result is not None
    merged = governed.commits.get(head(governed))
    assert merged.id == state.result.commit and merged.parents == (main, side)
    with pytest.raises(RuleBroken, match="it only moves forward"):
        governed.refs.set_if_equals(branch_ref("main"), head(governed), main)
    governed.set_head_branch("side")
    with pytest.raises(RuleBroken, match="main is protected: it cannot be deleted"):
        governed.delete_branch("main")


def test_a_proposal_merge_holds_what_was_voted(governed: Repository) -> None:
    main, side = head(governed), head(governed, "side")
    governance.vote(governed, 1, actor="bot", choice="yes", now=T0 + 1)
    governance.vote(governed, 1, actor="cal", choice="yes", now=T0 + 2)
    merge = governed.commits.get(head(governed))
    # Back to the moment the proposal passed, past the gate: passed, and main without its merge.
    inner = governed._gated.inner
    passed = next(c for c in governed.iter_log([GOVERNANCE_BRANCH]) if c.subject.endswith(": passed"))
    inner.set_if_equals(branch_ref(GOVERNANCE_BRANCH), head(governed, GOVERNANCE_BRANCH), passed.id)
    inner.set_if_equals(branch_ref("main"), merge.id, main)
    assert governance.show(governed, 1).status == "passed"
    door = governed.read_file("pages/door.md", "side")
    assert door is not None
    files = {"pages/door.md": door, "pages/smuggled.md": b"---\ntitle: S\n---\nS.\n"}
    proposal_1 = {"Gvcs-Proposal": "1"}
    smuggled = forge(governed, main, files, kind="merge", parents=(main, side), trailers=proposal_1)
    refused(
        governed, smuggled, "the merge does not hold what merging proposal 1's source gives", branch="main"
    )
    by_bot = forge(
        governed, main, author="bot", kind="merge", parents=(main, side), tree=merge.tree, trailers=proposal_1
    )
    refused(governed, by_bot, "signed by its proposer, ada", branch="main")
    move(governed, "main", merge.id)  # the engine's own merge: it holds what was voted


def test_stakes_are_taken_with_the_votes_they_weigh(story: Repository, writer: Writer) -> None:
    record = story.read_story_record()
    assert record is not None
    rules = {"quorum": 2, "window": 600, "weight": "stake", "stake": "lock"}
    writer.commit(ChangeSet().set_story(Story(record.title, (*record.settings, ("governance", rules)))))
    writer.mint({"bot": 9, "cal": 4})
    story.create_branch("side")
    writer.page("hall", "A hall.", branch="side")
    governance.propose(story, "side", "main", actor="ada", message="A hall", now=T0)
    _, state = proposal(story)
    free = state.changed(votes={"bot": Vote("bot", "yes", 9, 3.0, T0 + 5)})
    refused(
        story,
        step(story, free, "bot", "proposal.vote", T0 + 5),
        "a vote stakes 1 token or more from the ledger",
    )
    named = state.changed(votes={"bot": Vote("bot", "yes", 9, 3.0, T0 + 5, head(story))})
    refused(story, step(story, named, "bot", "proposal.vote", T0 + 5), "is not the stake this vote names")
    voted = governance.vote(story, 1, actor="bot", choice="yes", stake=9, now=T0 + 5)
    assert voted.votes["bot"].stake_commit == head(story) and balances_of(story) == {"bot": 0, "cal": 4}
    unlock = {"type": "stake.unlock", "actor": "cal", "amount": 4, "proposal": 1}
    ledger = {"ledger.yaml": b"balances: {bot: 0, cal: 8}\n"}
    forged = forge(
        story,
        head(story),
        ledger,
        author="cal",
        kind="gift.txn.v1",
        event=unlock,
        event_id="stake.unlock:1:cal",
    )
    with pytest.raises(RuleBroken, match=r"proposal 1 gives cal no 4 token\(s\) back: nothing to unlock"):
        move(story, "main", forged)
    governance.close_expired(story, now=T0 + 600)  # quorum not reached: expired, the locked stake comes back
    assert governance.show(story, 1).status == "expired" and balances_of(story) == {"bot": 9, "cal": 4}
    assert story.fsck_rules().ok


def balances_of(repo: Repository) -> dict[str, int]:
    from narrative_vcs.events import balances

    return balances(repo, "main")


def test_the_governance_branch_is_not_merged_into_others(governed: Repository) -> None:
    side = head(governed, "side")
    with pytest.raises(RuleBroken, match="the governance branch is not merged into other branches"):
        governed.merge("side", GOVERNANCE_BRANCH, actor="ada", expected_head=side)
    assert head(governed, "side") == side
