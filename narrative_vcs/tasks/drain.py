"""A worker's drain of one partition of the intake queue (no Celery here: :mod:`.app` calls it).

    take the partition's lock (else clear the pending flag, try once more, and leave it to the holder)
    clear the pending flag (intake queues a new drain for what arrives from now on)
    repeat until the partition is empty or the time budget is spent:
        read the oldest N events                     LRANGE (nothing removed)
        ingest_many(repo, events), branch by branch  group commit per branch, idempotent by event id,
                                                     under the branch's lock; locks renewed meanwhile
        remove those N and record their outcomes     Lua: only if this worker still holds the lock
        publish the moved branches                   pub/sub, a wake-up for every server
    release the lock
    if events are left: set the pending flag and queue another drain (through ``requeue``)

Where a kill (SIGKILL, power loss) can land, and why nothing is lost or duplicated:

1. before the lock is taken: nothing happened. The events stay in the list; the drain's message is
   redelivered (``task_acks_late``), the restarted worker sweeps on start, and beat sweeps.
2. holding the lock, before or during ``ingest_many``: some events may be committed, some not; the list
   is unchanged. The lock dies with the process (broken at once by a worker of the same host, else after
   its ttl); the next drain reads the same events and the events core commits only those whose id is not
   in the branch's history yet, in the same order.
3. after the commit, before the Lua removal: as 2, every event is found committed (duplicate, no commit).
4. after the removal, before publishing: the commits are in the store; servers see them at their next
   look at the heads (the feed polls), only later than at once.
5. after the lock's release, before the message is acknowledged: the redelivered drain finds nothing.

A worker that is alive but was too slow (its lock expired and another worker took the partition) cannot
remove anything: the removal checks the lock, and the events it committed meanwhile are duplicates for
the other worker. Each actor's events are in one partition, drained by one worker at a time in list
order, so they are committed in the order they were submitted.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..records import field, record
from .queue import Outcome, PartitionQueue

if TYPE_CHECKING:
    from narrative_vcs.events import Event, Ingested
    from narrative_vcs.repository import Repository

__all__ = ["DrainReport", "drain_partition", "outcome_json"]

log = logging.getLogger("gvcs.tasks")


@record(frozen=False)
class DrainReport:
    """What one drain did."""

    partition: int
    locked: bool = True  # False: another worker held the partition
    batches: int = 0
    committed: int = 0
    duplicates: int = 0
    conflicts: int = 0  # an event id already committed for another event
    refused: int = 0
    lost_lock: bool = False
    left: int = 0
    branches: set[str] = field(default_factory=set)


def outcome_json(ingested: Ingested) -> dict[str, Any]:
    """An event's outcome as intake reports it (``Receipt.from_json``). A conflict's ``commit`` is the
    commit that holds the event id (for another event); nothing was committed for this one."""
    from narrative_vcs.events.model import EventConflict

    error = ingested.error
    commit: str | None = ingested.commit
    if isinstance(error, EventConflict):
        status, commit = "conflict", error.commit
    elif ingested.commit is None and error is not None:
        status = "refused"
    elif ingested.duplicate:
        status = "duplicate"
    else:  # an error with a commit: the event is in, a follow-up of it failed (sending it again retries)
        status = "committed"
    return {
        "event": ingested.event.id,
        "status": status,
        "branch": ingested.branch,
        "commit": commit,
        "error": str(error).splitlines()[0] if error is not None and str(error) else None,
        "code": getattr(error, "code", None) if error is not None else None,
    }


def _parse(raw: list[bytes]) -> tuple[list[Event], list[Outcome]]:
    """The events of a batch; one that no longer parses (it was validated at intake) is refused."""
    from narrative_vcs.events import Event
    from narrative_vcs.events.model import MAX_EVENT_JSON
    from narrative_vcs.limits import load_json

    events: list[Event] = []
    bad: list[Outcome] = []
    for item in raw:
        data: Any = None
        try:
            data = load_json(item, "event", max_bytes=MAX_EVENT_JSON)
            events.append(Event.from_json(data))
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else "unreadable event"
            log.error("dropping an unreadable event from the queue: %s", message)
            event_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(event_id, str):
                outcome = {"event": event_id, "status": "refused", "error": message, "code": "BAD_INPUT"}
                bad.append(Outcome(event_id, outcome))
    return events, bad


@contextlib.contextmanager
def _kept_alive(renew: Callable[[], bool], ttl: float, what: str) -> Iterator[None]:
    """Renew a lock every ttl/3 while a batch is committed, however long it takes: only the lock of a
    dead (or stopped) worker expires."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(ttl / 3):
            try:
                if not renew():
                    return
            except Exception as exc:  # Redis away for a moment: the next renewal may succeed
                log.warning("%s: renewing the lock failed: %s", what, exc)

    thread = threading.Thread(target=loop, name=f"gvcs-renew {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _ingest(
    repo: Repository, queue: PartitionQueue, events: list[Event], token: str, ttl: float
) -> list[Ingested]:
    """``ingest_many`` one branch at a time (branches in order of first appearance, as ``ingest_many``
    itself goes), each under the branch's lock in Redis.

    The lock only spares work: two workers committing to one branch at once would each compute their
    group on a head that the other moves, and compute it again (the compare-and-swap of the ref keeps it
    correct either way). A worker that cannot get a branch's lock within ``ttl`` goes on without it.
    """
    from narrative_vcs.errors import GvcsError
    from narrative_vcs.events import ingest_many, target_branch

    groups: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        try:
            branch = target_branch(repo, event)
        except GvcsError:
            branch = ""  # ingest_many says why
        groups.setdefault(branch, []).append(i)
    results: list[Ingested | None] = [None] * len(events)
    for branch, positions in groups.items():
        held = bool(branch) and queue.acquire_branch(branch, token, ttl, wait=ttl)

        def renew(branch: str = branch, held: bool = held) -> bool:
            return held and queue.renew_branch(branch, token, ttl)

        try:
            with _kept_alive(renew, ttl, f"branch {branch}"):
                found = ingest_many(repo, [events[i] for i in positions])
        finally:
            if held:
                queue.release_branch(branch, token)
        for i, result in zip(positions, found, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


def drain_partition(
    repo: Repository,
    queue: PartitionQueue,
    partition: int,
    token: str,
    *,
    batch: int = 500,
    budget: float = 2.0,
    lock_ttl: float = 30.0,
    publish: Callable[[set[str]], None] | None = None,
    requeue: Callable[[int], None] | None = None,
) -> DrainReport:
    """Drain ``partition`` for up to ``budget`` seconds (see the module's description)."""
    report = DrainReport(partition)
    if not queue.acquire(partition, token, lock_ttl):
        # The holder looks at the list again after it releases the lock; clearing the flag first
        # means intake queues a new drain for anything it appends after the holder's last look.
        queue.clear_pending(partition)
        if not queue.acquire(partition, token, lock_ttl):
            report.locked = False
            return report
    deadline = time.monotonic() + budget
    try:
        queue.clear_pending(partition)
        while not report.lost_lock:
            raw = queue.read(partition, batch)
            if not raw:
                break
            events, outcomes = _parse(raw)
            moved: set[str] = set()
            if events:
                if not queue.renew(partition, token, lock_ttl):
                    report.lost_lock = True
                    break

                def renew() -> bool:
                    return queue.renew(partition, token, lock_ttl)

                with _kept_alive(renew, lock_ttl, f"partition {partition}"):
                    results = _ingest(repo, queue, events, token, lock_ttl)
                for ingested in results:
                    data = outcome_json(ingested)
                    # Outcomes are kept by event id. A duplicate keeps the outcome of the first delivery;
                    # a conflict replaces it, so that its sender cannot read "committed" (when both
                    # events came in one batch, both senders then read the conflict).
                    outcomes.append(Outcome(ingested.event.id, data, keep_older=ingested.duplicate))
                    if data["status"] == "conflict":
                        report.conflicts += 1
                    elif data["status"] == "refused":
                        report.refused += 1
                    elif ingested.duplicate:
                        report.duplicates += 1
                    else:
                        report.committed += 1
                        moved.add(ingested.branch)
            left = queue.complete(partition, token, len(raw), outcomes, lock_ttl)
            report.batches += 1
            report.branches |= moved
            if publish is not None and moved:
                publish(moved)  # also after a lost lock: the commits are made
            if left < 0:
                report.lost_lock = True
            elif left == 0 or time.monotonic() >= deadline:
                break
    finally:
        if not report.lost_lock:
            queue.release(partition, token)
    report.left = queue.length(partition)
    if report.lost_lock:
        log.warning("partition %d: the lock expired during a batch; its events stay queued", partition)
    if report.left and requeue is not None:
        # Hand the rest on: a drain is queued unless one already is (the pending flag); after a lost
        # lock, unless a live worker holds the partition (it looks again when it releases it).
        if report.lost_lock:
            if not queue.locked(partition) and queue.mark_pending(partition, force=True):
                requeue(partition)
        elif queue.mark_pending(partition):
            requeue(partition)
    return report
