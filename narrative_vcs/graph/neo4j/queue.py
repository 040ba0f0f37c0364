"""Group commits across processes (:class:`~narrative_vcs.refs.GroupQueue`) on Neo4j.

Several servers writing one branch each group their own writers, and their groups race for the ref:
every lost compare-and-swap is a group worked out and written for nothing. Once a process has lost a
branch to another, it queues its groups instead: the change sets become ``(:QueuedCommit)`` nodes
(one transaction), then the process waits for the branch's turn, a write transaction that first
takes the lock of the branch's ``(:QueueTurn)`` node (``queue/turn``), so turns come one after the
other. The process whose turn it is builds every change set queued for the branch, its own and the
other processes', on the head, and writes them in that same transaction as any writer does (the
counter's lock, then the ref's, by compare-and-swap; nobody else takes a turn's lock, so no two
writers ever wait on each other in a circle): the objects, the projection, one compare-and-swap of
the ref, and a ``(:QueuedResult)`` for each change set of another process. Those processes, when
their turn comes, find their results and are done; the database's lock queue is how they are woken.
A writer that did not queue may move the ref during a turn: the turn's compare-and-swap fails,
nothing of it is written, and it is taken again. A kill anywhere leaves either nothing or a whole
turn; a change set whose process died after queuing it is written by the next turn (it was never
acknowledged; its result waits ten minutes for nobody).
"""

from __future__ import annotations

import builtins
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ...errors import Refused
from ...refs import GroupQueue
from ...types import ObjectId, RefName
from .objects import Neo4jObjectStore
from .server import Neo4jServer, _statement

if TYPE_CHECKING:
    import neo4j

__all__ = ["Neo4jGroupQueue"]

#: After a group lost its branch to another process, how many of this process's next groups on that
#: branch queue first; each turn that finds another process's change sets queued starts the count again.
BUSY_GROUPS = 32
#: Results nobody came for (their process died while waiting) are dropped after this long (ms).
STALE_RESULTS_MS = 10 * 60 * 1000


class Neo4jGroupQueue(GroupQueue):
    def __init__(self, server: Neo4jServer, objects: Neo4jObjectStore) -> None:
        self.server = server
        self.objects = objects
        self._busy: dict[RefName, int] = {}
        self._lock = threading.Lock()

    def busy(self, ref: RefName) -> bool:
        with self._lock:
            left = self._busy.get(ref, 0)
            if left <= 0:
                return False
            self._busy[ref] = left - 1
            return True

    def contended(self, ref: RefName) -> None:
        with self._lock:
            self._busy[ref] = BUSY_GROUPS

    def submit(self, ref: RefName, payloads: Sequence[bytes]) -> builtins.list[str] | None:
        batch = uuid.uuid4().hex
        tickets = [f"{batch}:{i:06d}" for i in range(len(payloads))]
        items = [{"ticket": t, "payload": bytes(p)} for t, p in zip(tickets, payloads, strict=True)]

        def work(tx: neo4j.ManagedTransaction) -> bool:
            row = tx.run(_statement("queue/submit"), ref=str(ref), items=items, at=_now_ms()).single()
            return row is not None and row["queued"] > 0

        return tickets if self.server.write(work) else None

    def take_turn(
        self,
        ref: RefName,
        tickets: Sequence[str],
        combine: Callable[[ObjectId, builtins.list[bytes]], builtins.list[bytes]],
    ) -> builtins.list[bytes] | None:
        mine = list(tickets)
        ours = set(mine)
        after: list[Callable[[], None]] = []

        def work(tx: neo4j.ManagedTransaction) -> builtins.list[bytes] | None:
            after.clear()
            row = tx.run(_statement("queue/turn"), ref=str(ref)).single()
            if row is None:  # the ref was deleted (or its queue cleared): nothing of ours is written
                tx.run(_statement("queue/withdraw"), tickets=mine).consume()
                return None
            head = ObjectId(row["target"])
            rows = tx.run(_statement("queue/results"), tickets=mine)
            found = {r["ticket"]: bytes(r["result"]) for r in rows}
            if found:  # another process's turn wrote ours
                if len(found) != len(mine):
                    raise Refused(f"{ref}: a queued group came back incomplete; nothing more was written")
                return [found[t] for t in mine]
            rows = tx.run(_statement("queue/pending"), ref=str(ref))
            queued = [(r["ticket"], bytes(r["payload"])) for r in rows]
            taken = {t for t, _ in queued}
            if not ours <= taken:
                raise Refused(f"{ref}: a queued group is neither queued nor written; nothing was written")
            if len(taken) > len(mine):
                self.contended(ref)  # other processes are writing this branch too
            with self.objects.within(tx) as steps:
                results = combine(head, [p for _, p in queued])
                after.extend(steps)
            if len(results) != len(queued):
                raise ValueError("a queued group's combine must return one result per change set")
            by_ticket = {t: r for (t, _), r in zip(queued, results, strict=True)}
            now = _now_ms()
            theirs = [{"ticket": t, "result": r} for t, r in by_ticket.items() if t not in ours]
            tx.run(
                _statement("queue/finish"),
                taken=sorted(taken),
                results=theirs,
                at=now,
                stale=now - STALE_RESULTS_MS,
            ).consume()
            return [by_ticket[t] for t in mine]

        results = self.server.write(work)
        for step in after:
            step()
        return results  # type: ignore[no-any-return]


def _now_ms() -> int:
    return int(time.time() * 1000)
