"""The embedded default backend: a git repository on disk.

Objects are read and written through pygit2 (libgit2). Refs are loose ref files in git's own format
(``refs/heads/<name>``, ``packed-refs`` read too) with git-format reflogs under ``logs/``, so ``git log``
and ``git fsck`` work on the store. Every ref update is a compare-and-swap made under an exclusive
``flock`` of ``gvcs-refs.lock`` and, as git makes its updates, under the ``<ref>.lock`` file of each ref
it reads and writes, created exclusively: git and gvcs wait for each other's locks. The new value is
written to ``<ref>.lock`` and renamed into place, so readers see either the old or the new id, never half
a file. The kernel drops the ``flock`` when a process dies, and the ``.lock`` files a killed gvcs left
are recognised by their twins under ``gvcs-locks/`` (see :class:`RefLocks`), so a killed writer never
leaves the store locked.
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import itertools
import mmap
import os
import re
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput, BranchMoved, CorruptObject, NotFound, Refused
from ..objects import hash_object
from ..refs import ReflogEntry, RefMove, RefStore, check_moves
from ..store import CacheFile, ObjectStore, StoredDelta
from ..types import ZERO_ID, ObjectId, RefName
from .keyfile import KeyFile
from .odb import ObjectReader
from .packfile import TYPE_CODES as _TYPE_CODES
from .packfile import TYPE_NAMES as _TYPE_NAMES
from .packfile import Entry, build_pack, encode_entry

if TYPE_CHECKING:
    import subprocess

    import pygit2

__all__ = [
    "AUTO_PACK_LIMIT",
    "GitObjectStore",
    "GitRefStore",
    "RefLocked",
    "RefLocks",
    "init_git_dir",
]

_HEX = frozenset("0123456789abcdef")
#: Front-matter keys of blobs, kept across commands (see :mod:`.keyfile`).
KEY_FILE = "gvcs-front-keys"
#: Like ``gc.auto``: pack the loose objects once about this many have piled up.
AUTO_PACK_LIMIT = 6700
#: Like ``gc.autoPackLimit``: merge the small packs once there are more than this many. Every batch
#: (a commit) is one small pack, so this comes every ~50 commits; the merge is cheap.
AUTO_PACK_COUNT = 50
#: Like the old ``gc.autoPackLimit`` here: with this many packs with deltas, repack everything.
AUTO_PACK_COUNT_DELTA = 20
#: Temp files (and a ``.pack`` whose ``.idx`` never came) older than this are left by a killed process.
TEMP_GRACE_SECONDS = 600
#: Background packers started by this process and maybe still running, by objects directory.
_PACKERS: dict[str, subprocess.Popen[bytes]] = {}


def init_git_dir(git_dir: Path) -> None:
    """Create an empty bare git repository layout at ``git_dir``."""
    import pygit2

    pygit2.init_repository(str(git_dir), bare=True)
    # Keep the reflog for every ref; gvcs reads it for `gvcs reflog` and recovery.
    with open(git_dir / "config", "a", encoding="utf-8") as config:
        config.write("[core]\n\tlogallrefupdates = always\n[gc]\n\tauto = 0\n")


class GitObjectStore(ObjectStore):
    """Objects in a git object database (loose objects and packs), written through libgit2."""

    def __init__(
        self, git_dir: Path, *, auto_pack_limit: int = AUTO_PACK_LIMIT, background_pack: bool = True
    ) -> None:
        self.git_dir = Path(git_dir)
        self.auto_pack_limit = auto_pack_limit
        self.background_pack = background_pack
        self._repo: pygit2.Repository | None = None
        self._writes = 0
        self._objects_dir = str(self.git_dir / "objects")
        self._dirs: set[str] = set()
        self._tmp_counter = itertools.count()
        self._reader = ObjectReader(self._objects_dir)
        self._keys: KeyFile | None = None
        # .pending: the objects of this thread's open batch; .many: its open reading_many() blocks
        self._local = threading.local()
        self._recent: Mapping[ObjectId, tuple[str, bytes]] = {}  # the last batch written
        self._reads = 0

    @property
    def repo(self) -> pygit2.Repository:
        if self._repo is None:
            import pygit2

            self._repo = pygit2.Repository(str(self.git_dir))
        return self._repo

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        # Read without libgit2: importing pygit2 alone costs more than a whole cold `gvcs log -n 20`,
        # and for packed commits the pure-Python reader measured faster than libgit2's odb read.
        pending: dict[ObjectId, tuple[str, bytes]] | None = getattr(self._local, "pending", None)
        if pending is not None and oid in pending:
            return pending[oid]
        # The last batch written (a commit, its trees) is what the next commit reads first.
        recent = self._recent.get(oid)
        if recent is not None:
            return recent
        if len(oid) != 40 or not _HEX.issuperset(oid):
            raise BadInput(f"not an object id: {oid!r}")
        if getattr(self._local, "many", 0):
            found = self._read_libgit2(oid)
            if found is not None:
                return found
        return self._reader.read(oid)

    @contextmanager
    def reading_many(self) -> Iterator[None]:
        """Read through libgit2 in the block: its delta resolution in C reads trees about three times
        as fast as the pure-Python reader, which pays off once pygit2's import is paid. Only the thread
        in the block reads so."""
        local = self._local
        local.many = getattr(local, "many", 0) + 1
        try:
            yield
        finally:
            local.many -= 1

    def _read_libgit2(self, oid: ObjectId) -> tuple[str, bytes] | None:
        import pygit2

        try:
            type_code, data = self.repo.odb.read(oid)
        except (KeyError, ValueError, OSError, pygit2.GitError):
            return None  # a pack a packer just replaced: the pure-Python reader looks again
        return _TYPE_NAMES[int(type_code)], data

    def get_many(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        """Many objects at once through libgit2, whose delta resolution in C wins on bulk reads."""
        wanted = list(oids)
        if len(wanted) < 64:
            return super().get_many(wanted)
        import pygit2

        names = _TYPE_NAMES
        out: dict[ObjectId, tuple[str, bytes]] = {}
        odb = self.repo.odb
        rest: list[ObjectId] = []
        for oid in wanted:
            try:
                type_code, data = odb.read(oid)
            except (KeyError, ValueError, OSError, pygit2.GitError, pygit2.NotFoundError):
                rest.append(oid)  # pending in a batch, or a pack a packer just replaced
                continue
            out[oid] = (names[int(type_code)], data)
        out.update(super().get_many(rest))
        return out

    def stored_deltas(self, oids: Iterable[ObjectId]) -> dict[ObjectId, StoredDelta]:
        out: dict[ObjectId, StoredDelta] = {}
        for oid in oids:
            found = self._reader.stored_delta(oid)
            if found is not None:
                out[oid] = StoredDelta(ObjectId(found[0]), found[1], found[2])
        return out

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        # Objects are written here rather than through libgit2, whose write first looks the object
        # up and, on a miss, rescans the pack directory: that doubled the cost of a commit.
        if obj_type not in _TYPE_CODES:
            raise BadInput(f"unknown object type {obj_type!r}")
        raw = f"{obj_type} {len(data)}\0".encode() + data
        oid = ObjectId(hashlib.sha1(raw).hexdigest())
        pending: dict[ObjectId, tuple[str, bytes]] | None = getattr(self._local, "pending", None)
        if pending is not None:
            # Not looked up in the store: probing every pack costs more than writing an object
            # twice (a revert), and the packer keeps one copy when it merges.
            if oid not in pending:
                pending[oid] = (obj_type, bytes(data))
            return oid
        self._write_loose(oid, obj_type, raw)
        return oid

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the objects put until the end, then write them as one pack (one object: loose).

        A pack and its index are two files however many objects they hold, where loose objects
        are a file each: a six-object commit creates a third of the files. Nothing is written if
        the block raises. A nested batch joins the outer one; each thread has its own batch.
        """
        if getattr(self._local, "pending", None) is not None:
            yield
            return
        pending: dict[ObjectId, tuple[str, bytes]] = {}
        self._local.pending = pending
        try:
            yield
        finally:
            self._local.pending = None
        self._flush(pending)
        if self._keys is not None:
            self._keys.flush()  # what a commit's checks learnt, kept once its objects are

    def _flush(self, pending: Mapping[ObjectId, tuple[str, bytes]]) -> None:
        if len(pending) == 1:
            ((oid, (obj_type, data)),) = pending.items()
            self._write_loose(oid, obj_type, f"{obj_type} {len(data)}\0".encode() + data)
        elif pending:
            directory = f"{self._objects_dir}/pack"
            tag = f"{os.getpid()}_{next(self._tmp_counter)}"
            try:
                write_pack(directory, pending, tag)
            except FileNotFoundError:  # no objects/pack yet
                os.makedirs(directory, exist_ok=True)
                write_pack(directory, pending, tag)
            # The new pack is not opened here (that cost a tenth of a commit): what the next commit
            # reads of it is kept in self._recent, and any other read that misses lists the packs.
            self._writes += len(pending)
            self._recent = pending

    def _write_loose(self, oid: ObjectId, obj_type: str, raw: bytes) -> None:
        directory = f"{self._objects_dir}/{oid[:2]}"
        path = f"{directory}/{oid[2:]}"
        if os.path.exists(path):
            return
        if oid[:2] not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(oid[:2])
        tmp = f"{directory}/tmp_obj_{os.getpid()}_{next(self._tmp_counter)}"
        # Trees are mostly object ids, which do not compress: storing them costs a tenth of the
        # time. Text compresses at level 1, as git's core.looseCompression. Packing recompresses.
        level = 0 if obj_type == "tree" else 1
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        try:
            os.write(fd, zlib.compress(raw, level))
        finally:
            os.close(fd)
        os.rename(tmp, path)
        self._writes += 1

    def check_packs(self) -> list[str]:
        """For fsck: one line per damaged pack or index (see :meth:`ObjectReader.verify_packs`), and per
        ``.pack`` whose ``.idx`` is gone. A ``.pack`` younger than ``TEMP_GRACE_SECONDS`` without its
        ``.idx`` is not counted: a writer may be between its two renames."""
        problems = self._reader.verify_packs()
        limit = time.time() - TEMP_GRACE_SECONDS
        for pack in sorted((self.git_dir / "objects" / "pack").glob("pack-*.pack")):
            try:
                if not pack.with_suffix(".idx").exists() and pack.stat().st_mtime < limit:
                    problems.append(
                        f"{pack}: its index {pack.stem}.idx is missing, so its objects cannot be read "
                        f"(git index-pack rebuilds it)"
                    )
            except FileNotFoundError:
                continue
        return problems

    def cache_file(self, name: str) -> CacheFile | None:
        return FileCache(self.git_dir / name)

    def has(self, oid: ObjectId) -> bool:
        if len(oid) != 40 or not _HEX.issuperset(oid):
            return False
        pending = getattr(self._local, "pending", None)
        if pending is not None and oid in pending:
            return True
        return self._reader.contains(oid)

    def __iter__(self) -> Iterator[ObjectId]:
        # An object may sit in several packs (and loose too) until the packer merges them.
        found = dict.fromkeys(ObjectId(oid) for oid in self._reader.iter_ids())
        found.update(dict.fromkeys(getattr(self._local, "pending", None) or ()))
        return iter(list(found))

    def resolve_prefix(self, prefix: str) -> list[ObjectId]:
        prefix = prefix.lower()
        if len(prefix) < 4 or not _HEX.issuperset(prefix):
            return super().resolve_prefix(prefix)  # refuses it
        if len(prefix) >= 40:
            return [ObjectId(prefix)] if self.has(ObjectId(prefix)) else []
        found = self._reader.with_prefix(prefix)
        found.update(oid for oid in getattr(self._local, "pending", None) or () if oid.startswith(prefix))
        return sorted(ObjectId(oid) for oid in found)

    # --- automatic packing ------------------------------------------------------------------------

    def loose_object_paths(self) -> list[Path]:
        objects = self.git_dir / "objects"
        return [
            p
            for d in objects.iterdir()
            if len(d.name) == 2 and d.is_dir()
            for p in d.iterdir()
            if len(p.name) == 38
        ]

    def estimate_loose(self) -> int:
        """Like ``git gc --auto``: count one fan-out directory and scale by 256."""
        sample = self.git_dir / "objects" / "17"
        try:
            return len(os.listdir(sample)) * 256
        except FileNotFoundError:
            return 0

    def maintain(self) -> None:
        """Pack once enough loose objects or small packs have piled up, in a detached process like
        ``git gc --auto``.

        Checking the disk on every write would cost more than it saves: check every 100 writes.
        """
        if self._writes < 100 or self.auto_pack_limit <= 0:
            return
        self._writes = 0
        if not self.needs_pack():
            return
        if not self.background_pack:
            self.pack()
            return
        # One packer at a time: starting a Python process per check while a pack runs (it takes
        # seconds, a check comes every 100 writes) used to cost more than the commits themselves.
        # The running packers are kept by the module, not the store: a Popen dropped while its
        # process runs warns (ResourceWarning), and several stores may share one directory.
        for key, proc in list(_PACKERS.items()):
            if proc.poll() is not None:
                del _PACKERS[key]
        if self._objects_dir in _PACKERS:
            return
        if _is_locked(self.git_dir / "gvcs-pack.lock"):  # another process is packing
            return
        code = (
            "import os, sys; from pathlib import Path; "
            "from narrative_vcs.graph.git import GitObjectStore as S; os.nice(10); "
            "s = S(Path(sys.argv[1]), auto_pack_limit=int(sys.argv[2]))\n"
            # Pack again while the writer left enough behind meanwhile: its own check may have
            # come while this packer ran, and found nothing to start.
            "while s.pack() and s.needs_pack(): pass"
        )
        import subprocess  # only here: a cold `gvcs log` never starts a packer

        _PACKERS[self._objects_dir] = subprocess.Popen(
            [sys.executable, "-c", code, str(self.git_dir), str(self.auto_pack_limit)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )

    def needs_pack(self) -> bool:
        """Whether enough loose objects or packs have piled up to pack (``gc.auto``, ``gc.autoPackLimit``)."""
        return self.estimate_loose() >= self.auto_pack_limit or self.pack_count() > AUTO_PACK_COUNT

    def pack_count(self) -> int:
        try:
            # A .pack and an .idx each: counting the names is a tenth of the time of matching them.
            return len(os.listdir(f"{self._objects_dir}/pack")) // 2
        except FileNotFoundError:
            return 0

    def pack(self, *, full: bool = False, progress: Callable[[int, int], None] | None = None) -> int:
        """Merge packs and pack loose objects, then delete what the new pack holds; with ``full``,
        every object into one pack with deltas.

        Each commit writes a small pack of whole objects. They are merged in two ways:

        * cheaply, by copying their entries as they are into one pack (no inflating, no delta
          search), as soon as there are more than ``AUTO_PACK_COUNT`` packs. Which packs are merged
          is decided as ``git repack --geometric=2`` does (keep the largest packs while each is at
          least twice the size of all the smaller ones), so an entry is copied a few times at most;
        * with deltas, through libgit2, once the packs of whole objects and the loose objects hold
          ``auto_pack_limit`` objects (as loose objects alone used to be packed: the delta search
          costs ~0.2 ms an object, more than a commit, so it is done in bulk and in the background).
          With ``AUTO_PACK_COUNT_DELTA`` packs with deltas or more, every pack is merged into one.

        The background packer runs at a lower priority (nice 10) so the writer it packs for keeps
        its core. The new pack is in place (its ``.idx`` last) before anything it holds is deleted,
        so a reader always finds every object; a reader whose pack vanished lists the packs again.

        Returns the number of objects packed. Runs in at most one process at a time; another
        process that wants to pack meanwhile skips it. ``progress(done, total)``: objects written
        into the pack with deltas, as libgit2 writes them (the delta search before shows as 0), and
        ``(count, count)`` once the pack is in place; a cheap merge reports nothing.
        """
        with _try_flock(self.git_dir / "gvcs-pack.lock") as locked:
            if not locked:
                return 0
            pack_dir = self.git_dir / "objects" / "pack"
            pack_dir.mkdir(exist_ok=True)
            _remove_stale_temp_files(pack_dir)
            packs = _list_packs(pack_dir)
            # The packs libgit2 wrote (listed in gvcs-packed) were searched for deltas already; the
            # others are the writers' small packs and their cheap merges.
            searched = self._searched_packs()
            whole = [(n, b) for n, b in packs if b.name not in searched and not _has_deltas(b)]
            deltified = [(n, b) for n, b in packs if (n, b) not in whole]
            loose = self.loose_object_paths()
            ids = [p.parent.name + p.name for p in loose]
            pending = len(ids) + sum(_pack_count(base) for _, base in whole)
            if full or len(deltified) >= AUTO_PACK_COUNT_DELTA:
                return self._pack_with_deltas(pack_dir, packs, loose, everything=True, progress=progress)
            if pending >= max(self.auto_pack_limit, 1) or (ids and len(whole) < 2):
                return self._pack_with_deltas(pack_dir, whole, loose, everything=False, progress=progress)
            merged = _geometric_rollup(whole)
            if len(merged) < 2:
                return 0
            entries: dict[bytes, tuple[bytes, int, bytes]] = {}
            for _, base in merged:
                for entry in _whole_entries(base) or ():
                    entries.setdefault(entry[0], entry)
            idx = _write_pack_entries(str(pack_dir), list(entries.values()), f"{os.getpid()}_merge")
            new_name = Path(idx).stem
            for _, base in merged:
                if base.name != new_name:
                    _remove_pack(base)
            self._reader.close()
            return len(entries)

    def _searched_packs(self) -> set[str]:
        """The packs written by libgit2's packer (with a delta search), by name without suffix."""
        try:
            return set((self.git_dir / "gvcs-packed").read_text(encoding="utf-8").split())
        except FileNotFoundError:
            return set()

    def _pack_with_deltas(
        self,
        pack_dir: Path,
        packs: list[tuple[int, Path]],
        loose: list[Path],
        *,
        everything: bool,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """One pack with deltas (libgit2) of the loose objects and ``packs`` (or of every object)."""
        import pygit2

        if everything:
            wanted: list[str] = list(self)
        else:
            ids = [p.parent.name + p.name for p in loose]
            wanted = list(dict.fromkeys([*ids, *(h for _, base in packs for h in _pack_ids(base))]))
        if not wanted:
            return 0
        tmp_dir = pack_dir / f"tmp_gvcs_pack_{os.getpid()}"
        _rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir()
        try:
            builder = pygit2.PackBuilder(self.repo)
            for oid in wanted:
                builder.add(pygit2.Oid(hex=oid))
            if progress is None:
                builder.write(path=str(tmp_dir))
            else:
                _write_with_progress(builder, tmp_dir, progress)
            count = int(builder.written_objects_count)
            new_names = _move_pack_into_place(tmp_dir, pack_dir)
        finally:
            _rmtree(tmp_dir, ignore_errors=True)
        for path in loose:
            path.unlink(missing_ok=True)
        for _, base in packs:  # the new pack holds everything these did
            if base.name not in new_names:
                _remove_pack(base)
        searched = {b.name for _, b in _list_packs(pack_dir)} & (self._searched_packs() | new_names)
        tmp = self.git_dir / f"gvcs-packed.{os.getpid()}.tmp"
        tmp.write_text("".join(f"{name}\n" for name in sorted(searched)), encoding="utf-8")
        os.replace(tmp, self.git_dir / "gvcs-packed")
        self._repo = None  # reopen so libgit2 sees the new pack list
        self._reader.close()
        if progress is not None:
            progress(count, count)
        return count

    def key_cache(self) -> KeyFile:
        if self._keys is None:
            self._keys = KeyFile(self.git_dir / KEY_FILE)
        return self._keys

    def close(self) -> None:
        if self._keys is not None:
            self._keys.flush()
        self._repo = None
        self._reader.close()


class _PackProgress:
    """The payload of libgit2's indexer progress callback while a pack is written: it forwards the
    objects written so far, short of the total (the caller reports the end once the pack is in
    place), and keeps an exception the callback raised (pygit2's callbacks store it here)."""

    def __init__(self, progress: Callable[[int, int], None]) -> None:
        self.progress = progress
        self._stored_exception: BaseException | None = None

    def transfer_progress(self, stats: object) -> None:
        total = int(getattr(stats, "total_objects", 0))
        done = int(getattr(stats, "received_objects", 0))
        if done < total:
            self.progress(done, total)


def _write_with_progress(builder: object, tmp_dir: Path, progress: Callable[[int, int], None]) -> None:
    """``builder.write(tmp_dir)`` reporting progress: pygit2's ``PackBuilder.write`` passes no
    callback to ``git_packbuilder_write``, so it is called here with pygit2's own indexer progress
    callback (as a fetch passes it). A pygit2 without those internals writes without progress."""
    from pygit2.errors import check_error
    from pygit2.ffi import C, ffi

    pointer = getattr(builder, "_packbuilder", None)
    callback = getattr(C, "_transfer_progress_cb", None)
    if pointer is None or callback is None:
        builder.write(path=str(tmp_dir))  # type: ignore[attr-defined]
        return
    payload = _PackProgress(progress)
    handle = ffi.new_handle(payload)
    err = C.git_packbuilder_write(pointer, os.fsencode(tmp_dir), 0, callback, handle)
    if payload._stored_exception is not None:
        raise payload._stored_exception
    check_error(err)


def write_pack(pack_dir: str, objects: Mapping[ObjectId, tuple[str, bytes]], tag: str) -> str:
    """Write ``objects`` (id -> (type, data), no deltas) as one pack with its version 2 index in
    ``pack_dir``; return the path of the ``.idx``.

    Both are written to temp files (``tmp_pack_*``, ``tmp_idx_*``: git and gvcs readers ignore
    them, ``git gc`` and the gvcs packer delete old ones), then the ``.pack`` is renamed into place
    and the ``.idx`` last: readers find a pack by its index, so they see a complete pack or none.
    """
    return _write_pack_entries(pack_dir, [encode_entry(oid, t, d) for oid, (t, d) in objects.items()], tag)


def _write_pack_entries(pack_dir: str, objects: list[Entry], tag: str) -> str:
    """Write whole (non-delta) pack entries ``(binary id, crc32, entry)`` as a pack and its index."""
    built = build_pack(objects)
    body, checksum, idx = built.body, built.checksum, built.idx()
    name = f"{pack_dir}/pack-{checksum.hex()}"
    tmp_pack, tmp_idx = f"{pack_dir}/tmp_pack_{tag}", f"{pack_dir}/tmp_idx_{tag}"
    # Not fallocated as ref files are: these get new names, and ext4 flushes only on renames that
    # replace a file; fallocate measured no faster here.
    _write_new_file(tmp_pack, body, checksum)
    _write_new_file(tmp_idx, idx)
    os.rename(tmp_pack, name + ".pack")
    os.rename(tmp_idx, name + ".idx")
    return name + ".idx"


def _write_new_file(path: str, *parts: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        os.writev(fd, parts)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def _list_packs(pack_dir: Path) -> list[tuple[int, Path]]:
    """``(size of the .pack, path without extension)`` of each complete pack not kept, smallest first."""
    packs = []
    for idx in pack_dir.glob("pack-*.idx"):
        base = idx.with_suffix("")
        if base.with_suffix(".keep").exists():
            continue
        try:
            packs.append((base.with_suffix(".pack").stat().st_size, base))
        except FileNotFoundError:
            continue
    return sorted(packs)


def _geometric_rollup(packs: list[tuple[int, Path]], factor: int = 2) -> list[tuple[int, Path]]:
    """The packs to merge so the rest form a geometric progression (as ``git repack --geometric``)."""
    if len(packs) < 2:
        return []
    i = len(packs) - 1
    while i > 0 and packs[i][0] >= factor * packs[i - 1][0]:
        i -= 1
    split = i + 1 if i else 0
    total = sum(size for size, _ in packs[:split])
    while split < len(packs) and packs[split][0] < factor * total:
        total += packs[split][0]
        split += 1
    return packs[:split]


def _pack_ids(base: Path) -> list[str]:
    """The object ids a pack's version 2 index lists."""
    data = base.with_suffix(".idx").read_bytes()
    if data[:8] != b"\xfftOc\x00\x00\x00\x02":
        raise CorruptObject(f"{base}.idx: not a version 2 pack index")
    count = int.from_bytes(data[8 + 1020 : 8 + 1024], "big")
    names = data[1032 : 1032 + 20 * count]
    return [names[i : i + 20].hex() for i in range(0, len(names), 20)]


def _whole_entries(base: Path) -> list[tuple[bytes, int, bytes]] | None:
    """A pack's entries ``(binary id, crc32, entry bytes)`` if none is a delta, else None.

    Entries that are whole objects can be copied into another pack as they are (a delta cannot:
    its base may be elsewhere), so small packs merge without inflating anything.
    """
    idx = base.with_suffix(".idx").read_bytes()
    pack = base.with_suffix(".pack").read_bytes()
    if idx[:8] != b"\xfftOc\x00\x00\x00\x02" or pack[:4] != b"PACK":
        raise CorruptObject(f"{base}: not a version 2 pack")
    count = int.from_bytes(idx[8 + 1020 : 8 + 1024], "big")
    names_at, crcs_at, offsets_at = 1032, 1032 + 20 * count, 1032 + 24 * count
    large_at = offsets_at + 4 * count
    crcs = struct.unpack_from(f">{count}I", idx, crcs_at)
    offsets = list(struct.unpack_from(f">{count}I", idx, offsets_at))
    for i, at in enumerate(offsets):
        if at & 0x80000000:
            (offsets[i],) = struct.unpack_from(">Q", idx, large_at + 8 * (at & 0x7FFFFFFF))
    ends = dict(zip(sorted(offsets), [*sorted(offsets)[1:], len(pack) - 20], strict=True))
    entries = []
    for i, at in enumerate(offsets):
        if not 1 <= (pack[at] >> 4) & 7 <= 4:
            return None
        entries.append((idx[names_at + 20 * i : names_at + 20 * i + 20], crcs[i], pack[at : ends[at]]))
    return entries


def _pack_count(base: Path) -> int:
    """The number of objects in a pack (from its index's fan-out table)."""
    with open(base.with_suffix(".idx"), "rb") as fh:
        head = fh.read(8 + 1024)
    return int.from_bytes(head[8 + 1020 : 8 + 1024], "big")


def _has_deltas(base: Path) -> bool:
    """Whether any entry of a pack is a delta (packs written by libgit2 or git; not gvcs's own)."""
    with open(base.with_suffix(".idx"), "rb") as fh, open(base.with_suffix(".pack"), "rb") as ph:
        idx = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        pack = mmap.mmap(ph.fileno(), 0, access=mmap.ACCESS_READ)
    with idx, pack:
        count = int.from_bytes(idx[8 + 1020 : 8 + 1024], "big")
        offsets_at = 1032 + 24 * count
        for i in range(count):  # a pack with deltas shows one in its first few entries
            at = int.from_bytes(idx[offsets_at + 4 * i : offsets_at + 4 * i + 4], "big")
            if at & 0x80000000:
                return True  # only big packs have 64-bit offsets: not one of ours
            if not 1 <= (pack[at] >> 4) & 7 <= 4:
                return True
    return False


def _move_pack_into_place(tmp_dir: Path, pack_dir: Path) -> set[str]:
    """Rename a pack written in ``tmp_dir`` into ``pack_dir``, its ``.idx`` last; return its names
    (without extension). A pack already there under the same name has the same content."""
    files = sorted(tmp_dir.iterdir(), key=lambda p: p.suffix == ".idx")
    for path in files:
        target = pack_dir / path.name
        if path.suffix != ".idx" and target.with_suffix(".idx").exists():
            continue  # the same pack is in place already
        os.rename(path, target)
    return {path.with_suffix("").name for path in files if path.suffix == ".idx"}


def _remove_pack(base: Path) -> None:
    """Delete a pack: its index first, so no reader finds an index without its pack."""
    for suffix in (".idx", ".pack", ".rev", ".bitmap", ".mtimes"):
        base.with_suffix(suffix).unlink(missing_ok=True)


def _remove_stale_temp_files(pack_dir: Path) -> None:
    """Delete what killed writers and packers left: temp files, and a ``.pack`` whose ``.idx`` never
    came (a writer killed between its two renames), once they are old enough not to be in use."""
    limit = time.time() - TEMP_GRACE_SECONDS
    for path in pack_dir.iterdir():
        try:
            if path.name.startswith("tmp_") and path.lstat().st_mtime < limit:
                if path.is_dir():
                    _rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
            elif (
                path.suffix == ".pack"
                and not path.with_suffix(".idx").exists()
                and path.lstat().st_mtime < limit
            ):
                path.unlink()
        except FileNotFoundError:
            continue


def _rmtree(path: Path | str, ignore_errors: bool = False) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)


def _is_locked(path: Path) -> bool:
    """Whether another process holds the ``flock`` of ``path`` now."""
    with _try_flock(path) as locked:
        return not locked


class FileCache:
    """A cache file (in the git directory), replaced whole (temp file + rename) on each write."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def write(self, data: bytes) -> None:
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
        except OSError:  # a cache that cannot be written is only a missed speed-up
            tmp.unlink(missing_ok=True)


@contextmanager
def _try_flock(path: Path) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class RefLocked(Refused):
    """A ref's ``<ref>.lock`` file stayed in place: another git or gvcs process is updating the ref."""

    code = "CONFLICT"

    def __init__(self, ref: str, path: str) -> None:
        super().__init__(
            f"{ref} is locked by another process ({path}); nothing was changed: try again, "
            "or remove the file if no git or gvcs process is running"
        )
        self.ref = ref
        self.path = path


class RefLocks:
    """The ``<ref>.lock`` files one ref update holds, taken as git takes them and, at the end, each
    either renamed into place with the ref's new content (:meth:`commit`) or removed (:meth:`release`).

    A lock file is first made (``O_CREAT|O_EXCL``) as a twin under ``gvcs-locks/`` and then hard-linked
    to ``<ref>.lock``, which fails if that file exists, as git's exclusive create does. The twin stays
    until the lock is released, so a ``<ref>.lock`` that is one file with a twin was made by gvcs. Every
    gvcs writer holds the refs ``flock`` while it holds ref locks; the kernel drops that ``flock`` when a
    process dies, so the twins found by the next holder are a dead writer's, and so are the ``.lock``
    files linked to them (see :meth:`GitRefStore._remove_dead_locks`). Any other ``<ref>.lock`` belongs
    to a running git (or was made by hand): it is waited for, then refused.
    """

    def __init__(self, root: str, timeout: float) -> None:
        self._root = root
        self._timeout = timeout
        self._held: dict[str, tuple[int, str, str]] = {}  # ref -> (fd, lock file, twin)
        self._blocked: set[str] = set()  # refs that cannot exist: a file stands where a directory must
        self.directories: set[str] = set()  # where lock files were, to prune once they are gone

    def take(self, name: str) -> None:
        """Create ``<name>.lock``; wait up to the timeout for another process's, then refuse. A name
        that is not a ref of the repository (outside ``refs/``, an empty, ``.`` or ``..`` part, a
        control character) is refused: no file is ever written outside the refs."""
        parts = name.split("/")
        if not (
            name in ("HEAD", "packed-refs")
            or (
                len(parts) > 1
                and parts[0] == "refs"
                and all(p and p not in (".", "..") for p in parts)
                and not any(ord(c) < 32 or c == "\\" for c in name)
            )
        ):
            raise BadInput(f"invalid ref name {name!r}")
        lock = f"{self._root}/{name}.lock"
        twin = f"{self._root}/{LOCKS_DIR}/{hashlib.sha1(name.encode()).hexdigest()}"
        fd = _create_twin(twin)
        try:
            placed = self._place(name, twin, lock)
        except BaseException:
            os.close(fd)
            _unlink(twin)
            raise
        if not placed:
            os.close(fd)
            _unlink(twin)
            return
        self._held[name] = (fd, lock, twin)
        self.directories.add(os.path.dirname(lock))

    def _place(self, name: str, twin: str, lock: str) -> bool:
        """Link ``twin`` to ``lock``; False if the ref cannot exist (a ref above it is a file)."""
        deadline = time.monotonic() + self._timeout
        delay = 0.001
        made_dirs = False
        while True:
            try:
                os.link(twin, lock)
                return True
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise RefLocked(name, lock) from None
                time.sleep(delay)  # as git's lock timeout: back off, up to 50 ms a try
                delay = min(delay * 2, 0.05)
            except NotADirectoryError:  # a ref above it is a file
                self._blocked.add(name)
                return False
            except FileNotFoundError:  # the ref's directory does not exist (yet, or any more)
                if made_dirs:
                    raise
                try:
                    os.makedirs(os.path.dirname(lock), exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    self._blocked.add(name)
                    return False
                made_dirs = True

    def commit(self, name: str, content: str) -> None:
        """Write ``content`` into the lock of ``name`` and rename it into place (this releases it)."""
        if name in self._blocked or name not in self._held:
            raise BadInput(f"{name} cannot be created: a ref above it exists")
        fd, lock, twin = self._held.pop(name)
        data = content.encode()
        try:
            try:
                # Allocating the blocks up front keeps ext4 from flushing the file on the rename
                # (auto_da_alloc), which would cost more than the rest of a commit.
                os.posix_fallocate(fd, 0, len(data))
                os.write(fd, data)
            finally:
                os.close(fd)
            os.rename(lock, f"{self._root}/{name}")
        except BaseException:
            _unlink(lock)
            _unlink(twin)
            raise
        _unlink(twin)

    def release(self) -> None:
        """Remove every lock not committed (the refs keep their values)."""
        for fd, lock, twin in self._held.values():
            os.close(fd)
            _unlink(lock)  # before the twin: a lock without its twin would look like git's
            _unlink(twin)
        self._held.clear()


#: Where the twins of gvcs's ref locks live (see :class:`RefLocks`).
LOCKS_DIR = "gvcs-locks"
#: How long a ref update waits for a ``<ref>.lock`` another process holds, as git's
#: ``core.filesRefLockTimeout`` (git waits 100 ms by default; a gvcs writer is more patient).
REF_LOCK_TIMEOUT = 2.0
#: A line of a reflog: ``<old> <new> <name> <<email>> <time> <tz>`` and a tab before a message, if any.
_REFLOG_LINE = re.compile(r"([0-9a-f]{40}) ([0-9a-f]{40}) ([^<>\n]*<[^<>\n]*>) (\d+) ([+-]\d{4})(?:\t(.*))?")
#: What gvcs reads of a reflog line: also the lines older gvcs wrote, with a name and no ``<email>``.
_REFLOG_READ = re.compile(r"([0-9a-f]{40}) ([0-9a-f]{40}) (.*?) (\d+) ([+-]\d{4})(?:\t(.*))?")
_IDENT = re.compile(r"[^<>\n]*<[^<>\n]*>")


def _legacy_reflog_line(line: str) -> bool:
    """A line as gvcs wrote it before it wrote git's ``Name <email>``: a bare name (no ``<``, ``>``)."""
    found = _REFLOG_READ.fullmatch(line)
    return found is not None and not any(c in found.group(3) for c in "<>")


def _create_twin(twin: str) -> int:
    try:
        return os.open(twin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(twin), exist_ok=True)
        return os.open(twin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)


def _unlink(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _is_ref_path(name: str) -> bool:
    """Whether ``name`` can name a ref in a file: under ``refs/``, none of the characters git refuses."""
    return (
        name.startswith("refs/")
        and not name.endswith(("/", ".", ".lock"))
        and ".." not in name
        and "//" not in name
        and not any(c in " ~^:?*[\\\x7f" or ord(c) < 32 for c in name)
    )


def _shown(value: str) -> str:
    """A file's content as one short line of a message."""
    return repr(value if len(value) <= 60 else value[:60] + "...")


def _parse_packed(text: str) -> tuple[dict[str, ObjectId], list[str]]:
    """The refs of a ``packed-refs`` file, and one line per line that is not git's format: an optional
    ``# pack-refs with:`` header, then ``<id> <ref>`` lines, each maybe followed by a ``^<id>`` line
    (the commit an annotated tag points at)."""
    refs: dict[str, ObjectId] = {}
    problems: list[str] = []
    last_ref = ""
    for number, line in enumerate(text.split("\n"), 1):
        if not line and number == text.count("\n") + 1:
            break  # after the last newline
        where = f"packed-refs:{number}"
        if line.startswith("# pack-refs with:") and number == 1:
            continue
        if line.startswith("^"):
            if not last_ref or len(line) != 41 or not _HEX.issuperset(line[1:]):
                problems.append(f"{where}: not a peeled id after a ref: {_shown(line)}")
            last_ref = ""
            continue
        oid, _, name = line.partition(" ")
        if len(oid) != 40 or not _HEX.issuperset(oid) or not _is_ref_path(name):
            problems.append(f"{where}: not '<id> <ref>': {_shown(line)}")
            last_ref = ""
            continue
        refs[name] = ObjectId(oid)
        last_ref = name
    if text and not text.endswith("\n"):
        problems.append(f"packed-refs:{text.count(chr(10)) + 1}: the last line has no newline (cut short?)")
    return refs, problems


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


def _ident(who: str) -> str:
    """``who`` as the ident of a reflog line, ``Name <email>``; a bare name gets an empty email."""
    who = _one_line(who)
    if not who:
        return "gvcs <gvcs@actors.gvcs>"
    if _IDENT.fullmatch(who):
        return who
    return f"{who.replace('<', '').replace('>', '').strip()} <>"


class GitRefStore(RefStore):
    """Refs as git loose ref files, updated by compare-and-swap under git's ``<ref>.lock`` protocol.

    Every update holds the ``flock`` of ``gvcs-refs.lock`` (gvcs writers queue there, and a dead one's
    lock goes with it) and, as git does, the ``.lock`` file of each ref it reads and writes; so git and
    gvcs wait for each other's locks, and a ``.lock`` a killed gvcs left is recognised and removed.
    """

    def __init__(self, git_dir: Path, *, lock_timeout: float = REF_LOCK_TIMEOUT) -> None:
        self.git_dir = Path(git_dir)
        self.lock_timeout = lock_timeout
        self._root = str(self.git_dir)
        self._lock_fd: int | None = None
        # flock excludes other open files, not threads sharing this one: they take this lock first.
        self._thread_lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"{self._root}/{name}"

    def _read_loose(self, name: str) -> str | None:
        try:
            with open(self._path(name), encoding="utf-8", errors="replace") as fh:
                return fh.read().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _packed_text(self) -> str:
        try:
            with open(f"{self._root}/packed-refs", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def _packed(self) -> dict[str, ObjectId]:
        refs, problems = _parse_packed(self._packed_text())
        if problems:
            raise CorruptObject(problems[0])
        return refs

    def _read(self, name: str, depth: int = 0) -> ObjectId | None:
        value = self._read_loose(name)
        if value is None:
            return self._packed().get(name)
        if value.startswith("ref:"):
            if depth >= 5:
                raise CorruptObject(f"ref {name}: symbolic refs nested too deep (a loop?)")
            return self._read(value[4:].strip(), depth + 1)
        if len(value) != 40 or not _HEX.issuperset(value):
            raise CorruptObject(f"ref {name} holds {_shown(value)}, not a commit id")
        return ObjectId(value)

    def get(self, name: RefName) -> ObjectId | None:
        return self._read(name)

    def get_symbolic(self, name: RefName) -> RefName | None:
        value = self._read_loose(name)
        if value is not None and value.startswith("ref:"):
            return RefName(value[4:].strip())
        return None

    def _loose_names(self) -> Iterator[str]:
        """The names of the loose ref files under ``refs/`` (lock files left out)."""
        for dirpath, _dirs, files in os.walk(self.git_dir / "refs"):
            for fname in files:
                if not fname.endswith(".lock"):
                    yield os.path.relpath(os.path.join(dirpath, fname), self.git_dir)

    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        refs: dict[str, ObjectId] = {k: v for k, v in self._packed().items() if k.startswith(prefix)}
        for name in self._loose_names():
            if name.startswith(prefix):
                value = self._read_loose(name)
                if value and len(value) == 40 and _HEX.issuperset(value):
                    refs[name] = ObjectId(value)
        return {RefName(k): v for k, v in sorted(refs.items())}

    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        name = self.get_symbolic(name) or name
        try:
            text = (self.git_dir / "logs" / name).read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return []
        entries = []
        for line in text.splitlines():
            match = _REFLOG_READ.fullmatch(line)
            if match is None:
                continue  # as git: a line that does not parse is skipped (fsck reports it)
            old, new, who, when, _tz, message = match.groups()
            who = who[:-3] if who.endswith(" <>") else who
            entries.append(ReflogEntry(ObjectId(old), ObjectId(new), who, int(when), message or ""))
        return entries

    # --- checking (fsck) --------------------------------------------------------------------------

    def check_refs(self) -> tuple[dict[RefName, ObjectId], builtins.list[str]]:
        """For fsck: every ref under ``refs/`` whose file parses, with its id, and one line for each
        file that does not (loose refs, ``packed-refs``, a missing ``HEAD``, reflogs), all of them read."""
        refs, problems = _parse_packed(self._packed_text())
        for name in sorted(self._loose_names()):
            value = self._read_loose(name) or ""
            if value.startswith("ref:"):
                refs.pop(name, None)  # a symbolic ref (refs/remotes/origin/HEAD): its target is a ref
                if not _is_ref_path(value[4:].strip()):
                    problems.append(f"ref {name} is symbolic to {_shown(value[4:].strip())}, not a ref")
            elif len(value) == 40 and _HEX.issuperset(value):
                refs[name] = ObjectId(value)
            else:
                refs.pop(name, None)
                problems.append(f"ref {name} holds {_shown(value)}, not a commit id")
        if not os.path.isfile(self._path("HEAD")):
            problems.append("HEAD is missing")
        problems.extend(self._check_reflogs())
        return {RefName(k): v for k, v in sorted(refs.items())}, problems

    def _check_reflogs(self) -> builtins.list[str]:
        problems = []
        logs = self.git_dir / "logs"
        for dirpath, _dirs, files in os.walk(logs):
            for fname in sorted(files):
                path = Path(dirpath, fname)
                shown = path.relative_to(self.git_dir)
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    problems.append(f"{shown}: not text, not a reflog")
                    continue
                lines = text.split("\n")
                for number, line in enumerate(lines[:-1], 1):
                    if not _REFLOG_LINE.fullmatch(line) and not _legacy_reflog_line(line):
                        problems.append(f"{shown}:{number}: not a reflog entry: {_shown(line)}")
                if lines[-1]:
                    problems.append(f"{shown}:{len(lines)}: the last line has no newline (cut short?)")
        return problems

    # --- writing ----------------------------------------------------------------------------------

    @contextmanager
    def locking(self, names: Iterable[str]) -> Iterator[RefLocks]:
        """Hold the locks of ``names`` (``refs/...``, ``HEAD``, ``packed-refs``) for the block, as git
        holds them for an update: git and other gvcs processes wait meanwhile. Raises
        :class:`RefLocked` if a lock stays held longer than :attr:`lock_timeout`. Not re-entrant: the
        block must not update refs through this store, which would wait for itself."""
        with self._thread_lock:
            if self._lock_fd is None:
                self._lock_fd = os.open(self.git_dir / "gvcs-refs.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._remove_dead_locks()
                locks = RefLocks(self._root, self.lock_timeout)
                try:
                    # In git's order (by name, packed-refs last), so git and gvcs do not lock crosswise.
                    for name in sorted(set(names), key=lambda n: (n == "packed-refs", n)):
                        locks.take(name)
                    yield locks
                finally:
                    locks.release()
                    for directory in locks.directories:
                        self._prune_empty_dirs(Path(directory))
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _remove_dead_locks(self) -> None:
        """Remove the ref locks of gvcs processes that died holding them (the caller holds the flock,
        so no live gvcs holds one): their twins, and the ``.lock`` files that are the same file."""
        locks_dir = f"{self._root}/{LOCKS_DIR}"
        try:
            twins = os.listdir(locks_dir)
        except FileNotFoundError:
            return
        if not twins:
            return
        dead: set[tuple[int, int]] = set()
        for twin in twins:
            try:
                st = os.lstat(f"{locks_dir}/{twin}")
            except FileNotFoundError:
                continue
            dead.add((st.st_dev, st.st_ino))
        candidates = [self._path("HEAD.lock"), self._path("packed-refs.lock")]
        for dirpath, _dirs, files in os.walk(self.git_dir / "refs"):
            candidates += [os.path.join(dirpath, f) for f in files if f.endswith(".lock")]
        for lock in candidates:
            try:
                st = os.lstat(lock)
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in dead:
                _unlink(lock)
                self._prune_empty_dirs(Path(lock).parent)
        for twin in twins:
            _unlink(f"{locks_dir}/{twin}")

    def _log(self, name: str, old: ObjectId | None, new: ObjectId | None, who: str, message: str) -> None:
        """Append a line to the ref's reflog (the caller holds the ref's lock, as git does)."""
        path = f"{self._root}/logs/{name}"
        line = f"{old or ZERO_ID} {new or ZERO_ID} {_ident(who)} {int(time.time())} +0000"
        message = _one_line(message)
        line += f"\t{message}\n" if message else "\n"  # as git: no tab without a message
        try:
            _append(path, line)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _append(path, line)

    def _check_free(self, name: str) -> None:
        """A ref ``a`` and a ref ``a/b`` cannot both exist (a file and a directory of one name)."""
        if os.path.isdir(self._path(name)):
            raise BadInput(f"{name} cannot be created: refs exist under {name}/")
        for parent in Path(name).parents:
            if str(parent) != "." and (self.git_dir / parent).is_file():
                raise BadInput(f"{name} cannot be created: {parent} exists")

    def set_if_equals(
        self, name: RefName, old: ObjectId | None, new: ObjectId, *, who: str = "", message: str = ""
    ) -> None:
        if len(new) != 40:
            raise BadInput(f"not an object id: {new!r}")
        # Only HEAD is symbolic; branch and tag refs never are, so skip the extra read for them.
        target = name if name.startswith("refs/") else self.get_symbolic(name) or name
        # Through a symbolic HEAD git locks HEAD too (it writes HEAD's reflog): so does gvcs.
        with self.locking({name, target}) as locks:
            current = self._read(target)
            if current != old:
                raise BranchMoved(target, old, current)
            if current is None:
                self._check_free(target)
            # As git: the reflog line first, then the ref, so a kill between them cannot leave a move
            # the reflog does not know (the other way round, a line for a move not made, is harmless).
            self._log(target, old, new, who, message)
            if target != name:
                self._log(name, old, new, who, message)
            locks.commit(target, new + "\n")

    def update_many(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        check_moves(moves)
        deletes = any(move.new is None for move in moves)
        with self.locking([*(move.ref for move in moves), *(["packed-refs"] if deletes else [])]) as locks:
            for move in moves:
                current = self._read(move.ref)
                if current != move.old:
                    raise BranchMoved(move.ref, move.old, current)
                if current is None:
                    self._check_free(move.ref)
            # Each ref is its own file: they are written in the order given, so a caller puts first the
            # ref whose move is harmless alone (a stake before the vote that counts it).
            for move in moves:
                if move.new is None:
                    self._delete(locks, move.ref)
                else:
                    self._log(move.ref, move.old, move.new, who, message)
                    locks.commit(move.ref, move.new + "\n")

    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        with self.locking([name, "packed-refs"]) as locks:
            current = self._read(name)
            if current is None:
                raise NotFound(f"ref {name} does not exist")
            if old is not None and current != old:
                raise BranchMoved(name, old, current)
            self._delete(locks, name)

    def _delete(self, locks: RefLocks, name: str) -> None:
        """Remove a ref, its packed entry and its log (the caller holds its lock and packed-refs')."""
        Path(self._path(name)).unlink(missing_ok=True)
        text = self._packed_text()
        if name in self._packed():
            # Only its lines go: the header and the other refs' peeled lines stay as git wrote them.
            kept, dropping = [], False
            for line in text.splitlines(keepends=True):
                if not line.startswith("^"):
                    dropping = line.rstrip("\n").partition(" ")[2] == name
                if not dropping:
                    kept.append(line)
            locks.commit("packed-refs", "".join(kept))
        log = self.git_dir / "logs" / name
        log.unlink(missing_ok=True)
        self._prune_empty_dirs(log.parent)

    def _prune_empty_dirs(self, path: Path) -> None:
        """Remove empty directories from ``path`` up, below ``refs/<kind>/`` (and ``logs/refs/<kind>/``),
        as git does once a ref goes, so a ref of the directory's name can be made later."""
        while True:
            parts = path.relative_to(self.git_dir).parts
            parts = parts[1:] if parts[:1] == ("logs",) else parts
            if len(parts) <= 2 or parts[0] != "refs":
                return
            try:
                path.rmdir()  # only an empty directory goes
            except OSError:
                return
            path = path.parent

    def set_symbolic(self, name: RefName, target: RefName) -> None:
        with self.locking([name]) as locks:
            locks.commit(name, f"ref: {target}\n")

    can_detach = True

    def set_detached(self, name: RefName, oid: ObjectId) -> None:
        if len(oid) != 40:
            raise BadInput(f"not an object id: {oid!r}")
        with self.locking([name]) as locks:
            locks.commit(name, f"{oid}\n")

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_loose_object(path: Path) -> tuple[str, bytes]:
    """Decode a loose object file (used by fsck to check what libgit2 would refuse)."""
    raw = zlib.decompress(path.read_bytes())
    header, _, data = raw.partition(b"\0")
    obj_type, _, size = header.decode().partition(" ")
    if int(size) != len(data):
        raise CorruptObject(f"{path.name}: size mismatch")
    return obj_type, data


def verify(obj_type: str, data: bytes, oid: ObjectId) -> bool:
    return hash_object(obj_type, data) == oid
