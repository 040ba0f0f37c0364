"""Issue 11: a server that abusive input cannot stall.

1. ``refuse``: the time to refuse a fragment bomb of depth 24 (each fragment spreads the previous one
   twice: 1.3 KB of text, some 40 million fields spread out) over HTTP, one request after another on
   one connection: the median, the same with a new comment in each (so that the server parses each
   one rather than taking the document it keeps per text), and a one-field query
   (``{ branches { name } }``) alongside; and the subscription form of the bomb over a websocket
   (graphql-transport-ws), each with a new comment.
2. ``health``: ``/health`` latency (median, p99) from one client, first on an idle server, then while
   ``--flooders`` clients send bombs as fast as they are answered; and how many bombs were refused.

The server is a real ``gvcs serve`` process on a fresh embedded story; the clients are asyncio tasks of
this process (aiohttp, one connection each).

    python -m bench.abuse [--depth 24] [--runs 200] [--flooders 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from narrative_vcs.graph.factory import init_repository

from .api_load import gvcs_server, server
from .generate import StoryGenerator
from .util import median, quick, write_result

__all__ = ["fragment_bomb", "main"]

SMALL = "{ branches { name } }"


def fragment_bomb(depth: int, operation: str = "query") -> str:
    """A document whose fragment ``F<depth>`` spreads ``F<depth-1>`` twice, and so on down to ``F1``:
    linear in ``depth`` as text, 2**depth times as large spread out. ``operation`` is ``query`` (on
    ``commit``) or ``subscription`` (on ``commitAdded``)."""
    fragments = ["fragment F1 on Commit { id parents { id } }"]
    fragments += [
        f"fragment F{i} on Commit {{ ...F{i - 1} ...F{i - 1} parents {{ id }} }}" for i in range(2, depth + 1)
    ]
    root = (
        '{ commit(id: "main") { ...F%d } }'
        if operation == "query"
        else "{ commitAdded { commit { ...F%d } } }"
    )
    return f"{operation} {root % depth}\n" + "\n".join(fragments)


def make_story(root: Path) -> None:
    repo = init_repository(root)
    StoryGenerator(seed=11, pages=50).populate(repo)
    repo.close()


async def _post(session: aiohttp.ClientSession, url: str, query: str) -> dict[str, Any]:
    async with session.post(url, json={"query": query}) as response:
        body: dict[str, Any] = await response.json()
        return body


async def time_refusals(url: str, query: str, runs: int, *, fresh: bool = False) -> list[float]:
    """Seconds per request of ``query``, sent ``runs`` times one after another on one connection;
    ``fresh``: each time with a different comment, so that the server parses every one."""
    times: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        await _post(session, url, query)  # warm the connection
        for i in range(runs):
            text = f"{query}\n# {i} {time.time_ns()}" if fresh else query
            start = time.perf_counter()
            await _post(session, url, text)
            times.append(time.perf_counter() - start)
    return times


async def time_ws_refusals(url: str, query: str, runs: int) -> list[float]:
    """Seconds from a ``subscribe`` of ``query`` (a new comment each time) to its ``error``, over one
    websocket (graphql-transport-ws), ``runs`` times one after another."""
    times: list[float] = []
    ws_url = url.replace("http://", "ws://", 1)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, protocols=("graphql-transport-ws",)) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        ack = await ws.receive_json()
        assert ack["type"] == "connection_ack", ack
        for i in range(-3, runs):  # three to warm up, not counted
            text = f"{query}\n# {i} {time.time_ns()}"
            start = time.perf_counter()
            await ws.send_json({"type": "subscribe", "id": str(i), "payload": {"query": text}})
            message = await ws.receive_json()
            if i >= 0:
                times.append(time.perf_counter() - start)
            assert (message.get("id"), message.get("type")) == (str(i), "error"), message
    return times


async def health_latency(base: str, seconds: float, bomb: str | None, flooders: int) -> dict[str, Any]:
    """``/health`` latencies for ``seconds``, while ``flooders`` clients send ``bomb`` (if any)."""
    stop = asyncio.Event()
    refused = 0
    other = 0

    async def flood() -> None:
        nonlocal refused, other
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            while not stop.is_set():
                assert bomb is not None
                body = await _post(session, f"{base}/graphql", bomb)
                codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
                if codes == ["BAD_INPUT"]:
                    refused += 1
                else:
                    other += 1

    tasks = [asyncio.create_task(flood()) for _ in range(flooders if bomb is not None else 0)]
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        await asyncio.sleep(0.2)  # the flood is under way
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            async with session.get(f"{base}/health") as response:
                await response.read()
                assert response.status == 200
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "requests": len(latencies),
        "median_ms": median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "bombs_refused": refused,
        "bombs_not_refused": other,
    }


def _p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    small = quick()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=24)
    parser.add_argument("--runs", type=int, default=30 if small else 200)
    parser.add_argument("--flooders", type=int, default=4 if small else 8)
    parser.add_argument("--seconds", type=float, default=1.0 if small else 5.0)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gvcs-bench-abuse-"))
    bomb = fragment_bomb(args.depth)
    result: dict[str, Any] = {"depth": args.depth, "bomb_bytes": len(bomb.encode()), **vars(args)}
    try:
        make_story(work / "story")
        argv_, port = gvcs_server(work / "story")
        base = f"http://127.0.0.1:{port}"
        with server(argv_, port) as url:
            refuse = asyncio.run(time_refusals(url, bomb, args.runs))
            unparsed = asyncio.run(time_refusals(url, bomb, args.runs, fresh=True))
            small_query = asyncio.run(time_refusals(url, SMALL, args.runs))
            over_ws = asyncio.run(time_ws_refusals(url, fragment_bomb(args.depth, "subscription"), args.runs))
            idle = asyncio.run(health_latency(base, args.seconds, None, 0))
            flood = asyncio.run(health_latency(base, args.seconds, bomb, args.flooders))
        result["refuse"] = {
            "median_ms": median(refuse) * 1000,
            "p90_ms": statistics.quantiles(refuse, n=10)[-1] * 1000,
            "parsed_each_time_median_ms": median(unparsed) * 1000,
            "parsed_each_time_p99_ms": _p99(unparsed) * 1000,
            "small_query_median_ms": median(small_query) * 1000,
            "websocket_median_ms": median(over_ws) * 1000,
            "websocket_p99_ms": _p99(over_ws) * 1000,
        }
        result["health_idle"] = idle
        result["health_flood"] = flood
        print(
            f"refuse a depth-{args.depth} fragment bomb ({len(bomb)} bytes): median"
            f" {result['refuse']['median_ms']:.2f} ms, p90 {result['refuse']['p90_ms']:.2f} ms;"
            f" parsed each time {result['refuse']['parsed_each_time_median_ms']:.2f} ms"
            f" (p99 {result['refuse']['parsed_each_time_p99_ms']:.2f} ms)"
            f" ({{ branches {{ name }} }}: {result['refuse']['small_query_median_ms']:.2f} ms)"
        )
        print(
            f"refuse the subscription bomb over a websocket, parsed each time: median"
            f" {result['refuse']['websocket_median_ms']:.2f} ms,"
            f" p99 {result['refuse']['websocket_p99_ms']:.2f} ms"
        )
        for name, f in (("idle", idle), (f"{args.flooders} flooding", flood)):
            print(
                f"/health, {name}: median {f['median_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms,"
                f" max {f['max_ms']:.2f} ms over {f['requests']} requests;"
                f" bombs refused {f['bombs_refused']}, not refused {f['bombs_not_refused']}"
            )
        path = write_result("abuse", result)
        print(f"wrote {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
    sys.exit(0)
