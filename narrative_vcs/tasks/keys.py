"""Where a story lives, and the Redis names derived from it.

Intake, workers and servers that open the same story by different routes (``-C DIR`` from two
directories, the work tree of a Neo4j story or its URI) must meet on the same Redis keys. They do through
the *store id*: a digest of the store's canonical location, the real path of the git directory for the
embedded store, the Bolt address and database for Neo4j (without credentials).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..records import record

if TYPE_CHECKING:
    from narrative_vcs.repository import Repository

__all__ = [
    "PARTITIONS",
    "Keys",
    "canonical_location",
    "is_store_uri",
    "open_location",
    "partition_of",
    "store_id",
]

#: Partitions of the intake queue. An actor's events always go to the same one (so their order holds);
#: intake and workers must agree on the number, so it is fixed here.
PARTITIONS = 16


def is_store_uri(location: str) -> bool:
    return location.startswith(("neo4j://", "neo4j+", "bolt://", "bolt+"))


def canonical_location(location: str) -> str:
    """``git:/real/path/.gvcs`` or ``neo4j:host:port/database``: one string per store.

    ``location`` is a repository directory (or one inside it) or a ``neo4j://`` URI.
    """
    from narrative_vcs.graph.factory import CONFIG_FILE, GVCS_DIR, find_root, load_config

    if is_store_uri(location):
        return _neo4j_identity(location)
    root = find_root(Path(location))
    git_dir = root / GVCS_DIR
    if (git_dir / "HEAD").is_file():
        return f"git:{git_dir.resolve()}"
    store = load_config(root).get("store") if (git_dir / CONFIG_FILE).is_file() else None
    if isinstance(store, str) and is_store_uri(store):
        return _neo4j_identity(store)
    from narrative_vcs.errors import NotFound

    raise NotFound(f"not a gvcs repository: {root}")


def _neo4j_identity(uri: str) -> str:
    from narrative_vcs.graph.neo4j import parse_neo4j_uri

    location = parse_neo4j_uri(uri)
    return f"neo4j:{location.address.split('://', 1)[1]}/{location.database or ''}"


def store_id(location: str) -> str:
    """A short digest of :func:`canonical_location`: the story's name in Redis."""
    return hashlib.sha256(canonical_location(location).encode()).hexdigest()[:16]


def open_location(location: str) -> Repository:
    """Open the repository at ``location`` (a repository directory or a ``neo4j://`` URI)."""
    from narrative_vcs.graph.factory import find_root, open_repository, open_store

    if is_store_uri(location):
        return open_store(location)
    return open_repository(find_root(Path(location)))


def partition_of(actor: str, partitions: int = PARTITIONS) -> int:
    """The partition of an actor's events (stable across processes and runs)."""
    return zlib.crc32(actor.encode()) % partitions


@record
class Keys:
    """The Redis names of one story (``gvcs:<store id>:...``) and its Celery queue."""

    store: str

    @property
    def prefix(self) -> str:
        return f"gvcs:{self.store}"

    def events(self, partition: int) -> str:
        """The list of events waiting in a partition, oldest first."""
        return f"{self.prefix}:events:{partition}"

    def lock(self, partition: int) -> str:
        """Held by the one worker draining a partition."""
        return f"{self.prefix}:lock:{partition}"

    def branch_lock(self, branch: str) -> str:
        """Held by the one worker committing to a branch (spares work; correctness needs no lock)."""
        return f"{self.prefix}:branch:{branch}"

    def pending(self, partition: int) -> str:
        """Set while a drain of the partition is queued (so intake queues one, not one per event)."""
        return f"{self.prefix}:pending:{partition}"

    def result(self, event_id: str) -> str:
        """The outcome of an event, for ``submit(..., wait=...)``."""
        return f"{self.prefix}:result:{event_id}"

    @property
    def commits_channel(self) -> str:
        """Pub/sub: a branch moved (``{"branches": [...]}``); servers look at the heads at once."""
        return f"{self.prefix}:commits"

    @property
    def narrative_channel(self) -> str:
        """Pub/sub: ``narrative.change.v1`` messages for subscriptions and ``/events``."""
        return f"{self.prefix}:narrative"

    @property
    def queue(self) -> str:
        """The Celery queue of the story's tasks: a worker serves one story."""
        return f"gvcs.{self.store}"
