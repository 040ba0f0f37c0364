"""Merge bases: the best common ancestors of two commits on any commit DAG, criss-cross included.

The commit DAG is held in memory as a rustworkx graph of commit ids (edges point from a child to its
parents) and grows incrementally: only commits not yet in the graph are read. A common ancestor is a
best one when no child of it is itself a common ancestor; that is the set ``git merge-base --all``
prints, found in time linear in the commits read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..history import Commits
from ..types import ObjectId

if TYPE_CHECKING:
    import rustworkx

__all__ = ["CommitGraph"]


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
        a virtual base.
        """
        common = self.ancestors(a) & self.ancestors(b)
        graph, index = self._graph, self._index
        # Edges run child -> parent, so a commit's predecessors in the graph are its children.
        best = [c for c in common if not any(graph[i] in common for i in graph.predecessor_indices(index[c]))]
        return sorted(best)
