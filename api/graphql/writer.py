"""Commits of many concurrent writers, written as groups: one ref update for all that are waiting.

Each branch has a queue. A commit joins the queue of its branch and waits; one task per branch takes
everything queued (up to :data:`MAX_GROUP`) and writes it with :meth:`Repository.commit_group` in a
worker thread, so requests go on being served meanwhile. While a group is being written, the next one
gathers: an idle server writes each commit at once, a busy one writes many per ref update.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from narrative_vcs.repository import GroupOutcome, PendingCommit, Repository

__all__ = ["MAX_GROUP", "BranchWriter"]

MAX_GROUP = 64


@dataclass
class _Queue:
    items: list[tuple[PendingCommit, asyncio.Future[GroupOutcome]]] = field(default_factory=list)
    draining: bool = False


class BranchWriter:
    def __init__(self, repo: Repository, max_group: int = MAX_GROUP) -> None:
        self.repo = repo
        self.max_group = max_group
        self._queues: dict[str, _Queue] = {}
        self.groups = 0  # how many groups were written (for tests and /health)

    async def commit(self, branch: str, item: PendingCommit) -> GroupOutcome:
        """Queue ``item`` on ``branch`` and wait until its group is written."""
        queue = self._queues.setdefault(branch, _Queue())
        future: asyncio.Future[GroupOutcome] = asyncio.get_running_loop().create_future()
        queue.items.append((item, future))
        if not queue.draining:
            queue.draining = True
            asyncio.get_running_loop().create_task(self._drain(branch, queue))
        return await future

    async def _drain(self, branch: str, queue: _Queue) -> None:
        try:
            while queue.items:
                group, queue.items = queue.items[: self.max_group], queue.items[self.max_group :]
                try:
                    outcomes = await asyncio.to_thread(self.repo.commit_group, branch, [i for i, _ in group])
                except BaseException as exc:  # the store failed: every waiter of the group hears it
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self.groups += 1
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            queue.draining = False
            if not queue.items:
                self._queues.pop(branch, None)
