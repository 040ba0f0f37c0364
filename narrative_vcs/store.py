"""The object store contract and its in-memory implementation.

An object store holds raw git objects (type + bytes) under their git ids. Objects are immutable, so
callers may cache anything they read.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Protocol

from .errors import BadInput, NotFound
from .objects import hash_object
from .records import record
from .types import ObjectId

if TYPE_CHECKING:
    from .snapshot import Snapshots

__all__ = ["MemoryObjectStore", "ObjectStore", "OverlayObjectStore", "PreparedWrite", "StoredDelta"]

HEX = frozenset("0123456789abcdef")
#: The types of git object a store holds.
OBJECT_TYPES = frozenset(["blob", "tree", "commit", "tag"])


@record
class StoredDelta:
    """An object kept as a delta in a git pack: its base's id, the size of the delta (git's delta
    format) and the delta as the pack holds it, a zlib stream."""

    base: ObjectId
    size: int
    compressed: bytes

    def delta(self) -> bytes:
        """The delta itself, inflated."""
        return zlib.decompress(self.compressed)


class KeyCache(Protocol):
    """Keys of blobs kept by a store across processes (:meth:`ObjectStore.key_cache`)."""

    def get(self, oid: ObjectId) -> bytes | None: ...

    def add(self, oid: ObjectId, key: bytes) -> None: ...


class ObjectStore(ABC):
    """Get, put and list raw git objects."""

    @abstractmethod
    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        """Return ``(type, data)`` of an object; raise :class:`NotFound` if it is missing."""

    @abstractmethod
    def put(self, obj_type: str, data: bytes) -> ObjectId:
        """Store an object (idempotent) and return its id."""

    @abstractmethod
    def has(self, oid: ObjectId) -> bool:
        """Whether the object is stored."""

    @abstractmethod
    def __iter__(self) -> Iterator[ObjectId]:
        """Every stored object id, in no particular order."""

    def batch(self) -> AbstractContextManager[None]:
        """A batch of writes: ``with store.batch(): ...``.

        Inside it ``put`` returns the id at once and the backend may hold the objects until the batch
        ends; ``get`` and ``has`` see them meanwhile. On a normal exit they are written together
        (durably, before the ``with`` statement returns); if the block raises, the backend may write
        none of them. Batches nest: only the outermost one writes. The default writes each object
        at once.
        """
        return nullcontext()

    def key_cache(self) -> KeyCache | None:
        """Where front-matter keys of blobs (see :func:`~narrative_vcs.objects.front_key`) are kept
        across processes, if this store keeps them; None: learnt again by each process."""
        return None

    def adopt_snapshots(self, snapshots: Snapshots) -> None:
        """The tree reader of the repository over this store, whose parsed trees and remembered diffs
        a store that reads trees itself (to project commits) may share; most stores have no use."""

    def put_many(self, objects: Iterable[tuple[str, bytes]]) -> list[ObjectId]:
        """Store several objects in one batch."""
        with self.batch():
            return [self.put(t, d) for t, d in objects]

    def prepare_write(self, objects: Iterable[tuple[str, bytes]]) -> PreparedWrite:
        """``objects`` made ready to be written as one batch, by :meth:`PreparedWrite.write`, later and
        maybe in another thread: a writer prepares the next batch while the last one is written.
        Prepared batches must be written in the order they were prepared. A store that works out
        something for a batch (Neo4j: its packs and projection) does it here, and lets every thread read
        the objects until they are written or discarded; the default only puts them in a batch then."""
        batch = list(objects)

        def write() -> None:
            self.put_many(batch)

        return PreparedWrite(write)

    def get_many(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        """Several objects at once (one round trip on a server backend); missing ones are left out."""
        out: dict[ObjectId, tuple[str, bytes]] = {}
        for oid in oids:
            try:
                out[oid] = self.get(oid)
            except NotFound:
                continue
        return out

    def stored_deltas(self, oids: Iterable[ObjectId]) -> dict[ObjectId, StoredDelta]:
        """The objects among ``oids`` that this store keeps as a delta, as it keeps them: a pack writer
        may send the delta instead of the whole object, even its compressed bytes as they are, as git's
        pack-objects reuses deltas. Stores that keep whole objects return ``{}``."""
        return {}

    def missing(self, oids: Iterable[ObjectId]) -> set[ObjectId]:
        """The ids among ``oids`` that are not stored."""
        return {oid for oid in oids if not self.has(oid)}

    def resolve_prefix(self, prefix: str) -> list[ObjectId]:
        """Every stored id starting with ``prefix`` (at least 4 hex digits)."""
        prefix = prefix.lower()
        if len(prefix) < 4 or not set(prefix) <= HEX:
            raise BadInput(f"object id prefix {prefix!r} must be at least 4 hex digits")
        return sorted(oid for oid in self if oid.startswith(prefix))

    def commit_headers(self, after: int) -> tuple[list[tuple[ObjectId, bytes]], int] | None:
        """The commit objects stored after the watermark ``after`` (0: from the first) and the new
        watermark, oldest first; None when the backend cannot list commits in the order they were
        stored. A history reader that keeps the watermark fetches only the commits that are new.
        """
        return None

    def cache_file(self, name: str) -> CacheFile | None:
        """A place to keep derived data (for example parsed commit headers) between processes.

        None when the backend has none; callers must treat the content as a hint that may be stale,
        missing or damaged, never as the truth.
        """
        return None

    def reading_many(self) -> AbstractContextManager[None]:
        """A hint for the block: many reads follow (a long history is being verified), so a backend may
        read through what is fastest at volume rather than what starts fastest."""
        return nullcontext()

    def maintain(self) -> None:
        """Housekeeping after writes (packing loose objects); a no-op unless the backend needs it."""

    def close(self) -> None:
        """Release resources."""


class PreparedWrite:
    """A batch of objects ready to be written (:meth:`ObjectStore.prepare_write`): :meth:`write` writes
    it (once), :meth:`discard` drops it unwritten."""

    def __init__(self, write: Callable[[], None], discard: Callable[[], None] | None = None) -> None:
        self._write = write
        self._discard = discard

    def write(self) -> None:
        self._write()

    def discard(self) -> None:
        if self._discard is not None:
            self._discard()


class CacheFile(Protocol):
    """Bytes kept by a backend for a cache; written whole and atomically."""

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...


class MemoryObjectStore(ObjectStore):
    """Objects in a dict: for tests and for scratch repositories."""

    def __init__(self) -> None:
        self._objects: dict[ObjectId, tuple[str, bytes]] = {}

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        try:
            return self._objects[oid]
        except KeyError:
            raise NotFound(f"object {oid} not found") from None

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        if obj_type not in OBJECT_TYPES:
            raise BadInput(f"unknown object type {obj_type!r}")
        oid = hash_object(obj_type, data)
        self._objects.setdefault(oid, (obj_type, bytes(data)))
        return oid

    def has(self, oid: ObjectId) -> bool:
        return oid in self._objects

    def __iter__(self) -> Iterator[ObjectId]:
        return iter(list(self._objects))


class OverlayObjectStore(ObjectStore):
    """Another store's objects, with writes kept in memory and dropped with this object: for working
    out what a tree would be (a check that must write nothing) with the tree code that writes."""

    def __init__(self, base: ObjectStore) -> None:
        self.base = base
        self.written = MemoryObjectStore()

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        if self.written.has(oid):
            return self.written.get(oid)
        return self.base.get(oid)

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        return self.written.put(obj_type, data)

    def has(self, oid: ObjectId) -> bool:
        return self.written.has(oid) or self.base.has(oid)

    def __iter__(self) -> Iterator[ObjectId]:
        yield from self.written
        yield from self.base

    def get_many(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        wanted = list(oids)
        found = {oid: self.written.get(oid) for oid in wanted if self.written.has(oid)}
        found.update(self.base.get_many([oid for oid in wanted if oid not in found]))
        return found
