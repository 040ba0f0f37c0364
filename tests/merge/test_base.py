"""Merge bases on the rustworkx commit DAG, checked against real git and libgit2 on random DAGs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pygit2
from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.graph.git import GitObjectStore, init_git_dir
from narrative_vcs.history import Commits
from narrative_vcs.merge.base import CommitGraph
from narrative_vcs.objects import Commit, Signature, format_message
from narrative_vcs.repository import Repository
from narrative_vcs.snapshot import EMPTY_TREE
from narrative_vcs.store import MemoryObjectStore, ObjectStore
from narrative_vcs.types import ObjectId

from ..conftest import _git


def _commit(store: ObjectStore, parents: list[ObjectId], n: int) -> ObjectId:
    who = Signature("Ada", "ada@actors.gvcs", 1_700_000_000 + 60 * n)
    message = format_message(f"commit {n}", {"Gvcs-Actor": "ada", "Gvcs-Kind": "edit"})
    return store.put("commit", Commit(EMPTY_TREE, tuple(parents), who, who, message).serialise())


def _build(store: ObjectStore, spec: list[list[int]]) -> list[ObjectId]:
    """Commit ``i`` has the parents ``spec[i]`` (indexes of earlier commits)."""
    store.put("tree", b"")
    ids: list[ObjectId] = []
    for n, parents in enumerate(spec):
        ids.append(_commit(store, [ids[p] for p in parents], n))
    return ids


def test_a_fork_has_one_base_and_a_linear_history_its_older_commit() -> None:
    store = MemoryObjectStore()
    base, a, b, a2 = _build(store, [[], [0], [0], [1]])
    graph = CommitGraph(Commits(store))
    assert graph.merge_bases(a2, b) == [base]
    assert graph.merge_bases(a2, a) == [a]
    assert graph.merge_bases(a, a) == [a]


def test_a_criss_cross_history_has_two_bases() -> None:
    store = MemoryObjectStore()
    # base; a1 and b1 fork from it; a2 merges b1 into a1 and b2 merges a1 into b1.
    _base, a1, b1, a2, b2 = _build(store, [[], [0], [0], [1, 2], [2, 1]])
    assert CommitGraph(Commits(store)).merge_bases(a2, b2) == sorted([a1, b1])


def test_unrelated_histories_have_no_base() -> None:
    store = MemoryObjectStore()
    first, second = _build(store, [[], []])
    assert CommitGraph(Commits(store)).merge_bases(first, second) == []


def test_the_graph_grows_incrementally() -> None:
    store = MemoryObjectStore()
    ids = _build(store, [[], [0], [1]])
    graph = CommitGraph(Commits(store))
    graph.add([ids[1]])
    assert len(graph) == 2
    more = _commit(store, [ids[2]], 3)
    graph.add([more])
    assert len(graph) == 4 and graph.is_ancestor(ids[0], more) and not graph.is_ancestor(more, ids[0])


def test_repository_merge_bases_resolves_revisions() -> None:
    repo = Repository.memory()
    ids = _build(repo.objects, [[], [0], [0]])
    repo.refs.add_if_new(repo.refs.get_symbolic("HEAD") or "refs/heads/main", ids[1])  # type: ignore[arg-type]
    repo.create_branch("side", ids[2])
    assert repo.merge_bases("main", "side") == [ids[0]]


# A random DAG: commit i picks up to three parents among the commits before it.
dags = st.integers(min_value=2, max_value=24).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(min_value=0, max_value=n), max_size=3, unique=True),
        min_size=n,
        max_size=n,
    ).map(lambda raw: [[p % i for p in parents] if i else [] for i, parents in enumerate(raw)])
)


@settings(max_examples=40, deadline=None)
@given(
    spec=dags,
    pairs=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=4),
)
def test_merge_bases_agree_with_git_and_libgit2(spec: list[list[int]], pairs: list[tuple[int, int]]) -> None:
    spec = [sorted(set(parents)) for parents in spec]
    with tempfile.TemporaryDirectory() as tmp:
        git_dir = Path(tmp) / "g.git"
        init_git_dir(git_dir)
        store = GitObjectStore(git_dir)
        ids = _build(store, spec)
        graph = CommitGraph(Commits(store))
        libgit2 = pygit2.Repository(str(git_dir))
        for i, j in pairs:
            a, b = ids[i % len(ids)], ids[j % len(ids)]
            ours = graph.merge_bases(a, b)
            theirs = sorted(_git(git_dir, "merge-base", "--all", a, b, check=False).split())
            assert ours == theirs
            one = libgit2.merge_base(a, b)
            assert (one is None and not ours) or str(one) in ours
        store.close()
