"""Commits made by hand, past the repository API and its early checks: what git, a script or another
tool could write into a store. The tests then try to move a ref to them through the gate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from narrative_vcs.objects import MODE_BLOB, MODE_TREE, Commit, Signature, Tree, TreeEntry, format_message
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import Repository
from narrative_vcs.snapshot import store_path
from narrative_vcs.types import ObjectId

__all__ = ["forge", "move", "raw_tree"]

NAMES = {"ada": "Ada Lovelace", "bot": "Loom Bot", "cal": "Cal Merger", "dot": "Dot Voter"}


def raw_tree(
    repo: Repository, base: ObjectId | None, entries: Mapping[str, tuple[str, bytes] | None]
) -> ObjectId:
    """``base`` with each *store* path set to ``(mode, bytes)`` (any mode: a link, a submodule) or
    removed (None), written straight into the object store."""
    nested: dict[str, Any] = {}
    for path, value in entries.items():
        node = nested
        parts = path.split("/")
        for name in parts[:-1]:
            node = node.setdefault(name, {})
        node[parts[-1]] = value
    return _write(repo, base, nested)


def _write(repo: Repository, oid: ObjectId | None, changes: dict[str, Any]) -> ObjectId:
    tree = repo.snapshots.tree(oid).copy() if oid else Tree()
    for name, change in changes.items():
        current = tree.get(name)
        if isinstance(change, dict):
            sub = current.oid if current is not None and current.is_tree else None
            tree.set(TreeEntry(name, MODE_TREE, _write(repo, sub, change)))
        elif change is None:
            tree.remove(name)
        else:
            mode, data = change
            blob = repo.objects.put("blob", data) if mode != "160000" else ObjectId(data.decode())
            tree.set(TreeEntry(name, mode, blob))
    return repo.objects.put("tree", tree.serialise())


def forge(
    repo: Repository,
    parent: ObjectId | None,
    files: Mapping[str, bytes | None] | None = None,
    *,
    author: str = "ada",
    kind: str | None = None,
    trailers: Mapping[str, str] | None = None,
    event: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    parents: tuple[ObjectId, ...] | None = None,
    time: int | None = None,
    message: str = "Forged",
    tree: ObjectId | None = None,
    email: str | None = None,
) -> ObjectId:
    """A commit on ``parent`` writing logical ``files`` (bytes, or None to remove), signed by ``author``
    with the trailers gvcs would write, stored without any check."""
    base = repo.commits.get(parent).tree if parent else None
    if tree is None:
        entries = {store_path(p): (None if d is None else (MODE_BLOB, d)) for p, d in (files or {}).items()}
        tree = raw_tree(repo, base, entries)
    facts = {"Gvcs-Actor": author, "Gvcs-Kind": kind or "edit"}
    if event_id is not None:
        facts["Gvcs-Event-Id"] = event_id
    if event is not None:
        facts["Gvcs-Event"] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    facts.update(trailers or {})
    when = time if time is not None else (repo.commits.get(parent).time + 60 if parent else 1_700_000_000)
    sig = Signature(NAMES.get(author, author.title()), email or f"{author}@actors.gvcs", when, 0)
    commit = Commit(
        tree,
        parents if parents is not None else ((parent,) if parent else ()),
        sig,
        sig,
        format_message(message, facts),
    )
    return repo.objects.put("commit", commit.serialise())


def move(repo: Repository, branch: str, new: ObjectId) -> None:
    """Move ``branch`` to ``new`` through the gate (from wherever it is)."""
    ref = branch_ref(branch)
    repo.refs.set_if_equals(ref, repo.refs.get(ref), new, who="test", message="move")
