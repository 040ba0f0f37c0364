"""The DataLoaders keep a page of commits with actors and changed pages to a bounded number of reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager

from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.store import CacheFile, ObjectStore
from narrative_vcs.types import ObjectId
from tests.conftest import Backend, Writer

from .conftest import data


class CountingStore(ObjectStore):
    """An object store that counts the objects read through ``get`` and ``get_many``."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.reads: Counter[ObjectId] = Counter()
        self.calls = 0

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        self.calls += 1
        self.reads[oid] += 1
        return self.inner.get(oid)

    def get_many(self, oids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, bytes]]:
        wanted = list(oids)
        self.calls += 1
        self.reads.update(wanted)
        return self.inner.get_many(wanted)

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        return self.inner.put(obj_type, data)

    def has(self, oid: ObjectId) -> bool:
        return self.inner.has(oid)

    def __iter__(self) -> Iterator[ObjectId]:
        return iter(self.inner)

    def batch(self) -> AbstractContextManager[None]:
        return self.inner.batch()

    def resolve_prefix(self, prefix: str) -> list[ObjectId]:
        return self.inner.resolve_prefix(prefix)

    def commit_headers(self, after: int) -> tuple[list[tuple[ObjectId, bytes]], int] | None:
        return self.inner.commit_headers(after)

    def cache_file(self, name: str) -> CacheFile | None:
        return None  # every run starts cold: no commit cache from an earlier process


LOG = """query($n: Int!) { branch(name: "main") { log(first: $n) { edges { node {
    id subject actor { id name kind } changedPages parents { id } } } } } }"""


def _story(repo: Repository, commits: int) -> None:
    writer = Writer(repo)
    writer.setup()
    actors = ["ada", "bot", "cal"]
    for i in range(commits):
        page = Page(f"page-{i % 7}", f"Page {i % 7}", f"Version {i}.")
        writer.commit(ChangeSet().upsert_page(page), actor=actors[i % 3], message=f"Edit {i}")


def _reads(backend: Backend, first: int) -> CountingStore:
    counting = CountingStore(backend.objects)
    repo = Repository(counting, backend.refs)  # fresh caches: a cold request
    # No read-ahead of HEAD's trees: it runs beside the request and would count its reads twice.
    with TestClient(create_app(repo, close_on_shutdown=False, preload=False)) as client:
        edges = data(client, LOG, {"n": first})["branch"]["log"]["edges"]
    assert len(edges) == first
    assert all(e["node"]["actor"]["kind"] for e in edges)
    assert all(len(e["node"]["changedPages"]) == 1 for e in edges)
    return counting


def test_a_log_page_reads_each_object_at_most_once(backend: Backend) -> None:
    repo = Repository(backend.objects, backend.refs)
    repo.set_head_branch("main")
    _story(repo, 60)
    small, large = _reads(backend, 10), _reads(backend, 50)
    head = repo.branch_head("main")
    for counting in (small, large):
        # The log's start is read twice: ``Repository.resolve`` reads an id to check it is a commit.
        twice = {oid: n for oid, n in counting.reads.items() if n > 1 and oid != head}
        assert not twice, f"objects read more than once: {twice}"
        assert counting.reads[head] <= 2
    # Per commit: its root tree and the trees down to the changed page (parents' trees are the previous
    # commit's) and at most one commit object; the actor records are read once each (three actors).
    per_commit = 8
    assert large.calls <= per_commit * 50 + 10
    assert large.calls - small.calls <= per_commit * 40
    actor_blobs = [oid for oid in large.reads if backend.objects.get(oid)[1].startswith(b"name:")]
    assert len(actor_blobs) <= 3


def test_actor_records_are_shared_by_commits(backend: Backend) -> None:
    """Fifty commits by three actors read the three actor records, not fifty."""
    repo = Repository(backend.objects, backend.refs)
    repo.set_head_branch("main")
    _story(repo, 50)
    counting = CountingStore(backend.objects)
    fresh = Repository(counting, backend.refs)
    with TestClient(create_app(fresh, close_on_shutdown=False, preload=False)) as client:
        names = data(client, LOG, {"n": 50})["branch"]["log"]["edges"]
    assert {e["node"]["actor"]["name"] for e in names} == {"Ada Lovelace", "Loom Bot", "Cal Merger"}
    kinds: Counter[str] = Counter(backend.objects.get(oid)[0] for oid in counting.reads)
    assert kinds["blob"] <= 3  # only the actor records: changed pages come from trees


def test_followed_by_reads_each_page_once(backend: Backend) -> None:
    """Every page of a list asks which pages follow it: each page is read once, not once per page."""
    repo = Repository(backend.objects, backend.refs)
    repo.set_head_branch("main")
    writer = Writer(repo)
    writer.setup()
    changes = ChangeSet()
    for i in range(30):
        changes.upsert_page(
            Page(f"page-{i:02}", f"Page {i}", f"Text {i}.", (f"page-{i - 1:02}",) if i else ())
        )
    writer.commit(changes, message="Thirty pages in a line")
    counting = CountingStore(backend.objects)
    fresh = Repository(counting, backend.refs)
    query = "{ pages(first: 50) { edges { node { id followedBy { id title } } } } }"
    with TestClient(create_app(fresh, close_on_shutdown=False, preload=False)) as client:
        edges = data(client, query)["pages"]["edges"]
    assert [e["node"]["followedBy"] for e in edges[:2]] == [
        [{"id": "page-01", "title": "Page 1"}],
        [{"id": "page-02", "title": "Page 2"}],
    ]
    assert edges[-1]["node"]["followedBy"] == []
    blobs = [oid for oid in counting.reads if backend.objects.get(oid)[0] == "blob"]
    assert len(blobs) == 30
    assert all(counting.reads[oid] == 1 for oid in blobs)
