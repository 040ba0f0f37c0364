"""Which commits carry an event id, and whether one of them is in the history of a branch's head.

The index holds every commit it has read (with its generation: one more than its highest parent's) and
the commits of each event id. It grows from the heads it is asked about, reading only the commits it has
not read yet, so the whole history is read once per process and each new commit once. Reachability uses
the generations to stop early: a commit is never an ancestor of a commit of its own or a lower
generation, so a search for a commit on another branch does not walk the whole history.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from ..types import ObjectId

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["EventIndex", "index_of"]

_INDEXES: weakref.WeakKeyDictionary[Repository, EventIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def index_of(repo: Repository) -> EventIndex:
    """The event index of a repository object (one per object, kept while the object lives)."""
    with _LOCK:
        index = _INDEXES.get(repo)
        if index is None:
            index = _INDEXES[repo] = EventIndex(repo)
        return index


class EventIndex:
    def __init__(self, repo: Repository) -> None:
        self.commits = repo.commits  # not the repository: the index must not keep it alive
        self._generation: dict[ObjectId, int] = {}
        self._by_event: dict[str, list[ObjectId]] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._generation)

    def __contains__(self, oid: object) -> bool:
        return oid in self._generation

    def add(self, head: ObjectId | None) -> None:
        """Read the commits reachable from ``head`` that the index has not read yet."""
        if head is None:
            return
        with self._lock:
            generation, commits = self._generation, self.commits
            stack = [head]
            while stack:
                oid = stack[-1]
                if oid in generation:
                    stack.pop()
                    continue
                info = commits.get(oid)
                unread = [p for p in info.parents if p not in generation]
                if unread:
                    stack.extend(unread)
                    continue
                stack.pop()
                generation[oid] = 1 + max((generation[p] for p in info.parents), default=0)
                event_id = info.event_id
                if event_id is not None:
                    self._by_event.setdefault(event_id, []).append(oid)

    def commits_of(self, event_id: str) -> list[ObjectId]:
        """Every commit read so far that carries ``event_id``."""
        with self._lock:
            return list(self._by_event.get(event_id, ()))

    def find(self, event_id: str, head: ObjectId | None) -> ObjectId | None:
        """The commit in ``head``'s history that carries ``event_id``, or None."""
        if head is None:
            return None
        with self._lock:
            self.add(head)
            for oid in self._by_event.get(event_id, ()):
                if self.reaches(head, oid):
                    return oid
        return None

    def reaches(self, head: ObjectId, oid: ObjectId) -> bool:
        """Whether ``oid`` is ``head`` or one of its ancestors (both already read)."""
        generation, commits = self._generation, self.commits
        floor = generation[oid]
        stack, seen = [head], {head}
        while stack:
            current = stack.pop()
            if current == oid:
                return True
            if generation[current] <= floor:
                continue
            for parent in commits.get(current).parents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return False
