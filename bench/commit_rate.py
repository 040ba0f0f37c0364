"""Figure 1: library commit rate of single-page edits on a large story (goal: >= 1,000 commits/s).

Each run makes a fresh story of ``pages`` pages in one commit, packs it (the state of a story that has
been worked on for a while), then times ``commits`` single-page edits through ``Repository.commit`` on
the embedded git store, automatic background packing on as shipped. The memory store is measured the
same way for reference (the cost of the Python side alone).

    python -m bench.commit_rate [--pages N] [--commits N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import init_repository
from narrative_vcs.repository import Repository

from .generate import StoryGenerator
from .util import median, quick, time_call, wait_for_packers, write_result

GOAL = 1000.0


def _edits_per_second(repo: Repository, pages: int, commits: int, seed: int) -> float:
    gen = StoryGenerator(seed=seed, pages=pages)
    head = gen.populate(repo)
    edits = list(gen.edits(commits))

    def run() -> None:
        nonlocal head
        for edit in edits:
            head = gen.apply(repo, edit, head)

    return commits / time_call(run)


def measure_git(pages: int, commits: int, seed: int, workdir: Path) -> float:
    root = workdir / f"story-{seed}"
    repo = init_repository(root)
    gen = StoryGenerator(seed=seed, pages=pages)
    head = gen.populate(repo)
    objects = repo.objects
    pack = getattr(objects, "pack", None)
    if pack is not None:
        pack()
    edits = list(gen.edits(commits))

    def run() -> None:
        nonlocal head
        for edit in edits:
            head = gen.apply(repo, edit, head)

    rate = commits / time_call(run)
    wait_for_packers(root / ".gvcs")
    repo.close()
    return rate


def file_floor(directory: Path, commits: int) -> float:
    """Commits/s this disk allows at best: per commit, the file operations a commit cannot avoid on
    the git store (a pack and its index created and renamed into place, the ref replaced, a reflog
    line appended), with no object work at all. The disk of a shared machine swings several-fold
    between minutes, so each run measures this floor next to the commits."""
    directory.mkdir(parents=True, exist_ok=True)
    pack, ref, log = b"P" * 2048, b"0" * 40 + b"\n", b"x" * 160

    def create(path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        os.replace(tmp, path)

    def run() -> None:
        for i in range(commits):
            create(directory / f"pack-{i}.pack", pack)
            create(directory / f"pack-{i}.idx", pack[:1100])
            fd = os.open(directory / "ref.lock", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.posix_fallocate(fd, 0, len(ref))
            os.write(fd, ref)
            os.close(fd)
            os.replace(directory / "ref.lock", directory / "ref")
            fd = os.open(directory / "reflog", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(fd, log)
            os.close(fd)

    rate = commits / time_call(run)
    shutil.rmtree(directory)
    return rate


def run(pages: int, commits: int, runs: int) -> dict[str, Any]:
    git_rates: list[float] = []
    memory_rates: list[float] = []
    floor_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        for i in range(runs):
            floor_rates.append(file_floor(Path(tmp) / f"floor-{i}", commits))
            git_rates.append(measure_git(pages, commits, seed=100 + i, workdir=Path(tmp)))
            memory_rates.append(_edits_per_second(Repository.memory(), pages, commits, seed=100 + i))
    git = median(git_rates)
    return {
        "file_floor_commits_per_s": floor_rates,
        "median_file_floor_commits_per_s": median(floor_rates),
        "ratio_git_to_file_floor": git / median(floor_rates),
        "pages": pages,
        "commits_per_run": commits,
        "runs": runs,
        "git_commits_per_s": git_rates,
        "memory_commits_per_s": memory_rates,
        "median_git_commits_per_s": git,
        "median_memory_commits_per_s": median(memory_rates),
        "goal_commits_per_s": GOAL,
        "goal_met": git >= GOAL,
    }


def default_sizes() -> tuple[int, int, int]:
    return (300, 200, 2) if quick() else (10_000, 3_000, 3)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    pages, commits, runs = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args(argv)
    result = run(args.pages, args.commits, args.runs)
    path = write_result("commit_rate", result)
    print(
        f"commit rate, {args.pages} pages: git store {result['median_git_commits_per_s']:.0f}/s "
        f"(goal >= {GOAL:.0f}), memory store {result['median_memory_commits_per_s']:.0f}/s; "
        f"this disk's file-operation floor {result['median_file_floor_commits_per_s']:.0f}/s "
        f"(git store at {result['ratio_git_to_file_floor']:.0%} of it)  -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
