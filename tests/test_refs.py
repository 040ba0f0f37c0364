"""The RefStore contract, run against every backend (the ``refs`` fixture is parametrised)."""

from __future__ import annotations

import pytest

from narrative_vcs.errors import BadInput, BranchMoved, NotFound
from narrative_vcs.objects import hash_object
from narrative_vcs.refs import RefMove, RefStore, branch_ref, tag_ref, validate_ref_name
from narrative_vcs.types import ZERO_ID, ObjectId, RefName

A, B, C = (hash_object("commit", x) for x in (b"a", b"b", b"c"))
MAIN = RefName("refs/heads/main")
HEAD = RefName("HEAD")


def test_a_new_ref_is_created_with_old_none(refs: RefStore) -> None:
    assert refs.get(MAIN) is None
    refs.set_if_equals(MAIN, None, A, who="Ada <ada@actors.gvcs>", message="commit: first")
    assert refs.get(MAIN) == A


def test_set_if_equals_moves_the_ref_when_the_old_value_is_right(refs: RefStore) -> None:
    refs.set_if_equals(MAIN, None, A)
    refs.set_if_equals(MAIN, A, B)
    assert refs.get(MAIN) == B


@pytest.mark.parametrize("stale", [A, None, C])
def test_stale_old_value_raises_branch_moved_and_changes_nothing(refs: RefStore, stale: ObjectId) -> None:
    refs.set_if_equals(MAIN, None, A, message="one")
    refs.set_if_equals(MAIN, A, B, message="two")
    log_before = refs.reflog(MAIN)
    with pytest.raises(BranchMoved) as info:
        refs.set_if_equals(MAIN, stale, C, message="lost")
    assert refs.get(MAIN) == B
    assert refs.reflog(MAIN) == log_before
    assert info.value.ref == MAIN and info.value.expected == stale and info.value.actual == B
    assert "branch moved" in str(info.value) and B[:12] in str(info.value)


def test_creating_with_an_old_value_that_does_not_exist_is_refused(refs: RefStore) -> None:
    with pytest.raises(BranchMoved):
        refs.set_if_equals(MAIN, A, B)
    assert refs.get(MAIN) is None
    assert refs.list() == {}


def test_add_if_new_creates_and_refuses_an_existing_ref(refs: RefStore) -> None:
    refs.add_if_new(MAIN, A)
    with pytest.raises(BranchMoved):
        refs.add_if_new(MAIN, B)
    assert refs.get(MAIN) == A
    assert len(refs.reflog(MAIN)) == 1


def test_remove_if_equals(refs: RefStore) -> None:
    refs.add_if_new(MAIN, A)
    refs.set_if_equals(MAIN, A, B)
    with pytest.raises(BranchMoved):
        refs.remove_if_equals(MAIN, A)
    assert refs.get(MAIN) == B
    refs.remove_if_equals(MAIN, B)
    assert refs.get(MAIN) is None
    assert MAIN not in refs.list()
    with pytest.raises(NotFound):
        refs.remove_if_equals(MAIN, B)
    refs.add_if_new(MAIN, C)  # the name is free again
    assert refs.get(MAIN) == C


def test_remove_with_old_none_removes_whatever_it_points_at(refs: RefStore) -> None:
    refs.add_if_new(tag_ref("v1"), A)
    refs.remove_if_equals(tag_ref("v1"), None)
    assert refs.get(tag_ref("v1")) is None


def test_list_filters_by_prefix_and_sorts(refs: RefStore) -> None:
    refs.add_if_new(branch_ref("main"), A)
    refs.add_if_new(branch_ref("feature/one"), B)
    refs.add_if_new(branch_ref("feature/two"), C)
    refs.add_if_new(tag_ref("v1"), A)
    assert refs.list() == {
        "refs/heads/feature/one": B,
        "refs/heads/feature/two": C,
        "refs/heads/main": A,
        "refs/tags/v1": A,
    }
    assert list(refs.list("refs/heads/")) == [
        "refs/heads/feature/one",
        "refs/heads/feature/two",
        "refs/heads/main",
    ]
    assert refs.list("refs/heads/feature/") == {"refs/heads/feature/one": B, "refs/heads/feature/two": C}
    assert refs.list("refs/tags/") == {"refs/tags/v1": A}
    assert refs.list("refs/remotes/") == {}


def test_reflog_records_old_new_and_message_in_order(refs: RefStore) -> None:
    refs.set_if_equals(MAIN, None, A, who="Ada <ada@actors.gvcs>", message="commit: first")
    refs.set_if_equals(MAIN, A, B, who="Bot <bot@actors.gvcs>", message="commit: second")
    refs.set_if_equals(MAIN, B, C, who="Ada <ada@actors.gvcs>", message="merge: side")
    log = refs.reflog(MAIN)
    assert [(e.old, e.new, e.message) for e in log] == [
        (ZERO_ID, A, "commit: first"),
        (A, B, "commit: second"),
        (B, C, "merge: side"),
    ]
    assert [e.who for e in log] == ["Ada <ada@actors.gvcs>", "Bot <bot@actors.gvcs>", "Ada <ada@actors.gvcs>"]
    assert all(isinstance(e.time, int) and e.time > 0 for e in log)
    assert refs.reflog(branch_ref("nothing")) == []


def test_symbolic_head_follows_its_branch(refs: RefStore) -> None:
    refs.set_symbolic(HEAD, MAIN)
    assert refs.get_symbolic(HEAD) == MAIN
    assert refs.get(HEAD) is None  # unborn branch
    refs.set_if_equals(HEAD, None, A, message="through HEAD")
    assert refs.get(MAIN) == A and refs.get(HEAD) == A
    refs.set_if_equals(MAIN, A, B)
    assert refs.get(HEAD) == B
    assert [e.new for e in refs.reflog(HEAD)] == [A, B]
    refs.set_symbolic(HEAD, branch_ref("other"))
    assert refs.get(HEAD) is None
    assert refs.get_symbolic(MAIN) is None
    assert "HEAD" not in refs.list()
    with pytest.raises(BranchMoved):
        refs.set_if_equals(HEAD, B, C)  # HEAD now names `other`, which does not exist


def test_a_ref_and_a_ref_below_it_cannot_both_exist(refs: RefStore) -> None:
    refs.add_if_new(branch_ref("topic"), A)
    with pytest.raises(BadInput):
        refs.add_if_new(branch_ref("topic/sub"), B)
    refs.add_if_new(branch_ref("area/sub"), B)
    with pytest.raises(BadInput):
        refs.add_if_new(branch_ref("area"), C)
    assert refs.list() == {"refs/heads/area/sub": B, "refs/heads/topic": A}


@pytest.mark.parametrize(
    "name",
    ["", "a b", "-x", ".x", "/x", "x/", "x.", "x.lock", "a..b", "a//b", "a@{1}", "a~1", "a^", "a:b", "a?",
     "a*", "a[", "a\\b", "a\x01", "HEAD", "x" * 201],
)  # fmt: skip
def test_bad_ref_names_are_refused(name: str) -> None:
    with pytest.raises(BadInput):
        validate_ref_name("branch", name)


@pytest.mark.parametrize("name", ["main", "feature/one", "v1.0", "Ada's-draft", "x" * 200])
def test_good_ref_names_are_accepted(name: str) -> None:
    assert branch_ref(name) == f"refs/heads/{name}"


# --- several refs at once ------------------------------------------------------------------------

SIDE = RefName("refs/heads/side")
TAG = RefName("refs/tags/v1")


def test_update_many_moves_every_ref_together(refs: RefStore) -> None:
    refs.add_if_new(MAIN, A)
    refs.add_if_new(TAG, A)
    refs.update_many(
        [RefMove(MAIN, A, B), RefMove(SIDE, None, C), RefMove(TAG, A, None)], who="Ada", message="together"
    )
    assert refs.get(MAIN) == B and refs.get(SIDE) == C and refs.get(TAG) is None
    assert refs.reflog(SIDE)[-1].message == "together"


@pytest.mark.parametrize("stale", ["main", "side", "tag"])
def test_update_many_changes_nothing_when_one_ref_moved(refs: RefStore, stale: str) -> None:
    refs.add_if_new(MAIN, A)
    refs.add_if_new(TAG, A)
    moves = {
        "main": RefMove(MAIN, C if stale == "main" else A, B),
        "side": RefMove(SIDE, A if stale == "side" else None, C),
        "tag": RefMove(TAG, B if stale == "tag" else A, None),
    }
    before = refs.list()
    with pytest.raises(BranchMoved):
        refs.update_many(list(moves.values()))
    assert refs.list() == before


def test_update_many_refuses_a_ref_named_twice_or_outside_refs(refs: RefStore) -> None:
    with pytest.raises(BadInput, match="named twice"):
        refs.update_many([RefMove(MAIN, None, A), RefMove(MAIN, None, B)])
    with pytest.raises(BadInput, match="only refs under refs/"):
        refs.update_many([RefMove(HEAD, None, A)])
    assert refs.list() == {}
