"""Commit reading and history walks over a DAG of commits written straight into a store."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import BadInput, CorruptObject, NotFound
from narrative_vcs.graph.git import FileCache
from narrative_vcs.history import CommitInfo, Commits
from narrative_vcs.objects import Commit, Signature, format_message
from narrative_vcs.repository import Repository
from narrative_vcs.snapshot import EMPTY_TREE
from narrative_vcs.store import CacheFile, MemoryObjectStore, ObjectStore
from narrative_vcs.types import ObjectId

from .conftest import Writer


class Dag:
    """Commits by name: ``add("c", ["a", "b"], time=...)``."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.ids: dict[str, ObjectId] = {}
        self.names: dict[ObjectId, str] = {}

    def add(
        self, name: str, parents: list[str], time: int, actor: str = "ada", kind: str = "edit"
    ) -> ObjectId:
        sig = Signature(actor.title(), f"{actor}@actors.gvcs", time)
        message = format_message(f"Commit {name}", {"Gvcs-Actor": actor, "Gvcs-Kind": kind})
        commit = Commit(EMPTY_TREE, tuple(self.ids[p] for p in parents), sig, sig, message)
        oid = self.store.put("commit", commit.serialise())
        self.ids[name], self.names[oid] = oid, name
        return oid

    def order(self, infos: list[CommitInfo]) -> list[str]:
        return [self.names[i.id] for i in infos]


@pytest.fixture
def dag(objects: ObjectStore) -> Dag:
    return Dag(objects)


@pytest.fixture
def commits(objects: ObjectStore) -> Commits:
    return Commits(objects)


def diamond(dag: Dag) -> None:
    r"""
    a(100) - b(200) - d(400, merge of b and c) - e(500)
          \- c(300) -/
    """
    dag.add("a", [], 100)
    dag.add("b", ["a"], 200)
    dag.add("c", ["a"], 300, actor="bot", kind="agent.emit.v1")
    dag.add("d", ["b", "c"], 400, kind="merge")
    dag.add("e", ["d"], 500)


def test_commit_info_reads_the_trailers(dag: Dag, commits: Commits, objects: ObjectStore) -> None:
    sig = Signature("Loom Bot", "bot@actors.gvcs", 1234, 60)
    message = format_message(
        "Emit a page\n\nBody text.",
        {"Gvcs-Actor": "bot", "Gvcs-Kind": "agent.emit.v1", "Gvcs-Event-Id": "ev-1", "Gvcs-Event": '{"n":1}'},
    )
    oid = objects.put("commit", Commit(EMPTY_TREE, (), sig, sig, message).serialise())
    info = commits.get(oid)
    assert (info.actor, info.actor_name, info.kind, info.time, info.offset) == (
        "bot",
        "Loom Bot",
        "agent.emit.v1",
        1234,
        60,
    )
    assert info.message == "Emit a page\n\nBody text."
    assert info.subject == "Emit a page"
    assert info.event_id == "ev-1" and info.event == {"n": 1}
    assert info.to_json()["event"] == {"n": 1} and info.to_json()["parents"] == []
    assert info.short_id == oid[:10]


def test_a_commit_without_trailers_falls_back_to_the_author(commits: Commits, objects: ObjectStore) -> None:
    sig = Signature("Someone", "someone@example.org", 5)
    oid = objects.put("commit", Commit(EMPTY_TREE, (), sig, sig, "plain git commit\n").serialise())
    info = commits.get(oid)
    assert (info.actor, info.kind, info.event, info.event_id) == ("someone", "edit", None, None)


def test_reading_a_non_commit_or_a_missing_or_broken_one(commits: Commits, objects: ObjectStore) -> None:
    with pytest.raises(BadInput, match="not a commit"):
        commits.get(objects.put("blob", b"x"))
    with pytest.raises(NotFound):
        commits.get(ObjectId("1" * 40))
    with pytest.raises(CorruptObject):
        commits.get(objects.put("commit", b"not a commit"))


def test_walk_is_newest_first_and_visits_each_commit_once(dag: Dag, commits: Commits) -> None:
    diamond(dag)
    assert dag.order(list(commits.walk([dag.ids["e"]]))) == ["e", "d", "c", "b", "a"]
    assert dag.order(list(commits.walk([dag.ids["e"], dag.ids["c"], dag.ids["e"]]))) == [
        "e",
        "d",
        "c",
        "b",
        "a",
    ]
    assert dag.order(list(commits.walk([dag.ids["e"]], first_parent=True))) == ["e", "d", "b", "a"]
    assert dag.order(list(commits.walk([dag.ids["c"]]))) == ["c", "a"]
    assert list(commits.walk([])) == []


def test_topo_puts_children_before_parents_even_with_skewed_clocks(dag: Dag, commits: Commits) -> None:
    dag.add("a", [], 100)
    dag.add("b", ["a"], 50)  # a clock behind its parent
    dag.add("c", ["a"], 300)
    dag.add("m", ["b", "c"], 200)
    order = dag.order(commits.topo([dag.ids["m"]]))
    assert order[0] == "m" and order[-1] == "a" and sorted(order) == ["a", "b", "c", "m"]
    assert dag.order(commits.topo([dag.ids["m"]], first_parent=True)) == ["m", "b", "a"]


def test_is_ancestor(dag: Dag, commits: Commits) -> None:
    diamond(dag)
    ids = dag.ids
    for older, newer in [("a", "e"), ("c", "e"), ("b", "d"), ("a", "a"), ("e", "e")]:
        assert commits.is_ancestor(ids[older], ids[newer]), (older, newer)
    for older, newer in [("e", "a"), ("b", "c"), ("c", "b"), ("d", "c")]:
        assert not commits.is_ancestor(ids[older], ids[newer]), (older, newer)


def test_as_of_follows_the_first_parent_line(dag: Dag, commits: Commits) -> None:
    diamond(dag)
    ids = dag.ids
    assert commits.as_of(ids["e"], 10_000) == ids["e"]
    assert commits.as_of(ids["e"], 500) == ids["e"]
    assert commits.as_of(ids["e"], 499) == ids["d"]
    assert commits.as_of(ids["e"], 350) == ids["b"]  # c is on the second-parent line
    assert commits.as_of(ids["e"], 100) == ids["a"]
    with pytest.raises(NotFound):
        commits.as_of(ids["e"], 99)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 1000), max_size=3), st.integers(0, 10_000)), min_size=1, max_size=25
    )
)
def test_walks_visit_exactly_the_ancestors(spec: list[tuple[list[int], int]]) -> None:
    dag = Dag(MemoryObjectStore())
    commits = Commits(dag.store)
    parents_of: dict[str, list[str]] = {}
    for n, (picks, time) in enumerate(spec):
        parents = sorted({f"c{p % n}" for p in picks}) if n else []
        parents_of[f"c{n}"] = parents
        dag.add(f"c{n}", parents, time)
    tip = f"c{len(spec) - 1}"
    reachable, stack = set(), [tip]
    while stack:
        name = stack.pop()
        if name not in reachable:
            reachable.add(name)
            stack.extend(parents_of[name])
    walked = dag.order(list(commits.walk([dag.ids[tip]])))
    assert sorted(walked) == sorted(reachable)
    topo = dag.order(commits.topo([dag.ids[tip]]))
    assert sorted(topo) == sorted(reachable)
    position = {name: i for i, name in enumerate(topo)}
    for name in reachable:
        for parent in parents_of[name]:
            assert position[name] < position[parent]


# --- the commit cache -----------------------------------------------------------------------------


def _long_history(disk_repo: Repository, commits: int) -> ObjectId:
    writer = Writer(disk_repo)
    head = writer.setup()
    for i in range(commits):
        head = writer.page(f"p{i % 7}", f"version {i}")
    return head


def test_a_long_walk_writes_the_commit_cache_and_the_next_walk_reads_it(
    disk_repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Commits, "LOAD_AFTER", 5)
    monkeypatch.setattr(Commits, "SAVE_AFTER", 10)
    head = _long_history(disk_repo, 40)
    first = [
        (c.id, c.parents, c.subject, c.actor, c.kind, c.trailers)
        for c in Commits(disk_repo.objects).walk([head])
    ]
    cache = disk_repo.objects.cache_file(Commits.CACHE_NAME)
    assert cache is not None and cache.read()

    reader = Commits(disk_repo.objects)
    again = [(c.id, c.parents, c.subject, c.actor, c.kind, c.trailers) for c in reader.walk([head])]
    assert again == first
    assert reader._rows is not None and head in reader._rows  # read from the cache, not the objects


def test_a_damaged_commit_cache_is_ignored(disk_repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Commits, "LOAD_AFTER", 5)
    head = _long_history(disk_repo, 20)
    cache = disk_repo.objects.cache_file(Commits.CACHE_NAME)
    assert cache is not None
    cache.write(b"\x00not marshal data")
    ids = [c.id for c in Commits(disk_repo.objects).walk([head])]
    assert len(ids) == 21 and ids[0] == head


def test_fsck_does_not_read_the_commit_cache(disk_repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Commits, "LOAD_AFTER", 1)
    _long_history(disk_repo, 5)
    cache = disk_repo.objects.cache_file(Commits.CACHE_NAME)
    assert cache is not None
    cache.write(b"garbage that must not matter")
    assert disk_repo.fsck().ok


class ListingStore(MemoryObjectStore):
    """A store that lists its commits in the order they were stored (as Neo4j does), with cache files."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.order: list[ObjectId] = []

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        oid = super().put(obj_type, data)
        if obj_type == "commit" and oid not in self.order:
            self.order.append(oid)
        return oid

    def commit_headers(self, after: int) -> tuple[list[tuple[ObjectId, bytes]], int]:
        return [(oid, self.get(oid)[1]) for oid in self.order[after:]], len(self.order)

    def cache_file(self, name: str) -> CacheFile | None:
        return FileCache(self.cache_dir / name)


def test_a_kept_listing_gives_the_log_and_reads_authors_and_messages_on_demand(tmp_path: Path) -> None:
    store = ListingStore(tmp_path)
    dag = Dag(store)
    dag.add("c0", [], time=1_700_000_000)
    for i in range(1, Commits.SAVE_AFTER + 100):
        dag.add(f"c{i}", [f"c{i - 1}"], time=1_700_000_000 + i, actor="ada" if i % 2 else "bot")
    head = dag.ids[f"c{Commits.SAVE_AFTER + 99}"]
    first = list(Commits(store).walk([head]))
    assert (tmp_path / Commits.LISTING_NAME).is_file()
    assert (tmp_path / f"{Commits.LISTING_NAME}-rest").is_file()

    def facts(infos: list[CommitInfo]) -> list[tuple[object, ...]]:
        return [
            (
                c.id,
                c.tree,
                c.parents,
                c.time,
                c.subject,
                c.actor_name,
                c.email,
                c.offset,
                c.message,
                c.trailers,
            )
            for c in infos
        ]

    expected = facts(first)
    kept = list(Commits(store).walk([head]))  # from the kept listing, nothing listed again
    assert [c.subject for c in kept[:2]] == [first[0].subject, first[1].subject]
    assert facts(kept) == expected
    # Another process rewrote the second file meanwhile: the authors and messages come from the store.
    rest = tmp_path / f"{Commits.LISTING_NAME}-rest"
    rest.write_bytes(marshal.dumps((2, "another", [], [], [], [])))
    assert facts(list(Commits(store).walk([head]))) == expected
    # A listing of the first layout (watermark, rows) is ignored and written again.
    (tmp_path / Commits.LISTING_NAME).write_bytes(marshal.dumps((5, {})))
    assert facts(list(Commits(store).walk([head]))) == expected
