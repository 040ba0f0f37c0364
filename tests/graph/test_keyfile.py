"""The key file: front-matter keys of blobs kept across commands, a cache that may be lost but never
lies about what it holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from narrative_vcs.graph import keyfile
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.graph.keyfile import RECORD, KeyFile
from narrative_vcs.objects import Page, front_key
from narrative_vcs.repository import ChangeSet
from narrative_vcs.types import ObjectId

from ..conftest import Writer

A = ObjectId("a" * 40)
B = ObjectId("b" * 40)


def test_keys_written_by_one_process_are_read_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    first = KeyFile(path)
    assert first.get(A) is None
    first.add(A, b"1" * 16)
    first.add(A, b"2" * 16)  # a blob's key never changes: the first one stays
    first.add(B, b"3" * 16)
    assert first.get(A) == b"1" * 16
    assert KeyFile(path).get(A) is None  # nothing written before a flush
    first.flush()
    first.flush()  # nothing new: nothing appended
    assert path.stat().st_size == 2 * RECORD
    again = KeyFile(path)
    assert (again.get(A), again.get(B)) == (b"1" * 16, b"3" * 16)
    with pytest.raises(ValueError):
        again.add(A, b"short")


def test_a_file_cut_short_or_too_big_is_started_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys"
    writer = KeyFile(path)
    writer.add(A, b"1" * 16)
    writer.flush()
    with path.open("ab") as handle:
        handle.write(b"torn")  # a write cut short
    torn = KeyFile(path)
    assert torn.get(A) is None  # not trusted
    torn.add(B, b"2" * 16)
    torn.flush()
    assert path.stat().st_size == RECORD and KeyFile(path).get(B) == b"2" * 16
    monkeypatch.setattr(keyfile, "MAX_BYTES", 2 * RECORD)
    grown = KeyFile(path)
    grown.add(A, b"3" * 16)
    grown.add(ObjectId("c" * 40), b"4" * 16)
    grown.flush()  # past the cap: started afresh with what is new
    assert path.stat().st_size == 2 * RECORD and KeyFile(path).get(B) is None


def test_a_store_that_cannot_be_written_loses_only_the_keys(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    keys = KeyFile(directory / "keys")
    keys.add(A, b"1" * 16)
    os.chmod(directory, 0o500)
    try:
        keys.flush()  # no error
    finally:
        os.chmod(directory, 0o700)
    assert keys.get(A) == b"1" * 16


def test_a_commit_leaves_the_keys_a_later_merge_reads_instead_of_blobs(
    disk_writer: Writer, git_dir: Path
) -> None:
    """The rules gate keys the pages a commit changes; a new process finds them without a read."""
    repo = disk_writer.repo
    disk_writer.setup()
    page = Page("keyed", "Keyed", "First text.\n")
    first = disk_writer.commit(ChangeSet().upsert_page(page))
    second = disk_writer.commit(ChangeSet().upsert_page(Page("keyed", "Keyed", "Second text.\n")))
    old = repo.snapshots.blob_id(repo.commits.get(first).tree, "pages/keyed.md")
    new = repo.snapshots.blob_id(repo.commits.get(second).tree, "pages/keyed.md")
    assert old and new
    later = open_repository(git_dir.parent)
    reads: list[ObjectId] = []
    get = later.objects.get

    def counting(oid: ObjectId) -> tuple[str, bytes]:
        reads.append(oid)
        return get(oid)

    later.objects.get = counting  # type: ignore[method-assign]
    assert later.front_key(old) == later.front_key(new) == front_key(page.serialise())
    assert reads == []
