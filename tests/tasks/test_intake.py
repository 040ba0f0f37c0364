"""``submit``: the same guarantees inline (no Redis) and through Redis and a real Celery worker.

Each test runs twice: ``inline`` commits in this process through ``ingest_many``; ``redis`` queues
the events and a real ``gvcs worker`` commits them (``wait`` returns the workers' outcomes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from narrative_vcs.errors import Conflict
from narrative_vcs.events import Event
from narrative_vcs.tasks.intake import Receipt, submit
from tests.tasks.conftest import Workers, history

Submit = Callable[..., list[Receipt]]


def emit(actor: str, n: int, page: str | None = None) -> Event:
    return Event.new(
        "agent.emit.v1",
        actor,
        {"page": page or f"desk-{actor}", "title": f"Desk of {actor}", "body": f"note {n}", "mode": "append"},
        "main",
        id=f"{actor}.{n:05d}",
    )


@pytest.fixture(params=["inline", "redis"])
def send(request: pytest.FixtureRequest, story: Path) -> Submit:
    """``send(events, wait=...)``: submit to the story, inline or through Redis and one worker."""
    if request.param == "inline":

        def inline(events: Sequence[Event], wait: float | None = None) -> list[Receipt]:
            return submit(str(story), events, redis_url=None)

        return inline
    workers: Workers = request.getfixturevalue("workers")
    workers.start()

    def queued(events: Sequence[Event], wait: float | None = 60.0) -> list[Receipt]:
        return submit(str(story), events, redis_url=workers.redis_url, wait=wait)

    return queued


def test_the_same_event_twice_is_one_commit(send: Submit, story: Path) -> None:
    event = emit("actor-01", 1)
    first = send([event])
    assert [r.status for r in first] == ["committed"]
    assert first[0].commit is not None and first[0].branch == "main"
    again = send([event])
    assert [r.status for r in again] == ["duplicate"]
    both = send([event, event])  # twice in one submission too
    assert {r.status for r in both} <= {"duplicate", "committed"}
    assert history(story).count(event.id) == 1


def test_the_same_id_for_another_event_is_a_conflict(send: Submit, story: Path) -> None:
    event = emit("actor-01", 1)
    (first,) = send([event])
    assert first.status == "committed" and first.commit is not None
    other = Event.new(
        event.topic, event.actor, {**event.payload, "body": "not that"}, event.branch, id=event.id
    )
    (receipt,) = send([other])
    assert (receipt.status, receipt.code, receipt.commit, receipt.branch) == (
        "conflict",
        "CONFLICT",
        first.commit,
        "main",
    )
    assert receipt.error == (
        f"event {event.id} is already on main as {first.commit[:10]} with a different payload: nothing was "
        "committed; send this event with a new id"
    )
    error = receipt.error_value()
    assert isinstance(error, Conflict) and error.exit_code == 1
    result = receipt.ingested(other)
    assert (result.commit, result.duplicate, result.error is not None) == (None, False, True)
    assert history(story).count(event.id) == 1
    assert [r.status for r in send([event])] == ["duplicate"]  # the event itself stays a duplicate


def test_each_actors_order_is_kept(send: Submit, story: Path) -> None:
    actors = [f"actor-{i:02d}" for i in range(8)]
    events = [emit(actor, n) for n in range(25) for actor in actors]
    receipts = send(events)
    assert len(receipts) == len(events)
    assert {r.status for r in receipts} == {"committed"}, [r for r in receipts if r.status != "committed"][:3]
    ids = [i for i in history(story) if i is not None]
    assert sorted(ids) == sorted(e.id for e in events)
    for actor in actors:
        mine = [i for i in ids if i.startswith(actor + ".")]
        assert mine == sorted(mine), actor


def test_a_refused_event_says_why(send: Submit, story: Path) -> None:
    good = emit("actor-02", 1)
    stranger = Event.new(
        "agent.emit.v1", "nobody", {"page": "p", "title": "P", "body": "x"}, "main", id="nobody.1"
    )
    receipts = send([good, stranger])
    assert receipts[0].status == "committed"
    assert receipts[1].status == "refused" and receipts[1].error and receipts[1].code
    assert "nobody.1" not in history(story)


def test_queued_without_waiting(story: Path, workers: Workers) -> None:
    receipts = submit(str(story), [emit("actor-03", 1)], redis_url=workers.redis_url)
    assert [(r.event, r.status) for r in receipts] == [("actor-03.00001", "queued")]
    workers.start()
    done = submit(str(story), [emit("actor-03", 2)], redis_url=workers.redis_url, wait=60)
    assert done[0].status == "committed"
    assert history(story)[-2:] == ["actor-03.00001", "actor-03.00002"]
