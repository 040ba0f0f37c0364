"""Run every benchmark, print a table of medians and ratios against the goals, write bench/results/*.json.

python -m bench.run_all            # full sizes (about 10 minutes)
BENCH_QUICK=1 python -m bench.run_all   # smoke sizes (under a minute)
"""

from __future__ import annotations

import time
from typing import Any

from . import cold_log, commit_rate, disk, log_speed, merge_speed
from .util import quick, write_result


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


MERGE_ROWS = (
    ("5 merge of 2 branches", "branch_merge"),
    ("6 merge-base, warm", "merge_base"),
    ("7 merge of a long page", "page_merge"),
)


def _merge_row(label: str, figure: dict[str, Any]) -> tuple[str, str, str, str, bool]:
    ratio = _fmt(figure["ratio_gvcs_to_git"], ".2f")
    return (
        label,
        f"{figure['median_seconds'] * 1000:.1f} ms",
        f"git {figure['median_git_seconds'] * 1000:.1f} ms, ratio {ratio}x",
        f"<= {figure['goal_seconds'] * 1000:.0f} ms",
        figure["goal_met"],
    )


def main() -> int:
    started = time.perf_counter()
    print(f"gvcs benchmarks ({'quick' if quick() else 'full'} sizes)")
    rate = commit_rate.main([])
    log = log_speed.main([])
    cold = cold_log.main([])
    space = disk.main([])
    merges = merge_speed.main([])
    cold_gvcs = cold["median_seconds"].get("gvcs_log_n20")
    rows = [
        (
            "1 commit rate (git store)",
            f"{rate['median_git_commits_per_s']:.0f} commits/s",
            f"memory store {rate['median_memory_commits_per_s']:.0f}/s",
            ">= 1000/s",
            rate["goal_met"],
        ),
        (
            f"2 log --oneline, {log['commits']} commits",
            f"{_fmt(log.get('median_gvcs_seconds'), '.2f')} s",
            f"git {log['median_git_seconds']:.2f} s, ratio {_fmt(log['ratio_gvcs_to_git'], '.2f')}x",
            "<= 2x git",
            log["goal_met"],
        ),
        (
            "3 cold log -n 20",
            f"{_fmt(cold_gvcs and cold_gvcs * 1000, '.0f')} ms",
            f"python {cold['median_seconds']['python_pass'] * 1000:.0f} ms, "
            f"git {cold['median_seconds']['git_log_n20'] * 1000:.0f} ms",
            "<= 150 ms",
            cold.get("goal_met"),
        ),
        (
            f"4 disk, {space['commits']} commits",
            f"{space['auto_packed_bytes'] / 2**20:.1f} MiB",
            f"git gc {space['git_gc_bytes'] / 2**20:.1f} MiB, ratio {space['ratio_auto_to_gc']:.2f}x",
            "<= 3x gc",
            space["goal_met"],
        ),
        *(_merge_row(label, merges[name]) for label, name in MERGE_ROWS),
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(("figure", "gvcs", "context", "goal"), widths, strict=True)))
    for row in rows:
        met = {True: "met", False: "MISSED", None: "n/a"}[row[4]]
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + met)
    elapsed = time.perf_counter() - started
    write_result(
        "summary",
        {
            "seconds": elapsed,
            "goals_met": {
                name: row[4]
                for name, row in zip(("commit_rate", "log_speed", "cold_log", "disk"), rows, strict=True)
            },
        },
    )
    print(f"\n{elapsed:.0f} s in all; JSON in bench/results/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
