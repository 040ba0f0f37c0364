"""The embedded default backend: a git repository on disk.

Objects are read and written through pygit2 (libgit2). Refs are loose ref files in git's own format
(``refs/heads/<name>``, ``packed-refs`` read too) with git-format reflogs under ``logs/``, so ``git log``
and ``git fsck`` work on the store. Every ref update is a compare-and-swap made under an exclusive
``flock`` of ``gvcs-refs.lock``: the kernel drops the lock when a process dies, so a killed writer never
leaves the store locked, and the new value is written to ``<ref>.lock`` and renamed into place, so
readers see either the old or the new id, never half a file.
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import itertools
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, BranchMoved, CorruptObject, NotFound
from ..objects import hash_object
from ..refs import ReflogEntry, RefStore
from ..store import ObjectStore
from ..types import ZERO_ID, ObjectId, RefName

if TYPE_CHECKING:
    import pygit2

__all__ = ["AUTO_PACK_LIMIT", "GitObjectStore", "GitRefStore", "init_git_dir"]

_TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
_TYPE_CODES = {v: k for k, v in _TYPE_NAMES.items()}
#: Like ``gc.auto``: pack the loose objects once about this many have piled up.
AUTO_PACK_LIMIT = 6700
#: Like ``gc.autoPackLimit``: merge the packs into one once there are more than this many.
AUTO_PACK_COUNT = 20


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

    @property
    def repo(self) -> pygit2.Repository:
        if self._repo is None:
            import pygit2

            self._repo = pygit2.Repository(str(self.git_dir))
        return self._repo

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        import pygit2

        try:
            type_code, data = self.repo.odb.read(oid)
        except (KeyError, pygit2.GitError) as exc:
            if isinstance(exc, KeyError) or "not found" in str(exc).lower():
                raise NotFound(f"object {oid} not found") from None
            raise CorruptObject(f"object {oid} cannot be read: {exc}") from None
        except ValueError:
            raise BadInput(f"not an object id: {oid!r}") from None
        return _TYPE_NAMES[int(type_code)], data

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        # Loose objects are written here rather than through libgit2, whose write first looks the
        # object up and, on a miss, rescans the pack directory: that doubled the cost of a commit.
        if obj_type not in _TYPE_CODES:
            raise BadInput(f"unknown object type {obj_type!r}")
        raw = f"{obj_type} {len(data)}\0".encode() + data
        oid = ObjectId(hashlib.sha1(raw).hexdigest())
        directory = f"{self._objects_dir}/{oid[:2]}"
        path = f"{directory}/{oid[2:]}"
        if os.path.exists(path):
            return oid
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
        return oid

    def has(self, oid: ObjectId) -> bool:
        return oid in self.repo.odb

    def __iter__(self) -> Iterator[ObjectId]:
        return (ObjectId(str(oid)) for oid in list(self.repo.odb))

    def resolve_prefix(self, prefix: str) -> list[ObjectId]:
        if len(prefix) >= 40:
            return [ObjectId(prefix)] if self.has(ObjectId(prefix)) else []
        import pygit2

        try:
            obj = self.repo.git_object_lookup_prefix(prefix)
        except ValueError:  # libgit2: ambiguous
            return super().resolve_prefix(prefix)
        except (KeyError, pygit2.GitError):
            return []
        return [] if obj is None else [ObjectId(str(obj.id))]

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
        """Pack loose objects once enough have piled up, in a detached process like ``git gc --auto``.

        Checking the disk on every write would cost more than it saves: check every 100 writes.
        """
        if self._writes < 100 or self.auto_pack_limit <= 0:
            return
        self._writes = 0
        if self.estimate_loose() < self.auto_pack_limit:
            return
        if not self.background_pack:
            self.pack(full=self.pack_count() >= AUTO_PACK_COUNT)
            return
        code = (
            "import sys; from pathlib import Path; from narrative_vcs.graph.git import GitObjectStore as S; "
            "s = S(Path(sys.argv[1])); s.pack(full=s.pack_count() >= int(sys.argv[2]))"
        )
        subprocess.Popen(
            [sys.executable, "-c", code, str(self.git_dir), str(AUTO_PACK_COUNT)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )

    def pack_count(self) -> int:
        return len(list((self.git_dir / "objects" / "pack").glob("*.pack")))

    def pack(self, *, full: bool = False) -> int:
        """Pack the loose objects (all objects when ``full``) and delete what the pack now holds.

        Returns the number of objects packed. Runs in at most one process at a time; another
        process that wants to pack meanwhile skips it.
        """
        with _try_flock(self.git_dir / "gvcs-pack.lock") as locked:
            if not locked:
                return 0
            old_packs = list((self.git_dir / "objects" / "pack").glob("pack-*"))
            loose = self.loose_object_paths()
            ids = [p.parent.name + p.name for p in loose]
            if not ids and not full:
                return 0

            import pygit2

            def delegate(builder: Any) -> None:
                wanted = list(self.repo.odb) if full else [pygit2.Oid(hex=h) for h in ids]
                for oid in wanted:
                    builder.add(oid)

            count = int(self.repo.pack(pack_delegate=delegate))
            for path in loose:
                path.unlink(missing_ok=True)
            if full:  # the new pack holds everything the old ones did
                for path in old_packs:
                    path.unlink(missing_ok=True)
            self._repo = None  # reopen so libgit2 sees the new pack list
            return count

    def close(self) -> None:
        self._repo = None


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


class GitRefStore(RefStore):
    """Refs as git loose ref files, updated by compare-and-swap under a process-safe lock."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = Path(git_dir)
        self._root = str(self.git_dir)
        self._lock_fd: int | None = None
        self._dirs: set[str] = set()  # directories known to exist (refs are never rmdir'd under us)

    # --- reading ----------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"{self._root}/{name}"

    def _read_loose(self, name: str) -> str | None:
        try:
            with open(self._path(name), encoding="utf-8") as fh:
                return fh.read().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _packed(self) -> dict[str, ObjectId]:
        try:
            text = (self.git_dir / "packed-refs").read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        refs: dict[str, ObjectId] = {}
        for line in text.splitlines():
            if line and line[0] not in "#^":
                oid, _, name = line.partition(" ")
                refs[name] = ObjectId(oid)
        return refs

    def _read(self, name: str) -> ObjectId | None:
        value = self._read_loose(name)
        if value is None:
            return self._packed().get(name)
        if value.startswith("ref: "):
            return self._read(value[5:])
        if len(value) != 40:
            raise CorruptObject(f"ref {name} holds {value!r}, not a commit id")
        return ObjectId(value)

    def get(self, name: RefName) -> ObjectId | None:
        return self._read(name)

    def get_symbolic(self, name: RefName) -> RefName | None:
        value = self._read_loose(name)
        if value is not None and value.startswith("ref: "):
            return RefName(value[5:])
        return None

    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        refs: dict[str, ObjectId] = {k: v for k, v in self._packed().items() if k.startswith(prefix)}
        root = self.git_dir / "refs"
        for dirpath, _dirs, files in os.walk(root):
            for fname in files:
                if fname.endswith(".lock"):
                    continue
                name = os.path.relpath(os.path.join(dirpath, fname), self.git_dir)
                if name.startswith(prefix):
                    value = self._read_loose(name)
                    if value and len(value) == 40:
                        refs[name] = ObjectId(value)
        return {RefName(k): v for k, v in sorted(refs.items())}

    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        name = self.get_symbolic(name) or name
        try:
            text = (self.git_dir / "logs" / name).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return []
        entries = []
        for line in text.splitlines():
            head, _, message = line.partition("\t")
            parts = head.split(" ")
            if len(parts) < 5:
                continue
            who = " ".join(parts[2:-2])
            entries.append(ReflogEntry(ObjectId(parts[0]), ObjectId(parts[1]), who, int(parts[-2]), message))
        return entries

    # --- writing ----------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.git_dir / "gvcs-refs.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _makedirs(self, directory: str) -> None:
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)

    def _write_file(self, path: str, content: str) -> None:
        try:
            self._write_file_once(path, content)
        except FileNotFoundError:  # another process pruned a directory we had seen
            self._dirs.clear()
            self._write_file_once(path, content)

    def _write_file_once(self, path: str, content: str) -> None:
        self._makedirs(os.path.dirname(path))
        tmp = path + ".lock"
        data = content.encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            # Allocating the blocks up front keeps ext4 from flushing the file on the rename
            # (auto_da_alloc), which would cost more than the rest of a commit.
            os.posix_fallocate(fd, 0, len(data))
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def _log(self, name: str, old: ObjectId | None, new: ObjectId | None, who: str, message: str) -> None:
        path = f"{self._root}/logs/{name}"
        self._makedirs(os.path.dirname(path))
        who = who or "gvcs <gvcs@actors.gvcs>"
        line = f"{old or ZERO_ID} {new or ZERO_ID} {who} {int(time.time())} +0000\t{_one_line(message)}\n"
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line)
        except FileNotFoundError:
            self._dirs.clear()
            self._makedirs(os.path.dirname(path))
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line)

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
        with self._locked():
            current = self._read(target)
            if current != old:
                raise BranchMoved(target, old, current)
            if current is None:
                self._check_free(target)
            self._write_file(self._path(target), new + "\n")
            self._log(target, old, new, who, message)
            if target != name:
                self._log(name, old, new, who, message)

    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        with self._locked():
            current = self._read(name)
            if current is None:
                raise NotFound(f"ref {name} does not exist")
            if old is not None and current != old:
                raise BranchMoved(name, old, current)
            Path(self._path(name)).unlink(missing_ok=True)
            packed = self._packed()
            if name in packed:
                del packed[name]
                body = "".join(f"{oid} {ref}\n" for ref, oid in sorted(packed.items()))
                self._write_file(f"{self._root}/packed-refs", "# pack-refs with: peeled \n" + body)
            (self.git_dir / "logs" / name).unlink(missing_ok=True)
            self._prune_empty_dirs(Path(self._path(name)).parent)

    def _prune_empty_dirs(self, path: Path) -> None:
        stop = {self.git_dir / "refs", self.git_dir / "refs" / "heads", self.git_dir / "refs" / "tags"}
        while path not in stop and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
            self._dirs.discard(str(path))
            path = path.parent

    def set_symbolic(self, name: RefName, target: RefName) -> None:
        with self._locked():
            self._write_file(self._path(name), f"ref: {target}\n")

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
