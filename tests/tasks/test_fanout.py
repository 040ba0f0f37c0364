"""Pub/sub fan-out: what any process of a story commits or publishes reaches every server at once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from api.graphql.fanout import RedisFanout
from api.graphql.feed import BranchCommit, CommitFeed, NarrativeMessage
from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.tasks.intake import submit
from narrative_vcs.tasks.keys import Keys, store_id
from narrative_vcs.tasks.pubsub import (
    narrative_change,
    publish_commits,
    publish_narrative_change,
    redis_client,
)
from tests.api.serving import Served, get_json, serve
from tests.api.test_live import EventStream, _commit_via_api
from tests.conftest import Writer
from tests.tasks.conftest import Workers
from tests.tasks.test_intake import emit

pytestmark = pytest.mark.redis


def listeners(redis_url: str, channel: str, count: int) -> None:
    """Wait until ``count`` connections subscribe to ``channel`` (messages before that are not heard)."""
    client = redis_client(redis_url)
    deadline = time.monotonic() + 20
    while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
        assert time.monotonic() < deadline, f"fewer than {count} listeners on {channel}"
        time.sleep(0.05)


def test_a_published_move_wakes_a_feed_that_polls_once_an_hour(story: Path, redis_url: str) -> None:
    keys = Keys(store_id(str(story)))

    def commit_elsewhere() -> str:
        repo = open_repository(story)
        try:
            return Writer(repo).page("hall", "A hall.", actor="actor-01")
        finally:
            repo.close()

    async def run() -> None:
        repo = open_repository(story)
        feed = CommitFeed(repo, interval=3600)
        fanout = RedisFanout(redis_url, keys)
        feed.start()
        fanout.start(feed)
        try:
            sub = await feed.open("main", narrative=True)
            await asyncio.to_thread(listeners, redis_url, keys.commits_channel, 1)
            oid = await asyncio.to_thread(commit_elsewhere)
            publish_commits(redis_client(redis_url), keys, ["main"])
            item = await sub.get(timeout=15)
            assert isinstance(item, BranchCommit) and item.commit.id == oid
            publish_narrative_change(redis_url, str(story), narrative_change(branch="main", summary="a hall"))
            news = await sub.get(timeout=15)
            assert isinstance(news, NarrativeMessage)
            assert (news.data["topic"], news.data["summary"]) == ("narrative.change.v1", "a hall")
            sub.close()
        finally:
            await fanout.stop()
            await feed.stop()
            repo.close()

    asyncio.run(run())


def _ready(server: Served) -> None:
    deadline = time.monotonic() + 20
    while not get_json(f"{server.base}/health").get("pubsub"):
        assert time.monotonic() < deadline, "the server did not subscribe to Redis"
        time.sleep(0.05)


def _subscribed(server: Served, count: int) -> None:
    deadline = time.monotonic() + 20
    while get_json(f"{server.base}/health")["subscribers"] < count:
        assert time.monotonic() < deadline, "the stream was not registered"
        time.sleep(0.02)


def _next_of(stream: EventStream, kind: str) -> dict[str, str]:
    while True:
        event = stream.next()  # at most 15 s per event: the stream's socket timeout
        if event.get("event") == kind:
            return event


def test_two_servers_stream_what_the_other_and_the_workers_commit(
    story: Path, redis_url: str, workers: Workers
) -> None:
    repo = open_repository(story)
    try:
        token = create_token(repo.access, "actor-00")[1]
    finally:
        repo.close()
    auth = {"authorization": f"Bearer {token}"}
    keys = Keys(store_id(str(story)))
    with serve(story, "--redis", redis_url) as one, serve(story, "--redis", redis_url) as two:
        _ready(one)
        _ready(two)
        listeners(redis_url, keys.narrative_channel, 2)
        stream_one = EventStream(one, "/events?branch=main", auth)
        stream_two = EventStream(two, "/events?branch=main", auth)
        try:
            _subscribed(one, 1)
            _subscribed(two, 1)
            # A mutation of server one reaches the stream of server two.
            oid = _commit_via_api(one, token, "hall")
            assert _next_of(stream_two, "commit")["id"] == f"main:{oid}"
            assert _next_of(stream_one, "commit")["id"] == f"main:{oid}"
            # A worker's commit reaches both.
            workers.start()
            event = emit("actor-02", 1)
            (receipt,) = submit(str(story), [event], redis_url=redis_url, wait=60)
            assert receipt.status == "committed"
            for stream in (stream_one, stream_two):
                data = json.loads(_next_of(stream, "commit")["data"])
                assert (data["id"], data["eventId"]) == (receipt.commit, event.id)
            # A narrative message published anywhere reaches the streams of every server.
            change = narrative_change(
                branch="main", actor="actor-00", summary="the hall opens", pages=["hall"]
            )
            assert publish_narrative_change(redis_url, str(story), change) == 2
            for stream in (stream_one, stream_two):
                news = json.loads(_next_of(stream, "narrative.change.v1")["data"])
                assert (news["topic"], news["id"], news["pages"]) == (
                    "narrative.change.v1",
                    change["id"],
                    ["hall"],
                )
        finally:
            stream_one.close()
            stream_two.close()
