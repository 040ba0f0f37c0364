"""Packs built and read in memory (narrative_vcs/graph/packfile.py): what is packed reads back, real git
accepts the packs, damage is found, and the index over many packs finds every object."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import CorruptObject, NotFound
from narrative_vcs.graph.packfile import (
    PackCache,
    PackData,
    PackIndex,
    build_pack,
    encode_entry,
    pack_objects,
    split_objects,
    stored,
)
from narrative_vcs.objects import hash_object
from narrative_vcs.types import ObjectId

GIT = shutil.which("git")
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Sizes around the header's varint boundaries (4 bits, then 7 bits a byte) and some longer text.
payloads = st.one_of(
    st.binary(max_size=40),
    st.integers(min_value=0, max_value=5000).map(lambda n: bytes(range(256)) * (n // 256) + b"x" * (n % 256)),
    st.text(max_size=3000).map(str.encode),
)
objects_lists = st.lists(st.tuples(st.sampled_from(["blob", "tree", "commit", "tag"]), payloads), max_size=30)


def objects_of(items: list[tuple[str, bytes]]) -> dict[ObjectId, tuple[str, bytes]]:
    return {hash_object(t, d): (t, d) for t, d in items}


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert GIT is not None, "git is needed for the interop tests"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
    return subprocess.run([GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@FAST
@given(objects_lists)
def test_every_object_packed_reads_back(items: list[tuple[str, bytes]]) -> None:
    objects = objects_of(items)
    built = pack_objects(objects)
    assert built.count == len(objects)
    assert built.data[:4] == b"PACK" and len(built.ids()) == 20 * len(objects)
    pack = PackData(built.data, built.ids(), built.offsets())
    assert sorted(pack) == sorted(objects)
    for oid, obj in objects.items():
        assert pack.read(oid) == obj
    assert pack.verify() == []
    scanned = PackData.scan(built.data)  # the index rebuilt from the entries is the same
    assert (scanned.ids, scanned.offsets) == (built.ids(), built.offsets())


def test_real_git_indexes_the_pack_as_gvcs_does(tmp_path: Path) -> None:
    blob = b"# The vault\n\nThe door opens.\n"
    blob_id = hash_object("blob", blob)
    tree = b"100644 vault.md\0" + bytes.fromhex(blob_id)
    tree_id = hash_object("tree", tree)
    who = b"Ada <ada@actors.gvcs> 1700000000 +0000"
    commit = b"tree " + tree_id.encode() + b"\nauthor " + who + b"\ncommitter " + who + b"\n\nWrite vault\n"
    commit_id = hash_object("commit", commit)
    tag = b"object " + commit_id.encode() + b"\ntype commit\ntag v1\ntagger " + who + b"\n\nFirst.\n"
    big = os.urandom(70_000)  # a size with a three-byte header; random bytes do not compress
    objects = objects_of([("blob", blob), ("tree", tree), ("commit", commit), ("tag", tag), ("blob", big)])
    built = pack_objects(objects)
    path = tmp_path / "p.pack"
    path.write_bytes(built.data)

    done = git("index-pack", "--strict", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == built.checksum.hex()
    assert path.with_suffix(".idx").read_bytes() == built.idx()  # byte for byte what git writes
    listed = git("verify-pack", "-v", str(path.with_suffix(".idx")), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    kinds = {row[0]: row[1] for row in rows if len(row[0]) == 40}
    assert kinds == {oid: t for oid, (t, _) in objects.items()}


def test_a_damaged_pack_is_reported_not_read() -> None:
    objects = objects_of([("blob", b"one " * 50), ("blob", b"two " * 50)])
    built = pack_objects(objects)
    damaged = bytearray(built.data)
    damaged[20] ^= 0xFF  # inside the first entry's deflated bytes
    pack = PackData(bytes(damaged), built.ids(), built.offsets(), name="pack 7")
    problems = pack.verify()
    assert any("checksum" in p for p in problems)
    assert any("pack 7" in p for p in problems[1:])
    bad = [oid for oid in objects if pack.offset(bytes.fromhex(oid)) == 12]  # the first entry's
    assert len(bad) == 1
    with pytest.raises(CorruptObject):
        pack.read(bad[0])
    with pytest.raises(NotFound):
        pack.read(hash_object("blob", b"three"))
    with pytest.raises(CorruptObject):
        PackData.scan(b"PACK" + bytes(40))


def test_entries_copied_from_another_pack_make_the_same_pack() -> None:
    objects = objects_of([("blob", b"a"), ("tree", b""), ("blob", b"b" * 300)])
    entries = [encode_entry(oid, t, d) for oid, (t, d) in objects.items()]
    assert build_pack(entries) == pack_objects(objects)


def test_objects_are_split_into_packs_of_a_bounded_size() -> None:
    items = [(hash_object("blob", d), "blob", d) for d in (os.urandom(1000) for _ in range(10))]
    packs = list(split_objects(items, max_bytes=3000))
    assert [p.count for p in packs] == [2, 2, 2, 2, 2]
    huge = os.urandom(5000)
    alone = list(split_objects([(hash_object("blob", huge), "blob", huge), *items[:1]], max_bytes=3000))
    assert [p.count for p in alone] == [1, 1]
    read = {
        oid: PackData(p.data, p.ids(), p.offsets()).read(oid) for p in packs for oid in PackData.scan(p.data)
    }
    assert read == {oid: (t, d) for oid, t, d in items}


def test_the_index_finds_objects_across_packs_before_and_after_merging() -> None:
    index = PackIndex(merge_after=50)
    built: dict[int, dict[ObjectId, tuple[str, bytes]]] = {}
    for number in range(1, 9):
        objects = objects_of([("blob", f"pack {number} object {i}".encode()) for i in range(20)])
        objects.update(objects_of([("blob", b"in every pack")]))
        pack = pack_objects(objects)
        index.add(number, pack.ids(), pack.offsets())
        built[number] = objects
        for seen, held in built.items():
            for oid in held:
                found = index.find(bytes.fromhex(oid))
                assert found is not None, (number, seen)
                where, offset = found
                assert oid in built[where]
                assert PackData(pack_objects(built[where]).data, b"", b"").read_at(offset, oid) == held[oid]
    everything = {oid for held in built.values() for oid in held}
    assert len(index) == len(everything) == 8 * 20 + 1
    assert index.ids() == sorted(everything)
    some = min(everything)
    assert some in index.with_prefix(some[:5]) and all(
        o.startswith(some[:5]) for o in index.with_prefix(some[:5])
    )
    assert index.find(bytes(20)) is None and bytes(20) not in index


def test_the_pack_cache_keeps_the_most_recent_packs_within_its_bytes() -> None:
    packs = [
        PackData(pack_objects(objects_of([("blob", os.urandom(1000))])).data, b"", b"") for _ in range(3)
    ]
    cache = PackCache(max_bytes=2500)
    cache.put(1, packs[0])
    cache.put(2, packs[1])
    assert cache.get(1) is packs[0]  # now the most recent
    cache.put(3, packs[2])
    assert 2 not in cache and cache.get(1) is packs[0] and cache.get(3) is packs[2]
    tiny = PackCache(max_bytes=10)
    tiny.put(1, packs[0])
    assert tiny.get(1) is packs[0]  # the last one read always stays


@FAST
@given(st.one_of(payloads, st.integers(min_value=65_000, max_value=140_000).map(lambda n: os.urandom(n))))
def test_a_stored_stream_is_what_zlib_reads_back(data: bytes) -> None:
    """Small objects go in packs as stored deflate blocks made without calling zlib: zlib reads them
    back, and below one block they are the bytes zlib's level 0 makes."""
    assert zlib.decompress(stored(data)) == data
    if len(data) < 0xFFFF:
        assert stored(data) == zlib.compress(data, 0)
