"""The entry points' side of intake: ``gvcs worker``'s errors, the CLI and API helpers that queue events."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.graphql.post_events import http_status
from api.graphql.queued_intake import QueuedIntake
from cli.common import Context
from cli.intake import queue_event, redis_url
from narrative_vcs.errors import BadInput, Conflict, NotFound
from narrative_vcs.events import Event
from narrative_vcs.tasks.intake import StillQueued, submit
from tests.tasks.conftest import Workers, history
from tests.tasks.test_intake import emit


def gvcs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("gvcs")), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_a_worker_needs_redis_and_a_story(story: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GVCS_REDIS_URL"}
    result = gvcs("-C", str(story), "worker", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("gvcs: error: gvcs worker needs Redis")
    result = gvcs("-C", str(story), "worker", "--redis", "http://x", env=env)
    assert (result.returncode, result.stderr.count("\n")) == (2, 1) and "not a Redis URL" in result.stderr
    result = gvcs("-C", str(tmp_path), "worker", "--redis", "redis://127.0.0.1:1/0", env=env)
    assert result.returncode == 2 and "not a gvcs repository" in result.stderr


def test_the_redis_url_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GVCS_REDIS_URL", "redis://env:6379/0")
    assert redis_url(argparse.Namespace(redis=None)) == "redis://env:6379/0"
    assert redis_url(argparse.Namespace(redis="redis://flag:6379/1")) == "redis://flag:6379/1"
    monkeypatch.setenv("GVCS_REDIS_URL", "")
    assert redis_url(argparse.Namespace()) is None
    monkeypatch.setenv("GVCS_REDIS_URL", "localhost:6379")
    with pytest.raises(BadInput):
        redis_url(argparse.Namespace())


def _args(story: Path, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(directory=str(story), actor="actor-01", json=False, **extra)


@pytest.mark.redis
def test_the_cli_queues_and_waits(
    story: Path, workers: Workers, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    ctx = Context(_args(story))
    first = emit("actor-01", 1)
    assert queue_event(_args(story, wait=None), ctx, first, redis_url) == 0
    assert capsys.readouterr().out == f"queued {first.id}\n"
    workers.start()
    second = emit("actor-01", 2)
    assert queue_event(_args(story, wait=60.0), ctx, second, redis_url) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[main ") and printed[1] == f" agent.emit.v1 {second.id} by actor-01"
    assert history(story)[-2:] == [first.id, second.id]
    stranger = Event.new("agent.emit.v1", "nobody", {"page": "p", "title": "P", "body": "x"}, "main")
    with pytest.raises(NotFound):
        queue_event(_args(story, wait=60.0), ctx, stranger, redis_url)


@pytest.mark.redis
def test_the_api_intake_answers_like_ingest(story: Path, workers: Workers, redis_url: str) -> None:
    intake = QueuedIntake(str(story), redis_url, wait=0.0)
    event = emit("actor-04", 1)
    with pytest.raises(StillQueued):  # no worker yet, and no wait
        asyncio.run(intake.submit(event))
    workers.start()
    done = asyncio.run(QueuedIntake(str(story), redis_url, wait=60.0).submit(event))
    assert (done.branch, done.error, done.commit is not None) == ("main", None, True)
    assert history(story).count(event.id) == 1


@pytest.mark.redis
def test_a_conflict_through_the_workers_reaches_the_cli_and_the_api(
    story: Path, workers: Workers, redis_url: str
) -> None:
    workers.start()
    ctx = Context(_args(story))
    first = emit("actor-06", 1)
    assert queue_event(_args(story, wait=60.0), ctx, first, redis_url) == 0
    other = Event.new(
        first.topic, first.actor, {**first.payload, "body": "not that"}, first.branch, id=first.id
    )
    with pytest.raises(
        Conflict, match=f"^event {first.id} is already on main as [0-9a-f]{{10}} with a different"
    ):
        queue_event(_args(story, wait=60.0), ctx, other, redis_url)
    result = asyncio.run(QueuedIntake(str(story), redis_url, wait=60.0).submit(other))
    assert (result.commit, result.duplicate) == (None, False)
    assert result.error is not None and http_status(result.error) == 409
    assert history(story).count(first.id) == 1


@pytest.mark.redis
def test_an_event_too_deep_in_the_queue_is_dropped_in_one_line(
    story: Path, workers: Workers, redis_url: str
) -> None:
    from narrative_vcs.tasks.keys import Keys, store_id
    from narrative_vcs.tasks.pubsub import redis_client
    from narrative_vcs.tasks.queue import PartitionQueue

    queue = PartitionQueue(redis_client(redis_url), Keys(store_id(str(story))))
    deep = '{"topic": "agent.emit.v1", "id": "deep-1", "actor": "actor-07", "payload": ' + "[" * 50_000
    queue.push([("deep-1", "actor-07", deep + "]" * 50_000 + "}")])
    worker = workers.start()  # a worker sweeps the queue when it starts
    done = submit(str(story), [emit("actor-07", 1)], redis_url=redis_url, wait=60)
    assert done[0].status == "committed"
    assert (
        "dropping an unreadable event from the queue: event: nested deeper than 64 levels" in worker.output()
    )
    assert "deep-1" not in history(story)


@pytest.mark.redis
def test_the_beat_task_closes_expired_proposals(story: Path, redis_url: str) -> None:
    from narrative_vcs.governance import list_proposals, propose
    from narrative_vcs.graph.factory import open_repository
    from narrative_vcs.tasks.app import EXPIRE, SWEEP, make_app
    from narrative_vcs.tasks.keys import Keys, store_id

    repo = open_repository(story)
    try:
        number = propose(repo, None, "main", actor="actor-00", message="A hearing", now=1_000_000)
    finally:
        repo.close()
    app = make_app(redis_url, str(story))
    store = Keys(store_id(str(story))).store
    app.tasks[SWEEP].run(store)  # nothing waits: queues nothing
    app.tasks[EXPIRE].run("someone-else")  # another story's task is dropped
    repo = open_repository(story)
    try:
        assert [p.status for p in list_proposals(repo)] == ["open"]
    finally:
        repo.close()
    app.tasks[EXPIRE].run(store)
    repo = open_repository(story)
    try:
        (state,) = list_proposals(repo)
        assert state.number == number and state.status != "open"
    finally:
        repo.close()


def test_an_unreachable_redis_is_a_one_line_error(story: Path) -> None:
    from narrative_vcs.tasks.intake import QueueUnavailable, submit

    with pytest.raises(QueueUnavailable, match="does not answer"):
        submit(str(story), [emit("actor-01", 1)], redis_url="redis://127.0.0.1:1/0")


@pytest.mark.redis
def test_gvcs_event_emit_wait_brings_the_work_tree_along(tmp_path: Path, redis_url: str) -> None:
    """A story made with the CLI (its work tree checked out at main): ``--wait`` follows the commit."""
    from tests.cli.conftest import ok, one_line_error, run_gvcs

    from .conftest import Workers

    root = tmp_path / "cli-story"
    ok(run_gvcs(tmp_path, "init", "cli-story", "--title", "Queued"))
    ok(run_gvcs(root, "actor", "add", "ada", "--name", "Ada"))
    ok(run_gvcs(root, "commit", "-m", "Ada arrives", actor="ada"))
    pool = Workers(root, redis_url, tmp_path)
    try:
        pool.start()
        payload = '{"page": "hall", "title": "Hall", "body": "A hall."}'
        env = {"GVCS_REDIS_URL": redis_url}
        emitted = run_gvcs(root, "event", "emit", "agent.emit.v1", "--payload", payload, "--branch", "main",
                           "--id", "hall-1", "--wait", actor="ada", env=env)  # fmt: skip
        assert ok(emitted).out.startswith("[main ")
        assert (root / "pages" / "hall.md").read_text().endswith("A hall.\n")
        assert "nothing to commit" in ok(run_gvcs(root, "status")).out
        other = payload.replace("A hall.", "Another hall.")
        again = run_gvcs(root, "event", "emit", "agent.emit.v1", "--payload", other, "--branch", "main",
                         "--id", "hall-1", "--wait", actor="ada", env=env)  # fmt: skip
        assert "event hall-1 is already on main as " in one_line_error(again, 1)
        assert (root / "pages" / "hall.md").read_text().endswith("A hall.\n")
    finally:
        pool.stop()
