"""The Neo4j backend: git objects, refs and a readable projection of the story in one Neo4j database.

Objects keep their git ids, so history moves between this store and the embedded git store as a copy
of missing objects, ids unchanged. Blobs, trees and tags are stored in ``(:Pack {seq, count, data, ids,
offsets})`` nodes: each holds a git pack (version 2, whole objects) of a batch with its sorted binary ids
and their offsets; readers keep an index of every pack in memory (:class:`~.packfile.PackIndex`),
extended with the packs numbered past the last one they saw. A commit is stored on its ``(:Commit)`` node
(``raw``) only. This is layout 2, marked by ``(:Meta {name: 'layout', version: 2})``; a database written
before it holds an ``(:Object {id, type, data})`` node per object, which is read, and written, as it was
until it is migrated.

Refs are ``(:Ref)`` nodes (also labelled ``:Branch`` or ``:Tag``) whose compare-and-swap runs in one
transaction that first takes the ref's write lock, then compares, then writes, so concurrent writers
never lose an update.

Next to the objects, every transaction that stores commits also writes the graph people read in Cypher
and Bloom (docs/architecture.md, section 3): ``Commit``, ``Actor``, ``Page`` and ``PageVersion`` nodes
with ``PARENT``, ``AUTHORED_BY``, ``CHANGED``, ``VERSION_OF``, ``FOLLOWS``, ``ALTERNATE_OF`` and
``LINKS_TO``, and from governance commits ``Proposal`` nodes with ``MERGES`` and ``VOTED``; a ref
update moves ``(:Branch)-[:HEAD]->(:Commit)`` and the branch's ``HAS_PAGE`` edges to the page versions
its head holds, in the same transaction as the update.

Commits carry a ``seq`` number in the order they were stored; history readers fetch only the commits
past the last number they saw (:meth:`Neo4jObjectStore.commit_headers`), and the history algorithms
(log order, ancestry, merge-base) run on the in-memory commit DAG, never on Cypher path queries.

Every Cypher statement lives in the ``cypher`` package, one per file.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..access import AccessStore, TokenRecord
from ..errors import BadInput, BranchMoved, CorruptObject, GvcsError, NotFound
from ..objects import Actor, Commit, Page, hash_object, parse_trailers
from ..refs import HEADS, TAGS, ReflogEntry, RefMove, RefStore, check_moves
from ..snapshot import Snapshots
from ..store import HEX, OBJECT_TYPES, CacheFile, ObjectStore
from ..types import ZERO_ID, ObjectId, RefName
from .packfile import PackCache, PackData, PackIndex, split_objects

if TYPE_CHECKING:
    import neo4j

__all__ = [
    "Neo4jLocation",
    "Neo4jObjectStore",
    "Neo4jRefStore",
    "Neo4jServer",
    "open_neo4j",
    "parse_neo4j_uri",
]

#: The layout new databases are written in (see :attr:`Neo4jServer.layout`).
LAYOUT = 2
#: A batch's blobs, trees and tags go in packs of about this many bytes (a larger object alone).
PACK_BYTES = 4 << 20
#: Whole packs fetched by one query (at most about ``PACK_BYTES`` each, a few larger).
PACKS_PER_QUERY = 8

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


class Unavailable(GvcsError):
    """The Neo4j server cannot be reached or refused the credentials."""

    exit_code = 1
    code = "UNAVAILABLE"


@dataclass(frozen=True)
class Neo4jLocation:
    """Where a story lives: a Bolt address, credentials and a database (None: the server's default)."""

    address: str  # scheme://host:port, as the driver takes it
    user: str
    password: str
    database: str | None

    def __str__(self) -> str:
        """The location without the password."""
        db = f"/{self.database}" if self.database else ""
        return f"{self.address.split('://', 1)[0]}://{self.user}@{self.address.split('://', 1)[1]}{db}"


def parse_neo4j_uri(uri: str) -> Neo4jLocation:
    """``neo4j://user:pass@host:7687[/db]`` (or ``bolt://``) as a :class:`Neo4jLocation`."""
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES:
        raise BadInput(f"not a Neo4j URI: {uri!r} (expected neo4j://user:password@host:7687[/database])")
    try:
        port = parts.port or 7687
    except ValueError:
        raise BadInput(f"bad port in Neo4j URI {uri!r}") from None
    if not parts.hostname:
        raise BadInput(f"no host in Neo4j URI {uri!r}")
    database = parts.path.strip("/") or None
    if database is not None and (not database.replace("-", "").replace(".", "").isalnum() or "/" in database):
        raise BadInput(f"bad database name {database!r} in Neo4j URI")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    # The scheme is kept: neo4j:// routes (a cluster, Aura), bolt:// talks to one server. With driver
    # 5.28 routing costs a single server nothing per session (the routing table and home database are
    # cached), so neo4j:// is right everywhere.
    return Neo4jLocation(
        f"{parts.scheme}://{host}:{port}",
        unquote(parts.username or "neo4j"),
        unquote(parts.password or ""),
        database,
    )


def _import_driver() -> None:
    """The official driver, imported without its optional numpy and pandas support.

    gvcs passes no numpy or pandas values and builds no data frames; importing numpy alone would add a
    fifth to a whole ``gvcs log`` on a Neo4j store. They stay importable for everything else.
    """
    import sys

    if "neo4j" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        import neo4j  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


def _statement(name: str) -> str:
    from cypher import statement

    return statement(name)


class Neo4jServer:
    """One driver for one database, shared by the object and ref stores of a repository."""

    def __init__(self, location: Neo4jLocation) -> None:
        _import_driver()
        import neo4j

        self.location = location
        self._neo4j = neo4j
        try:
            self.driver = neo4j.GraphDatabase.driver(
                location.address,
                auth=(location.user, location.password),
                max_connection_pool_size=50,
                connection_acquisition_timeout=60,
                connection_timeout=10,
                # Transient errors (a deadlock between writers) are retried for this long.
                max_transaction_retry_time=60,
            )
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise BadInput(f"bad Neo4j URI: {exc}") from None
        self._schema_done = False
        self._layout = LAYOUT
        self._connected = False
        self._lock = threading.Lock()
        self._closed = False

    def _session(self) -> neo4j.Session:
        return self.driver.session(database=self.location.database)

    def _call(self, mode: str, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        exceptions = self._neo4j.exceptions
        try:
            if mode == "query":  # one read statement: BEGIN pipelined with it (one round trip less)
                return work(None)  # type: ignore[arg-type]
            with self._session() as session:
                if mode == "write":
                    return session.execute_write(work)
                return session.execute_read(work)
        except exceptions.AuthError as exc:
            raise Unavailable(f"Neo4j at {self.location} refused the credentials: {exc.message}") from None
        except exceptions.ServiceUnavailable:
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        except exceptions.ClientError as exc:
            if exc.code and "DatabaseNotFound" in exc.code:
                raise Unavailable(
                    f"Neo4j at {self.location} has no database {self.location.database!r}"
                ) from None
            raise

    def write(self, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        """Run ``work`` in a managed write transaction (retried by the driver on transient errors)."""
        self.ensure_schema()
        return self._call("write", work)

    def read(self, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
        self._connect()
        return self._call("read", work)

    def query(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """The records of one read statement, as dicts (``Driver.execute_query``: a managed read
        transaction, retried on transient errors, whose BEGIN goes with the statement)."""

        def rows(result: neo4j.Result) -> list[dict[str, Any]]:
            keys = result.keys()
            # Not Record.data(): it rebuilds every value (bytes into lists of ints) in Python.
            return [dict(zip(keys, values, strict=True)) for values in result.values()]

        def work(_tx: None) -> list[dict[str, Any]]:
            return self.driver.execute_query(  # type: ignore[no-any-return]
                _statement(name),
                params,
                routing_=self._neo4j.RoutingControl.READ,
                database_=self.location.database,
                bookmark_manager_=None,
                result_transformer_=rows,
            )

        self._connect()
        return self._call("query", work)  # type: ignore[arg-type, no-any-return]

    def _connect(self) -> None:
        """Check once that the server answers: fail at once, not after the driver's retries."""
        if self._connected:
            return
        try:
            self.driver.verify_connectivity()
        except self._neo4j.exceptions.AuthError as exc:
            raise Unavailable(f"Neo4j at {self.location} refused the credentials: {exc.message}") from None
        except (self._neo4j.exceptions.ServiceUnavailable, OSError):
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        self._connected = True

    def ensure_schema(self) -> None:
        """Create the constraints and indexes of ``cypher/schema`` (IF NOT EXISTS) and find the layout
        of the objects (:attr:`layout`), once per process that writes: readers do not need them."""
        if self._schema_done:
            return
        self._connect()
        with self._lock:
            if self._schema_done:
                return
            from cypher import schema_statements

            for _name, text in schema_statements():

                def create(tx: neo4j.ManagedTransaction, text: str = text) -> None:
                    tx.run(text).consume()

                self._call("write", create)
            self._layout = self._call("write", _find_layout)
            self._schema_done = True

    @property
    def layout(self) -> int:
        """How this database stores objects: 2 (blobs, trees and tags in ``(:Pack)`` nodes, commits on
        their ``:Commit`` nodes), or 1 for a database written before layout 2 (an ``(:Object)`` node per
        object), which is written as it was until it is migrated. An empty database becomes layout 2."""
        self.ensure_schema()
        return self._layout

    def clear(self) -> None:
        """Delete every node of the database (tests, and ``gvcs init --store ... --force``)."""
        exceptions = self._neo4j.exceptions
        try:
            with self._session() as session:
                # CALL ... IN TRANSACTIONS needs an auto-commit transaction.
                session.run(_statement("admin/clear_relationships")).consume()
                session.run(_statement("admin/clear_nodes")).consume()
        except exceptions.ServiceUnavailable:
            raise Unavailable(f"Neo4j is not reachable at {self.location} (is the server running?)") from None
        with self._lock:
            self._schema_done = False  # the next write finds the layout again (an empty database's)

    def verify(self) -> None:
        """Raise :class:`Unavailable` unless the server answers."""
        self.query("admin/count_objects")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.driver.close()


def _find_layout(tx: neo4j.ManagedTransaction) -> int:
    """The layout of the database's objects (see :attr:`Neo4jServer.layout`); an empty one is marked
    as the current layout."""
    row = tx.run(_statement("meta/layout")).single()
    assert row is not None
    if row["version"] is not None:
        return int(row["version"])
    if row["legacy"]:
        return 1
    created = tx.run(_statement("meta/create"), version=LAYOUT).single()
    assert created is not None
    return int(created["version"])


def open_neo4j(
    uri: str, cache_dir: Path | None = None
) -> tuple[Neo4jObjectStore, Neo4jRefStore, Neo4jAccessStore]:
    """The object, ref and access stores of the story at ``uri``, sharing one driver.

    ``cache_dir``: where to keep derived data between processes (a work tree's ``.gvcs``), if anywhere.
    """
    server = Neo4jServer(parse_neo4j_uri(uri))
    objects = Neo4jObjectStore(server, cache_dir=cache_dir)
    return objects, Neo4jRefStore(server, objects), Neo4jAccessStore(server)


# --- objects ------------------------------------------------------------------------------------------


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
        # Parsed trees for the projection, kept across batches (a batch's parents are in the last one).
        self._snapshots = Snapshots(_Reader(self._get_flushing), cache_size=20_000)

    # reads

    def _remember(self, oid: ObjectId, obj: tuple[str, bytes]) -> None:
        cache = self._cache
        cache[oid] = obj
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _pending(self) -> dict[ObjectId, tuple[str, bytes]] | None:
        return getattr(self._local, "pending", None)  # type: ignore[no-any-return]

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        pending = self._pending()
        if pending is not None and oid in pending:
            return pending[oid]
        found = self._cache.get(oid)
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
            found = pending.get(oid) or self._cache.get(oid)
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
        (so a long read holds only a few in memory besides the cache)."""
        fetch = []
        for seq in seqs:
            pack = self._pack_cache.get(seq)
            if pack is None:
                fetch.append(seq)
            else:
                yield seq, pack
        for start in range(0, len(fetch), PACKS_PER_QUERY):
            for row in self.server.query("packs/get_many", seqs=fetch[start : start + PACKS_PER_QUERY]):
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
        from .git import FileCache

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

    def _flush(
        self,
        objects: dict[ObjectId, tuple[str, bytes]],
        deferred: Sequence[tuple[Callable[[neo4j.ManagedTransaction], None], Sequence[RefMove]]] = (),
    ) -> None:
        """Write ``objects`` and the projection of the commits among them in one transaction, with the
        ``deferred`` work (ref moves) after them: if that work raises, nothing is written."""

        self._local.flushing = objects  # the projection reads the trees of this batch too
        try:
            projection = Projection(self._snapshots, self._get_flushing)
            for oid, (obj_type, data) in objects.items():
                if obj_type == "commit":
                    projection.add_commit(oid, data)
        finally:
            self._local.flushing = None
        if self.server.layout < 2:
            write = self._write_nodes(objects, projection)
        else:
            write = self._write_packed(objects, projection)
        if write is None and not deferred:
            return

        def work(tx: neo4j.ManagedTransaction) -> None:
            if write is not None:
                write(tx)
            for step, _moves in deferred:
                step(tx)

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
        for oid, obj in objects.items():
            self._remember(oid, obj)

    def _write_packed(
        self, objects: dict[ObjectId, tuple[str, bytes]], projection: Projection
    ) -> Callable[[neo4j.ManagedTransaction], None] | None:
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

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(_statement("projection/write"), packs=packs, **projection.parameters()).consume()

        return work

    def _write_nodes(
        self, objects: dict[ObjectId, tuple[str, bytes]], projection: Projection
    ) -> Callable[[neo4j.ManagedTransaction], None] | None:
        """Layout 1 (until the database is migrated): an ``(:Object)`` node per object."""
        if not objects:
            return None
        rows = [{"id": str(oid), "type": t, "data": d} for oid, (t, d) in objects.items()]

        def work(tx: neo4j.ManagedTransaction) -> None:
            if projection.commits:
                statement = _statement("projection/write_object_nodes")
                tx.run(statement, objects=rows, **projection.parameters()).consume()
            else:
                tx.run(_statement("objects/put"), objects=rows).consume()

        return work

    def close(self) -> None:
        self.server.close()


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


# --- the projection -----------------------------------------------------------------------------------


def version_id(page_id: str, blob: ObjectId) -> str:
    """The id of a page version: the page and its blob (two pages may hold equal bytes)."""
    return f"{page_id}@{blob}"


class Projection:
    """The graph rows for a set of new commits: commits, actors, page versions and what changed."""

    def __init__(self, snapshots: Snapshots, get: Callable[[ObjectId], tuple[str, bytes]]) -> None:
        self._snapshots = snapshots
        self._get = get
        self.commits: list[dict[str, Any]] = []
        self.versions: dict[str, dict[str, Any]] = {}
        self.changes: list[dict[str, Any]] = []
        self.actors: dict[str, dict[str, Any]] = {}
        self.proposals: dict[int, dict[str, Any]] = {}  # the newest revision of each in this batch
        self._trees: dict[ObjectId, ObjectId] = {}  # commit -> tree, for parents in this projection

    def _tree_of(self, commit: ObjectId) -> ObjectId | None:
        tree = self._trees.get(commit)
        if tree is not None:
            return tree
        try:
            obj_type, data = self._get(commit)
        except NotFound:
            return None  # history cut short: project the commit as if it had no parent
        return Commit.parse(data).tree if obj_type == "commit" else None

    def add_commit(self, oid: ObjectId, data: bytes) -> None:
        commit = Commit.parse(data)
        self._trees[oid] = commit.tree
        text, trailers = parse_trailers(commit.message)
        actor = trailers.get("Gvcs-Actor") or commit.author.email.split("@", 1)[0]
        self.commits.append(
            {
                "id": str(oid),
                "tree": str(commit.tree),
                "parents": [str(p) for p in commit.parents],
                "subject": text.split("\n", 1)[0],
                "message": text.rstrip("\n"),
                "actor": actor,
                "actor_name": commit.author.name,
                "kind": trailers.get("Gvcs-Kind", "edit"),
                "time": commit.committer.time,
                "event_id": trailers.get("Gvcs-Event-Id"),
                "raw": data,
            }
        )
        parent_tree = self._tree_of(commit.parents[0]) if commit.parents else None
        try:
            changes = self._snapshots.diff(parent_tree, commit.tree)
        except (NotFound, CorruptObject):
            return  # a commit of a tree this store does not hold (a shallow copy): no page changes
        governance = trailers.get("Gvcs-Kind", "").startswith("proposal.")
        for change in changes:
            top, _, name = change.path.partition("/")
            if top == "pages" and name.endswith(".md") and "/" not in name:
                self._page_change(oid, name.removesuffix(".md"), change.old, change.new)
            elif top == "actors" and name.endswith(".yaml") and "/" not in name and change.new:
                self._actor(name.removesuffix(".yaml"), change.new)
            elif governance and top == "proposals" and name.endswith(".yaml") and change.new:
                self._proposal(name.removesuffix(".yaml"), change.new)

    def _page_change(
        self, commit: ObjectId, page_id: str, old: ObjectId | None, new: ObjectId | None
    ) -> None:
        if new is None:
            assert old is not None
            self._version(page_id, old)
            self.changes.append({"commit": str(commit), "version": version_id(page_id, old), "op": "delete"})
            return
        self._version(page_id, new)
        op = "add" if old is None else "modify"
        self.changes.append({"commit": str(commit), "version": version_id(page_id, new), "op": op})

    def _version(self, page_id: str, blob: ObjectId) -> None:
        key = version_id(page_id, blob)
        if key in self.versions:
            return
        try:
            page = Page.parse(page_id, self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            # A page file gvcs cannot read still has a version; it just has no links to show.
            self.versions[key] = _version_row(key, page_id, blob, page_id, 0, [], [], [], [])
            return
        self.versions[key] = _version_row(
            key,
            page_id,
            blob,
            page.title,
            len(page.body.split()),
            list(page.tags),
            list(page.follows),
            [page.alternate_of] if page.alternate_of else [],
            [link for link in page.links() if link != page_id],
        )

    def _actor(self, actor_id: str, blob: ObjectId) -> None:
        try:
            actor = Actor.parse(actor_id, self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            return
        self.actors[actor_id] = {
            "id": actor_id,
            "name": actor.name,
            "kind": actor.kind,
            "archetype": actor.archetype,
        }

    def _proposal(self, name: str, blob: ObjectId) -> None:
        """A governance proposal: ``(:Proposal)-[:MERGES {role}]->(:Branch)`` for its source and target,
        ``(:Actor)-[:VOTED {choice, weight, stake}]->(:Proposal)`` for its votes."""
        from ..governance.proposal import ProposalState

        if not name.isdigit():
            return
        try:
            state = ProposalState.parse(int(name), self._get(blob)[1])
        except (GvcsError, UnicodeDecodeError):
            return
        known = self.proposals.get(state.number)
        if known is not None and known["revision"] >= state.revision:
            return
        result = state.result
        tally = state.tally
        branches = [{"name": state.target, "role": "target"}]
        if state.source is not None:
            branches.append({"name": state.source, "role": "source"})
        self.proposals[state.number] = {
            "number": state.number,
            "status": state.status,
            "revision": state.revision,
            "message": state.message,
            "source": state.source,
            "target": state.target,
            "proposer": state.proposer,
            "opened": state.opened,
            "closes": state.closes,
            "yes": tally.yes,
            "no": tally.no,
            "voters": tally.voters,
            "result": None if result is None else result.status,
            "result_commit": None if result is None else result.commit,
            "branches": branches,
            "votes": [
                {"actor": v.actor, "choice": v.choice, "weight": v.weight, "stake": v.stake}
                for v in state.votes.values()
            ],
        }

    def parameters(self) -> dict[str, Any]:
        """The parameters of ``projection/write``."""
        return {
            "commits": self.commits,
            "actors": list(self.actors.values()),
            "versions": list(self.versions.values()),
            "changes": self.changes,
            "proposals": list(self.proposals.values()),
        }


def _version_row(
    key: str,
    page_id: str,
    blob: ObjectId,
    title: str,
    words: int,
    tags: list[str],
    follows: list[str],
    alternate_of: list[str],
    links: list[str],
) -> dict[str, Any]:
    return {
        "id": key,
        "page": page_id,
        "blob": str(blob),
        "title": title,
        "words": words,
        "tags": tags,
        "follows": follows,
        "alternate_of": alternate_of,
        "links": links,
    }


# --- refs ---------------------------------------------------------------------------------------------


class Neo4jRefStore(RefStore):
    """Refs as ``(:Ref)`` nodes; every update is a compare-and-swap inside one write transaction."""

    def __init__(self, server: Neo4jServer, objects: Neo4jObjectStore | None = None) -> None:
        self.server = server
        self._objects = objects
        self._snapshots = Snapshots(objects) if objects is not None else None

    def _resolve(self, name: RefName) -> RefName:
        target = self.get_symbolic(name)
        return target if target is not None else name

    def get(self, name: RefName) -> ObjectId | None:
        rows = self.server.query("refs/get", ref=str(self._resolve(name)))
        return ObjectId(rows[0]["target"]) if rows else None

    def set_if_equals(
        self, name: RefName, old: ObjectId | None, new: ObjectId, *, who: str = "", message: str = ""
    ) -> None:
        self._apply([RefMove(self._resolve(name), old, new)], who, message)

    def update_many(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        check_moves(moves)
        self._apply(moves, who, message)

    def moves_with_batch(self) -> bool:
        return self._objects is not None and self._objects.in_batch()

    def move_with_batch(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> bool:
        """The moves in the transaction of the object batch open in this thread (its commits, their
        projection and the refs land together, or nothing does: no Commit node of a lost race)."""
        objects = self._objects
        if objects is None or not objects.in_batch():
            return False
        check_moves(moves)
        now = int(time.time())
        params = [self._move_params(m, who, message, now) for m in moves]  # reads the batch's trees

        def work(tx: neo4j.ManagedTransaction) -> None:
            for move, values in zip(moves, params, strict=True):
                self._move_in(tx, move, values)

        objects.defer(work, moves)
        return True

    def _apply(self, moves: Sequence[RefMove], who: str, message: str) -> None:
        """Every move in one write transaction: a value that is not the one expected rolls it back."""
        now = int(time.time())
        params = [self._move_params(m, who, message, now) for m in moves]

        def work(tx: neo4j.ManagedTransaction) -> None:
            for move, values in zip(moves, params, strict=True):
                self._move_in(tx, move, values)

        try:
            self.server.write(work)
        except self.server._neo4j.exceptions.ConstraintError:
            # Another writer created one of the refs between our check and our create.
            first = next((m for m in moves if m.old is None), moves[0])
            raise BranchMoved(first.ref, first.old, self.get(first.ref)) from None

    def _move_params(self, move: RefMove, who: str, message: str, now: int) -> dict[str, Any]:
        removed, added = self._page_changes(move.ref, move.old, move.new)
        return {
            "ref": move.ref,
            "new": move.new,
            "who": who,
            "time": now,
            "message": message,
            "removed": removed,
            "added": added,
        }

    def _move_in(self, tx: neo4j.ManagedTransaction, move: RefMove, params: dict[str, Any]) -> None:
        name, old = move.ref, move.old
        if move.new is None:
            if tx.run(_statement("refs/lock"), ref=name).single() is None:
                raise BranchMoved(name, old, None)
            current = self._current(tx, name)
            if current != old:
                raise BranchMoved(name, old, current)
            tx.run(_statement("refs/delete"), ref=name).consume()
            return
        if old is None:
            current = self._current(tx, name)
            if current is not None:
                raise BranchMoved(name, old, current)
            clash = tx.run(_statement("refs/conflicting"), ref=name).single()
            if clash is not None:
                raise BadInput(f"{name} cannot be created: {clash['ref']} exists")
            labels = (
                ["Ref", "Branch"]
                if name.startswith(HEADS)
                else ["Ref", "Tag"]
                if name.startswith(TAGS)
                else ["Ref"]
            )
            tx.run(
                _statement("refs/create"), labels=labels, name=_short(name), old=ZERO_ID, **params
            ).consume()
            return
        row = tx.run(_statement("refs/move"), **params).single()
        current = None if row is None else ObjectId(row["current"])
        if current != old:
            raise BranchMoved(name, old, current)  # rolls the transaction back

    @staticmethod
    def _current(tx: neo4j.ManagedTransaction, name: RefName) -> ObjectId | None:
        row = tx.run(_statement("refs/get"), ref=name).single()
        return None if row is None else ObjectId(row["target"])

    def _page_changes(
        self, name: RefName, old: ObjectId | None, new: ObjectId | None
    ) -> tuple[list[str], list[str]]:
        """The page versions a branch stops and starts holding when it moves from ``old`` to ``new``."""
        if self._objects is None or self._snapshots is None or not name.startswith(HEADS) or new is None:
            return [], []
        try:
            old_tree = Commit.parse(self._objects.get(old)[1]).tree if old else None
            obj_type, data = self._objects.get(new)
            if obj_type != "commit":
                return [], []
            new_tree = Commit.parse(data).tree
        except (NotFound, CorruptObject):
            return [], []
        removed: list[str] = []
        added: list[str] = []
        for change in self._snapshots.diff(old_tree, new_tree):
            top, _, file = change.path.partition("/")
            if top != "pages" or not file.endswith(".md") or "/" in file:
                continue
            page_id = file.removesuffix(".md")
            if change.old is not None:
                removed.append(version_id(page_id, change.old))
            if change.new is not None:
                added.append(version_id(page_id, change.new))
        return removed, added

    def remove_if_equals(
        self, name: RefName, old: ObjectId | None, *, who: str = "", message: str = ""
    ) -> None:
        name = self._resolve(name)

        def work(tx: neo4j.ManagedTransaction) -> None:
            if tx.run(_statement("refs/lock"), ref=name).single() is None:
                raise NotFound(f"ref {name} does not exist")
            current = self._current(tx, name)
            if old is not None and current != old:
                raise BranchMoved(name, old, current)
            tx.run(_statement("refs/delete"), ref=name).consume()

        self.server.write(work)

    def list(self, prefix: str = "refs/") -> dict[RefName, ObjectId]:
        rows = self.server.query("refs/list", prefix=prefix)
        return {RefName(r["ref"]): ObjectId(r["target"]) for r in rows}

    def reflog(self, name: RefName) -> builtins.list[ReflogEntry]:
        rows = self.server.query("refs/log", ref=str(self._resolve(name)))
        return [
            ReflogEntry(ObjectId(r["old"]), ObjectId(r["new"]), r["who"], int(r["time"]), r["message"])
            for r in rows
        ]

    def get_symbolic(self, name: RefName) -> RefName | None:
        if name.startswith("refs/"):
            return None
        rows = self.server.query("refs/symbolic_get", name=str(name))
        return RefName(rows[0]["target"]) if rows else None

    def set_symbolic(self, name: RefName, target: RefName) -> None:
        self.server.write(
            lambda tx: tx.run(_statement("refs/symbolic_set"), name=str(name), target=str(target)).consume()
        )

    def close(self) -> None:
        self.server.close()


def _short(name: str) -> str:
    for prefix in (HEADS, TAGS):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


# --- access -------------------------------------------------------------------------------------------


class Neo4jAccessStore(AccessStore):
    """API tokens as ``(:ApiToken)`` nodes (digests only) and settings as ``(:AccessSetting)`` nodes."""

    remote = True

    def __init__(self, server: Neo4jServer) -> None:
        self.server = server

    def _run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
            result = tx.run(_statement(name), params)
            keys = result.keys()
            return [dict(zip(keys, values, strict=True)) for values in result.values()]

        return self.server.write(work)  # type: ignore[no-any-return]

    @staticmethod
    def _record(row: dict[str, Any]) -> TokenRecord:
        return TokenRecord(row["id"], row["actor"], row["digest"], int(row["created"]), row["label"] or "")

    def add_token(self, record: TokenRecord) -> None:
        self._run("access/token_add", **asdict(record))

    def find_token(self, digest: str) -> TokenRecord | None:
        rows = self.server.query("access/token_find", digest=digest)
        return self._record(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        return [self._record(row) for row in self.server.query("access/token_list")]

    def remove_token(self, token_id: str) -> bool:
        return bool(self._run("access/token_remove", id=token_id)[0]["removed"])

    def get_setting(self, key: str) -> str | None:
        rows = self.server.query("access/setting_get", key=key)
        return str(rows[0]["value"]) if rows else None

    def set_setting(self, key: str, value: str) -> None:
        self._run("access/setting_set", key=key, value=value)

    def close(self) -> None:
        self.server.close()
