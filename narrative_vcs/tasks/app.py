"""The Celery application of one story: settings, tasks, the worker's signals and the beat schedule.

A worker serves one story (``gvcs worker -C DIR`` or ``--store URI``): its tasks carry no location, they
come from the story's own queue (``gvcs.<store id>``), and the worker opens the repository itself, once
per process. The durable state is not in Celery's messages but in the intake queue (:mod:`.queue`): a
message only says "drain partition k", so a lost, repeated or late message costs a little time, never an
event.

Tasks:

``gvcs.drain(store, partition)``   drain a partition (:func:`.drain.drain_partition`)
``gvcs.sweep(store)``              queue a drain for every partition that has events and no live holder
                                   (beat, every ``sweep_interval`` s; and on the worker's start)
``gvcs.close_expired(store)``      close expired governance proposals (beat, every ``expire_interval`` s)

Settings: JSON messages only; ``task_acks_late`` and ``task_reject_on_worker_lost`` (a message is
acknowledged after its task ran, so a killed worker's message is delivered again); prefetch 1; the
broker's visibility timeout (after it an unacknowledged message is delivered again) is short because a
repeated drain is harmless; no result backend: outcomes are per event, recorded by the drain itself
(:meth:`.queue.PartitionQueue.outcomes`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import record
from .keys import Keys, store_id
from .queue import PartitionQueue, holder_token

if TYPE_CHECKING:
    from celery import Celery

    from narrative_vcs.repository import Repository

__all__ = ["DRAIN", "EXPIRE", "SWEEP", "Settings", "from_environment", "make_app", "producer"]

log = logging.getLogger("gvcs.tasks")

DRAIN = "gvcs.drain"
SWEEP = "gvcs.sweep"
EXPIRE = "gvcs.close_expired"


@record
class Settings:
    """How a worker drains (the defaults suit a 2-core machine; see docs/tasks.md)."""

    batch: int = 500  # events per ingest_many
    budget: float = 2.0  # seconds a drain goes on before it hands the partition back to the queue
    lock_ttl: float = 30.0  # seconds a partition's lock lives without renewal (renewed every batch)
    visibility_timeout: float = 60.0  # seconds before the broker delivers an unacknowledged message again
    sweep_interval: float = 5.0  # beat: look for partitions that have events and nobody draining them
    expire_interval: float = 60.0  # beat: close expired proposals


class _Worker:
    """What a worker process keeps: the repository, the Redis client, the queue (opened on first use,
    after the fork of a prefork pool)."""

    def __init__(self, redis_url: str, location: str, keys: Keys) -> None:
        self.redis_url = redis_url
        self.location = location
        self.keys = keys
        self.pid = -1
        self._repo: Repository | None = None
        self._queue: PartitionQueue | None = None

    def _check_fork(self) -> None:
        if self.pid != os.getpid():  # a fresh process: nothing of the parent's is reused
            self.pid = os.getpid()
            self._repo = None
            self._queue = None

    @property
    def repo(self) -> Repository:
        self._check_fork()
        if self._repo is None:
            from .keys import open_location

            self._repo = open_location(self.location)
        return self._repo

    @property
    def queue(self) -> PartitionQueue:
        self._check_fork()
        if self._queue is None:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=5, health_check_interval=30)
            self._queue = PartitionQueue(client, self.keys)
        return self._queue


def _celery(redis_url: str, keys: Keys, settings: Settings) -> Celery:
    from celery import Celery

    app = Celery(f"gvcs-{keys.store}", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=keys.queue,
        task_create_missing_queues=True,
        worker_prefetch_multiplier=1,
        # Task events (received, started, succeeded, failed; and sent, from intake) for celery events
        # and Flower: a few small messages per drain, next to the drain's own Redis round trips.
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        beat_scheduler="celery.beat:Scheduler",  # the schedule lives in memory: no file to write
        timezone="UTC",
    )
    return app


def producer(redis_url: str, location: str) -> tuple[Celery, Keys]:
    """A Celery app that only sends tasks to the story's workers (intake)."""
    keys = Keys(store_id(location))
    return _celery(redis_url, keys, Settings()), keys


def make_app(redis_url: str, location: str, settings: Settings | None = None) -> Celery:
    """The worker's Celery app for the story at ``location`` (a repository directory or a URI)."""
    from celery import signals

    settings = settings or Settings()
    keys = Keys(store_id(location))
    app = _celery(redis_url, keys, settings)
    worker = _Worker(redis_url, location, keys)
    app.conf.beat_schedule = {
        "gvcs-sweep": {
            "task": SWEEP,
            "schedule": settings.sweep_interval,
            "args": [keys.store],
            "options": {"queue": keys.queue, "expires": settings.sweep_interval * 2},
        },
        "gvcs-close-expired": {
            "task": EXPIRE,
            "schedule": settings.expire_interval,
            "args": [keys.store],
            "options": {"queue": keys.queue, "expires": settings.expire_interval},
        },
    }

    def send_drain(partition: int) -> None:
        app.send_task(DRAIN, args=[keys.store, partition], queue=keys.queue)

    def sweep() -> list[int]:
        """Queue a drain for every partition with events and no live holder."""
        queue = worker.queue
        queued = []
        for partition, length in enumerate(queue.lengths()):
            if length and not queue.locked(partition):
                queue.mark_pending(partition, force=True)
                send_drain(partition)
                queued.append(partition)
        return queued

    def mine(store: str) -> bool:
        if store != keys.store:
            log.error("a task for store %s reached the worker of store %s: dropped", store, keys.store)
            return False
        return True

    @app.task(name=DRAIN, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def drain(self: Any, store: str, partition: int) -> dict[str, Any] | None:
        from narrative_vcs.tasks.drain import drain_partition
        from narrative_vcs.tasks.pubsub import publish_commits

        if not mine(store):
            return None
        queue = worker.queue
        report = drain_partition(
            worker.repo,
            queue,
            int(partition),
            holder_token(),
            batch=settings.batch,
            budget=settings.budget,
            lock_ttl=settings.lock_ttl,
            publish=lambda branches: _quietly(publish_commits, queue.client, keys, branches),
            requeue=send_drain,
        )
        if report.committed or report.duplicates or report.conflicts or report.refused:
            log.info(
                "partition %d: %d committed, %d duplicates, %d conflicts, %d refused in %d batches; %d left",
                partition,
                report.committed,
                report.duplicates,
                report.conflicts,
                report.refused,
                report.batches,
                report.left,
            )
        return None

    @app.task(name=SWEEP, ignore_result=True)  # type: ignore[untyped-decorator]
    def sweep_task(store: str) -> None:
        if mine(store):
            queued = sweep()
            if queued:
                log.info("sweep: queued drains of partitions %s", queued)

    @app.task(name=EXPIRE, ignore_result=True)  # type: ignore[untyped-decorator]
    def close_expired_task(store: str) -> None:
        if not mine(store):
            return
        try:
            from narrative_vcs.governance import close_expired  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            return  # no governance in this version
        closed = close_expired(worker.repo)
        if closed:
            log.info("closed expired proposals: %s", closed)

    @signals.worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def on_ready(sender: Any = None, **kwargs: Any) -> None:
        """After a restart (a kill, say), take up at once what waits, instead of at the next sweep."""
        if sender is not None and getattr(sender, "app", None) is not app:
            return
        try:
            queued = sweep()
        except Exception:
            log.exception("the start-up sweep failed; beat or the next intake will queue the drains")
            return
        log.info(
            "gvcs worker ready for store %s (%s); queued drains of partitions %s",
            keys.store,
            worker.location,
            queued,
        )

    app.gvcs_keys = keys
    app.gvcs_settings = settings
    return app


REDIS_ENV = "GVCS_REDIS_URL"
STORE_ENV = "GVCS_STORE"


def from_environment(environ: Mapping[str, str], cwd: Path) -> Celery:
    """The story's Celery app as Celery's own commands find it (``celery -A narrative_vcs.tasks.app``).

    The broker is ``$GVCS_REDIS_URL`` (as for ``gvcs worker`` and intake); the story is ``$GVCS_STORE``
    (a ``neo4j://`` URI or a repository directory), else the repository that holds ``cwd``. Outside a
    story the app knows no tasks but still reaches the broker: enough for ``inspect``, ``control``,
    ``events`` and Flower, which watch every story's workers on that Redis.
    """
    from narrative_vcs.errors import BadInput

    url = environ.get(REDIS_ENV) or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BadInput(
            f"celery -A narrative_vcs.tasks.app needs {REDIS_ENV}=redis://host:6379/0 (got {url!r})"
        )
    location = environ.get(STORE_ENV) or _story_of(cwd)
    if location is None:
        return _celery(url, Keys("none"), Settings())
    return make_app(url, location)


def _story_of(cwd: Path) -> str | None:
    from narrative_vcs.errors import GvcsError
    from narrative_vcs.graph.factory import find_root

    try:
        return str(find_root(cwd))
    except GvcsError:
        return None


_module_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    """``app``: the module-level app of :func:`from_environment`, made on first use (importing this
    module reads no environment and imports no celery)."""
    global _module_app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _module_app is None:
        _module_app = from_environment(os.environ, Path.cwd())
    return _module_app


def _quietly(fn: Any, *args: Any) -> None:
    """Publishing is a courtesy (servers also poll): a failure is logged, never raised."""
    try:
        fn(*args)
    except Exception as exc:
        log.warning("publishing to Redis failed: %s", exc)
