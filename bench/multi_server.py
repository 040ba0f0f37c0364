"""Issue 12: several servers, one story. Three ``gvcs serve`` processes and two ``gvcs worker``
processes on one Neo4j store and one Redis; agents spread over the servers commit to ``main``, some by
mutation (the server's group commit) and some by event (``agent.emit.v1`` to ``main``, committed by the
workers); one subscriber per server follows ``commitAdded(branch: "main")`` over a websocket.

Reported: commits/s over the run; commits acknowledged but not on ``main`` (lost); conflicts (every
agent writes a page of its own: any conflict is false); and per subscriber, the commits it missed, the
ones it got twice and whether it got them in the order of ``main``'s history. Each server's peak RSS.

    python -m bench.multi_server [--servers 3] [--workers 2] [--agents 100] [--commits 5]
        [--events 0.1] [--store URI] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

from narrative_vcs.graph.factory import open_repository

from .api_load import (
    _head,
    _neo4j_uri,
    _post,
    gvcs_server,
    make_story,
    server,
)
from .util import quick, write_result

SUBSCRIBE = 'subscription { commitAdded(branch: "main") { commit { id } } }'
COMMIT = """mutation($input: CommitInput!) { commit(input: $input) { commit { id } } }"""
EMIT = """mutation($input: EmitEventInput!) { emitEvent(input: $input) { commit { id } } }"""
HEAD = """{ branch(name: "main") { head { id } } }"""


def _redis_url(given: str | None) -> str:
    if given:
        return given
    script = Path(__file__).resolve().parents[1] / "scripts" / "redis"
    found = subprocess.run([str(script), "url"], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise SystemExit(f"bench.multi_server: no Redis (scripts/redis start): {found.stderr.strip()}")
    return found.stdout.strip()


class Subscriber:
    """One websocket subscription to ``commitAdded(branch: "main")``: the commit ids in arrival order."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://", 1)
        self.ids: list[str] = []
        self.ready = asyncio.Event()
        self.errors: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.url, protocols=("graphql-transport-ws",)) as ws,
        ):
            await ws.send_json({"type": "connection_init", "payload": {}})
            await ws.receive_json()
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIBE}})
            self.ready.set()
            while not stop.is_set():
                try:
                    message = await ws.receive_json(timeout=0.2)
                except TimeoutError:
                    continue
                if message.get("type") == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        self.errors.append(payload["errors"][0]["message"])
                    else:
                        self.ids.append(payload["data"]["commitAdded"]["commit"]["id"])
                elif message.get("type") in ("error", "complete"):
                    self.errors.append(json.dumps(message)[:200])
                    return


async def _agent(
    url: str, agent: str, token: str, page: str, commits: int, head: str, by_event: bool, acked: list[str],
    failures: list[str],
) -> None:  # fmt: skip
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for n in range(commits):
            body = f"{agent} was here, visit {n}.\n"
            if by_event:
                payload = {"page": page, "body": body}
                variables: dict[str, Any] = {
                    "input": {"topic": "agent.emit.v1", "payload": payload, "branch": "main"}
                }
                got = await _post(session, url, EMIT, variables, token)
            else:
                change = {"upsertPage": {"id": page, "title": page.title(), "body": body}}
                message = f"{agent}: {n}"
                variables = {
                    "input": {"branch": "main", "expectedHead": head, "message": message, "changes": [change]}
                }
                got = await _post(session, url, COMMIT, variables, token)
            if "errors" in got:
                failures.append(f"{agent}: {got['errors'][0]['message']}")
                return
            key = "emitEvent" if by_event else "commit"
            commit = got["data"][key]["commit"]["id"]
            acked.append(commit)
            head = commit if not by_event else head


async def run(
    urls: list[str], tokens: dict[str, str], commits: int, events: float, before: str, settle: float
) -> dict[str, Any]:
    stop = asyncio.Event()
    subscribers = [Subscriber(url) for url in urls]
    listening = [asyncio.create_task(s.run(stop)) for s in subscribers]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), 30)
    await asyncio.sleep(0.5)  # the subscriptions are open on the servers
    acked: list[str] = []
    failures: list[str] = []
    agents = sorted(tokens)
    by_event = set(agents[: round(len(agents) * events)])
    began = time.perf_counter()
    await asyncio.gather(
        *(
            _agent(
                urls[i % len(urls)],
                agent,
                tokens[agent],
                f"desk-{i:03}",
                commits,
                before,
                agent in by_event,
                acked,
                failures,
            )
            for i, agent in enumerate(agents)
        )
    )
    seconds = time.perf_counter() - began
    # Wait until every subscriber caught up with the head (or the settle time is over).
    async with aiohttp.ClientSession() as session:
        final = (await _post(session, urls[0], HEAD, {}))["data"]["branch"]["head"]["id"]
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and not all(s.ids and s.ids[-1] == final for s in subscribers):
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*listening, return_exceptions=True)
    return {
        "acked": acked,
        "failures": failures,
        "seconds": seconds,
        "final": final,
        "received": [s.ids for s in subscribers],
        "subscriber_errors": [s.errors for s in subscribers],
    }


def check(story: Path, before: str, outcome: dict[str, Any]) -> dict[str, Any]:
    repo = open_repository(story)
    try:
        line: list[str] = []
        for info in repo.walk(["main"], first_parent=True):
            if info.id == before:
                break
            line.append(info.id)
        line.reverse()  # oldest first, as subscribers get them
        on_main = {c.id for c in repo.walk(["main"])}
    finally:
        repo.close()
    lost = [c for c in outcome["acked"] if c not in on_main]
    per_subscriber = []
    for ids in outcome["received"]:
        seen = [i for i in ids if i in set(line)]
        per_subscriber.append(
            {
                "received": len(ids),
                "missing": len(set(line) - set(ids)),
                "duplicates": len(ids) - len(set(ids)),
                "in_order": seen == [i for i in line if i in set(seen)],
            }
        )
    return {"commits_on_main": len(line), "lost": len(lost), "subscribers": per_subscriber}


def main(argv: list[str] | None = None) -> int:
    small = quick()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--agents", type=int, default=20 if small else 100)
    parser.add_argument("--commits", type=int, default=2 if small else 5, help="per agent")
    parser.add_argument("--pages", type=int, default=200 if small else 2000)
    parser.add_argument("--events", type=float, default=0.1, help="the share of agents that send events")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds subscribers get to catch up")
    parser.add_argument("--store", default="neo4j", metavar="neo4j|URI")
    parser.add_argument("--redis", default=None, metavar="URL", help="default: scripts/redis url")
    args = parser.parse_args(argv)
    uri = _neo4j_uri(args.store)
    if uri is None:
        raise SystemExit("bench.multi_server: several servers share a Neo4j store: --store neo4j or a URI")
    redis = _redis_url(args.redis)
    work = Path(tempfile.mkdtemp(prefix="gvcs-bench-multi-"))
    gvcs = str(Path(sys.executable).with_name("gvcs"))
    result: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in ("store", "redis")}
    try:
        story = work / "story"
        tokens = make_story(story, args.agents, args.pages, uri)
        before = _head(story)
        workers = [
            subprocess.Popen(
                [gvcs, "worker", "--redis", redis, "--store", uri, "--loglevel", "WARNING"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        stats: list[dict[str, Any]] = [{} for _ in range(args.servers)]
        try:
            with ExitStack() as stack:
                urls = []
                for i in range(args.servers):
                    argv_, port = gvcs_server(story)
                    urls.append(stack.enter_context(server([*argv_, "--redis", redis], port, stats[i])))
                outcome = asyncio.run(run(urls, tokens, args.commits, args.events, before, args.settle))
        finally:
            for proc in workers:
                proc.terminate()
            for proc in workers:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        checked = check(story, before, outcome)
        result.update(
            {
                "acknowledged": len(outcome["acked"]),
                "seconds": outcome["seconds"],
                "commits_per_s": len(outcome["acked"]) / outcome["seconds"],
                "failures": outcome["failures"][:5],
                "failure_count": len(outcome["failures"]),
                "subscriber_errors": [e[:3] for e in outcome["subscriber_errors"]],
                "server_peak_rss_mb": [s.get("peak_rss_mb") for s in stats],
                **checked,
            }
        )
        subs = checked["subscribers"]
        print(
            f"{args.servers} servers, {args.workers} workers, {args.agents} agents"
            f" ({args.events:.0%} by event): {result['acknowledged']} commits in {result['seconds']:.2f} s"
            f" = {result['commits_per_s']:.0f} commits/s;"
            f" lost {checked['lost']}, failures {result['failure_count']}"
        )
        for i, sub in enumerate(subs):
            print(
                f"  subscriber on server {i + 1}: {sub['received']} of {checked['commits_on_main']} commits,"
                f" missing {sub['missing']}, duplicates {sub['duplicates']}, in order {sub['in_order']}"
            )
        rss = ", ".join(f"{r:.0f} MB" if r else "?" for r in result["server_peak_rss_mb"])
        print(f"  servers' peak RSS: {rss}")
        for failure in result["failures"]:
            print(f"  failure: {failure}")
        path = write_result("multi_server", result)
        print(f"wrote {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
