"""Commit reading and history walks: log order, topological order, ancestry, first-parent time travel."""

from __future__ import annotations

import heapq
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import BadInput, CorruptObject, NotFound
from .objects import Commit, parse_trailers
from .store import ObjectStore
from .types import ObjectId

__all__ = ["CommitInfo", "Commits"]


@dataclass(frozen=True)
class CommitInfo:
    """A commit as the API shows it: the git commit plus the facts from its ``Gvcs-*`` trailers."""

    id: ObjectId
    tree: ObjectId
    parents: tuple[ObjectId, ...]
    actor: str
    actor_name: str
    kind: str
    time: int
    offset: int
    message: str
    trailers: dict[str, str]

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def short_id(self) -> str:
        return self.id[:10]

    @property
    def event_id(self) -> str | None:
        return self.trailers.get("Gvcs-Event-Id")

    @property
    def event(self) -> Any:
        raw = self.trailers.get("Gvcs-Event")
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    @classmethod
    def from_commit(cls, oid: ObjectId, commit: Commit) -> CommitInfo:
        text, trailers = parse_trailers(commit.message)
        actor = trailers.get("Gvcs-Actor") or commit.author.email.split("@", 1)[0]
        return cls(
            id=oid,
            tree=commit.tree,
            parents=commit.parents,
            actor=actor,
            actor_name=commit.author.name,
            kind=trailers.get("Gvcs-Kind", "edit"),
            time=commit.committer.time,
            offset=commit.committer.offset,
            message=text,
            trailers=trailers,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parents": list(self.parents),
            "tree": self.tree,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "kind": self.kind,
            "time": self.time,
            "subject": self.subject,
            "message": self.message,
            "event_id": self.event_id,
            "event": self.event,
        }


class Commits:
    """Parsed commits (cached; commits never change) and walks over the commit DAG."""

    def __init__(self, store: ObjectStore, cache_size: int = 200_000) -> None:
        self.store = store
        self._cache: OrderedDict[ObjectId, CommitInfo] = OrderedDict()
        self._cache_size = cache_size

    def get(self, oid: ObjectId) -> CommitInfo:
        info = self._cache.get(oid)
        if info is not None:
            return info
        obj_type, data = self.store.get(oid)
        if obj_type != "commit":
            raise BadInput(f"{oid[:12]} is a {obj_type}, not a commit")
        try:
            info = CommitInfo.from_commit(oid, Commit.parse(data))
        except CorruptObject as exc:
            raise CorruptObject(f"commit {oid}: {exc}") from None
        self._cache[oid] = info
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return info

    def walk(self, starts: Iterable[ObjectId], *, first_parent: bool = False) -> Iterator[CommitInfo]:
        """Commits reachable from ``starts``, newest commit time first (git's default log order)."""
        heap: list[tuple[int, int, ObjectId]] = []
        seen: set[ObjectId] = set()
        counter = 0
        for oid in starts:
            if oid not in seen:
                seen.add(oid)
                heapq.heappush(heap, (-self.get(oid).time, counter, oid))
                counter += 1
        while heap:
            _, _, oid = heapq.heappop(heap)
            info = self.get(oid)
            yield info
            parents = info.parents[:1] if first_parent else info.parents
            for parent in parents:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(heap, (-self.get(parent).time, counter, parent))
                    counter += 1

    def topo(self, starts: Iterable[ObjectId], *, first_parent: bool = False) -> list[CommitInfo]:
        """Every reachable commit, children before parents, newest first among ready commits."""
        commits = list(self.walk(starts, first_parent=first_parent))
        children: dict[ObjectId, int] = {c.id: 0 for c in commits}
        for c in commits:
            for p in c.parents[:1] if first_parent else c.parents:
                if p in children:
                    children[p] += 1
        order = {c.id: i for i, c in enumerate(commits)}
        ready = [(order[c.id], c.id) for c in commits if children[c.id] == 0]
        heapq.heapify(ready)
        by_id = {c.id: c for c in commits}
        out: list[CommitInfo] = []
        while ready:
            _, oid = heapq.heappop(ready)
            info = by_id[oid]
            out.append(info)
            for p in info.parents[:1] if first_parent else info.parents:
                if p in children:
                    children[p] -= 1
                    if children[p] == 0:
                        heapq.heappush(ready, (order[p], p))
        return out

    def is_ancestor(self, ancestor: ObjectId, descendant: ObjectId) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor)."""
        limit = self.get(ancestor).time
        stack, seen = [descendant], {descendant}
        while stack:
            oid = stack.pop()
            if oid == ancestor:
                return True
            for parent in self.get(oid).parents:
                # Parents older than the ancestor (allowing a day of clock skew) cannot lead to it.
                if parent not in seen and self.get(parent).time >= limit - 86_400:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def as_of(self, start: ObjectId, when: int) -> ObjectId:
        """The newest commit on the first-parent line of ``start`` made at or before ``when``."""
        oid: ObjectId | None = start
        while oid is not None:
            info = self.get(oid)
            if info.time <= when:
                return oid
            oid = info.parents[0] if info.parents else None
        raise NotFound("no commit that old: the history starts later")
