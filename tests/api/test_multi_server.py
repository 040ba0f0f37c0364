"""Several servers, one story: three real ``gvcs serve`` processes and a real ``gvcs worker`` on one
Neo4j store and one Redis. Agents spread over the servers commit to ``main`` (one by event, through the
worker); every acknowledged commit is on ``main``, no agent (each writes its own page) is told of a
conflict, and a subscriber on each server gets every commit of ``main`` exactly once, in order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.api_load import _head, make_story
from bench.multi_server import check, run

from .serving import serve

pytestmark = [pytest.mark.neo4j]


def test_three_servers_and_a_worker_on_one_store(tmp_path: Path, neo4j_uri: str, redis_url: str) -> None:
    story = tmp_path / "story"
    tokens = make_story(story, agents=9, pages=20, store=neo4j_uri)
    before = _head(story)
    gvcs = str(Path(sys.executable).with_name("gvcs"))
    worker = subprocess.Popen(
        [gvcs, "worker", "--redis", redis_url, "--store", neo4j_uri, "--loglevel", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with ExitStack() as stack:
            servers = [stack.enter_context(serve(story, "--redis", redis_url)) for _ in range(3)]
            outcome = asyncio.run(
                run([f"{s.base}/graphql" for s in servers], tokens, 3, 1 / 9, before, settle=60.0)
            )
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert outcome["failures"] == []
    assert outcome["subscriber_errors"] == [[], [], []]
    checked = check(story, before, outcome)
    assert len(outcome["acked"]) == 27
    assert checked["lost"] == 0
    assert checked["commits_on_main"] == 27
    for sub in checked["subscribers"]:
        assert sub == {"received": 27, "missing": 0, "duplicates": 0, "in_order": True}
    assert b"Traceback" not in err
