"""Merge benchmarks (issue 3, figure 8), each beside git doing the same work in the same run.

1. A merge of two branches that each change 1,000 of 10,000 pages, 100 pages changed on both sides (in
   different paragraphs, so the merge is clean): ``Repository.merge_preview`` vs
   ``git merge-tree --write-tree`` on the same store (goal: <= 1 s).
2. merge-base on a 100,000-commit DAG with 50 branches, warm (the commit DAG already in memory):
   ``Repository.merge_bases`` vs ``git merge-base --all`` (goal: <= 10 ms).
3. A three-way merge of one 5,000-paragraph page with edits on both sides: ``merge_text`` vs
   ``git merge-file`` (goal: <= 100 ms).

    python -m bench.merge_speed [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.merge.text import merge_text
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet

from .generate import StoryGenerator, build_history
from .util import median, quick, time_call, time_command, write_result

GOALS = {"branch_merge_seconds": 1.0, "merge_base_seconds": 0.010, "page_merge_seconds": 0.100}


def _edit_paragraph(page: Page, index: int, words: str) -> Page:
    paragraphs = page.body.rstrip("\n").split("\n\n")
    paragraphs[index % len(paragraphs)] += f" {words}"
    return Page(page.id, page.title, "\n\n".join(paragraphs), page.follows, page.alternate_of, page.tags)


def branch_merge(root: Path, pages: int, changed: int, overlap: int, runs: int) -> dict[str, Any]:
    repo = init_repository(root)
    gen = StoryGenerator(seed=7, pages=pages, paragraphs=(2, 4))
    head = gen.populate(repo)
    repo.create_branch("ours", head)
    repo.create_branch("theirs", head)
    ids = sorted(gen.pages)
    rng = random.Random(7)
    shared = rng.sample(ids, overlap)
    rest = [i for i in ids if i not in set(shared)]
    rng.shuffle(rest)
    mine = shared + rest[: changed - overlap]
    other = shared + rest[changed - overlap : 2 * (changed - overlap)]
    actor = gen.actors[0].id
    for branch, chosen, paragraph in (("ours", mine, 0), ("theirs", other, 1)):
        changes = ChangeSet()
        for pid in chosen:
            changes.upsert_page(_edit_paragraph(gen.pages[pid], paragraph, f"Edited on {branch}."))
        repo.commit(branch, changes, actor=actor, message=f"Edit {len(chosen)} pages", expected_head=head)
    times: list[float] = []
    clean = True
    for _ in range(runs):
        fresh = open_repository(root)  # cold caches: a server would merge from a warm one
        times.append(time_call(functools.partial(fresh.merge_preview, "ours", "theirs")))
        clean = clean and fresh.merge_preview("ours", "theirs").clean
    git = ["git", f"--git-dir={root / '.gvcs'}", "merge-tree", "--write-tree", "ours", "theirs"]
    git_times = [time_command(git) for _ in range(runs)]
    return {"seconds": times, "git_seconds": git_times, "clean": clean, "changed_per_side": changed}


def merge_base(root: Path, commits: int, branches: int, runs: int) -> dict[str, Any]:
    gen = StoryGenerator(seed=11, pages=200)
    head = build_history(root, gen, commits)
    repo = open_repository(root)
    history = [c.id for c in repo.walk([head], first_parent=True)]
    rng = random.Random(11)
    actor = gen.actors[0].id
    for b in range(branches):
        fork = history[rng.randrange(len(history))]
        name = f"b{b}"
        repo.create_branch(name, fork)
        page = gen.pages[sorted(gen.pages)[b % len(gen.pages)]]
        changes = ChangeSet().upsert_page(_edit_paragraph(page, 0, f"b{b}"))
        repo.commit(name, changes, actor=actor, message=f"Branch {b}", expected_head=fork)
    pairs = [(f"b{rng.randrange(branches)}", f"b{rng.randrange(branches)}") for _ in range(runs)]
    for b in range(branches):  # the warm state a server keeps: every branch in the commit DAG
        repo.merge_bases("b0", f"b{b}")
    times = [time_call(functools.partial(repo.merge_bases, a, b)) for a, b in pairs]
    git_dir = root / ".gvcs"
    git_times = [time_command(["git", f"--git-dir={git_dir}", "merge-base", "--all", a, b]) for a, b in pairs]
    return {"seconds": times, "git_seconds": git_times, "commits": commits, "branches": branches}


def page_merge(paragraphs: int, runs: int, tmp: Path) -> dict[str, Any]:
    rng = random.Random(5)
    words = ["vault", "glyph", "fox", "ink", "page", "door", "night", "catalogue"]
    base_ps = [" ".join(rng.choice(words) for _ in range(12)).capitalize() + "." for _ in range(paragraphs)]
    ours_ps, theirs_ps = list(base_ps), list(base_ps)
    for i in range(0, paragraphs, 10):
        ours_ps[i] += " Ours."
        theirs_ps[i + 5] += " Theirs."
    base, ours, theirs = ("\n\n".join(ps) + "\n" for ps in (base_ps, ours_ps, theirs_ps))
    times = [time_call(lambda: merge_text(base, ours, theirs)) for _ in range(runs)]
    clean = merge_text(base, ours, theirs).clean
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        (tmp / name).write_text(text)
    git = ["git", "merge-file", "-p", str(tmp / "ours"), str(tmp / "base"), str(tmp / "theirs")]
    git_times = [_time_any_exit(git) for _ in range(runs)]
    git_clean = subprocess.run(git, capture_output=True, check=False).returncode == 0
    return {"seconds": times, "git_seconds": git_times, "clean": clean, "git_clean": git_clean}


def _time_any_exit(argv: list[str]) -> float:
    """Wall time of a command whose exit code is a count (git merge-file exits with its conflicts)."""
    return time_call(lambda: subprocess.run(argv, capture_output=True, check=False))


def run(runs: int) -> dict[str, Any]:
    small = quick()
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        base = Path(tmp)
        figures = {
            "branch_merge": branch_merge(
                base / "m", *((1000, 100, 10) if small else (10_000, 1000, 100)), runs
            ),
            "merge_base": merge_base(base / "b", *((2000, 10) if small else (100_000, 50)), max(runs, 20)),
            "page_merge": page_merge(500 if small else 5000, runs, base),
        }
    result: dict[str, Any] = {"runs": runs}
    names = ("branch_merge", "merge_base", "page_merge")
    for name, key in zip(names, GOALS, strict=True):
        f = figures[name]
        f["median_seconds"] = median(f["seconds"])
        f["median_git_seconds"] = median(f["git_seconds"])
        git = f["median_git_seconds"]
        f["ratio_gvcs_to_git"] = f["median_seconds"] / git if git else None
        f["goal_seconds"] = GOALS[key]
        f["goal_met"] = f["median_seconds"] <= GOALS[key]
        result[name] = f
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3 if quick() else 7)
    args = parser.parse_args(argv)
    result = run(args.runs)
    path = write_result("merge_speed", result)
    for name in ("branch_merge", "merge_base", "page_merge"):
        f = result[name]
        ratio = f"{f['ratio_gvcs_to_git']:.2f}x git" if f["ratio_gvcs_to_git"] else "git: n/a"
        print(
            f"{name}: {f['median_seconds'] * 1000:.1f} ms (goal <= {f['goal_seconds'] * 1000:.0f} ms), "
            f"git {f['median_git_seconds'] * 1000:.1f} ms, {ratio}"
        )
    print(f"-> {path}")
    return result


if __name__ == "__main__":
    main()
