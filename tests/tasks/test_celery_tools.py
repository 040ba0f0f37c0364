"""Celery's own tools on a story's workers: ``celery -A narrative_vcs.tasks.app inspect ping`` and
``celery -A ... events --dump`` (task events are on), against the real Redis and a real ``gvcs worker``;
and what a worker records for an agent's revision that overlaps (a conflict: nothing committed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from narrative_vcs.tasks.intake import submit
from tests.tasks.conftest import Workers
from tests.tasks.test_intake import emit

APP = "narrative_vcs.tasks.app"
WAIT = 90.0  # seconds to wait for a line that must come (never asserted on: only its absence fails)


def celery(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("celery")), "-A", APP, *args]


def celery_env(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "GVCS_STORE")}
    env["GVCS_REDIS_URL"] = redis_url
    return env


def test_the_module_level_app_needs_a_redis_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GVCS_REDIS_URL"}
    result = subprocess.run(
        celery("inspect", "ping"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "needs GVCS_REDIS_URL=redis://host:6379/0" in result.stderr


@pytest.mark.redis
def test_inspect_ping_reaches_the_story_worker(story: Path, workers: Workers, redis_url: str) -> None:
    worker = workers.start()
    name = f"gvcs-{worker.proc.pid}@"
    result = subprocess.run(
        celery("inspect", "ping", "--timeout", "10"),
        cwd=story,
        env=celery_env(redis_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    replies = [line for line in result.stdout.splitlines() if name in line]
    assert replies and "OK" in result.stdout, result.stdout


@pytest.mark.redis
def test_events_dump_sees_a_drain(story: Path, workers: Workers, redis_url: str, tmp_path: Path) -> None:
    worker = workers.start()
    name = f"gvcs-{worker.proc.pid}@"
    log = tmp_path / "events.log"
    with open(log, "wb") as out:
        dump = subprocess.Popen(
            celery("events", "--dump"),
            cwd=story,
            env=celery_env(redis_url),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def seen() -> list[str]:
            text = log.read_text(errors="replace")
            return [line for line in text.splitlines() if name in line and "gvcs.drain" in line]

        # The dump subscribes some time after it starts: events are sent until one drain is seen.
        deadline = time.monotonic() + WAIT
        n = 0
        while not seen() and time.monotonic() < deadline and dump.poll() is None:
            n += 1
            submit(str(story), [emit("actor-03", n)], redis_url=redis_url, wait=WAIT)
            time.sleep(0.2)
        lines = seen()
        assert lines, log.read_text(errors="replace")[-3000:]
        assert any("task received" in line or "task succeeded" in line for line in lines), lines
    finally:
        dump.send_signal(signal.SIGTERM)
        try:
            dump.wait(timeout=20)
        except subprocess.TimeoutExpired:
            dump.kill()
            dump.wait(timeout=20)


@pytest.mark.redis
def test_a_revision_that_overlaps_is_refused_by_the_worker_as_a_conflict(
    story: Path, workers: Workers, redis_url: str
) -> None:
    from narrative_vcs.events import Event
    from tests.tasks.conftest import history

    workers.start()

    def send(actor: str, n: int, **fields: object) -> tuple[str, str | None, str | None, str | None]:
        payload = {"page": "desk", "title": "Desk", **fields}
        event = Event.new("agent.emit.v1", actor, payload, "main", id=f"{actor}.{n:05d}")
        (receipt,) = submit(str(story), [event], redis_url=redis_url, wait=WAIT)
        return receipt.status, receipt.commit, receipt.error, receipt.code

    status, read, _, _ = send("actor-01", 1, body="The desk.")
    assert status == "committed" and read is not None
    assert send("actor-02", 1, body="A lamp on it.")[0] == "committed"  # appended after what actor-01 read
    before = history(story)
    status, commit, error, code = send(
        "actor-01", 2, body="The desk.\n\nA cup on it.", mode="revise", base=read
    )
    assert (status, commit, code) == ("refused", None, "CONFLICT")
    assert error is not None and error.startswith("agent.emit.v1: page desk changed on main since")
    assert history(story) == before
