"""Figure 9: what the rules gate costs (narrative_vcs/gate.py, narrative_vcs/rules/).

Measured side by side in one run, on the embedded git store. "Without the rules" is the same code with
the rules left out where a repository is opened (``narrative_vcs.graph.factory.story_rules`` replaced by
an empty list in the measuring process only: gvcs has no switch that turns them off).

- **a single-page commit on a 10,000-page story**: ``gvcs commit`` of a one-page edit in the work tree,
  with and without the rules, alternating; ratio of the medians (goal: the gate adds at most 10%). The
  same through the library (``Repository.commit``, on two stores made alike) is reported beside it;
- **a group of 100 agent commits**: 100 agents commit one page each at the same moment through a real
  ``gvcs serve`` (GraphQL ``commit``, one group commit): two servers side by side, with and without the
  rules, each on its own store made alike, rounds alternating between them after a few warm-up rounds
  (goal: at most 10%). The same through the library (100 ``agent.emit.v1`` events as one group,
  ``ingest_many``) is reported beside it;
- **fsck --rules on a 100,000-commit history** (single-page edits, a third of them agents' events, as
  :func:`bench.generate.build_history` makes them): commits checked per second (goal: >= 2,000/s);
- **a verified push of that history** into an empty store with the rules: the gate's own time (the
  commits it checks per second, goal: >= 2,000/s), and the whole push with and without the rules.

    python -m bench.gate_cost [--pages N] [--commits N] [--agents N] [--groups N] [--history N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from narrative_vcs.events import Event, ingest_many
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.graph.git import GitObjectStore, GitRefStore, init_git_dir
from narrative_vcs.objects import Actor
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.transfer import copy_refs
from narrative_vcs.worktree import WorkTree

from .generate import StoryGenerator, build_history
from .util import median, quick, time_call, wait_for_packers, write_result

GOAL_RATIO = 1.10
GOAL_RATE = 2000.0
#: Rounds each server runs before its rounds are timed.
WARM_ROUNDS = 3
#: ``gvcs`` with the story's rules left out where repositories are opened: the baseline (bench only).
WITHOUT_RULES = (
    "import sys; import narrative_vcs.graph.factory as factory; factory.story_rules = lambda: []; "
    "from cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def gvcs_argv(rules: bool) -> list[str]:
    if rules:
        return [str(Path(sys.executable).with_name("gvcs"))]
    return [sys.executable, "-c", WITHOUT_RULES]


def bare(git_dir: Path) -> Repository:
    """The store at ``git_dir`` opened without the story's rules (what the gate is measured against)."""
    return Repository(GitObjectStore(git_dir), GitRefStore(git_dir))


# --- a single-page commit -------------------------------------------------------------------------


def single_page_commits(root: Path, pages: int, commits: int) -> dict[str, Any]:
    """``Repository.commit`` of a one-page edit, on two stores made alike: one opened with the rules,
    one without (each process writes its own store: neither's caches see the other's commits)."""
    gen = StoryGenerator(seed=9, pages=pages)
    ruled = init_repository(root / "rules")
    heads = {"rules": gen.populate(ruled)}
    init_repository(root / "none").close()
    plain = bare(root / "none" / ".gvcs")
    heads["none"] = StoryGenerator(seed=9, pages=pages).populate(plain)
    repos = {"rules": ruled, "none": plain}
    for repo in repos.values():
        pack = getattr(repo.objects, "pack", None)
        if pack is not None:
            pack()
    humans = [a.id for a in gen.actors if a.kind == "human"]
    times: dict[str, list[float]] = {"rules": [], "none": []}
    for i in range(commits + 5):
        edit = dataclasses.replace(gen.edit(), kind="edit", actor=humans[i % len(humans)])
        for key, repo in repos.items():  # the same edit on each, in turn
            start = time.perf_counter()
            heads[key] = gen.apply(repo, edit, heads[key])
            if i >= 5:  # the first few warm both up
                times[key].append(time.perf_counter() - start)
    for key, repo in repos.items():
        wait_for_packers(root / key / ".gvcs")
        repo.close()
    return _ratio(times, "single-page commit", pages=pages, commits=commits)


def cli_single_page_commits(root: Path, pages: int, commits: int) -> dict[str, Any]:
    """``gvcs commit`` of a one-page edit in a checked-out ``pages``-page story, with and without rules."""
    repo = init_repository(root)
    WorkTree(root, repo).save_state()  # an empty checkout, filled below
    gen = StoryGenerator(seed=11, pages=pages)
    head = gen.populate(repo)
    pack = getattr(repo.objects, "pack", None)
    if pack is not None:
        pack()
    WorkTree(root, repo).checkout("main", head)
    repo.close()
    env = {"GVCS_ACTOR": next(a.id for a in gen.actors if a.kind == "human"), "PATH": "/usr/bin:/bin"}
    page_ids = sorted(gen.pages)
    times: dict[str, list[float]] = {"rules": [], "none": []}
    for i in range(commits * 2 + 2):
        key = "rules" if i % 2 == 0 else "none"
        path = root / "pages" / f"{page_ids[(i * 7919) % len(page_ids)]}.md"
        path.write_text(
            path.read_text(encoding="utf-8") + f"\nA line added by commit {i}.\n", encoding="utf-8"
        )
        elapsed = _run([*gvcs_argv(key == "rules"), "-C", str(root), "commit", "-m", f"Edit {i}"], env)
        if i >= 2:
            times[key].append(elapsed)
    wait_for_packers(root / ".gvcs")
    return _ratio(times, "gvcs commit of one page", pages=pages, commits=commits)


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed


# --- a group of agent commits ---------------------------------------------------------------------


def server_groups(root: Path, agents: int, rounds: int) -> dict[str, Any]:
    """``agents`` agents commit one page each at once through a real ``gvcs serve`` (one group commit
    per round): two servers running side by side, one with the rules and one without, each on its own
    store made alike; rounds alternate between them. Each round's wall time; each server's first
    rounds warm it up (imports, caches), as a server that has been up a while is warm."""
    from . import api_load

    tokens = {key: api_load.make_story(root / key, agents, 200) for key in ("rules", "none")}
    times: dict[str, list[float]] = {"rules": [], "none": []}
    with contextlib.ExitStack() as servers:
        urls: dict[str, str] = {}
        for key in ("rules", "none"):
            port = api_load._free_port()
            argv = [*gvcs_argv(key == "rules"), "-C", str(root / key), "serve", "--port", str(port)]
            urls[key] = servers.enter_context(api_load.server(argv, port))
        for r in range(rounds + WARM_ROUNDS):
            # Which server goes first alternates (ABBA): a round run right after the other server's
            # (its packing, the machine's state) must not favour one side.
            for key in ("rules", "none") if r % 2 == 0 else ("none", "rules"):
                repo = open_repository(root / key)
                head = repo.branch_head("main")
                repo.close()
                assert head is not None
                seconds, acked = asyncio.run(_one_commit_each(urls[key], tokens[key], head, r))
                if acked != agents:
                    raise RuntimeError(f"round {r} ({key}): {acked} of {agents} commits")
                if r >= WARM_ROUNDS:
                    times[key].append(seconds)
    return _ratio(times, f"{agents} agents' commits through gvcs serve", agents=agents, rounds=rounds)


async def _one_commit_each(url: str, tokens: dict[str, str], head: str, round_: int) -> tuple[float, int]:
    """Every agent commits its desk page at the same moment; (wall time, commits acknowledged)."""
    import aiohttp

    from .api_load import COMMIT

    async def commit(session: aiohttp.ClientSession, agent: str, start: asyncio.Event) -> bool:
        page = f"desk-{agent.removeprefix('agent-')}"
        change = {"upsertPage": {"id": page, "title": page.title(), "body": f"{agent}, round {round_}.\n"}}
        variables = {
            "input": {"branch": "main", "expectedHead": head, "message": "Visit", "changes": [change]}
        }
        await start.wait()
        headers = {"authorization": f"Bearer {tokens[agent]}"}
        async with session.post(url, json={"query": COMMIT, "variables": variables}, headers=headers) as got:
            return "errors" not in await got.json()

    start = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(tokens))) as session:
        tasks = [asyncio.create_task(commit(session, agent, start)) for agent in sorted(tokens)]
        await asyncio.sleep(0.2)
        began = time.perf_counter()
        start.set()
        done = await asyncio.gather(*tasks)
        return time.perf_counter() - began, sum(done)


def agent_groups(root: Path, agents: int, groups: int) -> dict[str, Any]:
    """100 ``agent.emit.v1`` events as one group (``ingest_many``), on two stores made alike: one
    opened with the rules, one without."""
    ids = [f"agent-{i:03d}" for i in range(agents)]
    setup = ChangeSet()
    for actor in ("ada", *ids):
        setup.upsert_actor(Actor(actor, actor.title(), "human" if actor == "ada" else "agent"))
    ruled = init_repository(root / "rules")
    init_repository(root / "none").close()
    repos = {"rules": ruled, "none": bare(root / "none" / ".gvcs")}
    for repo in repos.values():
        repo.commit("main", setup, actor="ada", message="Set up", expected_head=None)
    times: dict[str, list[float]] = {"rules": [], "none": []}
    for g in range(groups + 2):
        for key, repo in repos.items():
            events = [
                Event(
                    "agent.emit.v1",
                    f"g{g}-{agent}",
                    agent,
                    {"page": f"desk-{agent}", "title": f"Desk of {agent}", "body": f"Note {g} of {agent}."},
                    "main",
                )
                for agent in ids
            ]
            elapsed = time_call(partial(_ingest_all, repo, events))
            if g >= 2:
                times[key].append(elapsed)
    for key, repo in repos.items():
        wait_for_packers(root / key / ".gvcs")
        repo.close()
    return _ratio(times, f"group of {agents} agent commits", agents=agents, groups=groups)


def _ingest_all(repo: Repository, events: list[Event]) -> None:
    failed = [r for r in ingest_many(repo, events) if r.commit is None]
    if failed:
        raise RuntimeError(f"{len(failed)} events were not committed: {failed[0].error}")


def _ratio(times: dict[str, list[float]], what: str, **sizes: int) -> dict[str, Any]:
    with_rules, without = median(times["rules"]), median(times["none"])
    ratio = with_rules / without
    return {
        "what": what,
        **sizes,
        "median_seconds_with_rules": with_rules,
        "median_seconds_without_rules": without,
        "ratio": ratio,
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
    }


# --- a long history: fsck --rules and a verified push -----------------------------------------------


def long_history(workdir: Path, commits: int, pages: int) -> dict[str, Any]:
    source_root = workdir / "history"
    build = time_call(lambda: build_history(source_root, StoryGenerator(seed=42, pages=pages), commits))
    source = open_repository(source_root)
    sum(1 for _ in source.walk(["main"]))  # the commit cache, as after any long log
    report: Any = None

    def fsck() -> None:
        nonlocal report
        report = source.fsck_rules()

    fsck_seconds = time_call(fsck)
    if not report.ok:
        raise RuntimeError(f"the generated history breaks a rule: {report.problems[0]}")
    pushes = {
        "rules": _push(source, init_repository(workdir / "pushed")),
        "none": _push(source, _empty(workdir)),
    }
    source.close()
    gate_seconds = pushes["rules"]["gate_seconds"]
    return {
        "commits": commits,
        "pages": pages,
        "build_seconds": build,
        "fsck_rules_seconds": fsck_seconds,
        "fsck_rules_commits_per_s": commits / fsck_seconds,
        "push_seconds_with_rules": pushes["rules"]["seconds"],
        "push_seconds_without_rules": pushes["none"]["seconds"],
        "push_gate_seconds": gate_seconds,
        "push_gate_commits_per_s": commits / gate_seconds,
        "push_commits_per_s_with_rules": commits / pushes["rules"]["seconds"],
        "goal_rate": GOAL_RATE,
        "goal_met": commits / fsck_seconds >= GOAL_RATE and commits / gate_seconds >= GOAL_RATE,
    }


def _empty(workdir: Path) -> Repository:
    git_dir = workdir / "pushed-bare.git"
    init_git_dir(git_dir)
    repo = bare(git_dir)
    repo.set_head_branch("main")
    return repo


def _push(source: Repository, destination: Repository) -> dict[str, float]:
    """Push main into ``destination``; how long it took, and how long its gate took."""
    spent = 0.0
    original: Callable[..., None] = destination.gate.check

    def timed(repo: Any, moves: Any) -> None:
        nonlocal spent
        start = time.perf_counter()
        try:
            original(repo, moves)
        finally:
            spent += time.perf_counter() - start

    destination.gate.check = timed  # type: ignore[method-assign]
    main = branch_ref("main")
    seconds = time_call(lambda: copy_refs(source, destination, [(main, main)]))
    destination.close()
    return {"seconds": seconds, "gate_seconds": spent}


# --- the figure -----------------------------------------------------------------------------------


def run(
    pages: int, commits: int, agents: int, groups: int, history: int, history_pages: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gvcs-bench-gate-") as tmp:
        work = Path(tmp)
        cli = cli_single_page_commits(work / "cli", pages, max(3, commits // 10))
        single = single_page_commits(work / "single", pages, commits)
        served = server_groups(work / "served", agents, max(4, groups * 3))
        group = agent_groups(work / "group", agents, groups)
        longer = long_history(work / "long", history, history_pages)
    return {
        "cli_single_page_commit": cli,
        "single_page_commit": single,
        "server_agent_group": served,
        "agent_group": group,
        "long_history": longer,
        "goal_met": cli["goal_met"] and served["goal_met"] and longer["goal_met"],
    }


def main(argv: list[str]) -> dict[str, Any]:
    small = quick()
    parser = argparse.ArgumentParser(prog="python -m bench.gate_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500 if small else 10_000)
    parser.add_argument("--commits", type=int, default=20 if small else 200)
    parser.add_argument("--agents", type=int, default=20 if small else 100)
    parser.add_argument("--groups", type=int, default=2 if small else 10)
    parser.add_argument("--history", type=int, default=2_000 if small else 100_000)
    parser.add_argument("--history-pages", type=int, default=200 if small else 1_000)
    args = parser.parse_args(argv)
    result = run(args.pages, args.commits, args.agents, args.groups, args.history, args.history_pages)
    write_result("gate_cost", result)
    for key in ("cli_single_page_commit", "single_page_commit", "server_agent_group", "agent_group"):
        f = result[key]
        print(
            f"gate: {f['what']}: {f['median_seconds_with_rules'] * 1000:.1f} ms with rules, "
            f"{f['median_seconds_without_rules'] * 1000:.1f} ms without (ratio {f['ratio']:.3f})"
        )
    longer = result["long_history"]
    rates = f"fsck --rules {longer['fsck_rules_commits_per_s']:.0f} commits/s"
    rates += f", verified push {longer['push_gate_commits_per_s']:.0f} commits/s checked"
    pushes = f"push {longer['push_seconds_with_rules']:.1f} s with rules"
    pushes += f", {longer['push_seconds_without_rules']:.1f} s without"
    print(f"gate: {longer['commits']} commits: {rates} ({pushes})")
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
