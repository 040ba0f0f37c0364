"""The intake queue's own rules, on the real Redis (no worker)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from narrative_vcs.tasks.keys import Keys, partition_of
from narrative_vcs.tasks.pubsub import redis_client
from narrative_vcs.tasks.queue import Outcome, PartitionQueue, holder_token

pytestmark = pytest.mark.redis


@pytest.fixture
def queue(redis_url: str) -> Iterator[PartitionQueue]:
    keys = Keys(f"test-{uuid.uuid4().hex[:12]}")
    client = redis_client(redis_url)
    yield PartitionQueue(client, keys)
    found = list(client.scan_iter(match=f"{keys.prefix}:*"))
    if found:
        client.delete(*found)


def test_push_keeps_order_and_asks_for_one_drain_per_partition(queue: PartitionQueue) -> None:
    first = queue.push([("e1", "ada", "1"), ("e2", "ada", "2"), ("e3", "bob", "3")])
    partitions = {partition_of("ada"), partition_of("bob")}
    assert set(first.partitions) == partitions and set(first.to_drain) == partitions
    again = queue.push([("e4", "ada", "4")])
    assert again.to_drain == ()  # a drain is already queued
    assert partition_of("ada") != partition_of("bob")
    assert queue.read(partition_of("ada"), 10) == [b"1", b"2", b"4"]
    queue.clear_pending(partition_of("ada"))
    assert queue.push([("e5", "ada", "5")]).to_drain == (partition_of("ada"),)


def test_only_the_lock_holder_removes_events(queue: PartitionQueue) -> None:
    queue.push([(f"e{i}", "ada", str(i)) for i in range(5)])
    p = partition_of("ada")
    mine, other = holder_token(), holder_token()
    assert queue.acquire(p, mine, 30)
    assert not queue.acquire(p, other, 30)
    assert queue.read(p, 2) == [b"0", b"1"]
    assert queue.complete(p, mine, 2, [Outcome("e0", {"status": "committed"})], 30) == 3
    assert queue.outcomes(["e0", "e1"]) == [{"status": "committed"}, None]
    queue.client.delete(queue.keys.lock(p))  # the lock expired, and ...
    assert queue.acquire(p, other, 30)  # ... another worker took the partition
    assert queue.complete(p, mine, 2, [], 30) == -1  # the slow one removes nothing
    assert queue.length(p) == 3
    assert not queue.release(p, mine) and queue.release(p, other)


def test_a_dead_local_holder_loses_its_lock_at_once(queue: PartitionQueue) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "from narrative_vcs.tasks.queue import holder_token; print(holder_token())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    queue.client.set(queue.keys.lock(3), dead, px=60_000)
    assert not queue.locked(3)
    assert queue.acquire(3, holder_token(), 30)


def test_a_duplicate_keeps_the_first_outcome(queue: PartitionQueue) -> None:
    queue.push([("e1", "ada", "1"), ("e1", "ada", "1")])
    p, token = partition_of("ada"), holder_token()
    assert queue.acquire(p, token, 30)
    outcomes = [
        Outcome("e1", {"status": "committed"}),
        Outcome("e1", {"status": "duplicate"}, keep_older=True),
    ]
    assert queue.complete(p, token, 2, outcomes, 30) == 0
    assert queue.outcomes(["e1"]) == [{"status": "committed"}]
    queue.push([("e1", "ada", "1")])  # sent again later: the old outcome goes
    assert queue.outcomes(["e1"]) == [None]


def test_a_drain_that_lost_its_lock_removes_nothing_and_hands_on(
    queue: PartitionQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock expires while a batch is committed (a stopped worker): the events stay queued, and
    since nobody else holds the partition, a new drain is queued for them."""
    import json

    from narrative_vcs.events import Event
    from narrative_vcs.graph.factory import init_repository
    from narrative_vcs.tasks import drain
    from tests.conftest import Writer

    repo = init_repository(tmp_path / "story")
    Writer(repo).setup()
    events = [
        Event.new(
            "agent.emit.v1", "bot", {"page": "p", "title": "P", "body": f"{n}", "mode": "append"}, "main"
        )
        for n in range(3)
    ]
    queue.push([(e.id, e.actor, json.dumps(e.to_json())) for e in events])
    partition = partition_of("bot")
    real = drain._ingest

    def expiring(*args: object, **kwargs: object) -> object:
        queue.client.delete(queue.keys.lock(partition))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(drain, "_ingest", expiring)
    requeued: list[int] = []
    report = drain.drain_partition(repo, queue, partition, holder_token(), requeue=requeued.append)
    assert report.lost_lock and report.committed == 3
    assert queue.length(partition) == 3 and requeued == [partition]
    monkeypatch.setattr(drain, "_ingest", real)
    again = drain.drain_partition(repo, queue, partition, holder_token(), requeue=requeued.append)
    assert (again.duplicates, again.committed, again.left, queue.length(partition)) == (3, 0, 0, 0)
    repo.close()
