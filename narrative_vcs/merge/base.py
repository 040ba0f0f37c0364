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
        # Runs of history without forks or merges: each node in a run -> (the run's id, its depth in
        # the run; deeper is older), run id -> the node below the run, run id -> its nodes. A run is
        # forgotten when a new commit forks off one of its nodes.
        self._runs: dict[int, tuple[int, int]] = {}
        self._ends: dict[int, int] = {}
        self._members: dict[int, list[int]] = {}

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
                else:
                    self._forget_run(self._index[parent])  # a new child may split its run
                self._graph.add_edge(self._index[oid], self._node(parent), None)

    def _forget_run(self, node: int) -> None:
        entry = self._runs.get(node)
        if entry is None:
            return
        for member in self._members.pop(entry[0], []):
            self._runs.pop(member, None)
        self._ends.pop(entry[0], None)

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
        self.add([a, b])
        graph, time = self._graph, self._time
        start_a, start_b = self._index[a], self._index[b]
        flags: dict[int, int] = {start_a: _OURS, start_b: _THEIRS}
        queue = [(-time(start_a), start_a), (-time(start_b), start_b)]
        heapq.heapify(queue)
        found: list[int] = []
        while any(not flags[node] & _STALE for _, node in queue):
            _, node = heapq.heappop(queue)
            mark = flags[node] & (_BOTH | _STALE)
            if mark == _BOTH:
                if node not in found:
                    found.append(node)
                mark |= _STALE  # everything below a common ancestor is no better than it
            for parent in graph.successor_indices(node):
                parent = self._jump(parent, (start_a, start_b))
                old = flags.get(parent, 0)
                if old & mark == mark:
                    continue
                flags[parent] = old | mark
                heapq.heappush(queue, (-time(parent), parent))
        # A candidate another candidate's paint reached is one of its ancestors: not a best base.
        return [graph[node] for node in found if not flags[node] & _STALE]

    def _time(self, node: int) -> int:
        return self._commits.get(self._graph[node]).time

    def _jump(self, node: int, starts: tuple[int, int]) -> int:
        """Where painting that reaches ``node`` goes on: past the run of history with no forks and no
        merges (one child, one parent) that ``node`` is in, or to a start commit inside that run.

        Painting passes such a run unchanged, so it jumps over it: a merge base far below two
        branches costs the forks and merges in between, not every commit.
        """
        if node not in self._runs and not self._simple(node):
            return node
        if node not in self._runs:
            self._record_run(node)
        run, depth = self._runs[node]
        inside = [
            (self._runs[s][1], s)
            for s in starts
            if s in self._runs and self._runs[s][0] == run and self._runs[s][1] >= depth
        ]
        return min(inside)[1] if inside else self._ends[run]

    def _simple(self, node: int) -> bool:
        return self._graph.in_degree(node) == 1 and self._graph.out_degree(node) == 1

    def _record_run(self, top: int) -> None:
        """Walk down from ``top`` until the run ends or joins a run already recorded."""
        path, node = [], top
        while self._simple(node) and node not in self._runs:
            path.append(node)
            node = self._graph.successor_indices(node)[0]
        if node in self._runs:  # the lower part was recorded from a node further down
            run, depth = self._runs[node]
            for k, above in enumerate(reversed(path), start=1):
                self._runs[above] = (run, depth - k)
            self._members[run].extend(path)
        else:
            self._ends[top] = node
            self._members[top] = path
            for k, member in enumerate(path):
                self._runs[member] = (top, k)

    def _remove_redundant(self, candidates: list[ObjectId]) -> list[ObjectId]:
        # Rare (criss-cross histories): drop a candidate that is an ancestor of another one, using the
        # DAG rather than commit times, which writers' clocks may skew.
        return [c for c in candidates if not any(c != d and self.is_ancestor(c, d) for d in candidates)]
