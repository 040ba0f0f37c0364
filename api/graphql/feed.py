"""The commits added to branches, as they happen: what subscriptions and ``/events`` stream.

One task per server watches the branch heads of the store (every :attr:`CommitFeed.interval` seconds,
and at once after a mutation of this server), so commits made by any writer (the CLI, workers, other
server processes on the same store) reach every subscriber. When a head moves, the commits it gained
on its first-parent line are published oldest first; a head moved elsewhere (a reset, a force push)
publishes the new head alone.

With Redis (``gvcs serve --redis URL``) a :class:`api.graphql.fanout.RedisFanout` wakes the feed at once
when any process of the story (a worker, another server) says a branch moved, and carries
``narrative.change.v1`` messages to every server; polling stays as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from narrative_vcs.history import CommitInfo
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

__all__ = [
    "NARRATIVE_CHANGE",
    "BranchCommit",
    "CommitFeed",
    "NarrativeMessage",
    "Subscription",
    "commits_since",
    "is_derived",
    "changes_page",
    "narrative_since",
]

log = logging.getLogger("gvcs.api")

MAX_GAINED = 1000  # commits published for one head move at most (the newest)
NARRATIVE_CHANGE = "narrative.change.v1"


@dataclass(frozen=True)
class BranchCommit:
    """A commit that became part of a branch."""

    branch: str
    commit: CommitInfo


@dataclass(frozen=True)
class NarrativeMessage:
    """A ``narrative.change.v1`` message (a JSON object; ``branch`` is the branch it is about, if any)."""

    data: dict[str, Any]

    @property
    def branch(self) -> str | None:
        branch = self.data.get("branch")
        return branch if isinstance(branch, str) else None


class Fanout(Protocol):
    """What carries the feed's news to the other server processes of the story (Redis pub/sub)."""

    def announce(self) -> None:
        """Tell the other processes that a branch moved."""

    def publish_narrative(self, data: dict[str, Any]) -> None:
        """Deliver a narrative message to every process (this one included)."""


def commits_since(
    repo: Repository, old: ObjectId | None, new: ObjectId, limit: int = MAX_GAINED
) -> list[CommitInfo]:
    """The commits of ``new``'s first-parent line after ``old``, oldest first (at most ``limit``).

    If ``old`` is not on that line within ``limit`` commits (or is None), only ``new`` is returned.
    """
    if old == new:
        return []
    gained: list[CommitInfo] = []
    for info in repo.commits.walk([new], first_parent=True):
        if info.id == old:
            return gained[::-1]
        if len(gained) >= limit:
            break
        gained.append(info)
    return [repo.commits.get(new)]


class Subscription:
    """One subscriber's queue of commits (and, if asked for, narrative messages); :meth:`get` returns
    None once the stream has ended."""

    def __init__(
        self, feed: CommitFeed, branch: str | None, *, commits: bool = True, narrative: bool = False
    ) -> None:
        self.feed = feed
        self.branch = branch
        self.commits = commits
        self.narrative = narrative
        self.queue: asyncio.Queue[BranchCommit | NarrativeMessage | None] = asyncio.Queue(maxsize=10_000)
        self.dropped = False  # it fell too far behind: it ends after what it has queued

    def offer(self, item: BranchCommit | NarrativeMessage) -> bool:
        """Queue ``item`` if this subscriber wants it; False if it fell too far behind (dropped)."""
        if isinstance(item, BranchCommit):
            wanted = self.commits and self.branch in (None, item.branch)
        else:  # a narrative message about no branch in particular goes to every branch's stream
            wanted = self.narrative and (self.branch is None or item.branch in (None, self.branch))
        if not wanted:
            return True
        if self.queue.full():
            self.dropped = True
            return False
        self.queue.put_nowait(item)
        return True

    async def get(self, timeout: float | None = None) -> BranchCommit | NarrativeMessage | None:
        """The next commit; None when the stream ended; ``TimeoutError`` after ``timeout`` seconds."""
        if self.dropped and self.queue.empty():
            return None
        if timeout is None:
            return await self.queue.get()
        return await asyncio.wait_for(self.queue.get(), timeout)

    def close(self) -> None:
        self.feed._subscribers.discard(self)


class CommitFeed:
    """Watches the branch heads and hands each subscriber the commits added to its branch."""

    def __init__(self, repo: Repository, interval: float = 0.25) -> None:
        self.repo = repo
        self.interval = interval
        self._subscribers: set[Subscription] = set()
        self._heads: dict[str, ObjectId] | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.fanout: Fanout | None = None  # set by the application when Redis carries the news
        self._delivered: OrderedDict[str, None] = OrderedDict()  # narrative message ids, lately

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gvcs-commit-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in list(self._subscribers):
            sub.queue.put_nowait(None)  # ends every stream

    def poke(self) -> None:
        """A mutation of this server moved a head: look now, and tell the other server processes."""
        self.wake()
        if self.fanout is not None:
            self.fanout.announce()

    def wake(self) -> None:
        """Look at the heads now (this server's own news, or another process said a head moved)."""
        if self._wake is not None:
            self._wake.set()

    def narrative(self, data: dict[str, Any]) -> None:
        """Publish a ``narrative.change.v1`` message to the subscribers of every server of the story
        (through the fan-out when there is one, else of this server)."""
        data = {"topic": NARRATIVE_CHANGE, **data}
        if self.fanout is not None:
            self.fanout.publish_narrative(data)
        else:
            self.deliver(NarrativeMessage(data))

    def deliver(self, item: BranchCommit | NarrativeMessage) -> None:
        """Hand ``item`` to every subscriber that wants it (on the event loop's thread). A narrative
        message heard twice (derived here from a head that moved, and published on Redis by the process
        that moved it) is delivered once."""
        if isinstance(item, NarrativeMessage):
            key = item.data.get("id")
            if isinstance(key, str):
                if key in self._delivered:
                    return
                self._delivered[key] = None
                if len(self._delivered) > 10_000:
                    self._delivered.popitem(last=False)
        for sub in list(self._subscribers):
            if not sub.offer(item):  # a subscriber that stopped reading is dropped
                self._subscribers.discard(sub)

    # --- subscribing --------------------------------------------------------------------------------

    async def open(
        self, branch: str | None = None, *, commits: bool = True, narrative: bool = False
    ) -> Subscription:
        """Start receiving the commits added to ``branch`` (every branch if None) from now on; with
        ``narrative`` also the narrative messages about it (or about no branch in particular)."""
        sub = Subscription(self, branch, commits=commits, narrative=narrative)
        if self._heads is None:
            self._heads = await asyncio.to_thread(self.repo.branches)
        self._subscribers.add(sub)
        return sub

    async def subscribe(self, branch: str | None = None) -> AsyncIterator[BranchCommit]:
        """The commits added to ``branch`` from the first iteration on, until the server stops."""
        sub = await self.open(branch)
        try:
            while (item := await sub.get()) is not None:
                if isinstance(item, BranchCommit):
                    yield item
        finally:
            sub.close()

    async def page_changes(self, page: str, branch: str | None = None) -> AsyncIterator[BranchCommit]:
        """The commits that change page ``page`` (its file differs from the first parent's), added to
        ``branch`` (every branch if None) from now on, oldest first; a commit that reaches several
        branches (a fast-forward) comes once, on the first branch it was seen on."""
        seen: OrderedDict[str, None] = OrderedDict()
        async for item in self.subscribe(branch):
            if item.commit.id in seen:
                continue
            if not await asyncio.to_thread(changes_page, self.repo, item.commit, page):
                continue
            seen[item.commit.id] = None
            if len(seen) > 10_000:
                seen.popitem(last=False)
            yield item

    async def narrative_changes(self, branch: str | None = None) -> AsyncIterator[NarrativeMessage]:
        """The narrative messages about ``branch`` (every branch if None) from now on."""
        sub = await self.open(branch, commits=False, narrative=True)
        try:
            while (item := await sub.get()) is not None:
                if isinstance(item, NarrativeMessage):
                    yield item
        finally:
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # --- watching -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            if not self._subscribers:
                self._heads = None  # nobody listens: forget, and start afresh on the next subscriber
                continue
            try:
                found = await asyncio.to_thread(self._changes)
            except Exception:  # a store that is briefly unreachable must not end the feed
                log.exception("watching the branch heads failed; retrying")
                continue
            for item in found:
                self.deliver(item)

    def _changes(self) -> list[BranchCommit | NarrativeMessage]:
        old = self._heads or {}
        new = self.repo.branches()
        self._heads = new
        found: list[BranchCommit | NarrativeMessage] = []
        for name, head in sorted(new.items()):
            before = old.get(name)
            if before != head:
                found.extend(BranchCommit(name, info) for info in commits_since(self.repo, before, head))
                found.extend(narrative_since(self.repo, name, before, head))
        return found


def changes_page(repo: Repository, info: CommitInfo, page: str) -> bool:
    """Whether the commit ``info`` changes page ``page`` (adds, edits or removes its file) against its
    first parent."""
    path = f"pages/{page}.md"
    new = repo.snapshots.blob_id(info.tree, path)
    old = repo.snapshots.blob_id(repo.commits.get(info.parents[0]).tree, path) if info.parents else None
    return new != old


_DERIVED = re.compile(r"[^:\s]+:[0-9a-f]{40}")


def is_derived(data: dict[str, Any]) -> bool:
    """Whether a narrative message is the change of a commit that landed on a branch (``id``
    ``<branch>:<commit>``), which each server derives from history itself."""
    key = data.get("id")
    return isinstance(key, str) and _DERIVED.fullmatch(key) is not None


def narrative_since(
    repo: Repository, branch: str, old: ObjectId | None, new: ObjectId
) -> list[NarrativeMessage]:
    """The ``narrative.change.v1`` messages of the commits that landed on a protected ``branch`` when it
    moved from ``old`` to ``new`` (derived from its history, so every writer's changes are announced)."""
    if old is None:
        return []  # a branch seen for the first time: nothing landed on it as far as this feed knows
    try:
        from narrative_vcs.governance.narrative import changes_between
    except ImportError:
        return []
    return [NarrativeMessage(change.to_json()) for change in changes_between(repo, branch, old, new)]
