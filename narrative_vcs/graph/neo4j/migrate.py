"""``gvcs migrate``: a Neo4j database of the first layout, an ``(:Object {id, type, data})`` node per git
object, moved to the current one (blobs, trees and tags in ``(:Pack)`` nodes, commits on their
``(:Commit)`` nodes, ``(:Meta {name: 'layout', version: 2})``).

The steps (statements in ``cypher/migrate/``):

0. Take the ``migrating`` mark on the ``Meta`` node, with the commit counter locked (writers lock it
   first and check the layout while they hold it, so none writes once the mark is set). A mark that is
   live (its process runs, or another host's wrote lately) refuses the migration unless ``force``.
1. Give every ``Commit`` node without its raw object (stored before commits kept it) its ``Object``'s.
2. Pack by history, for locality: the commits in the order they were stored, ``batch_commits`` at a
   time; for each, the trees and blobs that differ from its first parent's, those still in ``Object``
   nodes, in packs of about :data:`~.server.PACK_BYTES`.
3. Sweep the blobs, trees and tags that no commit reached (unreachable objects, annotated tags) into
   packs, in id order.
4. Drop the commit ``Object`` nodes whose ``Commit`` node holds the same commit (it hashes to the id).
5. Drop the ``object_id`` constraint, set the layout, remove the mark.

Every step moves data in transactions that each leave a readable store: a pack is created in the same
transaction that deletes the ``Object`` nodes it holds, and readers look in packs, on ``Commit`` nodes
and in ``Object`` nodes. So a migration killed anywhere leaves every object readable, and running it
again continues where it stopped (history packing from the last commit it recorded). Each statement
checks that this migration still holds the mark: one that another took over (``force``) stops.
An object whose bytes do not hash to its id is left where it is and reported.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import CorruptObject, GvcsError, NotFound, Refused
from ...objects import Commit, Tree, hash_object
from ...records import field, record
from ...types import ObjectId
from ..packfile import BuiltPack, split_objects
from .objects import Neo4jObjectStore
from .server import LAYOUT, PACK_BYTES, Neo4jServer, _statement, layout_refusal

if TYPE_CHECKING:
    import neo4j

__all__ = ["BATCH_COMMITS", "STALE_AFTER", "MigrationReport", "mark_holder", "migrate"]

#: Commits whose objects are packed together (one pack, or a few for large ones).
BATCH_COMMITS = 500
#: Objects read at a time by the sweep, and ids asked about in one query.
SWEEP_OBJECTS = 1000
#: Commit ``Object`` nodes looked at, and ``Commit`` nodes given their raw object, per transaction.
COMMITS_PER_STEP = 5000
#: A mark left by a process of another host is taken as dead once it has not written for this long (s).
STALE_AFTER = 600
#: At most this many passes of the sweep, for objects that a writer the mark could not fence (a gvcs of
#: the first layout) stored meanwhile.
SWEEPS = 3

Progress = Callable[[int, int], None]

#: The marks of the migrations running in this process.
_RUNNING: set[str] = set()


@record(frozen=False)
class MigrationReport:
    """What a migration did (counts are of this run)."""

    location: str
    #: The database was in the current layout already: nothing was done.
    current: bool = False
    #: The mark of a migration that was cut short (or taken over with ``force``) and that this one finished.
    resumed: str | None = None
    #: Commit nodes given their raw object.
    raw_filled: int = 0
    #: Commits whose trees and blobs were looked at, in the order they were stored.
    commits: int = 0
    #: Blobs and trees packed by history.
    packed: int = 0
    #: Objects no commit reaches (blobs, trees, tags, a commit without its node), packed in id order.
    swept: int = 0
    #: Packs created.
    packs: int = 0
    #: Commit Object nodes dropped (their Commit node holds the commit).
    commit_nodes: int = 0
    #: Objects a tree names that the database does not hold.
    missing: int = 0
    #: Objects left in their Object node: their bytes do not hash to their id.
    damaged: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "current": self.current,
            "resumed": mark_holder(self.resumed) if self.resumed else None,
            "layout": LAYOUT,
            "raw_filled": self.raw_filled,
            "commits": self.commits,
            "packed": self.packed,
            "swept": self.swept,
            "packs": self.packs,
            "commit_nodes": self.commit_nodes,
            "missing": self.missing,
            "damaged": list(self.damaged),
        }


def migrate(
    server: Neo4jServer,
    *,
    force: bool = False,
    batch_commits: int = BATCH_COMMITS,
    progress: Progress | None = None,
    on_pack: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Move the database of ``server`` to the current layout; a database in it already is left alone
    (an empty one is marked as the current layout).

    ``force``: take the mark from a migration that looks alive. ``progress(done, total)``: commits of
    history packing. ``on_pack(n)``: called after the n-th pack of this run is stored.
    Raises :class:`Refused` when another migration is under way or the database is newer than gvcs.
    """
    if batch_commits < 1:
        raise ValueError("batch_commits must be at least 1")
    location = str(server.location)
    report = MigrationReport(location)
    (state,) = server.query("migrate/state")
    if state["version"] is not None and state["version"] > LAYOUT:
        refusal = layout_refusal(location, state["version"], None, False)
        raise Refused(refusal or f"the Neo4j database at {location} holds layout {state['version']}")
    if state["migrating"] is None and not state["legacy"] and not state["unfilled"]:
        if state["version"] is None:
            server.ensure_schema()  # holds no object: marked as the current layout, as a first write does
        report.current = True
        return report
    me = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
    _RUNNING.add(me)
    try:
        _Migration(server, me, report, batch_commits, progress, on_pack).run(force)
    finally:
        _RUNNING.discard(me)
    return report


class _Migration:
    def __init__(
        self,
        server: Neo4jServer,
        me: str,
        report: MigrationReport,
        batch_commits: int,
        progress: Progress | None,
        on_pack: Callable[[int], None] | None,
    ) -> None:
        self.server = server
        self.me = me
        self.report = report
        self.batch_commits = batch_commits
        self.progress = progress
        self.on_pack = on_pack
        # Reads of trees and commits: packs, Commit nodes and Object nodes alike.
        self.store = Neo4jObjectStore(server, cache_size=20_000)
        self.damaged: dict[str, None] = {}

    def run(self, force: bool) -> None:
        after = self.server.write_migrating(lambda tx: self._take_mark(tx, force))
        self.server.write_migrating(lambda tx: tx.run(_statement("migrate/object_index")).consume())
        self._fill_raw()
        self._pack_history(after)
        for _ in range(SWEEPS):
            self._sweep()
            self._commit_objects()
            (left,) = self.server.query("migrate/remaining")
            if int(left["objects"]) <= len(self.damaged):
                break
        self.server.write_migrating(lambda tx: tx.run(_statement("migrate/drop_object_index")).consume())
        self._write("migrate/finish", version=LAYOUT)
        self.report.damaged = list(self.damaged)

    # the mark

    def _take_mark(self, tx: neo4j.ManagedTransaction, force: bool) -> int:
        """Take the mark (refused if another live migration holds it, unless ``force``); return the
        ``seq`` of the last commit whose objects a migration cut short has packed (0: none)."""
        row = tx.run(_statement("migrate/lock")).single(strict=True)
        holder = row["migrating"]
        if holder is not None and not force and _alive(holder, row["quiet"]):
            seen = "" if row["quiet"] is None else f", last seen {int(row['quiet']) // 1000} s ago"
            raise Refused(
                f"a migration of the Neo4j database at {self.report.location} is under way "
                f"({mark_holder(holder)}{seen}): wait for it, or run `gvcs migrate --force` if it is dead"
            )
        tx.run(_statement("migrate/mark"), me=self.me).consume()
        self.report.resumed = holder
        return int(row["after"])

    def _write(self, name: str, **params: Any) -> dict[str, Any]:
        """The one row of the write statement ``name``, which checks that this migration still holds
        the mark (no row: it does not, and nothing was written)."""

        def work(tx: neo4j.ManagedTransaction) -> dict[str, Any] | None:
            result = tx.run(_statement(name), me=self.me, **params)
            keys = result.keys()
            rows = [dict(zip(keys, values, strict=True)) for values in result.values()]
            return rows[0] if rows else None

        row: dict[str, Any] | None = self.server.write_migrating(work)
        if row is None:
            raise Refused(
                f"another `gvcs migrate` took over the migration of the Neo4j database at "
                f"{self.report.location}; this one stopped"
            )
        return row

    # step 1

    def _fill_raw(self) -> None:
        while filled := int(self._write("migrate/fill_raw", limit=COMMITS_PER_STEP)["filled"]):
            self.report.raw_filled += filled

    # step 2

    def _pack_history(self, after: int) -> None:
        (counts,) = self.server.query("migrate/count_commits", after=after)
        left = int(counts["commits"]) - int(counts["done"])  # commits a run cut short had not reached
        show = self.progress
        if show is not None and left:
            show(0, left)
        tree_of: dict[ObjectId, ObjectId] = {}
        while rows := self.server.query("migrate/commits_after", after=after, limit=self.batch_commits):
            pairs: list[tuple[ObjectId, ObjectId | None]] = []
            firsts: list[tuple[ObjectId, ObjectId | None]] = []
            for row in rows:
                commit = self._commit(ObjectId(row["id"]), row["raw"])
                if commit is not None:
                    tree_of[ObjectId(row["id"])] = commit.tree
                    firsts.append((commit.tree, commit.parents[0] if commit.parents else None))
            self._parent_trees([p for _, p in firsts if p is not None and p not in tree_of], tree_of)
            for tree, parent in firsts:
                pairs.append((tree, tree_of.get(parent) if parent is not None else None))
            objects = self._still_nodes(self._changed(pairs))
            after = int(rows[-1]["seq"])
            self.report.packed += self._pack(objects, after=after)
            self.report.commits += len(rows)
            if show is not None:
                show(self.report.commits, max(left, self.report.commits))

    def _commit(self, oid: ObjectId, raw: bytes | None) -> Commit | None:
        if raw is None:  # neither raw nor an Object node to take it from: left as it is
            return None
        try:
            return Commit.parse(bytes(raw))
        except CorruptObject:
            self.damaged.setdefault(oid)
            return None

    def _parent_trees(self, parents: Sequence[ObjectId], tree_of: dict[ObjectId, ObjectId]) -> None:
        """The trees of commits stored in an earlier batch (or a run cut short)."""
        for oid, (obj_type, data) in self._read(parents).items():
            if obj_type == "commit":
                commit = self._commit(oid, data)
                if commit is not None:
                    tree_of[oid] = commit.tree

    def _read(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        """The objects among ``oids`` that can be read; a damaged one is noted, a missing one counted."""
        wanted = list(dict.fromkeys(oids))
        try:
            found = self.store.get_many(wanted)
        except CorruptObject:
            found = {}
            for oid in wanted:
                try:
                    found[oid] = self.store.get(oid)
                except CorruptObject:
                    self.damaged.setdefault(oid)
                except NotFound:
                    pass
        self.report.missing += sum(1 for oid in wanted if oid not in found and oid not in self.damaged)
        return found

    def _changed(self, pairs: Sequence[tuple[ObjectId, ObjectId | None]]) -> list[ObjectId]:
        """The trees and blobs of each (tree, first parent's tree) that the parent's lacks, in order,
        read a level of trees at a time for the whole batch."""
        found: dict[ObjectId, None] = {}
        done: set[tuple[ObjectId, ObjectId | None]] = set()
        level = [(new, old) for new, old in pairs if new != old]
        while level:
            trees: dict[ObjectId, Tree] = {}
            for oid, (obj_type, data) in self._read(t for pair in level for t in pair if t).items():
                try:
                    if obj_type == "tree":
                        trees[oid] = Tree.parse(data)
                except GvcsError:
                    self.damaged.setdefault(oid)
            following: list[tuple[ObjectId, ObjectId | None]] = []
            for new, old in level:
                tree = trees.get(new)
                if (new, old) in done or tree is None:
                    continue
                done.add((new, old))
                found.setdefault(new)
                before = trees[old].entries if old is not None and old in trees else {}
                for name, entry in tree.entries.items():
                    prior = before.get(name)
                    if prior is not None and prior.oid == entry.oid:
                        continue
                    if entry.is_tree:
                        following.append(
                            (entry.oid, prior.oid if prior is not None and prior.is_tree else None)
                        )
                    else:
                        found.setdefault(entry.oid)
            level = following
        return list(found)

    def _still_nodes(self, oids: Sequence[ObjectId]) -> list[tuple[ObjectId, str, bytes]]:
        """The blobs, trees and tags among ``oids`` still stored as Object nodes, in the same order."""
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(oids), SWEEP_OBJECTS):
            for row in self.server.query("migrate/objects", ids=list(oids[start : start + SWEEP_OBJECTS])):
                rows[row["id"]] = row
        return self._verified(rows[oid] for oid in oids if oid in rows)

    def _verified(self, rows: Iterable[dict[str, Any]]) -> list[tuple[ObjectId, str, bytes]]:
        """``(id, type, data)`` of the rows whose bytes hash to their id; the others are noted."""
        out: list[tuple[ObjectId, str, bytes]] = []
        for row in rows:
            oid, obj_type, data = ObjectId(row["id"]), str(row["type"]), bytes(row["data"] or b"")
            if row["data"] is not None and hash_object(obj_type, data) == oid:
                out.append((oid, obj_type, data))
            else:
                self.damaged.setdefault(oid)
        return out

    def _pack(self, objects: Sequence[tuple[ObjectId, str, bytes]], *, after: int | None = None) -> int:
        """Move ``objects`` into packs, each created in the transaction that deletes their Object
        nodes; the last one (or, with nothing to pack, a transaction of its own) records ``after``."""
        packs = list(split_objects(objects, PACK_BYTES))
        if not packs and after is not None:
            self._write("migrate/advance", after=after)
        for i, pack in enumerate(packs):
            self._write(
                "migrate/pack",
                after=after if i == len(packs) - 1 else None,
                count=pack.count,
                data=pack.data,
                ids=pack.ids(),
                offsets=pack.offsets(),
                objects=_hex_ids(pack),
            )
            self.report.packs += 1
            if self.on_pack is not None:
                self.on_pack(self.report.packs)
        return sum(p.count for p in packs)

    # steps 3 and 4

    def _sweep(self) -> None:
        after = ""
        while rows := self.server.query("migrate/sweep", after=after, limit=SWEEP_OBJECTS):
            after = str(rows[-1]["id"])
            self.report.swept += self._pack(self._verified(rows))

    def _commit_objects(self) -> None:
        after = ""
        while rows := self.server.query("migrate/commit_objects", after=after, limit=COMMITS_PER_STEP):
            after = str(rows[-1]["id"])
            drop: list[str] = []
            repairs: list[dict[str, Any]] = []
            orphans: list[tuple[ObjectId, str, bytes]] = []
            for row in rows:
                oid = ObjectId(row["id"])
                raw, data = row["raw"], row["data"]
                if row["node"] and raw is not None and hash_object("commit", bytes(raw)) == oid:
                    drop.append(oid)
                elif data is not None and hash_object("commit", bytes(data)) == oid:
                    if row["node"]:  # its Commit node's raw object is missing or wrong: the Object's is right
                        repairs.append({"id": oid, "raw": bytes(data)})
                        drop.append(oid)
                        self.damaged.pop(oid, None)
                    else:  # a commit without its node (none is expected): packed, to stay readable
                        orphans.append((oid, "commit", bytes(data)))
                else:
                    self.damaged.setdefault(oid)
            if drop:
                self.report.commit_nodes += int(
                    self._write("migrate/drop_commits", ids=drop, repairs=repairs)["dropped"]
                )
            self.report.swept += self._pack(orphans)


def _hex_ids(pack: BuiltPack) -> list[str]:
    raw = pack.ids()
    return [raw[i : i + 20].hex() for i in range(0, len(raw), 20)]


def mark_holder(mark: str) -> str:
    """``host, pid N`` of a mark ``host/pid/token``."""
    host, _, rest = mark.partition("/")
    pid = rest.partition("/")[0]
    return f"{host}, pid {pid}" if pid else host


def _alive(mark: str, quiet_ms: int | None) -> bool:
    """Whether the migration that set ``mark`` may still be running: on this host, whether its process
    is; on another, whether it wrote in the last :data:`STALE_AFTER` seconds."""
    host, _, rest = mark.partition("/")
    pid_text = rest.partition("/")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return mark in _RUNNING
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return quiet_ms is None or quiet_ms < STALE_AFTER * 1000
