"""The ObjectStore contract, run against every backend (the ``objects`` fixture is parametrised)."""

from __future__ import annotations

import pytest

from narrative_vcs.errors import BadInput, NotFound
from narrative_vcs.objects import hash_object
from narrative_vcs.store import ObjectStore
from narrative_vcs.types import ZERO_ID

SAMPLES = [("blob", b"hello\n"), ("blob", b""), ("tree", b""), ("blob", bytes(range(256)) * 40)]


def test_put_returns_the_git_id_and_get_returns_type_and_data(objects: ObjectStore) -> None:
    for obj_type, data in SAMPLES:
        oid = objects.put(obj_type, data)
        assert oid == hash_object(obj_type, data)
        assert objects.get(oid) == (obj_type, data)
        assert objects.has(oid)


def test_put_is_idempotent(objects: ObjectStore) -> None:
    first = objects.put("blob", b"same")
    assert objects.put("blob", b"same") == first
    assert list(objects).count(first) == 1


def test_same_bytes_as_different_types_are_different_objects(objects: ObjectStore) -> None:
    blob, tree = objects.put("blob", b""), objects.put("tree", b"")
    assert blob != tree
    assert objects.get(blob)[0] == "blob" and objects.get(tree)[0] == "tree"


def test_missing_object_is_not_found(objects: ObjectStore) -> None:
    objects.put("blob", b"something else")
    missing = hash_object("blob", b"never stored")
    assert not objects.has(missing)
    with pytest.raises(NotFound, match=missing):
        objects.get(missing)
    with pytest.raises(NotFound):
        objects.get(ZERO_ID)


def test_unknown_object_type_is_refused(objects: ObjectStore) -> None:
    with pytest.raises(BadInput):
        objects.put("banana", b"x")


def test_iteration_lists_exactly_the_stored_objects(objects: ObjectStore) -> None:
    assert set(objects) == set()
    stored = {objects.put(t, d) for t, d in SAMPLES}
    assert set(objects) == stored
    assert len(list(objects)) == len(stored)


def test_put_many_and_missing(objects: ObjectStore) -> None:
    ids = objects.put_many([("blob", b"a"), ("blob", b"b")])
    assert ids == [hash_object("blob", b"a"), hash_object("blob", b"b")]
    absent = hash_object("blob", b"c")
    assert objects.missing([*ids, absent]) == {absent}


def test_resolve_prefix(objects: ObjectStore) -> None:
    a = objects.put("blob", b"alpha")
    b = objects.put("blob", b"beta")
    assert objects.resolve_prefix(a[:6]) == [a]
    assert objects.resolve_prefix(a[:6].upper()) == [a]
    assert objects.resolve_prefix(b) == [b]
    assert objects.resolve_prefix(hash_object("blob", b"gamma")[:12]) == []


def test_resolve_ambiguous_prefix_lists_every_match(objects: ObjectStore) -> None:
    seen: dict[str, bytes] = {}
    for n in range(100_000):
        data = b"%d" % n
        prefix = hash_object("blob", data)[:4]
        if prefix in seen:
            first, second = objects.put("blob", seen[prefix]), objects.put("blob", data)
            break
        seen[prefix] = data
    assert objects.resolve_prefix(prefix) == sorted([first, second])
    assert objects.resolve_prefix(first[:20]) == [first]


@pytest.mark.parametrize("prefix", ["abc", "", "xyz1", "12 4"])
def test_bad_prefixes_are_refused(objects: ObjectStore, prefix: str) -> None:
    with pytest.raises(BadInput):
        objects.resolve_prefix(prefix)
