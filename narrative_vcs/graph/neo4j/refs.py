"""Refs as ``(:Ref)`` nodes (also ``:Branch`` or ``:Tag``), moved by compare-and-swap in one transaction
that takes the ref's write lock, compares and writes; a branch move also moves its ``HEAD`` and
``HAS_PAGE`` edges."""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...errors import BadInput, BranchMoved, CorruptObject, NotFound
from ...objects import Commit
from ...refs import HEADS, TAGS, GroupQueue, ReflogEntry, RefMove, RefStore, check_moves
from ...types import ZERO_ID, ObjectId, RefName
from .objects import Neo4jObjectStore
from .projection import version_id
from .queue import Neo4jGroupQueue
from .server import Neo4jServer, _statement

if TYPE_CHECKING:
    import neo4j


class Neo4jRefStore(RefStore):
    """Refs as ``(:Ref)`` nodes; every update is a compare-and-swap inside one write transaction."""

    def __init__(self, server: Neo4jServer, objects: Neo4jObjectStore | None = None) -> None:
        self.server = server
        self._objects = objects
        # Where each ref pointed when this process last read or moved it (see last_known).
        self._known: dict[RefName, ObjectId | None] = {}
        self._queue = Neo4jGroupQueue(server, objects) if objects is not None else None

    def _resolve(self, name: RefName) -> RefName:
        target = self.get_symbolic(name)
        return target if target is not None else name

    def get(self, name: RefName) -> ObjectId | None:
        ref = self._resolve(name)
        rows = self.server.query("refs/get", ref=str(ref))
        value = self._known[ref] = ObjectId(rows[0]["target"]) if rows else None
        return value

    def last_known(self, name: RefName) -> ObjectId | None:
        """Without a round trip when this process has read or moved the ref before (a group commit
        on a branch this server writes finds its head here; a stale one fails its compare-and-swap,
        which tells the value found)."""
        ref = self._resolve(name)
        if ref in self._known:
            return self._known[ref]
        return self.get(ref)

    def group_queue(self) -> GroupQueue | None:
        return self._queue

    def moved(self, moves: Sequence[RefMove]) -> None:
        for move in moves:
            self._known[move.ref] = move.new

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
        self.moved(moves)

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
                self._known[name] = current
                raise BranchMoved(name, old, current)
            tx.run(_statement("refs/delete"), ref=name).consume()
            return
        if old is None:
            current = self._current(tx, name)
            if current is not None:
                self._known[name] = current
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
            self._known[name] = current
            raise BranchMoved(name, old, current)  # rolls the transaction back

    @staticmethod
    def _current(tx: neo4j.ManagedTransaction, name: RefName) -> ObjectId | None:
        row = tx.run(_statement("refs/get"), ref=name).single()
        return None if row is None else ObjectId(row["target"])

    def _page_changes(
        self, name: RefName, old: ObjectId | None, new: ObjectId | None
    ) -> tuple[list[str], list[str]]:
        """The page versions a branch stops and starts holding when it moves from ``old`` to ``new``."""
        if self._objects is None or not name.startswith(HEADS) or new is None:
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
        for change in self._objects.snapshots.diff(old_tree, new_tree):
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
                self._known[name] = current
                raise BranchMoved(name, old, current)
            tx.run(_statement("refs/delete"), ref=name).consume()

        self.server.write(work)
        self._known[name] = None

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
