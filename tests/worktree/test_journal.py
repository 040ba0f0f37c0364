"""The work tree's journal: what a killed command left is acted on only if gvcs could have written it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from narrative_vcs.objects import Page
from narrative_vcs.worktree import JOURNAL_FILE, WorkTree
from narrative_vcs.worktree.journal import well_formed

OID = "a" * 40


@pytest.fixture
def committed(tree: WorkTree) -> WorkTree:
    tree.commit("First", "ann")
    return tree


def entry(**facts: Any) -> dict[str, Any]:
    return {"version": 1, "op": "switch", "pid": 1, "from": {"branch": "main", "commit": OID}, **facts}


def test_what_gvcs_writes_is_well_formed() -> None:
    assert well_formed(entry())
    assert well_formed(
        entry(
            ref={"name": "refs/heads/main", "old": OID, "new": None, "unknown": True},
            files={"from": "@from", "to": "@state", "paths": ["pages/one.md"], "force": True},
            write={"pages/one.md": OID, "pages/two.md": None},
            normalise={"pages/one.md": [OID, OID]},
            state={"branch": None, "commit": OID},
            after={"merge_state": None, "drop_ref": {"name": "refs/stash/0", "old": OID}},
        )
    )


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"version": 2},
        entry(op=5),
        entry(ref=5),
        entry(ref={"name": "HEAD", "old": OID, "new": OID}),
        entry(ref={"name": "refs/heads/main", "old": "zz", "new": OID}),
        entry(files={"from": "@from", "to": "../etc"}),
        entry(files={"from": None, "to": OID, "paths": ["../outside"]}),
        entry(files={"from": None, "to": OID, "paths": "pages"}),
        entry(write={"/etc/passwd": OID}),
        entry(write={".gvcs/config": OID}),
        entry(write={"pages/one.md": 7}),
        entry(normalise={"pages/one.md": [OID]}),
        entry(state={"commit": 3}),
        entry(state={"branch": ["main"], "commit": OID}),
        entry(after={"drop_ref": {"name": "refs/stash/0"}}),
        entry(after={"merge_state": "yes"}),
    ],
)
def test_anything_else_is_not(bad: Any) -> None:
    assert not well_formed(bad)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b"\xff\xfe",
        json.dumps(entry(write={"../../outside": OID})).encode(),
        json.dumps(entry(ref={"name": "refs/heads/main", "old": OID, "new": 12})).encode(),
        b"[" * 100_000,
    ],
)
def test_a_damaged_journal_is_ignored_and_replaced(committed: WorkTree, text: bytes) -> None:
    tree = committed
    before = tree.read("pages/one.md")
    path = tree.root / ".gvcs" / JOURNAL_FILE
    path.write_bytes(text)
    again = WorkTree(tree.root, tree.repo)
    assert again.recover() is None
    assert again.read("pages/one.md") == before
    assert again.status() == []
    again.write("pages/one.md", Page("one", "One", "Second.").serialise())
    again.commit("Second", "ann")  # the next operation writes its own journal over it
    assert not path.exists()
    assert not (tree.root / "outside").exists()
