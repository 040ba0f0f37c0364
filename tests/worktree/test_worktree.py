"""The work tree: status from cached stats, commit of every change, switch, atomic writes."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from narrative_vcs.errors import BadInput, BranchMoved, InvalidFile, NothingToCommit, Refused
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.worktree import STATE_FILE, WorkTree
from narrative_vcs.worktree.base import BASE_PREFIX, RACY_NS, STATE_VERSION


def _reopen(work: WorkTree) -> WorkTree:
    return WorkTree(work.root, work.repo)


def _state(work: WorkTree) -> dict[str, Any]:
    return dict(json.loads((work.root / ".gvcs" / STATE_FILE).read_text()))


def _entries(work: WorkTree) -> dict[str, list[Any]]:
    """The checkout entries as saved: the base file's, with the state's changes applied."""
    state = _state(work)
    entries = json.loads((work.root / ".gvcs" / state["base"]).read_text())["files"]
    for path, entry in state["changed"].items():
        if entry is None:
            entries.pop(path)
        else:
            entries[path] = entry
    return dict(entries)


def test_status_of_a_new_repository(tree: WorkTree) -> None:
    assert [(c.path, c.status) for c in tree.status()] == [
        ("actors/ann.yaml", "added"),
        ("pages/one.md", "added"),
        ("story.yaml", "added"),
    ]
    assert tree.commit_id is None and tree.branch == "main"


def test_commit_then_clean_and_state_saved(tree: WorkTree) -> None:
    result = tree.commit("Start", "ann")
    assert result.branch == "main" and len(result.changes) == 3
    assert tree.repo.branch_head("main") == result.commit
    again = _reopen(tree)
    assert again.commit_id == result.commit and again.status() == []
    assert set(_entries(tree)) == {"actors/ann.yaml", "pages/one.md", "story.yaml"}
    with pytest.raises(NothingToCommit):
        again.commit("Again", "ann")


def test_modify_remove_and_ignore(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    tree.write("pages/one.md", Page("one", "One", "Changed.").serialise())
    tree.write("pages/two.md", Page("two", "Two", follows=("one",)).serialise())
    (tree.root / "pages" / ".one.md.swp").write_text("editor junk")
    (tree.root / "notes.txt").write_text("not part of the story")
    assert [(c.path, c.status) for c in tree.status()] == [
        ("pages/one.md", "modified"),
        ("pages/two.md", "added"),
    ]
    tree.commit("Edit", "ann")
    (tree.root / "pages" / "two.md").unlink()
    assert [(c.path, c.status) for c in tree.status()] == [("pages/two.md", "removed")]
    tree.commit("Cut", "ann")
    assert tree.repo.list_pages() == ["one"]


def test_same_size_edit_is_seen(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    path = tree.root / "pages" / "one.md"
    path.write_bytes(path.read_bytes().replace(b"First.", b"Frist."))
    assert [c.path for c in _reopen(tree).status()] == ["pages/one.md"]


def test_non_canonical_files_are_rewritten_after_commit(tree: WorkTree) -> None:
    tree.write("pages/one.md", b"---\ntitle: One\n---\n\n\nBody\n\n\n")
    result = tree.commit("Start", "ann")
    assert result.normalised == ["pages/one.md"]
    assert tree.status() == []


def test_invalid_file_commits_nothing(tree: WorkTree) -> None:
    tree.write("pages/bad.md", b"---\ntitle: [unclosed\n---\n")
    with pytest.raises(InvalidFile) as caught:
        tree.commit("Start", "ann")
    assert str(caught.value).startswith("pages/bad.md:")
    assert tree.repo.branch_head("main") is None and tree.commit_id is None


def test_bad_names_are_refused(tree: WorkTree) -> None:
    (tree.root / "pages" / "A B.md").write_text("---\ntitle: X\n---\n")
    [bad] = [c for c in tree.status() if c.problem]
    assert bad.path == "pages/A B.md"
    with pytest.raises(BadInput, match=r"pages/A B\.md"):
        tree.commit("Start", "ann")


def test_branch_moved_changes_nothing(tree: WorkTree) -> None:
    first = tree.commit("Start", "ann").commit
    other: Repository = tree.repo
    theirs = other.commit(
        "main", ChangeSet().upsert_page(Page("two", "Two")), actor="ann", message="Other", expected_head=first
    )
    tree.write("pages/one.md", Page("one", "One", "Mine.").serialise())
    with pytest.raises(BranchMoved):
        tree.commit("Mine", "ann")
    assert other.branch_head("main") == theirs and tree.commit_id == first
    tree.switch("main")  # update: keeps the edit to another file
    assert (tree.root / "pages" / "two.md").is_file()
    tree.commit("Mine", "ann")


def test_switch_rewrites_files_and_refuses_dirty(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    tree.create_branch("side")
    tree.write("pages/two.md", Page("two", "Two").serialise())
    tree.write("notes/plan.txt", b"nothing of the story\n")  # not a story file: not committed
    tree.commit("Side", "ann")
    tree.switch("main")
    assert not (tree.root / "pages" / "two.md").exists()
    assert (tree.root / "notes" / "plan.txt").exists()
    assert tree.repo.head_branch() == "main"
    tree.write("pages/one.md", Page("one", "One", "Dirty.").serialise())
    with pytest.raises(Refused, match="uncommitted"):
        tree.switch("side")
    assert tree.branch == "main"


def test_missing_state_means_a_checkout_of_head(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    (tree.root / ".gvcs" / STATE_FILE).unlink()
    assert _reopen(tree).status() == []


def test_atomic_write_leaves_no_temp_files(tree: WorkTree) -> None:
    tree.write("pages/one.md", b"x")
    assert sorted(p.name for p in (tree.root / "pages").iterdir()) == ["one.md"]


# --- the checkout state as a stat cache --------------------------------------------------------------


def _saved_at(work: WorkTree, mtime_ns: int) -> None:
    """Date the checkout state file: as if it was saved at ``mtime_ns`` (the tick a file was written in)."""
    os.utime(work.root / ".gvcs" / STATE_FILE, ns=(mtime_ns, mtime_ns))


def test_a_stat_is_trusted_only_when_older_than_the_state(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    path = tree.root / "pages/one.md"
    before = path.stat()
    assert _entries(tree)["pages/one.md"][1:] == [before.st_mtime_ns, before.st_size]
    # Same size, same mtime as the state recorded: the stat cannot tell this edit.
    path.write_bytes(path.read_bytes().replace(b"First.", b"Frist."))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    _saved_at(tree, before.st_mtime_ns + 1)  # the state saved after the file's tick: the stat is trusted
    assert _reopen(tree).status() == []
    # Saved in the very tick the file was last modified in (git's racy rule): the file is read.
    _saved_at(tree, before.st_mtime_ns)
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]


def test_a_trusted_stat_is_saved_and_a_racy_one_is_not(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    old, future = time.time_ns() - 10 * RACY_NS, time.time_ns() + 3600 * 10**9
    for name in ("pages/one.md", "story.yaml"):
        os.utime(tree.root / name, ns=(old, old))
    ann = tree.root / "actors/ann.yaml"
    os.utime(ann, ns=(future, future))  # dated after any save: racy however late the state is saved
    assert _reopen(tree).status() == []
    files = _entries(tree)
    assert files["pages/one.md"][1] == old and files["story.yaml"][1] == old  # [blob, mtime_ns, size]
    assert files["actors/ann.yaml"][1] != future
    assert _reopen(tree).status() == []


def test_a_commit_saves_the_stat_taken_before_it_read_the_file(tree: WorkTree) -> None:
    """The commit vouches for the stat a file had before it was read: an edit made after the commit read
    it (same size, another mtime) is seen, never covered by a stat taken once the commit is done."""
    path = tree.root / "pages/one.md"
    work = _reopen(tree)
    changeset = work._changeset

    def edit_after_the_read(changes: list[Any]) -> Any:
        read = changeset(changes)
        path.write_bytes(path.read_bytes().replace(b"First.", b"Frist."))
        other = path.stat().st_mtime_ns - 10 * RACY_NS  # another mtime, one any rule trusts
        os.utime(path, ns=(other, other))
        return read

    work._changeset = edit_after_the_read  # type: ignore[method-assign]
    work.commit("Start", "ann")
    assert tree.repo.read_blob(_entries(tree)["pages/one.md"][0]).count(b"First.") == 1
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda s: s[: len(s) // 2], id="truncated"),
        pytest.param(lambda s: "not json", id="garbage"),
        pytest.param(lambda s: s.replace(f'"version":{STATE_VERSION}', '"version":1'), id="another-version"),
    ],
)
def test_a_damaged_or_foreign_state_is_ignored_and_rebuilt(tree: WorkTree, damage: Any) -> None:
    tree.commit("Start", "ann")
    state_path = tree.root / ".gvcs" / STATE_FILE
    text = state_path.read_text()
    assert f'"version":{STATE_VERSION}' in text
    # A stale size and mtime that a reader of the damaged state must not trust.
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Changed.").serialise())
    state_path.write_text(damage(text))
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]
    work = _reopen(tree)
    work.commit("Change", "ann")
    assert json.loads(state_path.read_text())["version"] == STATE_VERSION
    assert _reopen(tree).status() == []


def test_an_operation_rereads_a_state_another_process_wrote(tree: WorkTree) -> None:
    first = tree.commit("Start", "ann").commit
    stale = _reopen(tree)  # loaded before the other process's commit
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Second.").serialise())
    second = _reopen(tree).commit("Second", "ann").commit
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Third.").serialise())
    # The stale object still thinks it is at the first commit: under the lock it reads the state again
    # and commits on top of the second, not a "branch moved" from the first.
    assert stale.commit_id == first
    third = stale.commit("Third", "ann").commit
    assert tree.repo.commits.get(third).parents == (second,)


# --- the listing saved with the state (no directory read while none changed) -------------------------


def _age_dirs(tree: WorkTree, *names: str) -> None:
    """Date the story's directories (the root, pages/, actors/ and ``names``) back beyond the racy
    window, as if last changed long ago."""
    old = time.time_ns() - 10 * RACY_NS
    for name in ("", "pages", "actors", *names):
        os.utime(tree.root / name, ns=(old, old))


def _no_directory_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("a directory was read")

    monkeypatch.setattr(os, "scandir", refuse)


def _listing(tree: WorkTree) -> Any:
    return json.loads((tree.root / ".gvcs" / STATE_FILE).read_text()).get("listing")


def test_status_lists_the_files_from_the_saved_listing(
    tree: WorkTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.commit("Start", "ann")
    _age_dirs(tree)
    assert _reopen(tree).status() == []  # reads the directories, saves the listing
    listing = _listing(tree)
    assert set(listing["dirs"]) == {"", "pages", "actors"}
    assert listing["extra"] == [] and listing["missing"] == []
    _no_directory_reads(monkeypatch)
    assert _reopen(tree).status() == []
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Edited in place.").serialise())
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]


def test_a_listing_saved_in_the_tick_a_directory_changed_in_is_not_used(
    tree: WorkTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.commit("Start", "ann")
    _age_dirs(tree)
    assert _reopen(tree).status() == []
    assert _listing(tree) is not None
    # A file added in the tick the state was saved in would leave pages/ with the mtime it has: the
    # listing cannot tell, so the directories are read.
    (tree.root / "pages/two.md").write_bytes(Page("two", "Two", follows=("one",)).serialise())
    pages = (tree.root / "pages").stat()
    _saved_at(tree, pages.st_mtime_ns)
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/two.md", "added")]
    _saved_at(tree, pages.st_mtime_ns - 1)  # a listing older than the directory's change: read too
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/two.md", "added")]


@pytest.mark.parametrize("change", ["add", "remove", "link", "subdirectory", "stamp-restored"])
def test_a_changed_directory_is_read_again(tree: WorkTree, change: str) -> None:
    (tree.root / "infra").mkdir()  # an empty directory of the story: listed, and watched
    tree.commit("Start", "ann")
    _age_dirs(tree, "infra")
    assert _reopen(tree).status() == []
    assert _listing(tree) is not None
    pages = tree.root / "pages"
    expected: list[tuple[str, str]]
    if change == "add":
        (pages / "two.md").write_bytes(Page("two", "Two", follows=("one",)).serialise())
        expected = [("pages/two.md", "added")]
    elif change == "remove":
        (pages / "one.md").unlink()
        expected = [("pages/one.md", "removed")]
    elif change == "link":
        (pages / "one.md").unlink()
        (pages / "one.md").symlink_to(tree.root / "story.yaml")
        expected = [("pages/one.md", "modified")]
    elif change == "subdirectory":
        (tree.root / "infra" / "deep").mkdir()
        (tree.root / "infra" / "deep" / "watch.yaml").write_bytes(b"on: true\n")
        expected = [("infra/deep/watch.yaml", "added")]
    else:  # a file added, then the directory's mtime set back to what the listing recorded
        stamp = (pages.stat().st_atime_ns, pages.stat().st_mtime_ns)
        (pages / "two.md").write_bytes(Page("two", "Two", follows=("one",)).serialise())
        os.utime(pages, ns=stamp)
        expected = [("pages/two.md", "added")]
    assert [(c.path, c.status) for c in _reopen(tree).status()] == expected


def test_a_commit_keeps_the_listing_for_its_new_entries(
    tree: WorkTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.write("pages/three.md", Page("three", "Three").serialise())
    tree.commit("Start", "ann")
    (tree.root / "pages/two.md").write_bytes(Page("two", "Two", follows=("one",)).serialise())
    _age_dirs(tree)
    assert [c.path for c in _reopen(tree).status()] == ["pages/two.md"]
    assert _listing(tree)["extra"] == ["pages/two.md"]
    (tree.root / "pages/three.md").unlink()
    _age_dirs(tree)
    work = _reopen(tree)
    assert [(c.path, c.status) for c in work.status()] == [
        ("pages/three.md", "removed"),
        ("pages/two.md", "added"),
    ]
    work.commit("Two for one", "ann")
    assert _listing(tree) == {"dirs": _listing(tree)["dirs"], "extra": [], "missing": []}
    _no_directory_reads(monkeypatch)
    assert _reopen(tree).status() == []


def test_a_damaged_listing_is_ignored(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    _age_dirs(tree)
    assert _reopen(tree).status() == []
    state_path = tree.root / ".gvcs" / STATE_FILE
    state = json.loads(state_path.read_text())
    (tree.root / "pages/two.md").write_bytes(Page("two", "Two", follows=("one",)).serialise())
    _age_dirs(tree)
    # The listing says nothing changed (the stamps are the directories' own), but it is malformed.
    state["listing"]["dirs"] = {
        name: [st.st_mtime_ns, st.st_ctime_ns]
        for name in ("", "pages", "actors")
        for st in [os.lstat(tree.root / name)]
    }
    state["listing"]["extra"] = "pages/two.md"
    state_path.write_text(json.dumps(state))
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/two.md", "added")]


# --- the entries split between a base file and the state (git's split index) ----------------------


def _bases(tree: WorkTree) -> list[str]:
    return sorted(p.name for p in (tree.root / ".gvcs").iterdir() if p.name.startswith(BASE_PREFIX))


def test_a_small_commit_writes_its_entries_beside_the_base(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    base = _state(tree)["base"]
    assert _bases(tree) == [base] and _state(tree)["changed"] == {}
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Changed.").serialise())
    tree.commit("Edit", "ann")
    state = _state(tree)
    assert state["base"] == base and list(state["changed"]) == ["pages/one.md"]
    (tree.root / "pages/one.md").unlink()
    tree.write("pages/two.md", Page("two", "Two").serialise())
    tree.commit("Swap", "ann")
    assert _state(tree)["changed"] == {"pages/one.md": None, "pages/two.md": _entries(tree)["pages/two.md"]}
    again = _reopen(tree)
    assert set(again._files) == {"actors/ann.yaml", "pages/two.md", "story.yaml"} and again.status() == []


def test_a_new_base_is_written_once_enough_entries_changed(
    tree: WorkTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    import narrative_vcs.worktree.base as state_module

    tree.commit("Start", "ann")
    first = _state(tree)["base"]
    monkeypatch.setattr(state_module, "BASE_CHANGES", 1)
    (tree.root / ".gvcs" / f"{BASE_PREFIX}0.json").write_text("left by a killed save")
    tree.write("pages/two.md", Page("two", "Two").serialise())
    tree.write("pages/three.md", Page("three", "Three").serialise())
    tree.commit("Two more", "ann")
    state = _state(tree)
    assert state["base"] != first and state["changed"] == {}
    assert _bases(tree) == [state["base"]]  # the old base and the orphan are gone
    assert set(_entries(tree)) == {
        "actors/ann.yaml",
        "pages/one.md",
        "pages/three.md",
        "pages/two.md",
        "story.yaml",
    }
    assert _reopen(tree).status() == []


def test_a_missing_or_damaged_base_means_every_file_is_hashed_again(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    base = tree.root / ".gvcs" / _state(tree)["base"]
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Changed.").serialise())
    base.write_text("{")
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]
    (tree.root / ".gvcs" / _state(tree)["base"]).unlink()  # the base named now (status may save anew)
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]
    state = _state(tree)
    state["base"] = "../../outside.json"
    (tree.root / ".gvcs" / STATE_FILE).write_text(json.dumps(state))
    assert [(c.path, c.status) for c in _reopen(tree).status()] == [("pages/one.md", "modified")]


def test_a_state_of_version_2_is_read_and_saved_anew(tree: WorkTree) -> None:
    tree.commit("Start", "ann")
    state, entries = _state(tree), _entries(tree)
    old = {
        "version": 2,
        "branch": state["branch"],
        "commit": state["commit"],
        "saved_ns": state["saved_ns"],
        "files": entries,
    }
    (tree.root / ".gvcs" / STATE_FILE).write_text(json.dumps(old))
    work = _reopen(tree)
    assert {p: [e.blob, e.mtime_ns, e.size] for p, e in work._files.items()} == entries
    (tree.root / "pages/one.md").write_bytes(Page("one", "One", "Changed.").serialise())
    work.commit("Edit", "ann")
    assert _state(tree)["version"] == STATE_VERSION and _reopen(tree).status() == []
