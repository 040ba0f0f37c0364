"""Batches on the git backend: one small pack per batch, seen by every reader, merged by the packer."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from narrative_vcs.errors import BadInput, CorruptObject
from narrative_vcs.graph import odb
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.graph.git import AUTO_PACK_COUNT, TEMP_GRACE_SECONDS, GitObjectStore, init_git_dir
from narrative_vcs.graph.packfile import parse_entry_header
from narrative_vcs.objects import Page, hash_object
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId

from ..conftest import Writer

Git = Callable[..., str]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> GitObjectStore:
    git_dir = tmp_path / "g.gvcs"
    init_git_dir(git_dir)
    return GitObjectStore(git_dir, background_pack=False)


def _files(git_dir: Path) -> set[str]:
    return {str(p.relative_to(git_dir)) for p in (git_dir / "objects").rglob("*") if p.is_file()}


def _git_bytes(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True).stdout


def _packs(git_dir: Path) -> list[Path]:
    return sorted((git_dir / "objects" / "pack").glob("pack-*.idx"))


def test_a_batch_is_one_pack_and_index_that_real_git_reads(store: GitObjectStore, git_cli: Git) -> None:
    git_dir = store.git_dir
    objects = [("blob", b"one\n"), ("blob", bytes(range(256)) * 300), ("tree", b""), ("blob", b"")]
    with store.batch():
        ids = [store.put(t, d) for t, d in objects]
        assert store.put(*objects[0]) == ids[0]  # the same object twice in a batch is stored once
        assert store.get(ids[1]) == objects[1] and store.has(ids[2])  # seen before the batch ends
        assert _files(git_dir) == set()  # nothing written yet
    files = _files(git_dir)
    assert len(files) == 2 and {Path(f).suffix for f in files} == {".pack", ".idx"}
    for oid, (obj_type, data) in zip(ids, objects, strict=True):
        assert git_cli(git_dir, "cat-file", "-t", oid).strip() == obj_type
        assert _git_bytes(git_dir, "cat-file", obj_type, oid) == data
        assert GitObjectStore(git_dir).get(oid) == (obj_type, data)
        assert ObjectId(str(store.repo[oid].id)) == oid  # libgit2
    git_cli(git_dir, "verify-pack", str(_packs(git_dir)[0]))
    git_cli(git_dir, "fsck", "--strict")
    assert sorted(GitObjectStore(git_dir)) == sorted(set(ids))


def test_a_single_object_outside_a_batch_stays_loose(store: GitObjectStore) -> None:
    oid = store.put("blob", b"loose")
    assert _files(store.git_dir) == {f"objects/{oid[:2]}/{oid[2:]}"}
    with store.batch():
        one = store.put("blob", b"alone in its batch")
    assert f"objects/{one[:2]}/{one[2:]}" in _files(store.git_dir) and not _packs(store.git_dir)


def test_an_exception_inside_a_batch_writes_nothing(store: GitObjectStore) -> None:
    with pytest.raises(RuntimeError), store.batch():
        oid = store.put("blob", b"never written")
        store.put("tree", b"")
        raise RuntimeError("boom")
    assert _files(store.git_dir) == set()
    assert not store.has(oid)


def test_a_failed_commit_writes_no_object_and_moves_no_ref(disk_repo: Repository, disk_writer: Writer,
                                                           git_dir: Path) -> None:  # fmt: skip
    disk_writer.setup()
    head = disk_writer.page("a", "A")
    before = _files(git_dir)
    with pytest.raises(BadInput, match="nowhere"):
        disk_repo.commit(
            "main",
            ChangeSet().upsert_page(Page("b", "B", "text", follows=("nowhere",))),
            actor="ada",
            message="m",
            expected_head=head,
        )
    assert _files(git_dir) == before
    assert disk_repo.branches()["main"] == head


def test_a_commit_is_one_pack_and_git_reads_it(disk_repo: Repository, disk_writer: Writer, git_dir: Path,
                                               git_cli: Git) -> None:  # fmt: skip
    disk_writer.setup(pages=[Page("prologue", "Prologue", "Once.")])
    before = set(_packs(git_dir))
    head = disk_writer.page("vault", "The vault door opens.", follows=("prologue",))
    new = set(_packs(git_dir)) - before
    assert len(new) == 1
    out = git_cli(git_dir, "verify-pack", "-v", str(new.pop()))
    assert head in out and "blob" in out and "tree" in out
    assert git_cli(git_dir, "log", "--format=%H", "-1", "main").strip() == head
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_readers_see_a_pack_written_by_another_process(store: GitObjectStore) -> None:
    git_dir = store.git_dir
    with store.batch():
        store.put("blob", b"first")
        store.put("blob", b"second")
    reader = GitObjectStore(git_dir)
    assert reader.get(hash_object("blob", b"first"))[1] == b"first"  # the reader has listed the packs
    libgit2 = reader.repo
    assert libgit2.get(hash_object("blob", b"first")) is not None
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from narrative_vcs.graph.git import GitObjectStore
        s = GitObjectStore(Path(sys.argv[1]))
        with s.batch():
            s.put("blob", b"from another process")
            s.put("tree", b"")
        """
    )
    subprocess.run([sys.executable, "-c", code, str(git_dir)], check=True, cwd=ROOT)
    oid = hash_object("blob", b"from another process")
    assert reader.has(oid)
    assert reader.get(oid) == ("blob", b"from another process")
    assert bytes(libgit2[oid].read_raw()) == b"from another process"  # libgit2 rescans on a miss
    assert _git_bytes(git_dir, "cat-file", "blob", oid) == b"from another process"


def test_a_reader_lists_the_packs_again_when_one_vanishes_as_it_opens(
    store: GitObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.batch():
        a = store.put("blob", b"a")
        store.put("blob", b"b")
    real = odb._Pack
    calls = []

    def flaky(idx_path: str) -> odb._Pack:
        calls.append(idx_path)
        if len(calls) == 1:  # as if a packer merged and deleted it between listing and opening
            raise FileNotFoundError(idx_path)
        return real(idx_path)

    monkeypatch.setattr(odb, "_Pack", flaky)
    assert GitObjectStore(store.git_dir).get(a) == ("blob", b"a")
    assert len(calls) == 2


def test_reads_survive_the_packer_merging_the_packs_a_reader_has_open(store: GitObjectStore) -> None:
    ids = []
    for i in range(8):
        with store.batch():
            ids += [store.put("blob", b"x%d" % i), store.put("blob", b"y%d" % i)]
    reader = GitObjectStore(store.git_dir)
    assert reader.get(ids[0])[1] == b"x0"  # opens all 8 packs
    assert store.pack(full=True) == 16 and len(_packs(store.git_dir)) == 1
    with store.batch():
        ids += [store.put("blob", b"later"), store.put("blob", b"later 2")]
    assert [reader.get(oid)[1] for oid in ids[-3:]] == [b"y7", b"later", b"later 2"]


def test_the_packer_merges_the_small_packs_and_leaves_the_big_one(tmp_path: Path, git_cli: Git) -> None:
    repo = init_repository(tmp_path / "story")
    git_dir = tmp_path / "story" / ".gvcs"
    store = repo.objects
    assert isinstance(store, GitObjectStore)
    store.background_pack = False
    writer = Writer(repo)
    # pages of hex digits, which compress little: the story's pack is big next to a commit's
    words = [" ".join(hash_object("blob", b"%d-%d" % (i, j)) for j in range(100)) for i in range(200)]
    writer.setup(pages=[Page(f"p{i}", f"Page {i}", words[i]) for i in range(200)])
    store.pack(full=True)
    (big,) = _packs(git_dir)
    heads = []
    for i in range(AUTO_PACK_COUNT):
        heads.append(writer.page(f"p{i % 200}", f"Edit {i}. " * 30))
    assert len(_packs(git_dir)) == AUTO_PACK_COUNT + 1  # not yet more than the limit
    heads.append(writer.page("p1", "One more."))
    for _ in range(20):  # the maintenance check comes every 100 objects written
        if len(_packs(git_dir)) <= 3:
            break
        heads.append(writer.page("p2", f"Again {len(heads)}."))
    packs = _packs(git_dir)
    assert big in packs and len(packs) <= 3
    for oid in heads:
        assert repo.commit_info(oid).id == oid
    fresh = open_repository(tmp_path / "story")
    assert fresh.read_page("p1").body == "One more.\n"
    assert fresh.fsck().ok
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")
    assert git_cli(git_dir, "rev-list", "--count", "main").strip() == str(len(heads) + 1)
    # and a full pack still packs everything into one
    assert store.pack(full=True) > 0 and len(_packs(git_dir)) == 1
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")
    git_cli(git_dir, "gc", "--quiet")
    assert open_repository(tmp_path / "story").read_page("p0").body.startswith("Edit 0.")


def test_a_full_pack_twice_keeps_the_pack(disk_writer: Writer, git_dir: Path, git_cli: Git) -> None:
    disk_writer.setup()
    disk_writer.page("a", "A")
    disk_writer.page("b", "B")
    store = GitObjectStore(git_dir)
    count = store.pack(full=True)
    assert store.pack(full=True) == count and store.pack_count() == 1  # the same pack, same name
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_the_packer_removes_old_temp_files_and_orphan_packs(store: GitObjectStore, git_cli: Git) -> None:
    pack_dir = store.git_dir / "objects" / "pack"
    with store.batch():
        store.put("blob", b"kept")
        store.put("blob", b"kept too")
    assert len(_packs(store.git_dir)) == 1
    stale = [pack_dir / "tmp_pack_1_0", pack_dir / "tmp_idx_1_0", pack_dir / f"pack-{'1' * 40}.pack"]
    fresh = pack_dir / "tmp_pack_2_0"
    old = time.time() - TEMP_GRACE_SECONDS - 10
    for path in [*stale, fresh]:
        path.write_bytes(b"PACK partial")
    for path in stale:
        os.utime(path, (old, old))
    git_cli(store.git_dir, "fsck", "--strict")  # leftovers are ignored by git
    assert GitObjectStore(store.git_dir).get(hash_object("blob", b"kept"))[1] == b"kept"
    store.pack(full=True)
    assert not any(p.exists() for p in stale) and fresh.exists()  # a young one may be in use


def test_fsck_reports_a_corrupt_byte_in_a_small_pack(disk_writer: Writer, git_dir: Path) -> None:
    disk_writer.setup()
    disk_writer.page("a", "A first page with enough words to compress. " * 5)
    before = set(_packs(git_dir))
    disk_writer.page("vault", "The vault door opens, slowly, with a long creak. " * 5)
    (idx,) = set(_packs(git_dir)) - before
    pack = idx.with_suffix(".pack")
    data = bytearray(pack.read_bytes())
    data[40] ^= 0xFF  # inside the first object's compressed data
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    report = open_repository(git_dir.parent).fsck()
    assert not report.ok
    assert report.problems


@pytest.mark.parametrize("inflate", ["isal", "zlib"])
def test_a_damaged_entry_reads_as_a_corrupt_object(
    store: GitObjectStore, monkeypatch: pytest.MonkeyPatch, inflate: str
) -> None:
    """A pack entry whose compressed bytes are damaged is a CorruptObject naming the pack, whichever
    inflate reads it (ISA-L's raises errors of its own; zlib's when no isal wheel exists)."""
    if inflate == "zlib":
        monkeypatch.setattr(odb, "_decompressobj", zlib.decompressobj)
        monkeypatch.setattr(odb, "_InflateError", zlib.error)
    text = b"The vault door opens, slowly, with a long creak. " * 20
    with store.batch():
        oid = store.put("blob", text)
        store.put("blob", b"a second object, so the batch is a pack")
    (idx,) = _packs(store.git_dir)
    pack = idx.with_suffix(".pack")
    opened = odb._Pack(str(idx))
    _, _, at = parse_entry_header(opened.pack, opened.find(bytes.fromhex(oid)))
    opened.close()
    data = bytearray(pack.read_bytes())
    data[at + 4 : at + 12] = b"\xff" * 8  # inside the deflate stream, past its header
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    with pytest.raises(CorruptObject, match="cannot be read from"):
        GitObjectStore(store.git_dir).get(oid)


def test_a_lookup_matches_whole_ids_only(store: GitObjectStore) -> None:
    """Ids are found by scanning their fan-out bucket of the index: bytes that straddle two ids of the
    bucket are no match, and every id is found at its own offset."""
    with store.batch():
        ids = [store.put("blob", b"object %d" % i) for i in range(600)]
    (idx,) = _packs(store.git_dir)
    pack = odb._Pack(str(idx))
    try:
        raws = sorted(bytes.fromhex(oid) for oid in ids)
        pairs = [(a, b) for a, b in itertools.pairwise(raws) if a[0] == b[0]]
        assert pairs  # 600 ids in 256 buckets share some
        for a, b in pairs:
            assert pack._search(a[7:] + b[:7], a[0]) is None  # in a's bucket, but straddling two ids
        offsets = {pack.find(raw) for raw in raws}
        assert len(offsets) == 600 and -1 not in offsets
        assert pack.find(b"\x00" * 20) == -1 and pack.find(b"\xff" * 20) == -1
    finally:
        pack.close()


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from narrative_vcs.graph.factory import open_repository
    from narrative_vcs.objects import Page
    from narrative_vcs.repository import ChangeSet
    repo = open_repository(Path(sys.argv[1]))
    i = 0
    while True:
        head = repo.refs.get("refs/heads/main")
        page = Page(f"k{i % 7}", "K", "text %d " % i * 50)
        repo.commit("main", ChangeSet().upsert_page(page), actor="ada", message="m", expected_head=head)
        i += 1
    """
)


def test_a_writer_killed_at_any_point_leaves_a_store_git_fsck_passes(
    disk_writer: Writer, git_dir: Path, git_cli: Git
) -> None:
    disk_writer.setup()
    disk_writer.page("start", "Start")
    for delay in (0.05, 0.13, 0.21, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(git_dir.parent)], cwd=ROOT)
        time.sleep(delay + 0.3)  # the interpreter starts in about 0.3 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")
    repo = open_repository(git_dir.parent)
    assert repo.fsck().ok, repo.fsck().problems
    head = repo.refs.get("refs/heads/main")  # type: ignore[arg-type]
    assert head is not None and repo.commit_info(head).id == head


def test_stored_deltas_are_the_deltas_a_pack_keeps(disk_writer: Writer, git_dir: Path) -> None:
    disk_writer.setup()
    text = "\n\n".join(
        f"Paragraph {n} of a page long enough for git to keep its versions as deltas." for n in range(40)
    )
    for n in range(6):
        disk_writer.page("long", text + f"\n\nEdit {n}.")
    store = GitObjectStore(git_dir, background_pack=False)
    store.pack(full=True)
    every = list(store)
    deltas = store.stored_deltas(every)
    assert deltas, "a packed history of six versions keeps some as deltas"
    for oid, stored in deltas.items():
        base_type, base_data = store.get(stored.base)
        delta = stored.delta()
        assert len(delta) == stored.size
        assert store.get(oid) == (base_type, odb._apply_delta(base_data, delta))
    whole = [oid for oid in every if oid not in deltas]
    assert whole and store.stored_deltas(whole) == {}
    loose = store.put("blob", b"written after the pack\n")
    assert store.stored_deltas([loose]) == {}
    # A damaged entry fails its CRC-32 (kept by the index): it is not offered for reuse.
    (idx,) = _packs(git_dir)
    damaged = next(iter(deltas))
    for line in _git_bytes(git_dir, "verify-pack", "-v", str(idx)).decode().splitlines():
        fields = line.split()
        if fields and fields[0] == damaged:
            in_pack, offset = int(fields[3]), int(fields[4])
    pack = idx.with_suffix(".pack")
    data = bytearray(pack.read_bytes())
    data[offset + in_pack - 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    again = GitObjectStore(git_dir, background_pack=False)
    offered = again.stored_deltas(every)
    again.close()
    store.close()
    assert damaged not in offered and len(offered) == len(deltas) - 1
