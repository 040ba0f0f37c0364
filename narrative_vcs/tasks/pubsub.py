"""Messages on Redis pub/sub that every server process of a story listens to.

``gvcs:<store id>:commits``: ``{"branches": [...]}`` after a commit moved those branches (workers after
each group commit, servers after their own mutations). It is a wake-up, not the news itself: a server
that hears it looks at the branch heads at once and streams what it finds, so a message that is lost
(pub/sub does not keep messages) only delays the commits until the server's next regular look.

``gvcs:<store id>:narrative``: a ``narrative.change.v1`` message, a JSON object with at least
``{"topic": "narrative.change.v1", "id", "time"}`` and what the publisher says about the change
(``branch``, ``actor``, ``summary``, ``pages``, ``commit``, ...). Servers hand it to the ``/events``
streams (``event: narrative.change.v1``) and to the ``narrativeChanged`` subscription.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .keys import Keys, store_id

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "NARRATIVE_CHANGE",
    "install_narrative_hook",
    "narrative_change",
    "publish_commits",
    "publish_narrative_change",
    "redis_client",
]

NARRATIVE_CHANGE = "narrative.change.v1"

_clients: dict[str, Redis] = {}


def redis_client(url: str) -> Redis:
    """A client for ``url``, one per URL and process (redis-py pools its connections, thread-safe)."""
    client = _clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        _clients[url] = client
    return client


def forget_clients() -> None:
    """Drop the clients (a forked child must not share its parent's sockets)."""
    _clients.clear()


def publish_commits(client: Redis, keys: Keys, branches: Iterable[str]) -> int:
    """Tell every server of the story that ``branches`` moved; returns how many listeners heard it."""
    message = json.dumps({"branches": sorted(set(branches))}, separators=(",", ":"))
    return int(client.publish(keys.commits_channel, message))


def narrative_change(
    *,
    branch: str | None = None,
    actor: str | None = None,
    summary: str = "",
    pages: Sequence[str] = (),
    commit: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``narrative.change.v1`` message (JSON-ready); ``extra`` keys are kept as they are."""
    change: dict[str, Any] = {
        "topic": NARRATIVE_CHANGE,
        "id": uuid.uuid4().hex,
        "time": int(time.time()),
        "branch": branch,
        "actor": actor,
        "summary": summary,
        "pages": list(pages),
        "commit": commit,
    }
    change.update(extra)
    json.dumps(change)  # refuse what JSON cannot carry here, not in every server
    return change


def publish_narrative_change(redis_url: str, location: str, change: dict[str, Any]) -> int:
    """Publish ``change`` (see :func:`narrative_change`) to every server of the story at ``location``.

    Returns how many server processes heard it. Without Redis, a server delivers a change to its own
    streams with :meth:`api.graphql.feed.CommitFeed.narrative`.
    """
    data = {"topic": NARRATIVE_CHANGE, **change}
    keys = Keys(store_id(location))
    return int(
        redis_client(redis_url).publish(keys.narrative_channel, json.dumps(data, separators=(",", ":")))
    )


def install_narrative_hook(redis_url: str, location: str) -> Callable[[], None]:
    """Publish governance's ``narrative.change.v1`` news of this process (a proposal's merge carried
    out here: a worker, a CLI command) to every server of the story. Returns the function that removes
    the hook; without governance in this version, nothing is installed."""
    try:
        from narrative_vcs.governance import hooks
    except ImportError:
        return lambda: None
    keys = Keys(store_id(location))

    def hook(change: Any) -> None:
        data = {"topic": NARRATIVE_CHANGE, **change.to_json()}
        redis_client(redis_url).publish(keys.narrative_channel, json.dumps(data, separators=(",", ":")))

    hooks.on_narrative_change.append(hook)

    def remove() -> None:
        if hook in hooks.on_narrative_change:
            hooks.on_narrative_change.remove(hook)

    return remove
