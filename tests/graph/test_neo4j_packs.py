"""The Neo4j object store reads through packs: blobs, trees and tags in ``(:Pack)`` nodes (a git pack and
its index), commits on their ``:Commit`` node (``raw``), and objects of the old layout (``:Object``).

The packs here are written by hand, as a writer of another process would have written them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from narrative_vcs.errors import CorruptObject, NotFound
from narrative_vcs.graph.neo4j import (
    PACK_BYTES,
    NeedsMigration,
    Neo4jObjectStore,
    Neo4jRefStore,
    open_neo4j,
)
from narrative_vcs.graph.packfile import BuiltPack, pack_objects
from narrative_vcs.objects import Page, hash_object
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

from ..conftest import Backend, Writer

pytestmark = pytest.mark.neo4j

BLOBS = [f"# Page {i}\n\nWords of page {i}.\n".encode() for i in range(5)]


def objects_of(items: list[tuple[str, bytes]]) -> dict[ObjectId, tuple[str, bytes]]:
    return {hash_object(t, d): (t, d) for t, d in items}


def run(store: Neo4jObjectStore, cypher: str, **params: Any) -> None:
    with store.server.driver.session(database=store.server.location.database) as session:
        session.execute_write(lambda tx: tx.run(cypher, params).consume())


def write_pack(store: Neo4jObjectStore, seq: int, pack: BuiltPack, *, data: bytes | None = None) -> None:
    run(
        store,
        "CREATE (:Pack {seq: $seq, count: $count, data: $data, ids: $ids, offsets: $offsets})",
        seq=seq,
        count=pack.count,
        data=pack.data if data is None else data,
        ids=pack.ids(),
        offsets=pack.offsets(),
    )


def open_neo4j_refs(objects: Neo4jObjectStore) -> Neo4jRefStore:
    return Neo4jRefStore(objects.server, objects)


@pytest.fixture
def store(neo4j_backend: Backend) -> Neo4jObjectStore:
    assert isinstance(neo4j_backend.objects, Neo4jObjectStore)
    return neo4j_backend.objects


@pytest.fixture
def reader(store: Neo4jObjectStore, neo4j_uri: str) -> Iterator[Neo4jObjectStore]:
    """A second store on the same database: nothing cached, no index read yet."""
    objects, _refs, _access = open_neo4j(neo4j_uri)
    yield objects
    objects.close()


def test_objects_are_read_from_packs_commits_and_old_object_nodes(
    store: Neo4jObjectStore, reader: Neo4jObjectStore
) -> None:
    packed = objects_of([("blob", b) for b in BLOBS[:3]] + [("tree", b""), ("tag", b"object x\n")])
    write_pack(store, 1, pack_objects(packed))
    commit = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\n\nc\n"
    commit_id = hash_object("commit", commit)
    run(store, "CREATE (:Commit {id: $id, seq: 1, raw: $raw})", id=commit_id, raw=commit)
    legacy = objects_of([("blob", BLOBS[3])])
    ((legacy_id, (_, legacy_data)),) = legacy.items()
    run(store, "CREATE (:Object {id: $id, type: 'blob', data: $data})", id=legacy_id, data=legacy_data)
    everything = {**packed, commit_id: ("commit", commit), **legacy}
    absent = hash_object("blob", BLOBS[4])

    some = next(iter(packed))
    assert reader.get(some) == packed[some]  # loads the index, then the pack
    for oid, obj in everything.items():
        assert reader.get(oid) == obj
    with pytest.raises(NotFound):
        reader.get(absent)

    other = Neo4jObjectStore(reader.server)  # no cache, no index: get_many finds every kind
    assert other.get_many([*everything, absent]) == everything
    assert other.missing([*everything, absent]) == {absent}
    assert all(other.has(oid) for oid in everything) and not other.has(absent)
    assert set(Neo4jObjectStore(reader.server)) == set(everything)
    assert Neo4jObjectStore(reader.server).missing([commit_id, absent]) == {absent}  # no index needed
    for oid in everything:
        assert Neo4jObjectStore(reader.server).resolve_prefix(oid[:6]) == [oid]
    assert Neo4jObjectStore(reader.server).check_packs() == []


def test_packs_stored_after_the_index_was_read_are_found(
    store: Neo4jObjectStore, reader: Neo4jObjectStore
) -> None:
    first = objects_of([("blob", BLOBS[0])])
    write_pack(store, 1, pack_objects(first))
    assert reader.get_many(first) == first  # the index now holds pack 1
    for seq, blob in enumerate(BLOBS[1:4], start=2):
        later = objects_of([("blob", blob)])
        write_pack(store, seq, pack_objects(later))
        ((oid, obj),) = later.items()
        assert reader.get(oid) == obj  # one query brings the index of the new pack
    assert reader.missing([hash_object("blob", BLOBS[4])]) == {hash_object("blob", BLOBS[4])}
    last = objects_of([("blob", BLOBS[4])])
    write_pack(store, 5, pack_objects(last))
    assert reader.missing(last) == set() and reader.get_many(last) == last


def test_a_damaged_pack_is_refused_and_reported(store: Neo4jObjectStore, reader: Neo4jObjectStore) -> None:
    objects = objects_of([("blob", b"the door " * 40), ("blob", b"the vault " * 40)])
    pack = pack_objects(objects)
    damaged = bytearray(pack.data)
    damaged[20] ^= 0xFF
    write_pack(store, 1, pack, data=bytes(damaged))
    with pytest.raises(CorruptObject):
        for oid in objects:
            reader.get(oid)
    problems = reader.check_packs()
    assert any("pack 1 in Neo4j" in p and "checksum" in p for p in problems), problems


def test_reads_share_a_bounded_cache_of_packs(store: Neo4jObjectStore) -> None:
    packs = [objects_of([("blob", blob + bytes(5000))]) for blob in BLOBS]
    for seq, objects in enumerate(packs, start=1):
        write_pack(store, seq, pack_objects(objects))
    small = Neo4jObjectStore(store.server, cache_size=1, pack_cache_bytes=12_000)
    for objects in packs * 2:  # every object read twice, through a cache of about two packs
        for oid, obj in objects.items():
            assert small.get(oid) == obj


# --- writes ---------------------------------------------------------------------------------------------


def count(store: Neo4jObjectStore, cypher: str) -> int:
    with store.server.driver.session(database=store.server.location.database) as session:
        return int(session.execute_read(lambda tx: tx.run(cypher).single(strict=True)[0]))


def test_a_new_database_stores_blobs_and_trees_in_packs_and_commits_on_their_nodes(
    store: Neo4jObjectStore, reader: Neo4jObjectStore
) -> None:
    repo = Repository(store, open_neo4j_refs(store))
    repo.set_head_branch("main")
    w = Writer(repo)
    w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
    for i in range(5):
        w.page(f"p{i}", f"Page {i}. See [[prologue]].")
    head = repo.branch_head("main")
    assert head is not None
    commits = [c.id for c in repo.commits.walk([head])]

    assert count(store, "MATCH (m:Meta {name: 'layout'}) RETURN m.version") == 2
    assert count(store, "MATCH (o:Object) RETURN count(o)") == 0
    assert count(store, "MATCH (c:Commit) WHERE c.raw IS NOT NULL RETURN count(c)") == len(commits)
    packs = count(store, "MATCH (p:Pack) RETURN count(p)")
    assert packs == len(commits)  # one per batch: each commit's new blobs and trees
    stored = set(Neo4jObjectStore(store.server))
    packed = count(store, "MATCH (p:Pack) RETURN sum(p.count)")
    assert packed == len(stored) - len(commits)  # every blob and tree once
    assert count(store, "MATCH (k:Counter {name: 'commit'}) RETURN k.packs") == packs
    assert int(store.server.query("admin/count_objects")[0]["objects"]) == len(stored)

    # Another process reads everything back, and fsck finds nothing wrong.
    other = Repository(reader, open_neo4j_refs(reader))
    assert [c.id for c in other.commits.walk([head])] == commits
    assert reader.get_many(stored) == store.get_many(stored)
    report = other.fsck()
    assert report.ok, report.problems
    assert report.objects == len(stored)


def test_objects_stored_before_are_not_packed_again(
    store: Neo4jObjectStore, reader: Neo4jObjectStore
) -> None:
    blob = store.put("blob", b"the same words")
    with store.batch():
        store.put("blob", b"the same words")  # this store wrote it
        store.put("blob", b"new words")
    assert count(store, "MATCH (p:Pack) RETURN sum(p.count)") == 2
    assert reader.get(blob) == ("blob", b"the same words")  # the reader's index now holds both packs
    with reader.batch():
        reader.put("blob", b"the same words")
        reader.put("blob", b"new words")
    assert count(store, "MATCH (p:Pack) RETURN count(p)") == 2


def test_a_large_batch_is_split_into_packs(store: Neo4jObjectStore, reader: Neo4jObjectStore) -> None:
    blobs = [os.urandom(PACK_BYTES // 3 - 1000) for _ in range(5)]  # random bytes do not compress
    with store.batch():
        ids = store.put_many(("blob", b) for b in blobs)
    assert count(store, "MATCH (p:Pack) RETURN count(p)") == 2
    assert count(store, "MATCH (p:Pack) RETURN max(size(p.data))") <= PACK_BYTES + 100
    assert reader.get_many(ids) == {oid: ("blob", b) for oid, b in zip(ids, blobs, strict=True)}


def test_a_database_of_the_first_layout_is_read_and_refuses_writes(
    store: Neo4jObjectStore, neo4j_uri: str
) -> None:
    legacy = hash_object("blob", b"stored in the first layout")
    run(
        store,
        "CREATE (:Object {id: $id, type: 'blob', data: $data})",
        id=legacy,
        data=b"stored in the first layout",
    )
    objects, refs, _access = open_neo4j(neo4j_uri)
    try:
        assert objects.get(legacy) == ("blob", b"stored in the first layout")
        repo = Repository(objects, refs)
        with pytest.raises(NeedsMigration, match=r"old layout .* run `gvcs migrate`"):
            repo.set_head_branch("main")
        with pytest.raises(NeedsMigration):
            Writer(repo).setup(pages=[Page("prologue", "Prologue", "It begins.")])
        assert count(store, "MATCH (m:Meta) RETURN count(m)") == 0
        assert count(store, "MATCH (p:Pack) RETURN count(p)") == 0
        assert count(store, "MATCH (c:Commit) RETURN count(c)") == 0
        assert int(objects.server.query("admin/count_objects")[0]["objects"]) == 1
    finally:
        objects.close()
