"""The Neo4j backend's figures, against the real server of ``scripts/neo4j``:

1. push of a long history (default 100,000 commits on a 10,000-page story) from the embedded store into
   an empty Neo4j database (goal: >= 1,000 commits/s); the same history pushed by ``git push`` into an
   empty bare repository is timed in the same run as the baseline;
2. ``gvcs log --oneline`` over that history in a work tree whose store is the Neo4j database (a new
   process each run; goal: <= 0.5 s), against a plain Cypher variable-length traversal of the same
   history (``[:PARENT*]`` from the branch head), as a ratio; and a cold ``gvcs log -n 20`` (a new
   process in a new work tree each run; goal: <= 250 ms);
3. merge-base of two branches on the Neo4j backend, warm (the commit DAG in memory, as a server keeps
   it; goal: <= 50 ms), with a fresh commit on one side before each run so the DAG refresh is included.

The database is emptied first: use a server of its own (``GVCS_BENCH_NEO4J_URI``, default the URI of
``scripts/neo4j url``).

    python -m bench.neo4j_speed [--commits N] [--pages N] [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import init_repository, open_repository, open_store, save_config
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.transfer import copy_branch

from .generate import StoryGenerator, build_history
from .util import ROOT, gvcs_command, median, quick, time_command, write_result

GOAL_PUSH = 1000.0
GOAL_LOG = 0.5  # issue 12 (issue 4 asked for 1 s)
GOAL_COLD_LOG_20 = 0.25  # issue 12: a cold `gvcs log -n 20` reads no whole history
GOAL_MERGE_BASE = 0.050

TRAVERSAL = """
MATCH (:Branch {name: $branch})-[:HEAD]->(head:Commit)
MATCH (head)-[:PARENT*0..]->(c:Commit)
RETURN DISTINCT c.short_id AS id, c.subject AS subject
"""


def server_uri() -> str:
    uri = os.environ.get("GVCS_BENCH_NEO4J_URI")
    if uri:
        return uri
    found = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "neo4j"), "url"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0 or not found.stdout.strip():
        raise SystemExit("bench.neo4j_speed: no Neo4j server (scripts/neo4j start)")
    return found.stdout.strip()


def git_push_seconds(source: Path, tmp: Path) -> float:
    bare = tmp / "baseline.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    start = time.perf_counter()
    subprocess.run(
        ["git", f"--git-dir={source / '.gvcs'}", "push", "--quiet", str(bare), "main"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def _rss_mb(field: str) -> float | None:
    """This process's resident memory now (``VmRSS``) or at its peak (``VmHWM``), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Start the peak (``VmHWM``) again from the memory held now (Linux: ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def push(source_root: Path, uri: str) -> tuple[dict[str, Any], Repository]:
    """The push, in this process; its peak memory is measured from a peak reset just before it (what
    the process held already, the source's commit listing among it, counts too)."""
    gc.collect()
    source = open_repository(source_root)
    target = open_store(uri)
    target.objects.server.clear()  # type: ignore[attr-defined]
    before = _rss_mb("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    result = copy_branch(source, target, "main")
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM") if reset else None
    source.close()
    return {
        "commits": result.commits,
        "objects": result.objects,
        "seconds": seconds,
        "commits_per_second": result.commits / seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
    }, target


def clone_back(source_root: Path, target: Repository, tmp: Path) -> dict[str, Any]:
    """The history cloned out of Neo4j into a new embedded store: the time, whether every commit id is
    the one pushed (``git rev-list`` of both), and ``git fsck --strict`` of the clone."""
    root = tmp / "clone"
    clone = init_repository(root)
    start = time.perf_counter()
    result = copy_branch(target, clone, "main")
    seconds = time.perf_counter() - start
    clone.close()

    def rev_list(git_dir: Path) -> list[str]:
        argv = ["git", f"--git-dir={git_dir}", "rev-list", "main"]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()

    fsck = subprocess.run(
        ["git", f"--git-dir={root / '.gvcs'}", "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
    )
    return {
        "commits": result.commits,
        "seconds": seconds,
        "commits_per_second": result.commits / seconds,
        "ids_identical": rev_list(source_root / ".gvcs") == rev_list(root / ".gvcs"),
        "git_fsck_strict_clean": fsck.returncode == 0 and not fsck.stdout.strip(),
        "git_fsck_output": (fsck.stdout + fsck.stderr).strip()[-500:],
    }


def log_runs(uri: str, tmp: Path, runs: int) -> dict[str, Any]:
    work = tmp / "neo4j-worktree"
    (work / ".gvcs").mkdir(parents=True)
    save_config(work, {"store": uri})
    gvcs = gvcs_command()
    assert gvcs is not None
    argv = [*gvcs, "-C", str(work), "log", "--oneline"]
    lines = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.count("\n")
    gvcs_times = [time_command(argv) for _ in range(runs)]
    # Cold: a new process in a new work tree each time (no listing kept in .gvcs yet), the first page.
    cold_times: list[float] = []
    for i in range(runs):
        fresh = tmp / f"neo4j-cold-{i}"
        (fresh / ".gvcs").mkdir(parents=True)
        save_config(fresh, {"store": uri})
        cold_times.append(time_command([*gvcs, "-C", str(fresh), "log", "-n", "20"]))
    import neo4j

    from narrative_vcs.graph.neo4j import parse_neo4j_uri

    location = parse_neo4j_uri(uri)
    cypher_times: list[float] = []
    rows = 0
    with neo4j.GraphDatabase.driver(location.address, auth=(location.user, location.password)) as driver:
        for _ in range(runs):
            start = time.perf_counter()
            with driver.session(database=location.database) as session:
                records = session.execute_read(lambda tx: list(tx.run(TRAVERSAL, branch="main")))
            cypher_times.append(time.perf_counter() - start)
            rows = len(records)
    return {
        "log_lines": lines,
        "cold_log_20_seconds": cold_times,
        "median_cold_log_20_seconds": median(cold_times),
        "cold_log_20_goal_met": median(cold_times) <= GOAL_COLD_LOG_20,
        "cypher_rows": rows,
        "gvcs_seconds": gvcs_times,
        "median_gvcs_seconds": median(gvcs_times),
        "cypher_seconds": cypher_times,
        "median_cypher_seconds": median(cypher_times),
        "ratio_gvcs_to_cypher": median(gvcs_times) / median(cypher_times),
        "goal_met": median(gvcs_times) <= GOAL_LOG,
    }


def merge_base_runs(target: Repository, runs: int) -> dict[str, Any]:
    fork = target.resolve("main~50")
    target.create_branch("side", fork)
    actor = sorted(a.id for a in target.list_actors("main"))[0]
    side, when = fork, 1_900_000_000

    def add_side_commit(page_id: str) -> None:
        nonlocal side, when
        when += 60
        page = Page(page_id, page_id.replace("-", " ").title(), f"A side page, {page_id}.")
        side = target.commit(
            "side",
            ChangeSet().upsert_page(page),
            actor=actor,
            message=page_id,
            expected_head=side,
            timestamp=when,
        )

    for i in range(20):
        add_side_commit(f"side-{i}")
    start = time.perf_counter()
    first = target.merge_bases("main", "side")
    cold = time.perf_counter() - start
    assert first == [fork], (first, fork)
    times: list[float] = []
    for i in range(runs):
        add_side_commit(f"more-{i}")  # the DAG's refresh with the new commit is part of each timing
        start = time.perf_counter()
        bases = target.merge_bases("main", "side")
        times.append(time.perf_counter() - start)
        assert bases == [fork]
    return {
        "first_seconds": cold,
        "seconds": times,
        "median_seconds": median(times),
        "goal_met": median(times) <= GOAL_MERGE_BASE,
    }


def run(commits: int, pages: int, runs: int) -> dict[str, Any]:
    uri = server_uri()
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "story"
        start = time.perf_counter()
        build_history(root, StoryGenerator(seed=7, pages=pages), commits)
        build = time.perf_counter() - start
        baseline = git_push_seconds(root, tmp)
        pushed, target = push(root, uri)
        try:
            logs = log_runs(uri, tmp, runs)
            bases = merge_base_runs(target, max(runs, 5))
            cloned = clone_back(root, target, tmp)
        finally:
            target.close()
    pushed |= {
        "git_push_seconds": baseline,
        "ratio_gvcs_to_git_push": pushed["seconds"] / baseline,
        "goal_met": pushed["commits_per_second"] >= GOAL_PUSH,
    }
    return {
        "commits": commits,
        "pages": pages,
        "runs": runs,
        "build_seconds": build,
        "push": pushed,
        "clone": cloned,
        "log": logs,
        "merge_base": bases,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    commits, pages, runs = (2_000, 500, 3) if quick() else (100_000, 10_000, 5)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args(argv)
    result = run(args.commits, args.pages, args.runs)
    path = write_result("neo4j_speed", result)
    p, lg, mb = result["push"], result["log"], result["merge_base"]
    print(
        f"push {p['commits']} commits ({p['objects']} objects) into Neo4j: {p['seconds']:.1f}s, "
        f"{p['commits_per_second']:.0f} commits/s (goal >= {GOAL_PUSH:.0f}); "
        f"git push {p['git_push_seconds']:.1f}s; peak RSS {_mb(p['peak_rss_mb'])} "
        f"(process before the push: {_mb(p['rss_before_mb'])})"
    )
    c = result["clone"]
    print(
        f"clone back out of Neo4j: {c['commits']} commits in {c['seconds']:.1f}s,"
        f" {c['commits_per_second']:.0f} commits/s; ids identical {c['ids_identical']},"
        f" git fsck --strict clean {c['git_fsck_strict_clean']}"
    )
    print(
        f"log --oneline on Neo4j, {lg['log_lines']} commits: gvcs {lg['median_gvcs_seconds']:.3f}s "
        f"(goal <= {GOAL_LOG}s), Cypher [:PARENT*] traversal {lg['median_cypher_seconds']:.3f}s, "
        f"ratio {lg['ratio_gvcs_to_cypher']:.2f}x; cold log -n 20 {lg['median_cold_log_20_seconds']:.3f}s"
        f" (goal <= {GOAL_COLD_LOG_20}s)"
    )
    print(
        f"merge-base on Neo4j, warm: {mb['median_seconds'] * 1000:.1f} ms "
        f"(goal <= {GOAL_MERGE_BASE * 1000:.0f} ms); "
        f"first call {mb['first_seconds'] * 1000:.0f} ms  -> {path}"
    )
    return result


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


if __name__ == "__main__":
    main()
