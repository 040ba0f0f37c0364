"""The commit graph of ``gvcs log --graph``, drawn like ``git log --graph`` with ``*``, ``|``, ``/``, ``\\``.

Commits arrive in topological order (children before parents). Each graph column waits for one commit
id. A commit's row puts ``*`` in its column; then its column is replaced by its parents (the first
parent keeps the column, others open new columns to its right, a parent already waited for elsewhere
joins that column), and connector lines move every line of descent one column per row to its new place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from narrative_vcs.history import CommitInfo

__all__ = ["graph_lines", "topo_order"]

Edge = tuple[int, int]  # (column before, column after)


def graph_lines(
    commits: Iterable[CommitInfo], label: Callable[[CommitInfo], str], limit: int | None = None
) -> Iterator[str]:
    """The lines of the graph: one row per commit (``*`` then ``label``) and the connectors between."""
    if limit == 0:
        return
    columns: list[str] = []
    for shown, info in enumerate(commits, start=1):
        if info.id not in columns:
            columns.append(info.id)
        index = columns.index(info.id)
        row = " ".join("*" if j == index else "|" for j in range(len(columns)))
        yield f"{row} {label(info)}"
        if limit is not None and shown >= limit:
            return
        columns, edges = advance(columns, index, list(info.parents))
        yield from connectors(edges)


def topo_order(commits: Iterable[CommitInfo]) -> Iterator[CommitInfo]:
    """Children before parents, following each line of descent as far as it goes, like git's
    ``--topo-order``: ``commits`` (newest first) are counted, then emitted from a stack, so a
    branch's commits stay together instead of interleaving with other branches by date.
    """
    known = list(commits)
    waiting = {c.id: 0 for c in known}
    for info in known:
        for parent in info.parents:
            if parent in waiting:
                waiting[parent] += 1
    by_id = {c.id: c for c in known}
    stack = [c for c in reversed(known) if waiting[c.id] == 0]
    while stack:
        info = stack.pop()
        yield info
        for parent in reversed(info.parents):
            if parent in waiting:
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    stack.append(by_id[parent])


def advance(columns: list[str], index: int, parents: list[str]) -> tuple[list[str], list[Edge]]:
    """The columns after the commit in ``columns[index]``, and where each line of descent goes."""
    opened: list[str] = []
    for parent in parents:
        if parent not in columns and parent not in opened:
            opened.append(parent)
    after = columns[:index] + opened + columns[index + 1 :]
    place = {oid: j for j, oid in enumerate(after)}
    edges: list[Edge] = []
    for j, oid in enumerate(columns):
        if j == index:
            edges.extend((j, place[p]) for p in dict.fromkeys(parents))
        else:
            edges.append((j, place[oid]))
    return after, edges


def connectors(edges: list[Edge]) -> Iterator[str]:
    """Connector lines moving each edge one column per line (none when every edge goes straight)."""
    positions = [start for start, _ in edges]
    while any(pos != end for pos, (_, end) in zip(positions, edges, strict=True)):
        width = 2 * (max(max(positions), max(end for _, end in edges)) + 1)
        chars = [" "] * width
        for k, (_, end) in enumerate(edges):
            pos = positions[k]
            if pos < end:
                chars[2 * pos + 1] = "\\"
                positions[k] = pos + 1
            elif pos > end:
                chars[2 * pos - 1] = "/"
                positions[k] = pos - 1
            elif chars[2 * pos] == " ":
                chars[2 * pos] = "|"
        yield "".join(chars).rstrip()
