"""The ``log --graph`` drawing, on hand-made histories."""

from __future__ import annotations

from cli.graph import graph_lines, topo_order
from narrative_vcs.history import CommitInfo
from narrative_vcs.types import ObjectId


def _c(oid: str, *parents: str, time: int = 0) -> CommitInfo:
    return CommitInfo(
        ObjectId(oid), ObjectId("t"), tuple(ObjectId(p) for p in parents), "a", "A", "edit", time, 0, oid, {}
    )


def _draw(commits: list[CommitInfo]) -> list[str]:
    return list(graph_lines(topo_order(commits), lambda c: c.id))


def test_linear() -> None:
    assert _draw([_c("c", "b"), _c("b", "a"), _c("a")]) == ["* c", "* b", "* a"]


def test_two_branches_fork() -> None:
    commits = [_c("x2", "x1"), _c("y1", "base"), _c("x1", "base"), _c("base")]
    assert _draw(commits) == ["* x2", "* x1", "| * y1", "|/", "* base"]


def test_merge() -> None:
    commits = [_c("m", "a", "b"), _c("b", "base"), _c("a", "base"), _c("base")]
    assert _draw(commits) == ["* m", "|\\", "* | a", "| * b", "|/", "* base"]


def test_limit() -> None:
    assert _draw([_c("c", "b"), _c("b", "a"), _c("a")])[:1] == ["* c"]
    assert list(graph_lines([_c("c", "b"), _c("b")], lambda c: c.id, limit=1)) == ["* c"]
    assert list(graph_lines([_c("c")], lambda c: c.id, limit=0)) == []
