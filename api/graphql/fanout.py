"""Redis pub/sub between the server processes (and workers) of one story: ``gvcs serve --redis URL``.

Every server subscribes to the story's two channels (:class:`narrative_vcs.tasks.keys.Keys`):

``commits``    a branch moved somewhere (a worker's group commit, another server's mutation): the
               :class:`~api.graphql.feed.CommitFeed` looks at the heads at once instead of at its next poll,
               so every server streams new commits immediately. The store stays the source of truth; a
               lost message only means the commit arrives with the next poll.
``narrative``  ``narrative.change.v1`` messages, handed to the subscribers of ``/events`` and
               ``narrativeChanged`` on every server (this one included: it hears its own messages).

When Redis is unreachable the listener retries with a growing pause (at most 10 s) and the feed keeps
polling; publishing then fails quietly (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from .feed import CommitFeed, NarrativeMessage, is_derived

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from narrative_vcs.tasks.keys import Keys

__all__ = ["RedisFanout"]

log = logging.getLogger("gvcs.api")


class RedisFanout:
    """Connects a :class:`CommitFeed` to the story's pub/sub channels."""

    def __init__(self, url: str, keys: Keys) -> None:
        self.url = url
        self.keys = keys
        self.feed: CommitFeed | None = None
        self.connected = asyncio.Event()  # set while the listener is subscribed
        self._client: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[Any]] = set()

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self, feed: CommitFeed) -> None:
        """Listen (on the running loop) and let ``feed`` publish through this fan-out."""
        import redis.asyncio

        self.feed = feed
        feed.fanout = self
        self._client = redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=5, health_check_interval=30
        )
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="gvcs-fanout")

    async def stop(self) -> None:
        if self.feed is not None and self.feed.fanout is self:
            self.feed.fanout = None
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=2)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- publishing ---------------------------------------------------------------------------------

    def announce(self) -> None:
        """A branch moved: wake the feeds of the other processes (not waited for)."""
        self._send(self.keys.commits_channel, {"branches": []})

    def publish_narrative(self, data: dict[str, Any]) -> None:
        self._send(self.keys.narrative_channel, data)

    def _send(self, channel: str, data: dict[str, Any]) -> None:
        if self._client is None:
            return
        task = asyncio.get_running_loop().create_task(self._publish(channel, data))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, channel: str, data: dict[str, Any]) -> None:
        assert self._client is not None
        try:
            await self._client.publish(channel, json.dumps(data, separators=(",", ":")))
        except Exception as exc:
            log.warning("publishing on Redis failed: %s", exc)

    # --- listening ----------------------------------------------------------------------------------

    async def _listen(self) -> None:
        assert self._client is not None and self.feed is not None
        pause = 0.5
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.commits_channel, self.keys.narrative_channel)
                self.connected.set()
                self.feed.wake()  # catch up on whatever moved while nobody listened
                pause = 0.5
                async for message in pubsub.listen():
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Redis pub/sub at %s failed (%s); retrying in %.1f s", self.url, exc, pause)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    def _handle(self, message: dict[str, Any]) -> None:
        assert self.feed is not None
        if message.get("type") != "message":
            return
        channel = message.get("channel")
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if channel == self.keys.commits_channel:
            self.feed.wake()
            return
        try:
            data = json.loads(message.get("data") or b"")
        except ValueError:
            log.warning("ignored a narrative message that is not JSON")
            return
        if isinstance(data, dict) and not is_derived(data):
            # A change that landed on a branch is derived by every server from the heads it watches
            # (in order, after its commit); what the other processes publish is everyone else's news.
            self.feed.deliver(NarrativeMessage(data))
