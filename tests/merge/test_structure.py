"""The structure check of a merge: pages read once through the repository's page records, and the cycle
search that stands in for building a graph, which must agree with rustworkx's."""

from __future__ import annotations

import random

import pytest
import rustworkx as rx

from narrative_vcs.merge.snapshot import _has_cycle, merge_trees
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository

from ..conftest import Writer


def _story() -> tuple[Repository, Writer]:
    repo = Repository.memory()
    writer = Writer(repo)
    writer.setup(
        pages=[
            Page("prologue", "Prologue", "It was dark.\n"),
            Page("door", "The Door", "The door.\n", follows=("prologue",)),
            Page("fox", "The Fox", "The fox, see [[door]].\n", follows=("prologue",)),
        ]
    )
    repo.create_branch("side", "main")
    return repo, writer


def _trees(repo: Repository) -> tuple[str | None, str, str]:
    ours, theirs = repo.resolve("main"), repo.resolve("side")
    base = repo.merge_base_tree(ours, theirs)
    return base, repo.commits.get(ours).tree, repo.commits.get(theirs).tree


@pytest.mark.parametrize("case", ["clean", "cycle", "gone"])
def test_page_records_give_the_merge_that_parsing_gives(case: str) -> None:
    repo, writer = _story()
    if case == "cycle":
        writer.page("door", "The door.\n", title="The Door", follows=("prologue", "fox"))
        writer.page("fox", "The fox.\n", title="The Fox", follows=("prologue", "door"), branch="side")
    elif case == "gone":
        writer.commit(ChangeSet().delete_page("door"))
        writer.page("coda", "After [[door]].\n", title="Coda", follows=("fox",), branch="side")
    else:
        writer.page("door", "The iron door.\n", title="The Door", follows=("prologue",))
        writer.page("fox", "The red fox.\n", title="The Fox", follows=("prologue",), branch="side")
    base, ours, theirs = _trees(repo)
    parsed = merge_trees(repo.snapshots, base, ours, theirs)  # type: ignore[arg-type]
    read: list[tuple[str, str]] = []

    def record(page_id: str, blob: str) -> Page:
        read.append((page_id, blob))
        return repo.page_record(page_id, blob)  # type: ignore[arg-type]

    shared = merge_trees(repo.snapshots, base, ours, theirs, pages=record)  # type: ignore[arg-type]
    assert shared == parsed and read
    assert (not shared.clean) == (case != "clean")
    for page_id, blob in read:  # the gate, checking the merge commit next, finds them parsed
        assert repo.page_record(page_id, blob) is repo.page_record(page_id, blob)  # type: ignore[arg-type]
        assert repo.page_record(page_id, blob) == Page.parse(page_id, repo.read_blob(blob))  # type: ignore[arg-type]


def _rustworkx_has_cycle(edges: list[tuple[str, str]]) -> bool:
    graph: rx.PyDiGraph[str, None] = rx.PyDiGraph()
    nodes: dict[str, int] = {}
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                nodes[n] = graph.add_node(n)
        graph.add_edge(nodes[a], nodes[b], None)
    return not rx.is_directed_acyclic_graph(graph)


def test_the_cycle_search_agrees_with_rustworkx() -> None:
    rng = random.Random(7)
    for _ in range(500):
        size = rng.randint(1, 12)
        names = [f"p{i}" for i in range(size)]
        edges = [(rng.choice(names), rng.choice(names)) for _ in range(rng.randint(0, size * 2))]
        edges = [(a, b) for a, b in edges if a != b]  # a page never follows itself
        assert _has_cycle(edges) == _rustworkx_has_cycle(edges), edges
    assert not _has_cycle([])
    assert _has_cycle([("a", "b"), ("b", "c"), ("c", "a")])
    assert not _has_cycle([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
