"""Change sets and outcomes as bytes for group commits across processes (narrative_vcs/repo/queued.py)."""

from __future__ import annotations

import json

import pytest

from narrative_vcs.errors import BadInput, BranchMoved, GvcsError, NotFound, Refused
from narrative_vcs.gate import RuleBroken
from narrative_vcs.objects import Actor, Page
from narrative_vcs.repo.queued import decode_outcome, decode_pending, encode_outcome, encode_pending
from narrative_vcs.repository import ChangeSet, GroupOutcome, PendingCommit
from narrative_vcs.types import ObjectId

HEAD = ObjectId("a" * 40)


def test_a_change_set_comes_back_as_the_same_files() -> None:
    changes = (
        ChangeSet()
        .upsert_page(Page("vault", "The Vault", "The door.\n\nÜber alles — ✓", follows=("prologue",)))
        .delete_page("old")
        .upsert_actor(Actor("ada", "Ada Lovelace"))
        .put_file("notes/raw.bin", bytes(range(256)))
        .delete_file("notes/gone.txt")
    )
    item = PendingCommit(changes, HEAD, "ada", "Write the vault\n\nWith a body.", "edit")
    back = decode_pending(encode_pending(item))
    assert back.changes.paths() == changes.paths()
    assert (back.expected_head, back.actor, back.message, back.kind) == (HEAD, "ada", item.message, "edit")
    first = decode_pending(encode_pending(PendingCommit(ChangeSet(), None, "ada", "m")))
    assert first.expected_head is None


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{}",
        json.dumps({"pages": {"p": "!!"}, "actors": {}, "files": {}}).encode(),
        json.dumps(
            {"pages": {}, "actors": {}, "files": {"pages/x.md": "eA=="}, "expected_head": None}
            | {"actor": "ada", "message": "m", "kind": "edit"}
        ).encode(),
        json.dumps(
            {"pages": {"Bad Id": "eA=="}, "actors": {}, "files": {}, "expected_head": None}
            | {"actor": "ada", "message": "m", "kind": "edit"}
        ).encode(),
    ],
)
def test_a_payload_that_is_not_a_change_set_is_bad_input(data: bytes) -> None:
    with pytest.raises(BadInput):
        decode_pending(data)


def test_errors_come_back_with_their_class_message_and_fields() -> None:
    moved = BranchMoved("refs/heads/main", "a" * 40, "b" * 40, ["pages/x.md"])
    back = decode_outcome(encode_outcome(GroupOutcome(None, None, False, moved))).error
    assert type(back) is BranchMoved and str(back) == str(moved)
    assert back.paths == ["pages/x.md"] and back.actual == "b" * 40 and back.code == "CONFLICT"
    broken = RuleBroken("ledger", "balances do not add up", ref="refs/heads/main")
    back = decode_outcome(encode_outcome(GroupOutcome(None, None, False, broken))).error
    assert type(back) is RuleBroken and back.rule == "ledger" and str(back) == str(broken)
    missing = decode_outcome(encode_outcome(GroupOutcome(None, None, False, NotFound("no actor x")))).error
    assert type(missing) is NotFound and missing.exit_code == 2
    ok = GroupOutcome(HEAD, ObjectId("b" * 40), True, None)
    assert decode_outcome(encode_outcome(ok)) == ok


def test_an_outcome_names_only_gvcs_errors() -> None:
    """Nothing but gvcs's own error classes is ever made from what another process wrote."""
    forged = {"commit": None, "parent": None, "rebased": False}
    for name in ("builtins.SystemExit", "os.system", "subprocess.Popen", "narrative_vcs.objects.Page"):
        error = {"class": name, "message": "hello", "attrs": {"__class__": "x"}}
        back = decode_outcome(json.dumps(forged | {"error": error}).encode()).error
        assert type(back) is Refused and str(back) == "hello"
    garbage = decode_outcome(b"{").error
    assert isinstance(garbage, GvcsError) and "does not parse" in str(garbage)
