"""Protected branches on every backend: story changes go through proposals, events pass, and governance
executes the merge."""

from __future__ import annotations

import re

import pytest

from narrative_vcs import governance
from narrative_vcs.errors import Refused
from narrative_vcs.gate import RuleBroken
from narrative_vcs.governance import GOVERNANCE_BRANCH, ProtectedBranch
from narrative_vcs.governance.narrative import is_protected_at
from narrative_vcs.governance.rules import GovernanceRules
from narrative_vcs.objects import Page, Story
from narrative_vcs.repository import ChangeSet, PendingCommit, Repository
from tests.conftest import Writer

from .story import DOOR, T0, make_story, set_story

REFUSAL = "main is protected: open a proposal (gvcs propose SOURCE --into main)"


def test_direct_commits_and_plain_merges_into_a_protected_branch_are_refused(
    repo: Repository, writer: Writer
) -> None:
    fork = make_story(writer)
    with pytest.raises(ProtectedBranch, match=re.escape(REFUSAL)) as caught:
        writer.page("hall", "A new hall.")
    assert caught.value.exit_code == 1 and caught.value.code == "REFUSED"
    with pytest.raises(ProtectedBranch):
        writer.page("hall", "An agent's hall.", actor="bot", kind="agent.emit.v1")
    with pytest.raises(ProtectedBranch):
        repo.merge("main", "side", actor="ada", expected_head=fork.main)
    with pytest.raises(ProtectedBranch):  # a fast-forward is a merge too
        repo.merge("main", "side", actor="ada", expected_head=fork.main, no_ff=False)
    with pytest.raises(Refused):  # a clean merge needs no resolutions, and main is protected anyway
        repo.merge_resolved("main", "side", {"pages/door.md": "theirs"}, actor="ada", expected_head=fork.main)
    with pytest.raises(ProtectedBranch):
        repo.cherry_pick("main", "side", actor="ada", expected_head=fork.main)
    with pytest.raises(ProtectedBranch):
        repo.revert("main", "main", actor="ada", expected_head=fork.main)
    with pytest.raises(ProtectedBranch):
        repo.rebase("main", "side", actor="ada", expected_head=fork.main)
    repo.set_head_branch("side")
    with pytest.raises(Refused, match=re.escape("main is protected: it cannot be deleted")):
        repo.delete_branch("main")
    item = PendingCommit(ChangeSet().upsert_page(Page("hall", "Hall", "x")), fork.main, "ada", "Edit")
    (outcome,) = repo.commit_group("main", [item])
    assert isinstance(outcome.error, ProtectedBranch) and outcome.commit is None
    assert repo.branch_head("main") == fork.main


def test_event_commits_and_other_branches_are_not_guarded(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    writer.mint({"ada": 3})
    writer.event("gift.txn.v1", {"op": "transfer", "to": "bot", "amount": 1})
    writer.page("hall", "A side hall.", branch="side", title="Hall")
    assert [c.kind for c in repo.iter_log(["main"])][:2] == ["gift.txn.v1", "gift.txn.v1"]


def test_governance_executes_the_merge_into_the_protected_branch(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed"
    assert repo.commit_info("main").parents == (fork.main, fork.side)


def test_governance_fast_forwardable_merges_still_make_a_merge_commit(
    repo: Repository, writer: Writer
) -> None:
    writer.setup(pages=[Page("door", "Door", DOOR)])
    main = set_story(writer)
    repo.create_branch("ahead", main)
    ahead = writer.page("door", "Open.", branch="ahead", title="Door")
    governance.propose(repo, "ahead", "main", actor="ada", message="Go ahead", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert repo.commit_info("main").parents == (main, ahead)


def test_the_protected_list_is_read_at_the_branch_tip(repo: Repository, writer: Writer) -> None:
    writer.setup(pages=[Page("door", "Door", DOOR)])
    writer.page("door", "Before protection.", title="Door")  # no story.yaml yet: nothing is protected
    set_story(writer)  # the commit that protects main is itself allowed
    with pytest.raises(ProtectedBranch):
        set_story(writer, protected=False)  # lifting protection is a proposal too
    assert is_protected_at(repo, "main", repo.branch_head("main"))


def test_bad_governance_settings_are_refused_when_committed(repo: Repository, writer: Writer) -> None:
    writer.setup()
    bad = [
        ((("protected", "main"),), "story.yaml: protected must be a list of branch names"),
        (
            (("governance", {"quorum": 0}),),
            "story.yaml: governance.quorum must be a whole number of at least 1",
        ),
        ((("governance", {"threshold": 1}),), "governance.threshold must be a number from 0 up to"),
        ((("governance", {"window": "1d"}),), "governance.window must be a whole number of seconds"),
        ((("governance", {"weight": "coins"}),), "governance.weight must be one-actor-one-vote or stake"),
        ((("governance", {"stake": "keep"}),), "governance.stake must be burn or lock"),
        ((("governance", {"quorom": 2}),), "governance.quorom is not a setting"),
        ((("governance", [1]),), "governance must be a mapping"),
    ]
    for settings, message in bad:
        with pytest.raises(RuleBroken, match=message) as caught:
            writer.commit(ChangeSet().set_story(Story("S", settings)))
        assert "\n" not in str(caught.value)
    assert GovernanceRules.from_settings({"threshold": 0, "quorum": 1}).threshold == 0.0


def test_the_governance_branch_is_only_proposals_and_actors(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    governance.propose(repo, "side", "main", actor="ada", message="Open", now=T0)
    governance.vote(repo, 1, actor="dot", choice="no", now=T0 + 1)
    paths = {p for p, _ in repo.snapshots.walk(repo.commit_info(GOVERNANCE_BRANCH).tree)}
    assert paths == {"proposals/1.yaml", "actors/ada.yaml", "actors/dot.yaml"}
