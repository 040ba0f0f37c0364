"""Figure 4: disk use of the store after many single-page commits, with the automatic packing, against
the same store after a real ``git gc`` on a copy (goal: within 3x of the gc'd size).

    python -m bench.disk [--pages N] [--commits N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import init_repository

from .generate import StoryGenerator
from .util import du_bytes, quick, time_call, wait_for_packers, write_result

GOAL_RATIO = 3.0


def _count_objects(git_dir: Path) -> dict[str, int]:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "count-objects", "-v"], capture_output=True, text=True, check=True
    ).stdout
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines())}


def run(pages: int, commits: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        root = Path(tmp) / "story"
        repo = init_repository(root)
        gen = StoryGenerator(seed=11, pages=pages)
        head = gen.populate(repo)
        edits = list(gen.edits(commits))

        def commit_all() -> None:
            nonlocal head
            for edit in edits:
                head = gen.apply(repo, edit, head)

        seconds = time_call(commit_all)
        repo.close()
        git_dir = root / ".gvcs"
        wait_for_packers(git_dir)
        auto = du_bytes(git_dir)
        auto_counts = _count_objects(git_dir)
        copy = Path(tmp) / "copy.gvcs"
        shutil.copytree(git_dir, copy)
        subprocess.run(["git", f"--git-dir={copy}", "gc", "--quiet", "--prune=now"], check=True)
        gc = du_bytes(copy)
        gc_counts = _count_objects(copy)
    ratio = auto / gc
    return {
        "pages": pages,
        "commits": commits,
        "commit_seconds": seconds,
        "auto_packed_bytes": auto,
        "git_gc_bytes": gc,
        "ratio_auto_to_gc": ratio,
        "auto_count_objects": auto_counts,
        "gc_count_objects": gc_counts,
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
    }


def default_sizes() -> tuple[int, int]:
    return (500, 500) if quick() else (10_000, 10_000)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    pages, commits = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--commits", type=int, default=commits)
    args = parser.parse_args(argv)
    result = run(args.pages, args.commits)
    path = write_result("disk", result)
    mib = 1024 * 1024
    print(
        f"disk, {args.commits} commits on {args.pages} pages: "
        f"auto-packed {result['auto_packed_bytes'] / mib:.1f} MiB, "
        f"after git gc {result['git_gc_bytes'] / mib:.1f} MiB, ratio {result['ratio_auto_to_gc']:.2f}x "
        f"(goal <= {GOAL_RATIO:.0f}x)  -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
