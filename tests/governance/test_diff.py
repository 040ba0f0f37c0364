"""What a proposal merges (narrative_vcs.governance.diff), on every backend."""

from __future__ import annotations

from narrative_vcs import governance
from narrative_vcs.governance.diff import proposal_diff
from narrative_vcs.repository import Repository
from narrative_vcs.semdiff import PageDiff
from tests.conftest import Writer

from .story import edit_main, make_story


def test_an_open_proposal_is_compared_from_the_merge_base(repo: Repository, writer: Writer) -> None:
    """Commits the target gained since the fork are not part of what the proposal brings."""
    fork = make_story(writer, protected=False)
    number = governance.propose(repo, "side", "main", actor="ada", message="Open the door")
    moved = edit_main(writer, "hall", "A long hall, newly swept.")
    diff = proposal_diff(repo, governance.show(repo, number))
    assert (diff.basis, diff.old, diff.new) == ("merge-base", fork.main, fork.side)
    (door,) = diff.changes
    assert isinstance(door, PageDiff) and door.id == "door" and door.status == "modified"
    assert [(p.op, p.old, p.new) for p in door.paragraphs] == [
        ("changed", "The door was shut.", "The door stood open.")
    ]
    assert repo.branch_head("main") == moved
    shown = diff.to_json()
    assert (shown["basis"], shown["old"], shown["new"]) == ("merge-base", fork.main, fork.side)
    assert [c["path"] for c in shown["changes"]] == ["pages/door.md"]


def test_a_merged_proposal_is_what_landed(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer)
    number = governance.propose(repo, "side", "main", actor="ada", message="Open the door")
    governance.vote(repo, number, actor="bot", choice="yes")
    state = governance.vote(repo, number, actor="cal", choice="yes")
    assert state.result is not None and state.result.status == "merged"
    diff = proposal_diff(repo, state)
    assert (diff.basis, diff.old, diff.new) == ("merged", fork.main, state.result.commit)
    assert [c.path for c in diff.changes] == ["pages/door.md"]


def test_a_hearing_has_no_changes(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    number = governance.propose(repo, None, "main", actor="ada", message="Shall the door open?")
    diff = proposal_diff(repo, governance.show(repo, number))
    assert (diff.basis, diff.old, diff.new, diff.changes) == ("hearing", None, None, ())
