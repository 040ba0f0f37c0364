"""Git objects in a Neo4j database: blobs, trees and tags in ``(:Pack)`` nodes, commits on ``(:Commit)``
nodes, each batch written in one transaction with its projection (and its ref moves, if any)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import BadInput, BranchMoved, CorruptObject, NotFound
from ...objects import hash_object
from ...refs import RefMove
from ...snapshot import Snapshots
from ...store import HEX, OBJECT_TYPES, CacheFile, ObjectStore, PreparedWrite
from ...types import ObjectId
from ..packfile import PackCache, PackData, PackIndex, split_objects
from .projection import Projection
from .server import PACK_BYTES, PACKS_PER_QUERY, LayoutChanged, Neo4jServer, _statement

if TYPE_CHECKING:
    import neo4j


class Neo4jObjectStore(ObjectStore):
    """Git objects in ``(:Pack)`` nodes (blobs, trees, tags) and on ``(:Commit)`` nodes, with the
    story's projection written beside them; ``(:Object)`` nodes in a database of the first layout.

    Objects never change, so reads are cached in memory, and so are the packs read last. A read looks
    in the batch being written, the cache, the packs (through the index), then, in one query, at the
    commits, the ``Object`` nodes and the packs stored since the index was read. ``batch()`` holds puts
    and writes them, with the projection of the commits among them, in one transaction when the batch
    ends.
    """

    def __init__(
        self,
        server: Neo4jServer,
        cache_size: int = 100_000,
        cache_dir: Path | None = None,
        pack_cache_bytes: int = 64 << 20,
    ) -> None:
        self.server = server
        self._cache_dir = cache_dir  # where derived data (the commit listing) is kept between processes
        self._cache: OrderedDict[ObjectId, tuple[str, bytes]] = OrderedDict()
        self._cache_size = cache_size
        self._local = threading.local()
        # Where blobs, trees and tags sit in the (:Pack) nodes, read lazily: packs past the watermark
        # ``_pack_after`` (Pack.seq) are added as they are seen. Packs read are kept by bytes.
        self._index = PackIndex()
        self._index_lock = threading.Lock()
        self._index_loaded = False
        self._pack_after = 0
        self._pack_cache = PackCache(pack_cache_bytes)
        self._fetching: dict[int, threading.Event] = {}  # packs being fetched, by number
        # The objects of batches prepared and not written yet (prepare_write), readable by every thread.
        self._staged: dict[ObjectId, tuple[str, bytes]] = {}
        # Parsed trees for the projection and the branches' page changes, kept across batches (a batch's
        # parents are in the last one): the repository's own (adopt_snapshots), whose trees and diffs
        # of the commits it built are known without reading or parsing, else one of the store's.
        self.snapshots = Snapshots(_Reader(self._get_flushing), cache_size=20_000)

    # reads

    def _remember(self, oid: ObjectId, obj: tuple[str, bytes]) -> None:
        cache = self._cache
        cache[oid] = obj
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _pending(self) -> dict[ObjectId, tuple[str, bytes]] | None:
        return getattr(self._local, "pending", None)  # type: ignore[no-any-return]

    def adopt_snapshots(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        pending = self._pending()
        if pending is not None and oid in pending:
            return pending[oid]
        flushing = getattr(self._local, "flushing", None)  # the batch being written, in this thread
        if flushing is not None and (found := flushing.get(oid)) is not None:
            return found  # type: ignore[no-any-return]
        found = self._cache.get(oid) or self._staged.get(oid)
        if found is not None:
            return found
        if self._index_loaded and (found := self._from_packs([oid]).get(oid)) is not None:
            return found
        # A commit, an object of the old layout, or else the packs stored since the index was read.
        (row,) = self.server.query("objects/find", id=str(oid), after=self._pack_after)
        if row["raw"] is not None:
            obj = ("commit", bytes(row["raw"]))
        elif row["type"] is not None:
            obj = (str(row["type"]), bytes(row["data"]))
        else:
            self._add_packs(row["packs"])
            found = self._from_packs([oid]).get(oid)
            if found is None:
                raise NotFound(f"object {oid} not found")
            return found
        if hash_object(*obj) != oid:
            raise CorruptObject(f"object {oid} in Neo4j does not hash to its id")
        self._remember(oid, obj)
        return obj

    def get_many(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        """Several objects in a few round trips; missing ones are left out."""
        out: dict[ObjectId, tuple[str, bytes]] = {}
        pending = self._pending() or {}
        wanted: list[ObjectId] = []
        for oid in dict.fromkeys(oids):
            found = pending.get(oid) or self._cache.get(oid) or self._staged.get(oid)
            if found is not None:
                out[oid] = found
            else:
                wanted.append(oid)
        if wanted and self._index_loaded:
            out.update(self._from_packs(wanted))
            wanted = [oid for oid in wanted if oid not in out]
        for start in range(0, len(wanted), 5000):
            for row in self.server.query("objects/find_many", ids=wanted[start : start + 5000]):
                oid = ObjectId(row["id"])
                raw = row["raw"]
                obj = ("commit", bytes(raw)) if raw is not None else (str(row["type"]), bytes(row["data"]))
                if hash_object(*obj) != oid:
                    raise CorruptObject(f"object {oid} in Neo4j does not hash to its id")
                out[oid] = obj
                self._remember(oid, obj)
        wanted = [oid for oid in wanted if oid not in out]
        if wanted:
            self._refresh_index()
            out.update(self._from_packs(wanted))
        return out

    def has(self, oid: ObjectId) -> bool:
        if len(oid) != 40 or not HEX.issuperset(oid):
            return False
        pending = self._pending()
        if (pending is not None and oid in pending) or oid in self._cache:
            return True
        return not self.missing([oid])

    def missing(self, oids: Iterable[ObjectId]) -> set[ObjectId]:
        pending = self._pending() or {}
        wanted = [o for o in dict.fromkeys(oids) if o not in pending and o not in self._cache]
        if self._index_loaded:
            wanted = [o for o in wanted if bytes.fromhex(o) not in self._index]
        absent = set(wanted)
        for start in range(0, len(wanted), 10_000):
            for row in self.server.query("objects/existing", ids=wanted[start : start + 10_000]):
                absent.discard(row["id"])
        if absent:
            self._refresh_index()
            absent = {o for o in absent if bytes.fromhex(o) not in self._index}
        return {ObjectId(o) for o in absent}

    def __iter__(self) -> Iterator[ObjectId]:
        self._refresh_index()
        found = dict.fromkeys(self._index.ids())
        found.update(dict.fromkeys(ObjectId(r["id"]) for r in self.server.query("objects/ids")))
        found.update(dict.fromkeys(self._pending() or ()))
        return iter(list(found))

    def resolve_prefix(self, prefix: str) -> list[ObjectId]:
        prefix = prefix.lower()
        if len(prefix) < 4 or not HEX.issuperset(prefix):
            return super().resolve_prefix(prefix)  # refuses it
        found = {ObjectId(r["id"]) for r in self.server.query("objects/prefix", prefix=prefix)}
        self._refresh_index()
        found.update(self._index.with_prefix(prefix))
        found.update(oid for oid in self._pending() or () if oid.startswith(prefix))
        return sorted(found)

    def check_packs(self) -> list[str]:
        """For fsck: one line per damaged pack (its checksum, its index, each entry against its id)."""
        self._refresh_index()
        problems: list[str] = []
        numbers = sorted(self._index.packs)
        for start in range(0, len(numbers), PACKS_PER_QUERY):
            for row in self.server.query("packs/get_many", seqs=numbers[start : start + PACKS_PER_QUERY]):
                problems.extend(self._pack(row).verify())
        return problems

    # packs

    def _add_packs(self, rows: Iterable[dict[str, Any]]) -> None:
        """Index the packs of ``rows`` (``seq``, ``ids``, ``offsets``), listed past the watermark."""
        with self._index_lock:
            for row in rows:
                seq = int(row["seq"])
                self._index.add(seq, bytes(row["ids"]), bytes(row["offsets"]))
                self._pack_after = max(self._pack_after, seq)
            self._index_loaded = True

    def _refresh_index(self) -> None:
        """Index the packs stored since the last look (every pack, the first time)."""
        self._add_packs(self.server.query("packs/index_after", after=self._pack_after))

    @staticmethod
    def _pack(row: dict[str, Any]) -> PackData:
        return PackData(
            bytes(row["data"]), bytes(row["ids"]), bytes(row["offsets"]), f"pack {row['seq']} in Neo4j"
        )

    def _packs(self, seqs: Sequence[int]) -> Iterator[tuple[int, PackData]]:
        """The packs numbered ``seqs`` that exist: cached ones first, then the others a few a query
        (so a long read holds only a few in memory besides the cache). A pack another thread is
        fetching is waited for, not fetched again (many requests reading one tree at once)."""
        fetch = []
        for seq in seqs:
            pack = self._pack_cache.get(seq)
            if pack is None:
                fetch.append(seq)
            else:
                yield seq, pack
        mine: list[int] = []
        theirs: list[tuple[int, threading.Event]] = []
        with self._index_lock:
            for seq in fetch:
                if (event := self._fetching.get(seq)) is not None:
                    theirs.append((seq, event))
                else:
                    self._fetching[seq] = threading.Event()
                    mine.append(seq)
        try:
            yield from self._fetch_packs(mine)
        finally:
            with self._index_lock:
                for seq in mine:
                    self._fetching.pop(seq).set()
        again = []
        for seq, event in theirs:
            event.wait()
            pack = self._pack_cache.get(seq)
            if pack is None:
                again.append(seq)  # its fetch failed, or the cache let it go already
            else:
                yield seq, pack
        yield from self._fetch_packs(again)

    def _fetch_packs(self, seqs: Sequence[int]) -> Iterator[tuple[int, PackData]]:
        for start in range(0, len(seqs), PACKS_PER_QUERY):
            for row in self.server.query("packs/get_many", seqs=seqs[start : start + PACKS_PER_QUERY]):
                pack = self._pack(row)
                self._pack_cache.put(int(row["seq"]), pack)
                yield int(row["seq"]), pack

    def _from_packs(self, oids: Sequence[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        """The objects among ``oids`` that the index places in a pack, read from their packs: those
        not cached are fetched a few packs a query."""
        by_pack: dict[int, list[tuple[ObjectId, int]]] = {}
        for oid in oids:
            place = self._index.find(bytes.fromhex(oid))
            if place is not None:
                by_pack.setdefault(place[0], []).append((oid, place[1]))
        out: dict[ObjectId, tuple[str, bytes]] = {}
        for seq, pack in self._packs(list(by_pack)):
            for oid, offset in by_pack[seq]:
                obj = out[oid] = pack.read_at(offset, oid)
                self._remember(oid, obj)
        return out

    def cache_file(self, name: str) -> CacheFile | None:
        if self._cache_dir is None:
            return None
        from ..git import FileCache

        return FileCache(self._cache_dir / name)

    def _get_flushing(self, oid: ObjectId) -> tuple[str, bytes]:
        flushing = getattr(self._local, "flushing", None)
        found = flushing.get(oid) if flushing is not None else None
        return found if found is not None else self.get(oid)

    def commit_headers(self, after: int) -> tuple[list[tuple[ObjectId, bytes]], int]:
        """The commit objects stored after watermark ``after``, oldest first, and the new watermark."""
        found: list[tuple[ObjectId, bytes]] = []
        for chunk in self.server.query("history/commits_after", after=after):
            found.extend(zip(chunk["ids"], chunk["raws"], strict=True))
            after = max(after, int(chunk["last"]))
        return found, after

    # writes

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        if obj_type not in OBJECT_TYPES:
            raise BadInput(f"unknown object type {obj_type!r}")
        data = bytes(data)
        oid = hash_object(obj_type, data)
        pending = self._pending()
        if pending is not None:
            pending.setdefault(oid, (obj_type, data))
        elif oid not in self._cache:
            self._flush({oid: (obj_type, data)})
        return oid

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self._pending() is not None:  # nested: the outermost batch writes
            yield
            return
        pending: dict[ObjectId, tuple[str, bytes]] = {}
        deferred: list[tuple[Callable[[neo4j.ManagedTransaction], None], Sequence[RefMove]]] = []
        self._local.pending = pending
        self._local.deferred = deferred
        try:
            yield
            self._local.pending = None
            if pending or deferred:
                self._flush(pending, deferred)
        finally:
            self._local.pending = None
            self._local.deferred = None

    @contextmanager
    def within(self, tx: neo4j.ManagedTransaction) -> Iterator[list[Callable[[], None]]]:
        """Batches of this thread write in ``tx`` (a transaction the caller commits: a queued group's
        turn) instead of one of their own. Yields the steps to run once ``tx`` has committed (the
        objects are remembered as stored only then)."""
        after: list[Callable[[], None]] = []
        self._local.tx, self._local.after = tx, after
        try:
            yield after
        finally:
            self._local.tx = self._local.after = None

    def in_batch(self) -> bool:
        """Whether this thread has a batch open."""
        return self._pending() is not None

    def defer(self, work: Callable[[neo4j.ManagedTransaction], None], moves: Sequence[RefMove]) -> None:
        """Run ``work`` (which makes ``moves``) in the transaction of the open batch, after its objects:
        :meth:`Neo4jRefStore.move_with_batch`."""
        deferred = getattr(self._local, "deferred", None)
        if deferred is None:
            raise RuntimeError("no batch is open in this thread")
        deferred.append((work, moves))

    def prepare_write(self, objects: Iterable[tuple[str, bytes]]) -> PreparedWrite:
        """The packs and the projection of ``objects`` worked out now, in this thread; their transaction
        when the result is written. Until then every thread reads the objects here (the batch prepared
        next builds on them)."""
        batch: dict[ObjectId, tuple[str, bytes]] = {}
        for obj_type, data in objects:
            if obj_type not in OBJECT_TYPES:
                raise BadInput(f"unknown object type {obj_type!r}")
            data = bytes(data)
            batch.setdefault(hash_object(obj_type, data), (obj_type, data))
        with self._index_lock:
            self._staged.update(batch)
        try:
            write = self._prepare(batch)
        except BaseException:
            self._unstage(batch)
            raise

        def run() -> None:
            try:
                self._commit(batch, write, ())
            finally:
                self._unstage(batch)

        return PreparedWrite(run, lambda: self._unstage(batch))

    def _unstage(self, objects: dict[ObjectId, tuple[str, bytes]]) -> None:
        with self._index_lock:
            for oid in objects:
                self._staged.pop(oid, None)

    def _flush(
        self,
        objects: dict[ObjectId, tuple[str, bytes]],
        deferred: Sequence[tuple[Callable[[neo4j.ManagedTransaction], None], Sequence[RefMove]]] = (),
    ) -> None:
        """Write ``objects`` and the projection of the commits among them in one transaction, with the
        ``deferred`` work (ref moves) after them: if that work raises, nothing is written."""
        self._commit(objects, self._prepare(objects), deferred)

    def _prepare(self, objects: dict[ObjectId, tuple[str, bytes]]) -> _BatchWrite | None:
        """The write of ``objects`` and of the projection of the commits among them (None: nothing to
        write)."""
        self._local.flushing = objects  # the projection reads the trees of this batch too
        try:
            projection = Projection(self.snapshots, self._get_flushing)
            for oid, (obj_type, data) in objects.items():
                if obj_type == "commit":
                    projection.add_commit(oid, data)
        finally:
            self._local.flushing = None
        return self._write_packed(objects, projection)

    def _commit(
        self,
        objects: dict[ObjectId, tuple[str, bytes]],
        write: _BatchWrite | None,
        deferred: Sequence[tuple[Callable[[neo4j.ManagedTransaction], None], Sequence[RefMove]]],
    ) -> None:
        """Run ``write`` and the ``deferred`` work in one transaction; then ``objects`` are stored."""
        try:
            self._transact(objects, write, deferred)
        finally:
            if write is not None:
                write.release()

    def _transact(
        self,
        objects: dict[ObjectId, tuple[str, bytes]],
        write: _BatchWrite | None,
        deferred: Sequence[tuple[Callable[[neo4j.ManagedTransaction], None], Sequence[RefMove]]],
    ) -> None:
        if write is None and not deferred:
            return

        def work(tx: neo4j.ManagedTransaction) -> None:
            if write is not None:
                write(tx)
            for step, _moves in deferred:
                step(tx)

        outer = getattr(self._local, "tx", None)
        if outer is not None:  # the caller's transaction: stored once it commits
            work(outer)
            self._local.after.append(lambda: self._remember_all(objects))
            return
        try:
            self.server.write(work)
        except self.server._neo4j.exceptions.ConstraintError:
            # Another writer created a ref the deferred work creates, between its check and its create.
            created = [m for _step, moves in deferred for m in moves if m.old is None]
            if not created:
                raise
            first = created[0]
            rows = self.server.query("refs/get", ref=str(first.ref))
            raise BranchMoved(first.ref, None, ObjectId(rows[0]["target"]) if rows else None) from None
        self._remember_all(objects)

    def _remember_all(self, objects: dict[ObjectId, tuple[str, bytes]]) -> None:
        for oid, obj in objects.items():
            self._remember(oid, obj)

    def _write_packed(
        self, objects: dict[ObjectId, tuple[str, bytes]], projection: Projection
    ) -> _BatchWrite | None:
        """Layout 2: the blobs, trees and tags not stored yet as packs, the commits as the projection's
        Commit nodes (None: nothing to write)."""
        index = self._index if self._index_loaded else None
        fresh = [
            (oid, obj_type, data)
            for oid, (obj_type, data) in objects.items()
            if obj_type != "commit"
            and oid not in self._cache  # read or written before: stored
            and (index is None or bytes.fromhex(oid) not in index)
        ]
        packs = [
            {"count": p.count, "data": p.data, "ids": p.ids(), "offsets": p.offsets()}
            for p in split_objects(fresh, PACK_BYTES)
        ]
        if not packs and not projection.commits:
            return None
        return _BatchWrite({"packs": packs, **projection.parameters()})

    def close(self) -> None:
        self.server.close()


class _BatchWrite:
    """The statement that writes a batch (``projection/write``) with its parameters, run in a managed
    transaction (maybe more than once: the driver retries transient errors)."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters

    def __call__(self, tx: neo4j.ManagedTransaction) -> None:
        if tx.run(_statement("projection/write"), self.parameters).single() is None:
            raise LayoutChanged  # its guard: not layout 2, or a migration began (the server looks again)

    def release(self) -> None:
        """Drop the parameters (the batch's packs, its commits' rows) once the transaction is done: the
        driver keeps the work it ran in reference cycles, alive until the cyclic collector comes by,
        which a long transfer pauses; it holds the lists themselves, so they are emptied."""
        for value in self.parameters.values():
            if isinstance(value, list):
                value.clear()
        self.parameters = {}


class _Reader(ObjectStore):
    """A read-only view through a function, for reading the trees of a batch not yet written."""

    def __init__(self, get: Callable[[ObjectId], tuple[str, bytes]]) -> None:
        self._get = get

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        return self._get(oid)

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        raise NotImplementedError("read-only")

    def has(self, oid: ObjectId) -> bool:
        try:
            self.get(oid)
        except NotFound:
            return False
        return True

    def __iter__(self) -> Iterator[ObjectId]:
        raise NotImplementedError("read-only")
