"""Fixtures of the intake and worker tests: a story on disk, real ``gvcs worker`` processes.

Workers are real Celery workers (``gvcs worker``, the solo pool: one process, so a SIGKILL of it is a
kill of the task it runs) against the real Redis of ``scripts/redis``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from narrative_vcs.graph.factory import init_repository
from narrative_vcs.objects import Actor
from narrative_vcs.repository import Repository
from tests.conftest import Writer

ACTORS = [Actor(f"actor-{i:02d}", f"Actor {i}", "agent" if i % 2 else "human") for i in range(24)]
READY = "gvcs worker ready"


@pytest.fixture
def story(tmp_path: Path) -> Path:
    """A story on the embedded git store with 24 actors (``actor-00`` ... ``actor-23``)."""
    root = tmp_path / "story"
    repo = init_repository(root)
    try:
        Writer(repo).setup(*ACTORS)
    finally:
        repo.close()
    return root


def history(root: Path, branch: str = "main") -> list[str | None]:
    """The event ids of ``branch``'s first-parent line, oldest first (None for commits of no event)."""
    from narrative_vcs.graph.factory import open_repository

    repo: Repository = open_repository(root)
    try:
        head = repo.branch_head(branch)
        if head is None:
            return []
        return [info.event_id for info in repo.commits.walk([head], first_parent=True)][::-1]
    finally:
        repo.close()


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@dataclass
class Workers:
    """Starts ``gvcs worker`` processes for a story; stops every one at the end of the test."""

    root: Path
    redis_url: str
    logs: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, *args: str, wait: float = 30.0) -> Worker:
        gvcs = Path(sys.executable).with_name("gvcs")
        log = self.logs / f"worker-{len(self.started)}.log"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    str(gvcs),
                    "-C",
                    str(self.root),
                    "worker",
                    "--redis",
                    self.redis_url,
                    "--loglevel",
                    "INFO",
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        worker = Worker(proc, log)
        self.started.append(worker)
        deadline = time.monotonic() + wait
        while READY not in worker.output():
            if proc.poll() is not None:
                raise AssertionError(f"gvcs worker exited {proc.returncode}:\n{worker.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"gvcs worker not ready in {wait:.0f} s:\n{worker.output()[-3000:]}")
            time.sleep(0.05)
        return worker

    def stop(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.started:
            try:
                worker.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.fixture
def workers(story: Path, redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(story, redis_url, tmp_path)
    try:
        yield pool
    finally:
        pool.stop()
        for worker in pool.started:
            assert "Traceback" not in worker.output(), worker.output()[-5000:]
