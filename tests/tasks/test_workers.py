"""Real Celery workers over a real Redis: kills, several workers, the queue's own guarantees."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from narrative_vcs.tasks.intake import Receipt, submit
from narrative_vcs.tasks.keys import Keys, store_id
from narrative_vcs.tasks.pubsub import redis_client
from narrative_vcs.tasks.queue import PartitionQueue
from tests.tasks.conftest import Workers, history
from tests.tasks.test_intake import emit

pytestmark = pytest.mark.redis


def queue_of(story: Path, redis_url: str) -> PartitionQueue:
    return PartitionQueue(redis_client(redis_url), Keys(store_id(str(story))))


def wait_for_outcomes(
    queue: PartitionQueue, ids: list[str], timeout: float
) -> list[dict[str, object] | None]:
    deadline = time.monotonic() + timeout
    while True:
        found = queue.outcomes(ids)
        if all(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def check_exactly_once_in_order(story: Path, ids: list[str]) -> None:
    committed = [i for i in history(story) if i is not None]
    counts = Counter(committed)
    assert [i for i, n in counts.items() if n > 1] == [], "duplicated events"
    assert sorted(set(ids) - set(committed)) == [], "lost events"
    by_actor: dict[str, list[str]] = {}
    for event_id in committed:
        by_actor.setdefault(event_id.rsplit(".", 1)[0], []).append(event_id)
    for actor, mine in by_actor.items():
        assert mine == sorted(mine), f"{actor}'s events out of order"


def test_a_worker_killed_while_draining_loses_and_duplicates_nothing(
    story: Path, workers: Workers, redis_url: str
) -> None:
    queue = queue_of(story, redis_url)
    first = workers.start("--batch", "10")
    events = [emit(f"actor-{a:02d}", n) for n in range(120) for a in range(12)]
    ids = [e.id for e in events]
    receipts: list[Receipt] = submit(str(story), events, redis_url=redis_url)
    assert {r.status for r in receipts} == {"queued"}
    deadline = time.monotonic() + 60
    while not any(queue.outcomes(ids[:: len(ids) // 200])):  # some batch was committed: it is draining
        assert time.monotonic() < deadline, first.output()[-3000:]
        time.sleep(0.005)
    first.kill()
    left = sum(queue.lengths())
    assert left > 0, "the worker finished before it was killed"
    workers.start("--batch", "10")  # breaks the dead worker's lock, sweeps on start
    found = wait_for_outcomes(queue, ids, 90)
    assert all(found), f"{sum(1 for f in found if f is None)} events without an outcome"
    assert sum(queue.lengths()) == 0
    check_exactly_once_in_order(story, ids)


def test_two_workers_share_the_queue(story: Path, workers: Workers, redis_url: str) -> None:
    one, two = workers.start("--batch", "50"), workers.start("--batch", "50")
    events = [emit(f"actor-{a:02d}", n) for n in range(40) for a in range(24)]
    ids = [e.id for e in events]
    for start in range(0, len(events), 100):  # as several clients would, in pieces
        submit(str(story), events[start : start + 100], redis_url=redis_url)
    queue = queue_of(story, redis_url)
    found = wait_for_outcomes(queue, ids, 90)
    assert all(found), f"{sum(1 for f in found if f is None)} events without an outcome"
    assert {f["status"] for f in found if f} == {"committed"}
    check_exactly_once_in_order(story, ids)
    drained = [w for w in (one, two) if "committed" in w.output()]
    assert len(drained) == 2, "one worker did all the work"


def test_the_benchmark_runs_on_tiny_sizes(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.events_load end to end (no timing asserted): every event committed once."""
    from bench import events_load

    monkeypatch.setenv("GVCS_BENCH_REDIS_URL", redis_url)
    result = events_load.run(120, 2, 50, 6, 6)
    assert (result["duplicates"], result["losses"], result["unfinished"], result["refused"]) == (0, 0, 0, 0)
    assert set(result["topics"]) == {"gift.txn.v1", "agent.emit.v1", "infra.spore.v1"}
