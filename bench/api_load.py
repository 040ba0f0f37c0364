"""Issue 5, figure 7: the GraphQL server under load from a second process on loopback.

1. ``agents``: 100 agents commit single-page changes to ``main`` at once, each to its own page, each with
   the head it last saw as ``expectedHead`` (so most are stale): commits/s, and checks that every
   acknowledged commit is on the branch and that no commit was refused (goal: >= 200 commits/s on the
   embedded store).
2. ``shared``: the same with 10% of the agents editing a few shared pages: a conflict must name a page
   that another agent really changed after the writer's ``expectedHead``; the others must see none.
   After a conflict the agent reads the head again and retries.
3. ``log``: ``log(first: 50)`` with actors and changed pages at 50 concurrent clients for a fixed time:
   p50/p99 latency and requests/s, and the same for a trivial strawberry ``hello`` query served the same
   way (``bench/hello_app.py``) in the same run (goal: ratio >= 0.5).

The server is a real ``gvcs serve`` (uvicorn) process on a fresh embedded story; the clients are
asyncio tasks of this process (aiohttp, one connection each).

    python -m bench.api_load [--agents 100] [--commits 20] [--clients 50] [--seconds 10] [--store neo4j]

With ``--store neo4j`` (or a ``neo4j://`` URI) the writers run a second time on a story whose history
lives in Neo4j, in the same run, and the ratio to the embedded figure is reported (issue 12). The
server's peak memory (``VmHWM``) is reported for every writer run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.objects import Actor, Page
from narrative_vcs.repository import ChangeSet
from narrative_vcs.types import ObjectId

from .generate import StoryGenerator
from .util import quick, write_result

GOAL_COMMITS = 200.0
GOAL_RATIO = 0.5
GOAL_NEO4J_RATIO = 0.7  # issue 12: the Neo4j store at 0.7x the embedded one or better
SHARED_PAGES = 3

COMMIT = """mutation($input: CommitInput!) { commit(input: $input) { rebased commit { id } } }"""
HEAD = """query($page: String!) { branch(name: "main") { head { id } } page(id: $page) { body } }"""
LOG = """{ branch(name: "main") { log(first: 50) { edges { node {
    id shortId subject kind time actor { id name kind } changedPages } } } } }"""
HELLO = "{ hello }"


# --- the story and the servers ----------------------------------------------------------------------


def make_story(root: Path, agents: int, pages: int, store: str | None = None) -> dict[str, str]:
    """A story of ``pages`` generated pages, ``agents`` agent actors each with a page of their own, and
    the shared pages; returns a token per agent. ``store``: a ``neo4j://`` URI to keep the history in
    that database (emptied first) instead of the embedded store."""
    if store is not None:
        from narrative_vcs.graph.neo4j import open_neo4j

        objects, _refs, _access = open_neo4j(store)
        try:
            objects.server.clear()
        finally:
            objects.close()
    repo = init_repository(root, store=store)
    gen = StoryGenerator(seed=5, pages=pages)
    head: ObjectId = gen.populate(repo)
    changes = ChangeSet()
    for i in range(agents):
        changes.upsert_actor(Actor(f"agent-{i:03}", f"Agent {i}", "agent", "scout"))
        changes.upsert_page(Page(f"desk-{i:03}", f"Desk {i}", f"Agent {i}'s desk.\n"))
    for s in range(SHARED_PAGES):
        changes.upsert_page(Page(f"commons-{s}", f"Commons {s}", "The commons.\n"))
    head = repo.commit("main", changes, actor=gen.actors[0].id, message="Agents arrive", expected_head=head)
    tokens = {f"agent-{i:03}": create_token(repo.access, f"agent-{i:03}")[1] for i in range(agents)}
    for edit in gen.edits(200):  # some history for the log to walk
        head = gen.apply(repo, edit, head)
    repo.close()
    return tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident memory of a live process (``VmHWM``), in MB; None where /proc has no answer."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@contextmanager
def server(argv: list[str], port: int, stats: dict[str, Any] | None = None) -> Iterator[str]:
    """Run a server process until the block ends; yields its GraphQL URL once it answers. ``stats``
    gets ``peak_rss_mb``, the server's peak memory, when the block ends."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode()[-500:] if proc.stderr else ""
                    raise RuntimeError(f"server did not start: {err}") from None
                time.sleep(0.05)
        yield url
    finally:
        if stats is not None:
            stats["peak_rss_mb"] = peak_rss_mb(proc.pid)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def gvcs_server(story: Path) -> tuple[list[str], int]:
    port = _free_port()
    gvcs = Path(sys.executable).with_name("gvcs")
    return [str(gvcs), "-C", str(story), "serve", "--port", str(port)], port


def hello_server() -> tuple[list[str], int]:
    port = _free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port), "--no-access-log",
            "--log-level", "warning"]  # fmt: skip
    return argv, port


# --- writers ----------------------------------------------------------------------------------------


@dataclass
class Writes:
    acked: list[str] = field(default_factory=list)
    rebased: int = 0
    conflicts: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (agent, expected, paths)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def _post(
    session: aiohttp.ClientSession, url: str, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with session.post(url, json={"query": query, "variables": variables}, headers=headers) as response:
        body: dict[str, Any] = await response.json()
        return body


async def _agent(
    url: str, agent: str, token: str, page: str, commits: int, head: str, out: Writes, start: asyncio.Event
) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        await start.wait()
        done = 0
        n = 0
        while done < commits:
            n += 1
            body = f"{agent} was here, visit {n}.\n"
            change = {"upsertPage": {"id": page, "title": page.title(), "body": body}}
            variables = {
                "input": {
                    "branch": "main",
                    "expectedHead": head,
                    "message": f"{agent}: visit {n}",
                    "changes": [change],
                }
            }
            got = await _post(session, url, COMMIT, variables, token)
            if "errors" in got:
                error = got["errors"][0]
                if error["extensions"]["code"] == "CONFLICT":
                    out.conflicts.append((agent, head, list(error["extensions"].get("paths", []))))
                    fresh = await _post(session, url, HEAD, {"page": page}, token)
                    head = fresh["data"]["branch"]["head"]["id"]
                    continue
                out.errors.append(error["message"])
                return
            payload = got["data"]["commit"]
            head = payload["commit"]["id"]
            out.acked.append(head)
            out.rebased += payload["rebased"]
            done += 1


async def run_writers(
    url: str, tokens: dict[str, str], commits: int, shared_fraction: float, head: str
) -> Writes:
    out = Writes()
    start = asyncio.Event()
    agents = sorted(tokens)
    sharers = set(agents[: round(len(agents) * shared_fraction)])
    tasks = []
    for i, agent in enumerate(agents):
        page = f"commons-{i % SHARED_PAGES}" if agent in sharers else f"desk-{i:03}"
        tasks.append(asyncio.create_task(_agent(url, agent, tokens[agent], page, commits, head, out, start)))
    await asyncio.sleep(0.2)  # every session open before the start
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - began
    return out


def check_writes(story: Path, out: Writes, before: str, sharers: set[str]) -> dict[str, Any]:
    """Lost commits (acknowledged, not on main) and false conflicts (the page did not change after the
    writer's expected head, or the writer does not share a page)."""
    repo = open_repository(story)
    try:
        line = {c.id for c in repo.walk(["main"])}
        lost = [oid for oid in out.acked if oid not in line]
        false_conflicts = 0
        for agent, expected, paths in out.conflicts:
            if agent not in sharers or not paths:
                false_conflicts += 1
                continue
            # A true conflict: some commit after `expected` on main changed each named page.
            changed: set[str] = set()
            for info in repo.walk(["main"]):
                if info.id == expected:
                    break
                changed.update(c.path for c in repo.changes(info.id))
            false_conflicts += any(p not in changed for p in paths)
        gained = sum(1 for _ in repo.walk(["main"])) - sum(1 for _ in repo.walk([before]))
        return {"lost": len(lost), "false_conflicts": false_conflicts, "commits_gained": gained}
    finally:
        repo.close()


# --- readers ----------------------------------------------------------------------------------------


async def run_readers(
    url: str, query: str, clients: int, seconds: float, token: str | None
) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    stop_at = 0.0

    async def client() -> None:
        nonlocal failures
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            await _post(session, url, query, {}, token)  # warm the connection
            await ready.wait()
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                got = await _post(session, url, query, {}, token)
                latencies.append(time.perf_counter() - t0)
                failures += "errors" in got

    ready = asyncio.Event()
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(0.5)
    began = time.perf_counter()
    stop_at = began + seconds
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "failures": failures,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    small = quick()
    parser.add_argument("--agents", type=int, default=20 if small else 100)
    parser.add_argument("--commits", type=int, default=3 if small else 20, help="per agent")
    parser.add_argument("--pages", type=int, default=300 if small else 2000)
    parser.add_argument("--clients", type=int, default=10 if small else 50)
    parser.add_argument("--seconds", type=float, default=2.0 if small else 10.0)
    parser.add_argument(
        "--store",
        default="embedded",
        metavar="embedded|neo4j|URI",
        help="neo4j (the server of scripts/neo4j) or a neo4j:// URI: the agents run on it too, beside the"
        " embedded store, and the ratio is reported",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat the writers this many times (embedded and Neo4j in turn); medians are reported",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    neo4j_uri = _neo4j_uri(args.store)

    work = Path(tempfile.mkdtemp(prefix="gvcs-bench-api-"))
    result: dict[str, Any] = {
        "agents": args.agents,
        "commits_per_agent": args.commits,
        "clients": args.clients,
        "seconds": args.seconds,
    }
    try:
        figures: dict[str, Any] = {}
        runs: list[tuple[str, float, str | None]] = [("agents", 0.0, None), ("shared", 0.1, None)]
        if neo4j_uri is not None:
            runs += [("agents_neo4j", 0.0, neo4j_uri), ("shared_neo4j", 0.1, neo4j_uri)]
        rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        previous: dict[str, dict[str, Any]] = {}
        for run, (name, shared, store) in enumerate(runs * args.runs):
            story = work / name
            if run >= len(runs):
                shutil.rmtree(story)
            tokens = make_story(story, args.agents, args.pages, store)
            before = _head(story)
            argv_, port = gvcs_server(story)
            stats: dict[str, Any] = {}
            with server(argv_, port, stats) as url:
                writes = asyncio.run(run_writers(url, tokens, args.commits, shared, before))
            sharers = set(sorted(tokens)[: round(len(tokens) * shared)])
            checked = check_writes(story, writes, before, sharers)
            figures[name] = {
                "acknowledged": len(writes.acked),
                "commits_per_s": len(writes.acked) / writes.seconds,
                "seconds": writes.seconds,
                "rebased": writes.rebased,
                "conflicts": len(writes.conflicts),
                "conflicts_of_sharers": sum(a in sharers for a, _, _ in writes.conflicts),
                "errors": writes.errors[:5],
                "server_peak_rss_mb": stats.get("peak_rss_mb"),
                **checked,
            }
            f = figures[name]
            if run >= len(runs):  # what went wrong in any run counts
                for key in ("lost", "false_conflicts"):
                    f[key] += previous[name][key]
            previous[name] = f
            rates[name].append(f["commits_per_s"])
            f["commits_per_s_runs"] = rates[name]
            rss = f"{f['server_peak_rss_mb']:.0f} MB" if f["server_peak_rss_mb"] else "?"
            print(
                f"{name:>12}: {f['acknowledged']} commits in {f['seconds']:.2f} s"
                f" = {f['commits_per_s']:.0f} commits/s;"
                f" rebased {f['rebased']}, conflicts {f['conflicts']} (false {f['false_conflicts']}),"
                f" lost {f['lost']}, errors {len(writes.errors)}; server peak RSS {rss}"
            )
        for name, values in rates.items():
            figures[name]["commits_per_s"] = statistics.median(values)
        if neo4j_uri is not None:
            # Each run's ratio (embedded and Neo4j measured one after the other), and their median.
            ratios = [n / e for n, e in zip(rates["agents_neo4j"], rates["agents"], strict=True)]
            neo = statistics.median(ratios)
            figures["neo4j_to_embedded"] = neo
            figures["neo4j_to_embedded_runs"] = ratios
            each = ", ".join(f"{r:.2f}" for r in ratios)
            print(
                f"  Neo4j/embedded = {neo:.2f}"
                + (f" (median of {len(ratios)} runs: {each})" if len(ratios) > 1 else "")
                + f"; Neo4j {figures['agents_neo4j']['commits_per_s']:.0f},"
                f" embedded {figures['agents']['commits_per_s']:.0f} commits/s"
                f" (goal >= {GOAL_NEO4J_RATIO}, and >= {GOAL_COMMITS:.0f} commits/s)"
            )

        story = work / "agents"
        token = make_token(story)
        for name, extra in (("log", []), ("log_uncached", ["--no-read-cache"])):
            argv_, port = gvcs_server(story)
            with server(argv_ + extra, port) as url:
                figures[name] = asyncio.run(run_readers(url, LOG, args.clients, args.seconds, token))
        argv_, port = hello_server()
        with server(argv_, port) as url:
            figures["hello"] = asyncio.run(run_readers(url, HELLO, args.clients, args.seconds, None))
        ratio = figures["log"]["requests_per_s"] / figures["hello"]["requests_per_s"]
        uncached = figures["log_uncached"]["requests_per_s"] / figures["hello"]["requests_per_s"]
        figures["log_to_hello"] = ratio
        figures["log_uncached_to_hello"] = uncached
        for name in ("log", "log_uncached", "hello"):
            f = figures[name]
            print(
                f"{name:>12}: {f['requests_per_s']:.0f} req/s, p50 {f['p50_ms']:.1f} ms,"
                f" p99 {f['p99_ms']:.1f} ms, failures {f['failures']}"
            )
        print(f"  log/hello = {ratio:.2f} (goal >= {GOAL_RATIO}); without the read cache {uncached:.2f}")
        result.update(figures)
        result["goals"] = {
            "commits_per_s": {
                "goal": GOAL_COMMITS,
                "value": figures["agents"]["commits_per_s"],
                "met": figures["agents"]["commits_per_s"] >= GOAL_COMMITS,
            },
            "no_lost_commits": figures["agents"]["lost"] == 0 and figures["shared"]["lost"] == 0,
            "no_conflicts_for_own_pages": figures["agents"]["conflicts"] == 0
            and figures["shared"]["conflicts"] == figures["shared"]["conflicts_of_sharers"],
            "no_false_conflicts": figures["shared"]["false_conflicts"] == 0,
            "log_to_hello": {"goal": GOAL_RATIO, "value": ratio, "met": ratio >= GOAL_RATIO},
        }
        if neo4j_uri is not None:
            value = figures["agents_neo4j"]["commits_per_s"]
            result["goals"]["neo4j_commits_per_s"] = {
                "goal": GOAL_COMMITS,
                "value": value,
                "met": value >= GOAL_COMMITS and figures["neo4j_to_embedded"] >= GOAL_NEO4J_RATIO,
                "ratio_to_embedded": figures["neo4j_to_embedded"],
            }
            result["goals"]["neo4j_no_lost_commits"] = (
                figures["agents_neo4j"]["lost"] == 0 and figures["shared_neo4j"]["lost"] == 0
            )
            result["goals"]["neo4j_no_false_conflicts"] = (
                figures["agents_neo4j"]["conflicts"] == 0 and figures["shared_neo4j"]["false_conflicts"] == 0
            )
        path = write_result("api_load", result)
        print(f"wrote {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _neo4j_uri(store: str) -> str | None:
    """None for the embedded store; the URI of ``--store neo4j`` (``scripts/neo4j url``) or as given."""
    if store in ("embedded", "git"):
        return None
    if store == "neo4j":
        script = Path(__file__).resolve().parents[1] / "scripts" / "neo4j"
        found = subprocess.run([str(script), "url"], capture_output=True, text=True, check=False)
        if found.returncode != 0 or not found.stdout.strip():
            raise SystemExit(f"bench.api_load: no Neo4j server (scripts/neo4j start): {found.stderr.strip()}")
        return found.stdout.strip()
    if not store.startswith(("neo4j://", "neo4j+s://", "bolt://")):
        raise SystemExit(f"bench.api_load: --store takes embedded, neo4j or a neo4j:// URI, not {store!r}")
    return store


def _head(story: Path) -> str:
    repo = open_repository(story)
    try:
        head = repo.branch_head("main")
        assert head is not None
        return head
    finally:
        repo.close()


def make_token(story: Path) -> str:
    repo = open_repository(story)
    try:
        return create_token(repo.access, "agent-000", "bench reader")[1]
    finally:
        repo.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
