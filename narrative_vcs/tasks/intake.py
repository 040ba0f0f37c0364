"""Event intake: :func:`submit` commits events inline or queues them for the workers.

Without a Redis URL (the embedded default) the repository at ``location`` is opened and
``ingest_many`` commits the events now. With one, the events are appended to the story's intake queue in
Redis (:mod:`.queue`), a drain of each partition that got some is queued for the Celery workers
(:mod:`.app`), and each event's receipt says ``queued``; with ``wait`` the call waits (at most that many
seconds) for the workers' outcomes. The CLI (``gvcs event emit``), the GraphQL mutation ``emitEvent``
and ``POST /events/{topic}`` all come here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from narrative_vcs.errors import GvcsError
from narrative_vcs.types import ObjectId

from ..records import record
from .keys import open_location

if TYPE_CHECKING:
    from celery import Celery

    from narrative_vcs.events import Event, Ingested
    from narrative_vcs.repository import Repository

    from .keys import Keys
    from .queue import PartitionQueue

__all__ = ["STATUSES", "QueueUnavailable", "Receipt", "StillQueued", "poll", "submit"]

#: queued: in Redis, not committed yet; committed; duplicate: the same event was already in the branch's
#: history (nothing new was committed, ``commit`` is that one); conflict: its id was, for another event
#: (nothing was committed, ``commit`` holds the id, ``code`` is CONFLICT); refused: the events core
#: refused it (``error``, ``code``).
STATUSES = ("queued", "committed", "duplicate", "conflict", "refused")


class StillQueued(GvcsError):
    """The event is queued and no worker committed it within the wait (it may still be committed)."""

    exit_code = 1
    code = "QUEUED"


class QueueUnavailable(GvcsError):
    """Redis cannot be reached: nothing was queued."""

    exit_code = 1
    code = "UNAVAILABLE"


def _error_classes() -> dict[str, type[GvcsError]]:
    """The most general error class of each code that is made from a message alone (``REFUSED`` is
    :class:`Refused`, not a subclass; ``CONFLICT`` is :class:`Conflict`, not :class:`BranchMoved`)."""
    found: dict[str, type[GvcsError]] = {}
    todo: list[type[GvcsError]] = [GvcsError]
    while todo:
        cls = todo.pop(0)
        if cls.__init__ is GvcsError.__init__:
            found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


@record
class Receipt:
    """What became of one submitted event (so far)."""

    event: str  # the event's id
    status: str  # one of STATUSES
    branch: str | None = None
    commit: str | None = None
    error: str | None = None
    code: str | None = None

    @property
    def done(self) -> bool:
        return self.status != "queued"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "status": self.status,
            "branch": self.branch,
            "commit": self.commit,
            "error": self.error,
            "code": self.code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Receipt:
        return cls(
            str(data["event"]),
            str(data["status"]),
            data.get("branch"),
            data.get("commit"),
            data.get("error"),
            data.get("code"),
        )

    def error_value(self) -> GvcsError | None:
        """The error of a refused event (or of a failed follow-up) as the core raised it, by its code."""
        if self.error is None and self.status not in ("refused", "conflict"):
            return None
        cls = _error_classes().get(self.code or "", GvcsError)
        return cls(self.error or "refused")

    def ingested(self, event: Event) -> Ingested:
        """This final receipt as the core's result for ``event``; :class:`StillQueued` while queued."""
        from narrative_vcs.events import Ingested

        if not self.done:
            raise StillQueued(f"event {self.event} is queued: the workers have not committed it yet")
        # A conflict's commit holds the id for another event: nothing was committed for this one.
        commit = ObjectId(self.commit) if self.commit and self.status != "conflict" else None
        return Ingested(event, self.branch or "", commit, self.status == "duplicate", self.error_value())

    @classmethod
    def of(cls, ingested: Ingested) -> Receipt:
        from .drain import outcome_json

        return cls.from_json(outcome_json(ingested))


def submit(
    location: str,
    events: Sequence[Event],
    *,
    redis_url: str | None,
    wait: float | None = None,
    repo: Repository | None = None,
) -> list[Receipt]:
    """Commit ``events`` to the story at ``location`` (a repository directory or a ``neo4j://`` URI).

    ``redis_url`` None: inline, through ``ingest_many`` (``repo``, if given, is used instead of opening
    ``location``); the receipts are final. Otherwise queued for the workers: the receipts say ``queued``,
    or with ``wait`` (seconds) the outcome of each event that the workers reached in that time.
    Receipts are in the order of ``events``.
    """
    if not events:
        return []
    if redis_url is None:
        return _inline(location, events, repo)
    import redis

    try:
        return _queued(location, events, redis_url, wait)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        where = redis_url.split("@")[-1]
        raise QueueUnavailable(f"cannot queue events: Redis at {where} does not answer ({exc})") from None


def _inline(location: str, events: Sequence[Event], repo: Repository | None) -> list[Receipt]:
    from narrative_vcs.events import ingest_many

    if repo is not None:
        return [Receipt.of(i) for i in ingest_many(repo, list(events))]
    opened = open_location(location)
    try:
        return [Receipt.of(i) for i in ingest_many(opened, list(events))]
    finally:
        opened.close()


# --- through Redis ----------------------------------------------------------------------------------


@record(frozen=False)
class _Intake:
    app: Celery
    keys: Keys
    queue: PartitionQueue


_intakes: dict[tuple[str, str], _Intake] = {}
_lock = threading.Lock()


def _intake(redis_url: str, location: str) -> _Intake:
    """The producer side for a story, one per (Redis, location) and process."""
    with _lock:
        found = _intakes.get((redis_url, location))
        if found is None:
            from .app import producer
            from .pubsub import redis_client
            from .queue import PartitionQueue

            app, keys = producer(redis_url, location)
            found = _Intake(app, keys, PartitionQueue(redis_client(redis_url), keys))
            _intakes[(redis_url, location)] = found
        return found


def _queued(location: str, events: Sequence[Event], redis_url: str, wait: float | None) -> list[Receipt]:
    from .app import DRAIN

    intake = _intake(redis_url, location)
    items = [
        (e.id, e.actor, json.dumps(e.to_json(), separators=(",", ":"), ensure_ascii=False)) for e in events
    ]
    queued = intake.queue.push(items)
    for partition in queued.to_drain:
        intake.app.send_task(DRAIN, args=[intake.keys.store, partition], queue=intake.keys.queue)
    receipts = [Receipt(e.id, "queued", e.branch) for e in events]
    if wait is None or wait <= 0:
        return receipts
    return _wait(intake.queue, receipts, wait)


def poll(location: str, receipts: Sequence[Receipt], *, redis_url: str) -> list[Receipt]:
    """The receipts again, with the outcome of each queued event that a worker has reached (one look)."""
    return _poll(_intake(redis_url, location).queue, receipts)


def _poll(queue: PartitionQueue, receipts: Sequence[Receipt]) -> list[Receipt]:
    updated = list(receipts)
    waiting = [i for i, r in enumerate(updated) if not r.done]
    if waiting:
        found = queue.outcomes([updated[i].event for i in waiting])
        for i, outcome in zip(waiting, found, strict=True):
            if outcome is not None:
                updated[i] = Receipt.from_json(outcome)
    return updated


def _wait(queue: PartitionQueue, receipts: list[Receipt], timeout: float) -> list[Receipt]:
    """Poll the recorded outcomes until every event has one or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        receipts = _poll(queue, receipts)
        if all(r.done for r in receipts) or time.monotonic() >= deadline:
            return receipts
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.2)
