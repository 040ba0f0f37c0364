"""Run ``gvcs`` as a real subprocess (``python -m cli.main``) in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


Gvcs = Callable[..., Result]


def run_gvcs(cwd: Path, *args: str, actor: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``gvcs args`` in ``cwd``; ``actor`` sets GVCS_ACTOR (unset otherwise)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    environ["PYTHONPATH"] = str(REPO_ROOT)
    if actor is not None:
        environ["GVCS_ACTOR"] = actor
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def gvcs(tmp_path: Path) -> Gvcs:
    """``gvcs(*args, actor=None, cwd=None)`` run in ``tmp_path`` (or ``cwd``)."""

    def call(
        *args: str, actor: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return run_gvcs(cwd or tmp_path, *args, actor=actor, env=env)

    return call


def ok(result: Result) -> Result:
    """Assert the command succeeded; return the result."""
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    return result


def one_line_error(result: Result, code: int) -> str:
    """Assert a failure with ``code`` and exactly one ``gvcs: error:`` line on stderr; return it."""
    assert result.code == code, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("gvcs: error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


@pytest.fixture(scope="session")
def story_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: a repository with actors mara and bot, pages opening and second, one commit."""
    base = tmp_path_factory.mktemp("template")
    ok(run_gvcs(base, "init", "story", "--title", "Night Shift"))
    root = base / "story"
    ok(run_gvcs(root, "actor", "add", "mara", "--name", "Mara Ink"))
    ok(run_gvcs(root, "actor", "add", "bot", "--name", "Bot", "--kind", "agent"))
    ok(run_gvcs(root, "page", "new", "opening", "--title", "Opening"))
    ok(run_gvcs(root, "page", "new", "second", "--title", "Second", "--follows", "opening"))
    ok(run_gvcs(root, "commit", "-m", "First pages"))
    return root


@pytest.fixture
def story(story_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template repository in ``tmp_path/story``."""
    root = tmp_path / "story"
    shutil.copytree(story_template, root)
    return root
