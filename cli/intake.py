"""Where events go, for the commands that take them in (``gvcs event emit``, ``gvcs serve``, ``gvcs
worker``): the Redis URL (``--redis``, then ``$GVCS_REDIS_URL``) and the story's location.

With a Redis URL, intake queues events for the workers; without one they are committed inline
(:func:`narrative_vcs.tasks.intake.submit`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Context, emit_json, out

if TYPE_CHECKING:
    from narrative_vcs.events import Event

__all__ = ["queue_event", "redis_url", "store_location"]


def redis_url(args: argparse.Namespace) -> str | None:
    """``--redis``, then ``$GVCS_REDIS_URL``; None (or empty) means no Redis."""
    url = getattr(args, "redis", None) or os.environ.get("GVCS_REDIS_URL") or None
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        from narrative_vcs.errors import BadInput

        raise BadInput(f"not a Redis URL: {url!r} (expected redis://host:6379/0)")
    return url


def store_location(args: argparse.Namespace) -> str:
    """Where the story lives: ``--store`` (a neo4j:// URI or a repository directory), else the
    repository of ``-C DIR`` or the current directory."""
    store = getattr(args, "store", None)
    if store:
        from narrative_vcs.tasks.keys import is_store_uri

        if is_store_uri(store):
            return str(store)
        from narrative_vcs.graph.factory import find_root

        return str(find_root(Path(store)))
    return str(Context(args).root)


def queue_event(args: argparse.Namespace, ctx: Context, event: Event, url: str) -> int:
    """Queue ``event`` for the workers and print ``queued <event id>``; with ``--wait [S]`` (default 30 s)
    wait for the worker's outcome and print it as the inline intake does. Raises the error of a refused
    event; :class:`narrative_vcs.tasks.intake.StillQueued` (exit 1) when no worker committed it in time.
    """
    from narrative_vcs.tasks.intake import submit

    wait = getattr(args, "wait", None)
    (receipt,) = submit(str(ctx.root), [event], redis_url=url, wait=wait)
    if getattr(args, "json", False):
        emit_json(receipt.to_json())
    elif receipt.status == "queued":
        out(f"queued {event.id}")
    elif receipt.status == "duplicate":
        out(f"duplicate of {str(receipt.commit)[:10]}: event {event.id} is already on {receipt.branch}")
    elif receipt.status == "committed" and receipt.commit:
        from narrative_vcs.types import ObjectId

        subject = ctx.repo.commits.get(ObjectId(receipt.commit)).subject
        out(f"[{receipt.branch} {receipt.commit[:10]}] {subject}")
        out(f" {event.topic} {event.id} by {event.actor}")
    error = receipt.error_value()
    if error is not None:
        raise error
    if wait and receipt.status == "queued":
        from narrative_vcs.tasks.intake import StillQueued

        raise StillQueued(f"no worker committed event {event.id} within {wait:g} s; it stays queued")
    return 0
