"""Snapshots: reading and rewriting git trees by logical path, with ``pages/`` sharded in the store.

A story's logical paths are ``story.yaml``, ``pages/<id>.md``, ``actors/<id>.yaml`` and so on. In the
store, ``pages/<id>.md`` lives at ``pages/<x>/<y>/<id>.md`` where ``x`` and ``y`` are the first two hex
digits of the SHA-1 of the id: 256 even shards under two levels of 16. A one-page commit rewrites the
root tree, ``pages/`` and two small fan-out trees instead of a tree the size of the story; every tree it
writes stays small (16 entries, or about pages/256), which keeps loose objects, packing and deltas cheap.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping

from .errors import BadInput, CorruptObject
from .objects import MODE_BLOB, MODE_TREE, Tree, TreeEntry, tree_records
from .records import field, record
from .store import ObjectStore
from .types import ObjectId

__all__ = ["EMPTY_TREE", "Snapshots", "TreeDiff", "check_path", "logical_path", "store_path"]

EMPTY_TREE = ObjectId("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
_CONTROL = re.compile("[\x00-\x1f]")
SHARDED = "pages"


def shard_of(name: str) -> tuple[str, str]:
    """The two fan-out directories of a page file name: the first two hex digits of SHA-1 of its id."""
    known = _SHARDS.get(name)
    if known is None:
        digest = hashlib.sha1(name.removesuffix(".md").encode()).hexdigest()
        known = digest[0], digest[1]
        if len(_SHARDS) >= _SHARDS_KEPT:
            _SHARDS.clear()
        _SHARDS[name] = known
    return known


#: Shards already worked out (a merge or a checkout asks for the same pages several times).
_SHARDS: dict[str, tuple[str, str]] = {}
_SHARDS_KEPT = 1 << 16


def store_path(path: str) -> str:
    """The path in the store of a logical path."""
    top, _, rest = path.partition("/")
    if top == SHARDED and rest and "/" not in rest:
        first, second = shard_of(rest)
        return f"{top}/{first}/{second}/{rest}"
    return path


def logical_path(path: str) -> str:
    """The logical path of a store path (the inverse of :func:`store_path`)."""
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == SHARDED and len(parts[1]) == 1 and len(parts[2]) == 1:
        return f"{parts[0]}/{parts[3]}"
    return path


def check_path(path: str) -> str:
    """Refuse paths that could escape the snapshot or that git cannot store."""
    if path in _CHECKED:  # a merge checks each path it writes several times over
        return path
    if (
        not path
        or path.startswith("/")
        or _CONTROL.search(path) is not None
        or any(p in ("", ".", "..") or p.lower() in (".git", ".gvcs") for p in path.split("/"))
    ):
        raise BadInput(f"invalid path {path!r}: use a relative path without '.', '..' or empty parts")
    if len(_CHECKED) >= _SHARDS_KEPT:
        _CHECKED.clear()
    _CHECKED.add(path)
    return path


#: Paths check_path found good lately.
_CHECKED: set[str] = set()


@record
class TreeDiff:
    """One logical path that differs between two snapshots (None: absent on that side)."""

    path: str
    old: ObjectId | None
    new: ObjectId | None
    mode: str | None = field(default=None, compare=False)  # the new side's mode (gvcs writes 100644)
    stored: str = field(default="", compare=False)  # the path in the store (pages sharded)


class Snapshots:
    """Tree reads (cached: objects never change) and copy-on-write tree updates over a store."""

    #: Diffs of at most this many files are kept once worked out (larger ones are rare and costly to keep).
    DIFF_KEPT = 64

    def __init__(self, store: ObjectStore, cache_size: int = 8192) -> None:
        self.store = store
        self._trees: OrderedDict[ObjectId, Tree] = OrderedDict()
        #: Diffs of the trees :meth:`write` made, by (old root, new root).
        self._diffs: OrderedDict[tuple[ObjectId | None, ObjectId], list[TreeDiff]] = OrderedDict()
        #: Trees a diff read but did not parse, as their records (a merge diffs the base twice).
        self._records_of: OrderedDict[ObjectId, list[bytes]] = OrderedDict()
        self._cache_size = cache_size

    def preload(self, root: ObjectId) -> int:
        """Read every tree under ``root`` into the cache, a level at a time (one bulk read per level
        on a server backend), at most half the cache; how many trees were read."""
        read = 0
        level = [root]
        while level and read < self._cache_size // 2:
            wanted = [oid for oid in level if oid not in self._trees][: self._cache_size // 2 - read]
            found = self.store.get_many(wanted)
            level = []
            for oid in wanted:
                obj = found.get(oid)
                if obj is None or obj[0] != "tree":
                    continue
                tree = self._trees[oid] = Tree.parse(obj[1])
                read += 1
                level.extend(e.oid for e in tree.entries.values() if e.is_tree)
        while len(self._trees) > self._cache_size:
            self._trees.popitem(last=False)
        return read

    def tree(self, oid: ObjectId) -> Tree:
        tree = self._trees.get(oid)
        if tree is not None:
            self._trees.move_to_end(oid)
            return tree
        records = self._records_of.pop(oid, None)  # read by a diff already
        if records is None:
            obj_type, data = self.store.get(oid)
            if obj_type != "tree":
                raise BadInput(f"object {oid} is a {obj_type}, not a tree")
            records = tree_records(data)
        tree = Tree.from_records(records)
        self._trees[oid] = tree
        if len(self._trees) > self._cache_size:
            self._trees.popitem(last=False)
        return tree

    # --- reading ----------------------------------------------------------------------------------

    def entry(self, root: ObjectId, path: str) -> TreeEntry | None:
        """The tree entry at a logical path, or None."""
        tree = self.tree(root)
        parts = store_path(path).split("/")
        for name in parts[:-1]:
            entry = tree.get(name)
            if entry is None or not entry.is_tree:
                return None
            tree = self.tree(entry.oid)
        return tree.get(parts[-1])

    def blob_id(self, root: ObjectId, path: str) -> ObjectId | None:
        entry = self.entry(root, path)
        return entry.oid if entry is not None and not entry.is_tree else None

    def read(self, root: ObjectId, path: str) -> bytes | None:
        oid = self.blob_id(root, path)
        return None if oid is None else self.store.get(oid)[1]

    def list_dir(self, root: ObjectId, directory: str) -> dict[str, ObjectId]:
        """Blob names and ids directly in a logical directory (``pages`` spans its shards)."""
        entry = self.entry(root, directory) if directory else TreeEntry("", MODE_TREE, root)
        if entry is None or not entry.is_tree:
            return {}
        found: dict[str, ObjectId] = {}
        if directory == SHARDED:
            for first in self.tree(entry.oid).entries.values():
                for second in self.tree(first.oid).entries.values() if first.is_tree else ():
                    for leaf in self.tree(second.oid).entries.values() if second.is_tree else ():
                        if not leaf.is_tree:
                            found[leaf.name] = leaf.oid
        else:
            for child in self.tree(entry.oid).entries.values():
                if not child.is_tree:
                    found[child.name] = child.oid
        return dict(sorted(found.items()))

    def walk(self, root: ObjectId, prefix: str = "") -> Iterator[tuple[str, ObjectId]]:
        """Every blob under ``root`` as (logical path, id)."""
        for entry in self.tree(root).entries.values():
            path = f"{prefix}{entry.name}"
            if entry.is_tree:
                yield from self.walk(entry.oid, path + "/")
            else:
                yield logical_path(path), entry.oid

    def diff(self, old: ObjectId | None, new: ObjectId | None) -> list[TreeDiff]:
        """Logical paths whose blobs differ; equal subtrees are skipped without being read."""
        if new is not None:
            known = self._diffs.get((old, new))
            if known is not None:
                return list(known)
        out: list[TreeDiff] = []
        self._diff(old, new, "", out)
        out.sort(key=lambda d: d.path)
        if new is not None and len(out) <= self.DIFF_KEPT:
            # The diff of a commit is asked for again soon: by the rules gate after the projection of a
            # Neo4j store, or the other way round.
            self._diffs[(old, new)] = out
            if len(self._diffs) > self._cache_size:
                self._diffs.popitem(last=False)
            return list(out)
        return out

    def _diff(self, old: ObjectId | None, new: ObjectId | None, prefix: str, out: list[TreeDiff]) -> None:
        if old == new:
            return
        # The entries as records: the ones both trees hold drop out as sets, unparsed (most of a large
        # tree's entries, when a commit or a merge changed a few of them).
        a = set(self._records(old)) if old else set()
        b = set(self._records(new)) if new else set()
        # The records that differ, by name, read where they lie (no entry made for each: a merge's
        # two diffs meet thousands of them).
        gone = {r[r.index(b" ") + 1 : -21]: r for r in a - b}
        came = {r[r.index(b" ") + 1 : -21]: r for r in b - a}
        for key in gone.keys() | came.keys():
            ra, rb = gone.get(key), came.get(key)
            try:
                path = prefix + key.decode()
            except UnicodeDecodeError:
                raise CorruptObject("tree object does not parse") from None
            ta = tb = ba = bb = None
            if ra is not None:
                if ra.startswith(_TREE_PREFIX):
                    ta = ObjectId(ra[-20:].hex())
                else:
                    ba = ObjectId(ra[-20:].hex())
            mode = None
            if rb is not None:
                if rb.startswith(_TREE_PREFIX):
                    tb = ObjectId(rb[-20:].hex())
                else:
                    bb = ObjectId(rb[-20:].hex())
                    mode = rb[: rb.index(b" ")].decode()
            if ta or tb:
                self._diff(ta, tb, path + "/", out)
            if ba != bb:
                out.append(TreeDiff(logical_path(path), ba, bb, mode, path))

    def _records(self, oid: ObjectId) -> list[bytes]:
        """A tree's entries as records (see :func:`~narrative_vcs.objects.tree_records`): a tree in the
        cache gives its own; any other is read, not parsed (and kept as records)."""
        tree = self._trees.get(oid)
        if tree is not None:
            return [e.record for e in tree.entries.values()]
        records = self._records_of.get(oid)
        if records is not None:
            return records
        obj_type, data = self.store.get(oid)
        if obj_type != "tree":
            raise BadInput(f"object {oid} is a {obj_type}, not a tree")
        records = self._records_of[oid] = tree_records(data)
        if len(self._records_of) > self._cache_size:
            self._records_of.popitem(last=False)
        return records

    # --- writing ----------------------------------------------------------------------------------

    def write(self, root: ObjectId | None, changes: Mapping[str, bytes | ObjectId | None]) -> ObjectId:
        """A new root tree: ``root`` with each logical path set to a blob (bytes or id) or removed."""
        nested: dict[str, object] = {}
        for path, value in changes.items():
            parts = store_path(check_path(path)).split("/")
            node = nested
            for name in parts[:-1]:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise BadInput(f"path {path!r} conflicts with a file of the same name")
                node = child
            if isinstance(node.get(parts[-1]), dict):
                raise BadInput(f"path {path!r} conflicts with a directory of the same name")
            node[parts[-1]] = value
        # The diff of the two roots, worked out while writing: the commit checked next asks for it.
        noted = _Noted()
        new_root = self._write_tree(root, nested, "", noted) or self.store.put("tree", b"")
        if noted.diffs is not None and root != new_root:
            self._diffs[(root, new_root)] = sorted(noted.diffs, key=lambda d: d.path)
            if len(self._diffs) > self._cache_size:
                self._diffs.popitem(last=False)
        return new_root

    def _write_tree(
        self, oid: ObjectId | None, changes: dict[str, object], prefix: str, noted: _Noted
    ) -> ObjectId | None:
        """``oid`` with ``changes`` (nested by directory) written, each file changed noted."""
        if oid and oid not in self._trees:
            return self._write_records(oid, changes, prefix, noted)
        tree = self.tree(oid).copy() if oid else Tree()
        for name, change in changes.items():
            current = tree.get(name)
            if isinstance(change, dict):
                sub = current.oid if current is not None and current.is_tree else None
                if current is not None and not current.is_tree:
                    raise BadInput(f"{name!r} is a file, not a directory")
                new_sub = self._write_tree(sub, change, f"{prefix}{name}/", noted)
                if new_sub is None:
                    tree.remove(name)
                else:
                    tree.set(TreeEntry(name, MODE_TREE, new_sub))
                continue
            if current is not None and current.is_tree:
                noted.diffs = None  # a directory replaced or removed as a whole: diff walks it
            was = current.oid if current is not None else None
            if change is None:
                tree.remove(name)
                now = None
            else:
                blob = change if isinstance(change, str) else self.store.put("blob", change)  # type: ignore[arg-type]
                now = ObjectId(blob)
                tree.set(TreeEntry(name, MODE_BLOB, now))
            if noted.diffs is not None and was != now:
                stored = prefix + name
                noted.diffs.append(
                    TreeDiff(logical_path(stored), was, now, MODE_BLOB if now else None, stored)
                )
        if not tree.entries:
            return None
        new_oid = self.store.put("tree", tree.serialise())
        self._trees[new_oid] = tree
        return new_oid

    def _write_records(
        self, oid: ObjectId, changes: dict[str, object], prefix: str, noted: _Noted
    ) -> ObjectId | None:
        """:meth:`_write_tree` for a tree not parsed yet, on its records: only the entries changed are
        made (a merge rewrites a few entries in each of hundreds of trees of forty)."""
        by_name = {r[r.index(b" ") + 1 : -21]: r for r in self._records(oid)}
        resort = False
        for name, change in changes.items():
            key = name.encode()
            current = by_name.get(key)
            current_is_tree = current is not None and current.startswith(_TREE_PREFIX)
            if isinstance(change, dict):
                if current is not None and not current_is_tree:
                    raise BadInput(f"{name!r} is a file, not a directory")
                sub = ObjectId(current[-20:].hex()) if current is not None else None
                new_sub = self._write_tree(sub, change, f"{prefix}{name}/", noted)
                if new_sub is None:
                    by_name.pop(key, None)
                else:
                    by_name[key] = _TREE_PREFIX + key + b"\0" + bytes.fromhex(new_sub)
                    resort |= current is None
                continue
            if current_is_tree:
                noted.diffs = None  # a directory replaced or removed as a whole: diff walks it
            was = ObjectId(current[-20:].hex()) if current is not None and not current_is_tree else None
            if change is None:
                by_name.pop(key, None)
                now = None
            else:
                blob = change if isinstance(change, str) else self.store.put("blob", change)  # type: ignore[arg-type]
                now = ObjectId(blob)
                by_name[key] = _BLOB_PREFIX + key + b"\0" + bytes.fromhex(now)
                resort |= current is None or current_is_tree
            if noted.diffs is not None and was != now:
                stored = prefix + name
                noted.diffs.append(
                    TreeDiff(logical_path(stored), was, now, MODE_BLOB if now else None, stored)
                )
        if not by_name:
            return None
        # Replacing or removing entries keeps git's order; only a new name (or kind) is sorted in.
        records = sorted(by_name.values(), key=_git_order) if resort else list(by_name.values())
        new_oid = self.store.put("tree", b"".join(records))
        self._records_of[new_oid] = records
        if len(self._records_of) > self._cache_size:
            self._records_of.popitem(last=False)
        return new_oid


_TREE_PREFIX = MODE_TREE.encode() + b" "
_BLOB_PREFIX = MODE_BLOB.encode() + b" "


def _git_order(record: bytes) -> bytes:
    """The key git sorts a tree's entries by: the name, a subtree's as if it ended in a slash."""
    name = record[record.index(b" ") + 1 : -21]
    return name + b"/" if record.startswith(_TREE_PREFIX) else name


class _Noted:
    """The files a tree write changed, as :meth:`Snapshots.diff` gives them (None: not known)."""

    __slots__ = ("diffs",)

    def __init__(self) -> None:
        self.diffs: list[TreeDiff] | None = []
