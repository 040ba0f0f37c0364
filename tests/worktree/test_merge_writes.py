"""A merge's files in the work tree: a file whose cached stat is trusted is not read again, and one the
user changed is never overwritten, however its stat looks."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet
from narrative_vcs.worktree import STATE_FILE, WorkTree, files
from narrative_vcs.worktree.base import RACY_NS
from narrative_vcs.worktree.files import Directories, atomic_write_at


def _side_edit(tree: WorkTree, body: str) -> None:
    """A commit on a new branch ``side`` that changes pages/one.md (main keeps its version)."""
    tree.repo.create_branch("side", "main")
    tree.repo.commit(
        "side",
        ChangeSet().upsert_page(Page("one", "One", body)),
        actor="ann",
        message="Side",
        expected_head=tree.repo.branch_head("side"),
    )
    tree.repo.commit(  # main moves too, so the merge is no fast-forward
        "main",
        ChangeSet().upsert_page(Page("two", "Two", "Second.")),
        actor="ann",
        message="Two",
        expected_head=tree.repo.branch_head("main"),
    )


def _trusted(tree: WorkTree) -> WorkTree:
    """The work tree, reopened with the stats of its files trusted (dated before the racy window)."""
    old = time.time_ns() - 10 * RACY_NS
    for path in tree.scan():
        os.utime(tree.root / path, ns=(old, old))
    again = WorkTree(tree.root, tree.repo)
    assert again.status() == []  # saves the stats, now trusted
    return WorkTree(tree.root, tree.repo)


@pytest.fixture
def ready(tree: WorkTree) -> WorkTree:
    tree.commit("Start", "ann")
    _side_edit(tree, "First, from the side.")
    tree.switch("main")
    return tree


def test_a_clean_merge_writes_a_file_whose_stat_is_trusted(ready: WorkTree) -> None:
    work = _trusted(ready)
    outcome = work.merge("side", "ann")
    assert outcome.status == "merged"
    assert b"from the side" in (work.root / "pages/one.md").read_bytes()
    assert work.status() == [] and WorkTree(work.root, work.repo).status() == []
    assert sorted(p.name for p in (work.root / "pages").iterdir()) == ["one.md", "two.md"]


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-stat", "racy-stat"])
def test_a_file_changed_after_the_clean_check_is_kept(
    ready: WorkTree, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    """Changed between the merge's clean check and its writes: with its mtime moved on (a trusted stat
    no longer matches), or with the same size and mtime as a racy entry (the state saved in the tick
    the file was written in: the stat cannot tell and the file is read): either way it is left as the
    user wrote it."""
    work = _trusted(ready)
    path = work.root / "pages/one.md"
    before = path.stat()
    original = path.read_bytes()
    edited = original.replace(b"First.", b"Frist.")
    assert len(edited) == len(original)
    if not trusted:  # the state saved in the tick the file was written in
        state = work.root / ".gvcs" / STATE_FILE
        os.utime(state, ns=(before.st_mtime_ns, before.st_mtime_ns))
        work = WorkTree(work.root, work.repo)
    clean_check = work.require_untouched

    def edit_after_check(paths: Iterable[str], action: str) -> None:
        clean_check(paths, action)
        path.write_bytes(edited)
        if not trusted:  # same size and mtime as the entry
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    monkeypatch.setattr(work, "require_untouched", edit_after_check)
    assert work.merge("side", "ann").status == "merged"
    assert path.read_bytes() == edited
    assert [(c.path, c.status) for c in WorkTree(work.root, work.repo).status()] == [
        ("pages/one.md", "modified")
    ]


def test_atomic_write_at_writes_whole_files_and_declines_a_linked_directory(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "actors").symlink_to(tmp_path / "elsewhere")
    with Directories(tmp_path) as dirs:
        st = atomic_write_at(dirs, "pages/one.md", b"new")
        assert st is not None and st.st_size == 3
        assert atomic_write_at(dirs, "actors/ann.yaml", b"x") is None  # through a link: not here
        assert atomic_write_at(dirs, "infra/deep/file", b"x") is None  # no such directory yet
    assert (tmp_path / "pages/one.md").read_bytes() == b"new"
    assert os.listdir(tmp_path / "pages") == ["one.md"]  # no temporary file left
    assert os.listdir(tmp_path / "elsewhere") == []


def _refuse_replace(*args: object, **kwargs: object) -> None:
    raise AssertionError("renamed over the old file")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_a_file_is_swapped_in_for_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing file is replaced by swapping names (no rename over it, which makes ext4 write the
    new data out first); the old file is gone and the stat returned is the new file's."""
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages/one.md").write_bytes(b"old")
    monkeypatch.setattr(files.os, "replace", _refuse_replace)
    with Directories(tmp_path) as dirs:
        st = atomic_write_at(dirs, "pages/one.md", b"newer")
    assert st is not None and st.st_size == 5
    assert (tmp_path / "pages/one.md").read_bytes() == b"newer"
    assert os.listdir(tmp_path / "pages") == ["one.md"]
    assert (tmp_path / "pages/one.md").stat().st_ino == st.st_ino


def test_without_a_swap_the_file_is_renamed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages/one.md").write_bytes(b"old")
    monkeypatch.setattr(files, "_renameat2", None)  # a system without renameat2
    with Directories(tmp_path) as dirs:
        assert atomic_write_at(dirs, "pages/one.md", b"new") is not None
        assert atomic_write_at(dirs, "pages/two.md", b"two") is not None  # a new file: renamed in
    assert (tmp_path / "pages/one.md").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "pages")) == ["one.md", "two.md"]


def test_a_directory_in_the_files_place_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "pages/one.md").mkdir(parents=True)
    (tmp_path / "pages/one.md/inside").write_bytes(b"kept")
    with Directories(tmp_path) as dirs:
        assert atomic_write_at(dirs, "pages/one.md", b"new") is None
    assert (tmp_path / "pages/one.md/inside").read_bytes() == b"kept"
    assert os.listdir(tmp_path / "pages") == ["one.md"]
