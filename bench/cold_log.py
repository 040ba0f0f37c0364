"""Figure 3: ``gvcs log -n 20`` from a cold process (a new interpreter each run; goal: median <= 150 ms).

For context the same runs time ``python -c pass`` (the interpreter's own start) and ``git log -n 20``. The
store is a packed history (default 10,000 commits) from :func:`bench.generate.build_history`, plus a few
loose commits on top made through the library, as a story being worked on looks.

    python -m bench.cold_log [--commits N] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import open_repository

from .generate import StoryGenerator, build_history
from .util import gvcs_command, median, quick, time_command, write_result

GOAL_SECONDS = 0.150


def make_store(root: Path, commits: int, loose: int = 20) -> None:
    gen = StoryGenerator(seed=7, pages=500)
    head = build_history(root, gen, commits)
    repo = open_repository(root)
    try:
        for edit in gen.edits(loose):
            head = gen.apply(repo, edit, head)
    finally:
        repo.close()


def run(commits: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        root = Path(tmp) / "story"
        make_store(root, commits)
        commands: dict[str, list[str]] = {
            "python_pass": [sys.executable, "-c", "pass"],
            "git_log_n20": ["git", f"--git-dir={root / '.gvcs'}", "log", "-n", "20"],
        }
        gvcs = gvcs_command()
        if gvcs is not None:
            commands["gvcs_log_n20"] = [*gvcs, "-C", str(root), "log", "-n", "20"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm the page cache and the .pyc files
            time_command(argv)
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(time_command(argv))
    medians = {name: median(values) for name, values in times.items()}
    result: dict[str, Any] = {
        "commits": commits,
        "runs": runs,
        "seconds": times,
        "median_seconds": medians,
        "goal_seconds": GOAL_SECONDS,
    }
    if "gvcs_log_n20" in medians:
        result["goal_met"] = medians["gvcs_log_n20"] <= GOAL_SECONDS
        result["ratio_gvcs_to_git"] = medians["gvcs_log_n20"] / medians["git_log_n20"]
    return result


def default_sizes() -> tuple[int, int]:
    return (500, 5) if quick() else (10_000, 21)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    commits, runs = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args(argv)
    result = run(args.commits, args.runs)
    path = write_result("cold_log", result)
    m = result["median_seconds"]
    gvcs = m.get("gvcs_log_n20")
    shown = f"gvcs log -n 20 {gvcs * 1000:.0f} ms" if gvcs is not None else "gvcs: no CLI"
    print(
        f"cold start: {shown} (goal <= {GOAL_SECONDS * 1000:.0f} ms), "
        f"python -c pass {m['python_pass'] * 1000:.0f} ms, git log -n 20 {m['git_log_n20'] * 1000:.0f} ms"
        f"  -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
