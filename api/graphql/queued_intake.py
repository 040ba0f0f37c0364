"""Events over the API through Redis and the workers (``gvcs serve --redis URL``).

With a :class:`QueuedIntake` the API's ``_submit`` (api/graphql/post_events.py) queues the event for the
Celery workers instead of committing it in the server, then waits (at most :attr:`QueuedIntake.wait`
seconds) for the worker's outcome, so ``emitEvent`` and ``POST /events/{topic}`` answer as they do inline.
An event that no worker committed in time raises :class:`narrative_vcs.tasks.intake.StillQueued`
(code ``QUEUED``): it stays queued and will be committed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from narrative_vcs.events import Event, Ingested
    from narrative_vcs.tasks.intake import Receipt

__all__ = ["QueuedIntake"]


@dataclass(frozen=True)
class QueuedIntake:
    """Where the server's events go: the story at ``location``, queued in the Redis at ``redis_url``."""

    location: str
    redis_url: str
    wait: float = 30.0

    async def queue(self, event: Event, wait: float | None = None) -> Receipt:
        """Queue ``event``; its receipt after ``wait`` seconds at most (0: at once, ``queued``).

        The wait is on the event loop (a look at the outcome every few tens of milliseconds), so waiting
        requests hold no thread.
        """
        from narrative_vcs.tasks.intake import poll, submit

        (receipt,) = await asyncio.to_thread(submit, self.location, [event], redis_url=self.redis_url)
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        delay = 0.01
        while not receipt.done and time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.2)
            (receipt,) = await asyncio.to_thread(poll, self.location, [receipt], redis_url=self.redis_url)
        return receipt

    async def submit(self, event: Event) -> Ingested:
        """Queue ``event`` and return the worker's result, as ``ingest`` would (errors not raised)."""
        receipt = await self.queue(event)
        return receipt.ingested(event)
