"""Cherry-pick, revert, rebase and independent change sets: the merge engine replaying commits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import BranchMoved, MergeConflicts
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository

from ..conftest import Writer


def story(pages: int = 6) -> tuple[Repository, Writer]:
    repo = Repository.memory()
    writer = Writer(repo)
    writer.setup(pages=[Page(f"p{i}", f"Page {i}", f"Text of page {i}.\n") for i in range(pages)])
    repo.create_branch("side", "main")
    return repo, writer


def head(repo: Repository, branch: str = "main") -> str:
    oid = repo.branch_head(branch)
    assert oid is not None
    return oid


def edit(writer: Writer, page: int, text: str, branch: str = "main") -> str:
    return writer.page(f"p{page}", f"{text}\n", title=f"Page {page}", branch=branch)


def test_cherry_pick_applies_one_commits_change() -> None:
    repo, writer = story()
    picked = edit(writer, 1, "Side edit of page 1.", branch="side")
    edit(writer, 2, "Later side edit.", branch="side")
    edit(writer, 3, "Main edit.")
    new = repo.cherry_pick("main", picked, actor="cal", expected_head=head(repo))
    assert repo.read_page("p1").body == "Side edit of page 1.\n"
    assert repo.read_page("p2").body == "Text of page 2.\n"  # only the picked commit's change
    info = repo.commit_info(new)
    assert info.trailers["Gvcs-Cherry-Picked-From"] == picked and info.actor == "cal"


def test_revert_undoes_a_commit_and_a_conflicting_revert_changes_nothing() -> None:
    repo, writer = story()
    bad = edit(writer, 1, "A mistake.")
    edit(writer, 2, "Unrelated.")
    new = repo.revert("main", bad, actor="ada", expected_head=head(repo))
    assert repo.read_page("p1").body == "Text of page 1.\n" and repo.read_page("p2").body == "Unrelated.\n"
    assert repo.commit_info(new).kind == "revert" and repo.commit_info(new).subject == 'Revert "Write p1"'
    later = edit(writer, 1, "A mistake, then more.")
    second = edit(writer, 1, "Rewritten completely.")
    before = head(repo)
    with pytest.raises(MergeConflicts):
        repo.revert("main", later, actor="ada", expected_head=second)
    assert head(repo) == before


def test_rebase_replays_the_branch_on_top_of_onto() -> None:
    repo, writer = story()
    edit(writer, 1, "Side one.", branch="side")
    edit(writer, 2, "Side two.", branch="side")
    main_head = edit(writer, 3, "Main three.")
    new = repo.rebase("side", "main", actor="ada", expected_head=head(repo, "side"))
    assert len(new) == 2 and repo.commit_info(new[0]).parents == (main_head,)
    assert [repo.read_page(f"p{i}", "side").body for i in (1, 2, 3)] == [
        "Side one.\n",
        "Side two.\n",
        "Main three.\n",
    ]
    assert repo.merge_preview("main", "side").fast_forward


def test_a_conflicting_rebase_changes_nothing() -> None:
    repo, writer = story()
    side = edit(writer, 1, "Side version.", branch="side")
    edit(writer, 1, "Main version.")
    with pytest.raises(MergeConflicts):
        repo.rebase("side", "main", actor="ada", expected_head=side)
    assert head(repo, "side") == side


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 11)), min_size=1, max_size=12))
def test_rebasing_independent_commits_never_conflicts(plan: list[tuple[bool, int]]) -> None:
    """Each commit touches one page; the two branches touch disjoint pages (even and odd)."""
    repo, writer = story(pages=12)
    last: dict[int, str] = {}
    for n, (on_side, page) in enumerate(plan):
        page = page | 1 if on_side else page & ~1  # side edits odd pages, main even ones
        edit(writer, page, f"Edit {n}.", branch="side" if on_side else "main")
        last[page] = f"Edit {n}.\n"
    repo.rebase("side", "main", actor="ada", expected_head=head(repo, "side"))
    for page, body in last.items():
        assert repo.read_page(f"p{page}", "side").body == body
    merged = repo.merge_preview("main", "side")
    assert merged.clean and (merged.fast_forward or merged.up_to_date)


def test_independent_change_sets_apply_on_a_newer_head() -> None:
    repo, writer = story()
    stale = head(repo)
    edit(writer, 1, "Someone else moved the branch.")
    changes = ChangeSet().upsert_page(Page("p2", "Page 2", "Mine.\n"))
    oid, rebased = repo.commit_independent("main", changes, expected_head=stale, actor="bot", message="Mine")
    assert (
        rebased and repo.read_page("p2").body == "Mine.\n" and repo.read_page("p1").body.startswith("Someone")
    )
    clash = ChangeSet().upsert_page(Page("p1", "Page 1", "Also p1.\n"))
    with pytest.raises(BranchMoved) as caught:
        repo.commit_independent("main", clash, expected_head=stale, actor="bot", message="Clash")
    assert caught.value.paths == ["pages/p1.md"] and head(repo) == oid


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(0, 9)), st.sets(st.integers(0, 9)))
def test_independent_change_sets_merge_to_both_applied(mine: set[int], theirs: set[int]) -> None:
    theirs = theirs - mine
    repo, writer = story(pages=10)
    for i in sorted(mine):
        edit(writer, i, f"Mine {i}.")
    for i in sorted(theirs):
        edit(writer, i, f"Theirs {i}.", branch="side")
    result = repo.merge_preview("main", "side")
    assert result.clean
    for i in range(10):
        data = repo.snapshots.read(result.result.tree, f"pages/p{i}.md")
        assert data is not None
        body = Page.parse(f"p{i}", data).body
        expected = (
            f"Mine {i}.\n" if i in mine else f"Theirs {i}.\n" if i in theirs else f"Text of page {i}.\n"
        )
        assert body == expected
