"""Figure 2: ``gvcs log --oneline`` over a long history against ``git log --oneline`` on the same store
(goal: gvcs <= 2x git's wall time).

The history (default 100,000 commits on a 1,000-page story) is made by :func:`bench.generate.build_history`:
the same commits, byte for byte, that ``Repository.commit`` writes, packed by ``git fast-import``. Both
commands run as subprocesses with their output sent to /dev/null; runs alternate between the two, and the
ratio is of the medians. The first gvcs run, which builds the commit cache (see ``Commits`` in
narrative_vcs/history.py), is reported on its own. The in-process library walk is reported alongside.

    python -m bench.log_speed [--commits N] [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import open_repository

from .generate import StoryGenerator, build_history
from .util import gvcs_command, median, quick, time_call, time_command, write_result

GOAL_RATIO = 2.0


def make_store(root: Path, commits: int, pages: int = 1000, seed: int = 42) -> Path:
    build_history(root, StoryGenerator(seed=seed, pages=pages), commits)
    return root


def library_walk_seconds(root: Path) -> float:
    repo = open_repository(root)
    try:
        return time_call(lambda: sum(1 for _ in repo.walk(["HEAD"])))
    finally:
        repo.close()


def run(commits: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        root = Path(tmp) / "story"
        build = time_call(lambda: make_store(root, commits))
        git = ["git", f"--git-dir={root / '.gvcs'}", "log", "--oneline"]
        gvcs = gvcs_command()
        git_times: list[float] = []
        gvcs_times: list[float] = []
        time_command(git)  # warm the page cache once for both
        # The first long gvcs walk parses every commit and writes the commit cache (like git's
        # commit-graph); it is reported on its own, and the runs after it read the cache.
        first = time_command([*gvcs, "-C", str(root), "log", "--oneline"]) if gvcs is not None else None
        for _ in range(runs):
            git_times.append(time_command(git))
            if gvcs is not None:
                gvcs_times.append(time_command([*gvcs, "-C", str(root), "log", "--oneline"]))
        library = [library_walk_seconds(root) for _ in range(max(1, runs // 2))]
    result: dict[str, Any] = {
        "commits": commits,
        "runs": runs,
        "build_seconds": build,
        "git_seconds": git_times,
        "median_git_seconds": median(git_times),
        "library_walk_seconds": library,
        "median_library_walk_seconds": median(library),
        "goal_ratio": GOAL_RATIO,
    }
    if gvcs_times:
        ratio = median(gvcs_times) / median(git_times)
        result |= {
            "gvcs_first_run_seconds": first,
            "first_run_ratio_gvcs_to_git": (first or 0.0) / median(git_times),
            "gvcs_seconds": gvcs_times,
            "median_gvcs_seconds": median(gvcs_times),
            "ratio_gvcs_to_git": ratio,
            "goal_met": ratio <= GOAL_RATIO,
        }
    else:
        result |= {"gvcs_seconds": None, "ratio_gvcs_to_git": None, "goal_met": None, "note": "no CLI yet"}
    return result


def default_sizes() -> tuple[int, int]:
    return (3_000, 3) if quick() else (100_000, 5)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    commits, runs = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args(argv)
    result = run(args.commits, args.runs)
    path = write_result("log_speed", result)
    gvcs = result.get("median_gvcs_seconds")
    shown = (
        f"gvcs {gvcs:.3f}s, ratio {result['ratio_gvcs_to_git']:.2f}x "
        f"(first run, building the commit cache: {result['gvcs_first_run_seconds']:.3f}s, "
        f"{result['first_run_ratio_gvcs_to_git']:.2f}x)"
        if gvcs
        else "gvcs: no CLI"
    )
    print(
        f"log --oneline, {args.commits} commits: git {result['median_git_seconds']:.3f}s, {shown} "
        f"(goal <= {GOAL_RATIO:.0f}x); library walk {result['median_library_walk_seconds']:.3f}s  -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
