"""Interactive speed (issue 15): gvcs's everyday commands against git's on the same 10,000 files.

One run builds a story with :class:`bench.generate.StoryGenerator` as files in a gvcs work tree and the
very same files in a plain git repository, then times, as new processes, runs alternating, medians:

- ``python -c pass`` (what any new interpreter costs);
- ``gvcs status`` vs ``git status``;
- a one-page edit + ``gvcs commit -m`` vs ``git commit -am`` (the edit itself is not timed);
- cold ``gvcs log --oneline -n 20`` vs ``git log --oneline -n 20`` (a new process; the OS cache is kept);
- the merge of two branches that change 1,000 pages each, 100 of them on both sides in different
  paragraphs (so they merge cleanly): ``gvcs merge`` vs ``git merge``, each reset to the first branch
  between runs;
- the import commit of every file: ``gvcs commit`` vs ``git add -A && git commit``, in fresh copies.

    python -m bench.cli_latency [--pages N] [--runs N] [--import-runs N] [--merge-pages N] [--both N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from narrative_vcs.graph.factory import init_repository
from narrative_vcs.objects import Page
from narrative_vcs.worktree import WorkTree

from .generate import StoryGenerator
from .util import gvcs_command, median, quick, time_command, write_result

__all__ = ["GOALS", "main", "run"]

#: Goals in seconds (absolute), or as a ratio to git (``ratio``).
GOALS: dict[str, dict[str, float]] = {
    "status": {"seconds": 0.120},
    "commit": {"seconds": 0.150},
    "log": {"seconds": 0.100},
    "merge": {"ratio": 2.0},
}

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _env(actor: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GVCS_", "GIT_"))}
    env.update(_GIT_ENV)
    env["GVCS_ACTOR"] = actor
    env["HOME"] = env.get("HOME", "/tmp")
    return env


def _check(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")


def write_files(gen: StoryGenerator, root: Path) -> None:
    """The story's files as a gvcs work tree holds them (``story.yaml``, ``actors/``, ``pages/``)."""
    (root / "pages").mkdir(parents=True, exist_ok=True)
    (root / "actors").mkdir(exist_ok=True)
    (root / "story.yaml").write_bytes(gen.story_record().serialise())
    for actor in gen.actors:
        (root / "actors" / f"{actor.id}.yaml").write_bytes(actor.serialise())
    for page in gen.pages.values():
        (root / "pages" / f"{page.id}.md").write_bytes(page.serialise())


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".gvcs", ".git"))


def prepare(files: Path, root: Path, gvcs: bool) -> None:
    """A copy of ``files`` with an empty store beside it: gvcs's (nothing checked out) or git's."""
    _copy_tree(files, root)
    if gvcs:
        repo = init_repository(root)
        try:
            WorkTree(root, repo).save_state()
        finally:
            repo.close()
    else:
        _check(["git", "init", "-q", "-b", "main", str(root)], root, _env("x"))


def _rewrite(page: Page, index: int, text: str) -> Page:
    paragraphs = page.body.rstrip("\n").split("\n\n")
    paragraphs[index] = text
    return replace(page, body="\n\n".join(paragraphs))


def merge_sides(gen: StoryGenerator, changed: int, both: int) -> tuple[list[Page], list[Page]]:
    """Pages changed on each side: ``changed`` each, the first ``both`` of them on both sides, one side
    rewriting a page's first paragraph and the other its last (pages of two paragraphs or more)."""
    ids = [pid for pid, p in sorted(gen.pages.items()) if p.body.count("\n\n") >= 2]
    if len(ids) < 2 * changed - both:
        raise ValueError("not enough pages of three paragraphs for the merge case")
    ours_ids = ids[:changed]
    theirs_ids = ids[:both] + ids[changed : 2 * changed - both]
    ours = [_rewrite(gen.pages[p], 0, f"Ours rewrote the opening of {p}.") for p in ours_ids]
    theirs = [_rewrite(gen.pages[p], -1, f"Theirs rewrote the close of {p}.") for p in theirs_ids]
    return ours, theirs


def _branch(root: Path, cmd: list[str], env: dict[str, str], name: str, pages: list[Page]) -> None:
    """Branch ``name`` from main with ``pages`` written and committed, then back on main."""
    gvcs = cmd[0] != "git"
    _check([*cmd, "switch", "-c", name] if gvcs else ["git", "switch", "-q", "-c", name], root, env)
    for page in pages:
        (root / "pages" / f"{page.id}.md").write_bytes(page.serialise())
    msg = f"Side {name}"
    _check([*cmd, "commit", "-m", msg] if gvcs else ["git", "commit", "-q", "-am", msg], root, env)
    _check([*cmd, "switch", "main"] if gvcs else ["git", "switch", "-q", "main"], root, env)


def _head(root: Path, gvcs: bool) -> str:
    argv = ["git", f"--git-dir={root / '.gvcs'}" if gvcs else f"--git-dir={root / '.git'}", "rev-parse"]
    return subprocess.run([*argv, "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def run(pages: int, runs: int, import_runs: int, merge_pages: int, both: int) -> dict[str, Any]:
    gvcs = gvcs_command()
    if gvcs is None:
        raise RuntimeError("no gvcs command")
    gen = StoryGenerator(seed=15, pages=pages)
    actor = next(a.id for a in gen.actors if a.kind == "human")
    env = _env(actor)
    times: dict[str, list[float]] = {}

    def timed(name: str, argv: list[str], cwd: Path) -> None:
        times.setdefault(name, []).append(time_command(argv, cwd=cwd, env=env))

    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        work = Path(tmp)
        files = work / "files"
        write_files(gen, files)
        roots = {"gvcs": work / "gvcs", "git": work / "git"}
        # The import commit, in fresh copies each run; the last copies are kept for the rest.
        for _ in range(import_runs):
            for key, root in roots.items():
                if root.exists():
                    shutil.rmtree(root)
                prepare(files, root, key == "gvcs")
            timed("import_gvcs", [*gvcs, "commit", "-m", "Import"], roots["gvcs"])
            timed("import_git", ["sh", "-c", "git add -A && git commit -q -m Import"], roots["git"])
        g, r = roots["gvcs"], roots["git"]
        commands = {
            "python_pass": ([sys.executable, "-c", "pass"], g),
            "status_gvcs": ([*gvcs, "status"], g),
            "status_git": (["git", "status"], r),
            "log_gvcs": ([*gvcs, "log", "--oneline", "-n", "20"], g),
            "log_git": (["git", "log", "--oneline", "-n", "20"], r),
        }
        for argv, cwd in commands.values():  # warm the page cache and the .pyc files
            time_command(argv, cwd=cwd, env=env)
        page_ids = sorted(gen.pages)
        for i in range(runs + 1):
            for name, (argv, cwd) in commands.items():
                timed(name, argv, cwd)
            pid = page_ids[(i * 7919) % len(page_ids)]
            for root in roots.values():
                path = root / "pages" / f"{pid}.md"
                path.write_bytes(path.read_bytes() + f"\nA line added by edit {i}.\n".encode())
            msg = f"Edit {i}"
            timed("commit_gvcs", [*gvcs, "commit", "-m", msg], g)
            timed("commit_git", ["git", "commit", "-q", "-am", msg], r)
        for key in [*commands, "commit_gvcs", "commit_git"]:
            times[key] = times[key][1:]  # the first round after the import warms up
        ours, theirs = merge_sides(gen, merge_pages, both)
        for key, root in roots.items():
            cmd = gvcs if key == "gvcs" else ["git"]
            _branch(root, cmd, env, "ours", ours)
            _branch(root, cmd, env, "theirs", theirs)
            _check([*gvcs, "switch", "ours"] if key == "gvcs" else ["git", "switch", "-q", "ours"], root, env)
        start = {key: _head(root, key == "gvcs") for key, root in roots.items()}
        for _ in range(runs):
            timed("merge_gvcs", [*gvcs, "merge", "theirs", "-m", "Merge theirs"], g)
            timed("merge_git", ["git", "merge", "-q", "--no-edit", "theirs"], r)
            _check([*gvcs, "reset", "--hard", start["gvcs"]], g, env)
            _check(["git", "reset", "-q", "--hard", start["git"]], r, env)
    return _result(times, pages=pages, runs=runs, import_runs=import_runs, merge_pages=merge_pages, both=both)


def _result(times: dict[str, list[float]], **sizes: int) -> dict[str, Any]:
    medians = {name: median(values) for name, values in times.items()}
    figures: dict[str, dict[str, Any]] = {}
    for what in ("status", "commit", "log", "merge", "import"):
        ours, git = medians[f"{what}_gvcs"], medians[f"{what}_git"]
        goal = GOALS.get(what, {})
        met: bool | None = None
        if "seconds" in goal:
            met = ours <= goal["seconds"]
        elif "ratio" in goal:
            met = ours / git <= goal["ratio"]
        figures[what] = {"gvcs": ours, "git": git, "ratio": ours / git, "goal": goal or None, "goal_met": met}
    return {
        **sizes,
        "seconds": times,
        "median_seconds": medians,
        "figures": figures,
        "python_pass": medians["python_pass"],
    }


_LABELS = {
    "status": "status",
    "commit": "one-page commit",
    "log": "cold log --oneline -n 20",
    "merge": "merge of two branches",
    "import": "import commit",
}


def table(result: dict[str, Any]) -> str:
    """The figures as a markdown table: gvcs, git, ratio, goal."""
    rows = ["| figure | gvcs | git | ratio | goal |", "|---|---|---|---|---|"]
    for what, fig in result["figures"].items():
        goal = fig["goal"] or {}
        if "seconds" in goal:
            shown = f"<= {goal['seconds'] * 1000:.0f} ms"
        elif "ratio" in goal:
            shown = f"<= {goal['ratio']:g}x git"
        else:
            shown = "-"
        if fig["goal_met"] is not None:
            shown += " (met)" if fig["goal_met"] else " (not met)"
        rows.append(
            f"| {_LABELS[what]} | {fig['gvcs'] * 1000:.0f} ms | {fig['git'] * 1000:.0f} ms "
            f"| {fig['ratio']:.1f} | {shown} |"
        )
    rows.append(f"| `python -c pass` | {result['python_pass'] * 1000:.0f} ms | | | |")
    return "\n".join(rows)


def default_sizes() -> tuple[int, int, int, int, int]:
    return (300, 3, 1, 40, 10) if quick() else (10_000, 11, 3, 1_000, 100)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    pages, runs, import_runs, merge_pages, both = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--import-runs", type=int, default=import_runs)
    parser.add_argument("--merge-pages", type=int, default=merge_pages)
    parser.add_argument("--both", type=int, default=both)
    args = parser.parse_args(argv)
    result = run(args.pages, args.runs, args.import_runs, args.merge_pages, args.both)
    path = write_result("cli_latency", result)
    print(table(result))
    print(f"-> {path}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
