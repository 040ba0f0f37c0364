"""Issue 13: git over the network. The stock ``git`` client against a real ``gvcs serve`` (``/git``,
smart HTTP through dulwich and the story's stores) and against ``git daemon`` serving the very same
store, in one run.

- ``clone``: ``git clone`` of a 10,000-commit story (1,000 pages, one writer) from each, runs
  alternating; medians and the ratio gvcs / git daemon (goal: at most 3).
- ``push``: ``git push`` over HTTP, with the writer's token, of 1,000 further commits (made by the same
  generator, so the first 10,000 ids are the story's) into ``gvcs serve``: every commit through the
  rules gate and the authorship rule; commits/s. ``git push`` of the same commits into a bare copy
  served by ``git daemon`` alongside.

    python -m bench.git_http [--commits 10000] [--push 1000] [--pages 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import open_repository

from .api_load import _free_port, gvcs_server, server
from .generate import StoryGenerator, build_history
from .util import median, quick, time_command, write_result

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}
SEED = 13


@contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git daemon`` serving the repositories under ``base`` (pushes allowed); its git:// URL prefix."""
    port = _free_port()
    argv = ["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={base}", "--reuseaddr",
            "--listen=127.0.0.1", f"--port={port}", str(base)]  # fmt: skip
    proc = subprocess.Popen(argv, env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("git daemon did not start") from None
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(15)


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], env=GIT_ENV, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr[-500:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench.git_http", description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=1_000 if quick() else 10_000)
    parser.add_argument("--push", type=int, default=100 if quick() else 1_000)
    parser.add_argument("--pages", type=int, default=200 if quick() else 1_000)
    parser.add_argument("--runs", type=int, default=2 if quick() else 3)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gvcs-bench-git-"))
    try:
        result = run(work, args.commits, args.push, args.pages, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("git_http", result)
    clone, push = result["clone"], result["push"]
    print(f"git clone of {args.commits:,} commits ({args.pages:,} pages), median of {args.runs}:")
    print(f"  from gvcs serve /git: {clone['gvcs_seconds']:.2f} s")
    print(f"  from git daemon:      {clone['git_daemon_seconds']:.2f} s")
    print(f"  ratio {clone['ratio']:.2f} (goal <= 3: {'met' if clone['goal_met'] else 'NOT met'})")
    print(f"git push of {args.push:,} commits over HTTP through the gate:")
    print(f"  gvcs serve: {push['gvcs_seconds']:.2f} s, {push['gvcs_commits_per_s']:,.0f} commits/s")
    print(
        f"  git daemon: {push['git_daemon_seconds']:.2f} s, {push['git_daemon_commits_per_s']:,.0f} commits/s"
    )
    print(f"results: {path}")
    return result


def run(work: Path, commits: int, pushed: int, pages: int, runs: int) -> dict[str, Any]:
    # The story, and the same story with ``pushed`` more commits (same generator: same first ids).
    story, longer = work / "story", work / "longer"
    started = time.perf_counter()
    head = build_history(story, StoryGenerator(SEED, pages=pages, humans=1, agents=0), commits)
    newer = build_history(longer, StoryGenerator(SEED, pages=pages, humans=1, agents=0), commits + pushed)
    if git("--git-dir", str(longer / ".gvcs"), "rev-parse", f"main~{pushed}").strip() != head:
        raise RuntimeError("the longer history does not extend the story")
    built = time.perf_counter() - started
    repo = open_repository(story)
    try:
        _record, token = create_token(repo.access, "human-0", "bench pusher")
    finally:
        repo.close()
    base = work / "served"
    base.mkdir()
    shutil.copytree(story / ".gvcs", base / "story.git", symlinks=True)  # what git daemon serves
    shutil.copytree(story / ".gvcs", base / "target.git", symlinks=True)  # what it takes the push into

    clones: dict[str, list[float]] = {"gvcs": [], "git": []}
    argv, port = gvcs_server(story)
    with server(argv, port), git_daemon(base) as daemon:
        urls = {"gvcs": f"http://127.0.0.1:{port}/git", "git": f"{daemon}/story.git"}
        for url in urls.values():  # warm both (page cache, the server's first reads), untimed
            _clone(url, work / "warm")
        for n in range(runs):
            for side in ("gvcs", "git") if n % 2 == 0 else ("git", "gvcs"):
                clones[side].append(_clone(urls[side], work / f"clone-{side}"))
        # The push: the longer history's new commits, as the writer (human-0), with its token.
        gvcs_push = time_command(
            ["git", "--git-dir", str(longer / ".gvcs"), "push", "-q",
             f"http://human-0:{token}@127.0.0.1:{port}/git", "main:main"], env=GIT_ENV,
        )  # fmt: skip
        git_push = time_command(
            ["git", "--git-dir", str(longer / ".gvcs"), "push", "-q", f"{daemon}/target.git", "main:main"],
            env=GIT_ENV,
        )
    repo = open_repository(story)
    try:
        landed = repo.branch_head("main")
        actor = next(iter(repo.walk(["main"]))).actor
    finally:
        repo.close()
    if landed != newer:
        raise RuntimeError(f"the push did not land: main is {landed}, expected {newer}")
    gvcs_clone, git_clone = median(clones["gvcs"]), median(clones["git"])
    ratio = gvcs_clone / git_clone
    return {
        "commits": commits,
        "pages": pages,
        "runs": runs,
        "build_seconds": built,
        "clone": {
            "gvcs_seconds": gvcs_clone,
            "git_daemon_seconds": git_clone,
            "gvcs_runs": clones["gvcs"],
            "git_daemon_runs": clones["git"],
            "ratio": ratio,
            "goal": "<= 3",
            "goal_met": ratio <= 3,
        },
        "push": {
            "commits": pushed,
            "actor": actor,
            "gvcs_seconds": gvcs_push,
            "gvcs_commits_per_s": pushed / gvcs_push,
            "git_daemon_seconds": git_push,
            "git_daemon_commits_per_s": pushed / git_push,
        },
    }


def _clone(url: str, dest: Path) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    elapsed = time_command(["git", "clone", "-q", url, str(dest)], env=GIT_ENV)
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
