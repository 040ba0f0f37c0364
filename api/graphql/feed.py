"""The commits added to branches, as they happen: what subscriptions and ``/events`` stream.

One task per server watches the branch heads of the store (every :attr:`CommitFeed.interval` seconds,
and at once after a mutation of this server), so commits made by any writer (the CLI, workers, other
server processes on the same store) reach every subscriber. When a head moves, the commits it gained
on its first-parent line are published oldest first; a head moved elsewhere (a reset, a force push)
publishes the new head alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from narrative_vcs.history import CommitInfo
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

__all__ = ["BranchCommit", "CommitFeed", "Subscription", "commits_since"]

log = logging.getLogger("gvcs.api")

MAX_GAINED = 1000  # commits published for one head move at most (the newest)


@dataclass(frozen=True)
class BranchCommit:
    """A commit that became part of a branch."""

    branch: str
    commit: CommitInfo


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
    """One subscriber's queue of commits; :meth:`get` returns None once the stream has ended."""

    def __init__(self, feed: CommitFeed, branch: str | None) -> None:
        self.feed = feed
        self.branch = branch
        self.queue: asyncio.Queue[BranchCommit | None] = asyncio.Queue(maxsize=10_000)
        self.dropped = False  # it fell too far behind: it ends after what it has queued

    async def get(self, timeout: float | None = None) -> BranchCommit | None:
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
        """Look at the heads now (a mutation of this server moved one)."""
        if self._wake is not None:
            self._wake.set()

    # --- subscribing --------------------------------------------------------------------------------

    async def open(self, branch: str | None = None) -> Subscription:
        """Start receiving the commits added to ``branch`` (every branch if None) from now on."""
        sub = Subscription(self, branch)
        if self._heads is None:
            self._heads = await asyncio.to_thread(self.repo.branches)
        self._subscribers.add(sub)
        return sub

    async def subscribe(self, branch: str | None = None) -> AsyncIterator[BranchCommit]:
        """The commits added to ``branch`` from the first iteration on, until the server stops."""
        sub = await self.open(branch)
        try:
            while (item := await sub.get()) is not None:
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
                for sub in list(self._subscribers):
                    if sub.branch is None or sub.branch == item.branch:
                        if sub.queue.full():  # a subscriber that stopped reading is dropped
                            sub.dropped = True
                            self._subscribers.discard(sub)
                            continue
                        sub.queue.put_nowait(item)

    def _changes(self) -> list[BranchCommit]:
        old = self._heads or {}
        new = self.repo.branches()
        self._heads = new
        found: list[BranchCommit] = []
        for name, head in sorted(new.items()):
            if old.get(name) != head:
                found.extend(
                    BranchCommit(name, info) for info in commits_since(self.repo, old.get(name), head)
                )
        return found
