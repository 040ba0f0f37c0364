"""Whole-snapshot merges through the repository: independent changes, renames, structure breaks,
fast-forwards and criss-cross histories."""

from __future__ import annotations

import pytest

from narrative_vcs.errors import BranchMoved
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository

from ..conftest import Writer


def story() -> tuple[Repository, Writer]:
    repo = Repository.memory()
    writer = Writer(repo)
    writer.setup(
        pages=[
            Page("prologue", "Prologue", "It was dark.\n"),
            Page("door", "The Door", "The door was iron.\n\nIt had no lock.\n", follows=("prologue",)),
            Page("fox", "The Fox", "The fox arrived.\n", follows=("prologue",)),
        ]
    )
    repo.create_branch("side", "main")
    return repo, writer


def page_at(repo: Repository, tree: str, page_id: str) -> Page | None:
    data = repo.snapshots.read(tree, f"pages/{page_id}.md")  # type: ignore[arg-type]
    return None if data is None else Page.parse(page_id, data)


def test_changes_to_different_pages_merge_cleanly() -> None:
    repo, writer = story()
    writer.page("door", "The door was iron.\n\nIt had one lock.\n", title="The Door", follows=("prologue",))
    writer.page("fox", "The fox arrived by train.\n", title="The Fox", follows=("prologue",), branch="side")
    preview = repo.merge_preview("main", "side")
    assert preview.clean and not preview.fast_forward and not preview.up_to_date
    door, fox = page_at(repo, preview.result.tree, "door"), page_at(repo, preview.result.tree, "fox")
    assert door is not None and "one lock" in door.body
    assert fox is not None and "by train" in fox.body


def test_fast_forward_and_up_to_date_are_recognised() -> None:
    repo, writer = story()
    writer.page("fox", "Later.\n", title="The Fox", follows=("prologue",), branch="side")
    assert repo.merge_preview("main", "side").fast_forward
    assert repo.merge_preview("side", "main").up_to_date


def test_delete_against_edit_is_a_modify_delete_conflict() -> None:
    repo, writer = story()
    writer.commit(ChangeSet().delete_page("fox"))
    writer.page("fox", "Edited.\n", title="The Fox", follows=("prologue",), branch="side")
    preview = repo.merge_preview("main", "side")
    assert [(c.kind, c.page) for c in preview.result.conflicts] == [("modify/delete", "fox")]


def test_an_edit_follows_a_page_renamed_on_the_other_side() -> None:
    repo, writer = story()
    renamed = Page("iron-door", "The Door", "The door was iron.\n\nIt had no lock.\n", follows=("prologue",))
    writer.commit(ChangeSet().delete_page("door").upsert_page(renamed))
    edited = "The door was iron.\n\nIt had no lock, only a glyph.\n"
    writer.page("door", edited, title="The Door", follows=("prologue",), branch="side")
    preview = repo.merge_preview("main", "side")
    assert preview.clean, preview.result.conflicts
    assert page_at(repo, preview.result.tree, "door") is None
    moved = page_at(repo, preview.result.tree, "iron-door")
    assert moved is not None and "only a glyph" in moved.body


def test_a_link_to_a_page_the_other_side_deleted_is_a_structure_conflict() -> None:
    repo, writer = story()
    writer.commit(ChangeSet().delete_page("fox"))
    writer.page("coda", "The end.\n", title="Coda", follows=("fox",), branch="side")
    conflicts = repo.merge_preview("main", "side").result.conflicts
    assert [(c.kind, c.page, c.fields) for c in conflicts] == [("structure", "coda", ("fox",))]


def test_a_cycle_in_reading_order_is_a_structure_conflict() -> None:
    repo, writer = story()
    writer.page(
        "door", "The door was iron.\n\nIt had no lock.\n", title="The Door", follows=("prologue", "fox")
    )
    writer.page("fox", "The fox arrived.\n", title="The Fox", follows=("prologue", "door"), branch="side")
    conflicts = repo.merge_preview("main", "side").result.conflicts
    assert [c.kind for c in conflicts] == ["structure"] and "cycle" in conflicts[0].message


def test_a_criss_cross_history_merges_over_a_virtual_base() -> None:
    repo, writer = story()
    door = Page("door", "The Door", "The door was iron.\n\nIt had one lock.\n", follows=("prologue",))
    fox = Page("fox", "The Fox", "The fox arrived late.\n", follows=("prologue",))
    a1 = writer.commit(ChangeSet().upsert_page(door))
    b1 = writer.commit(ChangeSet().upsert_page(fox), branch="side")
    # Each side merges the other's first commit: two merge bases, a1 and b1.
    merged_main = repo.merge_preview("main", "side").result.tree
    merged_side = repo.merge_preview("side", "main").result.tree
    assert merged_main == merged_side
    writer.commit(ChangeSet().upsert_page(fox), extra_parents=[b1], message="Merge side")
    writer.commit(ChangeSet().upsert_page(door), branch="side", extra_parents=[a1], message="Merge main")
    assert sorted(repo.merge_bases("main", "side")) == sorted([a1, b1])
    writer.page("prologue", "It was very dark.\n", title="Prologue")
    preview = repo.merge_preview("main", "side")
    assert preview.clean and len(preview.bases) == 2
    merged = [page_at(repo, preview.result.tree, p) for p in ("prologue", "door", "fox")]
    assert [m.body if m else None for m in merged] == ["It was very dark.\n", door.body, fox.body]


# --- committing merges --------------------------------------------------------------------------


def test_a_clean_merge_is_committed_with_two_parents_and_kind_merge() -> None:
    repo, writer = story()
    writer.page("door", "The door was iron.\n\nIt had one lock.\n", title="The Door", follows=("prologue",))
    side = writer.page(
        "fox", "The fox arrived by train.\n", title="The Fox", follows=("prologue",), branch="side"
    )
    head = repo.branch_head("main")
    assert head is not None
    outcome = repo.merge("main", "side", actor="ada", expected_head=head)
    assert outcome.status == "merged" and outcome.commit == repo.branch_head("main")
    info = repo.commit_info("main")
    assert info.parents == (head, side) and info.kind == "merge" and info.subject == "Merge side into main"
    assert "by train" in repo.read_page("fox").body and "one lock" in repo.read_page("door").body


def test_a_merge_with_conflicts_writes_nothing_and_a_strategy_settles_it() -> None:
    repo, writer = story()
    writer.page("fox", "The fox ran.\n", title="The Fox", follows=("prologue",))
    writer.page("fox", "The fox hid.\n", title="The Fox", follows=("prologue",), branch="side")
    head = repo.branch_head("main")
    assert head is not None
    outcome = repo.merge("main", "side", actor="ada", expected_head=head)
    assert outcome.status == "conflicts" and outcome.commit is None and repo.branch_head("main") == head
    assert [(c.kind, c.page) for c in outcome.conflicts] == [("content", "fox")]
    settled = repo.merge("main", "side", actor="ada", expected_head=head, strategy="theirs")
    assert settled.status == "merged" and repo.read_page("fox").body == "The fox hid.\n"


def test_fast_forward_unless_no_ff_and_a_stale_head_is_refused() -> None:
    repo, writer = story()
    side = writer.page("fox", "Later.\n", title="The Fox", follows=("prologue",), branch="side")
    head = repo.branch_head("main")
    assert head is not None
    with pytest.raises(BranchMoved):
        repo.merge("main", "side", actor="ada", expected_head=side)
    assert repo.merge("main", "side", actor="ada", expected_head=head, no_ff=True).status == "merged"
    repo.create_branch("other", head)
    assert repo.merge("other", "side", actor="ada", expected_head=head).status == "fast-forward"
    assert repo.branch_head("other") == side
    assert repo.merge("other", "side", actor="ada", expected_head=side).status == "up-to-date"
