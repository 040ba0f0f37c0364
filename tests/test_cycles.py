"""Cycles closed by gained places to follow: the search agrees with rustworkx, names the cycle from the
page that gained the place, and ignores a cycle no gained place closes."""

from __future__ import annotations

import itertools
import random

import pytest
import rustworkx as rx

from narrative_vcs.cycles import MANY, closed_cycle


def _has_cycle(edges: list[tuple[str, str]]) -> bool:
    graph: rx.PyDiGraph[str, None] = rx.PyDiGraph()
    nodes: dict[str, int] = {}
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                nodes[n] = graph.add_node(n)
        graph.add_edge(nodes[a], nodes[b], None)
    return not rx.is_directed_acyclic_graph(graph)


def _follows(edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    after: dict[str, list[str]] = {}
    for a, b in edges:
        after.setdefault(a, []).append(b)
    return after


@pytest.mark.parametrize("size", [12, MANY * 3])
def test_a_cycle_is_found_exactly_when_rustworkx_finds_one(size: int) -> None:
    rng = random.Random(size)
    for _ in range(300):
        names = [f"p{i}" for i in range(rng.randint(1, size))]
        edges = [(rng.choice(names), rng.choice(names)) for _ in range(rng.randint(0, len(names) * 2))]
        edges = [(a, b) for a, b in edges if a != b]  # a page never follows itself
        after = _follows(edges)
        gained = {a: set(bs) for a, bs in after.items()}
        cycle = closed_cycle(lambda p, after=after: after.get(p, ()), gained)  # type: ignore[misc]
        assert (cycle is not None) == _has_cycle(edges), edges
        if cycle is not None:
            assert cycle[0] == cycle[-1] and all(b in after[a] for a, b in itertools.pairwise(cycle))


def test_the_cycle_is_named_from_the_page_that_gained_the_place() -> None:
    after = {"door": ["p2"], "p2": ["p1"], "p1": ["door"]}
    assert closed_cycle(lambda p: after.get(p, ()), {"door": {"p2"}}) == ["door", "p2", "p1", "door"]


@pytest.mark.parametrize("many", [False, True])
def test_a_cycle_no_gained_place_closes_is_not_reported(many: bool) -> None:
    after = {"a": ["b"], "b": ["a"], "new": ["a"]}  # a <-> b was there before
    gained = {"new": {"a"}}
    if many:  # enough gained places for the one search over everything first
        chain = {f"c{i}": [f"c{i - 1}" if i else "new"] for i in range(MANY + 1)}
        after.update(chain)
        gained.update({k: set(v) for k, v in chain.items()})
    assert closed_cycle(lambda p: after.get(p, ()), gained) is None
