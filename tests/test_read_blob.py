"""Repository.read_blob keeps the bytes of blobs read lately: the same bytes, within a bound."""

from __future__ import annotations

from narrative_vcs.objects import Page
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId


def test_a_kept_blob_reads_as_stored_and_the_bound_holds() -> None:
    repo = Repository.memory()
    repo.BLOB_BYTES_KEPT = 1000  # type: ignore[misc]
    repo.BLOB_KEPT_MAX = 300  # type: ignore[misc]
    oids = [repo.objects.put("blob", bytes([65 + i]) * 100) for i in range(20)]
    big = repo.objects.put("blob", b"z" * 400)
    for oid in oids:
        assert repo.read_blob(oid) == repo.objects.get(oid)[1]
    assert repo.read_blob(big) == b"z" * 400
    kept = repo._blobs or {}
    assert big not in kept  # larger than BLOB_KEPT_MAX
    assert sum(len(d) for d in kept.values()) <= 1000 and list(kept) == oids[-10:]  # the latest
    assert all(repo.read_blob(oid) == bytes([65 + i]) * 100 for i, oid in enumerate(oids))


def test_a_page_record_and_the_blob_it_was_read_from_agree() -> None:
    repo = Repository.memory()
    page = Page("door", "The Door", "Iron.\n", follows=("prologue",))
    oid = ObjectId(repo.objects.put("blob", page.serialise()))
    assert repo.page_record("door", oid) == page
    assert repo.read_blob(oid) == page.serialise()
