"""Merge bases: the best common ancestors of two commits on any commit DAG, criss-cross included.

The commit DAG is held in memory as a rustworkx graph of commit ids (edges point from a child to its
parents) and grows incrementally: only commits not yet in the graph are read. A common ancestor is a
best one when no other common ancestor descends from it; that is the set ``git merge-base --all``
prints.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..history import Commits
from ..types import ObjectId

if TYPE_CHECKING:
    import rustworkx

__all__ = ["CommitGraph"]

_OURS, _THEIRS, _STALE = 1, 2, 4
_BOTH = _OURS | _THEIRS


class CommitGraph:
    """The commit DAG of a repository, read lazily from its commits."""

    def __init__(self, commits: Commits) -> None:
        import rustworkx as rx

        self._commits = commits
        self._graph: rustworkx.PyDiGraph[ObjectId, None] = rx.PyDiGraph(multigraph=False)
        self._index: dict[ObjectId, int] = {}

    def __contains__(self, oid: object) -> bool:
        return oid in self._index

    def __len__(self) -> int:
        return len(self._index)

    def add(self, heads: Iterable[ObjectId]) -> None:
        """Read every commit reachable from ``heads`` that the graph does not hold yet."""
        pending = [oid for oid in heads if oid not in self._index]
        for oid in pending:
            self._node(oid)
        while pending:
            oid = pending.pop()
            for parent in self._commits.get(oid).parents:
                if parent not in self._index:
                    pending.append(parent)
                self._graph.add_edge(self._index[oid], self._node(parent), None)

    def _node(self, oid: ObjectId) -> int:
        index = self._index.get(oid)
        if index is None:
            index = self._index[oid] = self._graph.add_node(oid)
        return index

    def ancestors(self, oid: ObjectId) -> set[ObjectId]:
        """``oid`` and every commit reachable from it through parents."""
        import rustworkx as rx

        self.add([oid])
        graph = self._graph
        return {graph[i] for i in rx.descendants(graph, self._index[oid])} | {oid}

    def is_ancestor(self, ancestor: ObjectId, descendant: ObjectId) -> bool:
        return ancestor in self.ancestors(descendant)

    def merge_bases(self, a: ObjectId, b: ObjectId) -> list[ObjectId]:
        """The best common ancestors of ``a`` and ``b`` (empty for unrelated histories), sorted.

        One base is the usual case; a criss-cross history has several, which a merge combines into
        a virtual base. Found as git finds them: commits are painted from both sides, newest first,
        until every commit still queued is below a common one, so only the commits between the two
        heads and their bases are visited, not the whole history.
        """
        if a == b:
            return [a]
        candidates = self._paint_down(a, b)
        if len(candidates) > 1:
            candidates = self._remove_redundant(candidates)
        return sorted(candidates)

    def _paint_down(self, a: ObjectId, b: ObjectId) -> list[ObjectId]:
        get = self._commits.get
        flags: dict[ObjectId, int] = {a: _OURS, b: _THEIRS}
        queue = [(-get(a).time, 0, a), (-get(b).time, 1, b)]
        heapq.heapify(queue)
        counter = 2
        found: list[ObjectId] = []
        while any(not flags[oid] & _STALE for _, _, oid in queue):
            _, _, oid = heapq.heappop(queue)
            mark = flags[oid] & (_BOTH | _STALE)
            if mark == _BOTH:
                if oid not in found:
                    found.append(oid)
                mark |= _STALE  # everything below a common ancestor is no better than it
            for parent in get(oid).parents:
                old = flags.get(parent, 0)
                if old & mark == mark:
                    continue
                flags[parent] = old | mark
                heapq.heappush(queue, (-get(parent).time, counter, parent))
                counter += 1
        # A candidate another candidate's paint reached is one of its ancestors: not a best base.
        return [oid for oid in found if not flags[oid] & _STALE]

    def _remove_redundant(self, candidates: list[ObjectId]) -> list[ObjectId]:
        # Rare (criss-cross histories): drop a candidate that is an ancestor of another one, using the
        # DAG rather than commit times, which writers' clocks may skew.
        return [c for c in candidates if not any(c != d and self.is_ancestor(c, d) for d in candidates)]
