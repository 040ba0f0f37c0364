"""Committing the work tree: every change in it becomes one commit on the checked-out branch."""

from __future__ import annotations

from typing import Any

from ..errors import BadInput, InvalidFile, NothingToCommit, Refused
from ..objects import Actor, Page, Story
from ..refs import branch_ref
from ..repository import ChangeSet, path_kind
from ..types import ObjectId
from .base import CommitResult, WorkTreeBase, WorkTreeChange, _Entry
from .journal import Journal

__all__ = ["Committing"]


class Committing(WorkTreeBase):
    def _commit(
        self,
        message: str,
        actor: str,
        extra_parents: tuple[ObjectId, ...] = (),
        kind: str = "edit",
        *,
        op: str = "commit",
        after: dict[str, Any] | None = None,
        amend: bool = False,
    ) -> CommitResult:
        """Commit every change in the work tree on the checked-out branch.

        The commit expects the branch to be where it was checked out: if another process moved it,
        :class:`~narrative_vcs.errors.BranchMoved` is raised and nothing changes. A file that does
        not parse raises :class:`~narrative_vcs.errors.InvalidFile` naming its path and line. The new
        commit is journaled before the branch moves, so a kill at any point leaves either no commit and
        the work tree as it was, or the commit and a work tree checked out at it.
        """
        with self._operation(op) as journal:
            branch = self.on_branch(op)
            changes = self.status()
            if not changes and not extra_parents and not amend:
                raise NothingToCommit("nothing to commit, work tree clean")
            changeset = self._changeset(changes)
            journal.update(
                ref={"name": branch_ref(branch), "old": self.commit_id, "new": None},
                **({"after": after} if after else {}),
            )

            def written(oid: ObjectId) -> None:
                self._journal_commit(journal, oid, changes)

            if amend:
                oid = self.repo.amend(
                    branch,
                    changeset,
                    actor=actor,
                    message=message,
                    expected_head=self._require_commit("amend"),
                    on_written=written,
                )
            else:
                oid = self.repo.commit(
                    branch,
                    changeset,
                    actor=actor,
                    message=message,
                    expected_head=self.commit_id,
                    extra_parents=extra_parents,
                    kind=kind,
                    on_written=written,
                )
            normalised = sorted((journal.entry or {}).get("normalise") or {})
            self._apply(journal.entry or {}, save=False)
            self._stat_taken(oid, changes, normalised)  # saves the state
        return CommitResult(oid, branch, changes, normalised)

    def _journal_commit(self, journal: Journal, oid: ObjectId, changes: list[WorkTreeChange]) -> None:
        """Record the commit just written (before the branch moves) and the files it stored in another
        form than the work tree holds them (to be rewritten)."""
        tree = self.repo.commits.get(oid).tree
        normalise: dict[str, list[str]] = {}
        for change in changes:
            if change.status == "removed" or change.new is None:
                continue
            stored = self.repo.snapshots.blob_id(tree, change.path)
            if stored is not None and stored != change.new:
                normalise[change.path] = [change.new, stored]
        ref = dict((journal.entry or {})["ref"])
        journal.update(ref={**ref, "new": oid}, normalise=normalise)

    def _stat_taken(self, oid: ObjectId, changes: list[WorkTreeChange], normalised: list[str]) -> None:
        """Remember the stats of the files the commit took, as they were before status read them (an
        edit since moves the mtime on), so the next status need not read them."""
        tree = self.repo.commits.get(oid).tree
        for change in changes:
            if change.status == "removed" or change.path in normalised or change.new is None:
                continue
            hashed = self._hashed.get(change.path)
            if hashed is None or hashed[0] != change.new:
                continue
            if self.repo.snapshots.blob_id(tree, change.path) == change.new:
                self._files[change.path] = _Entry(change.new, hashed[1], hashed[2])
        self.save_state()

    def _changeset(self, changes: list[WorkTreeChange]) -> ChangeSet:
        cs = ChangeSet()
        for change in changes:
            if change.problem:
                raise BadInput(f"{change.path}: {change.problem}")
            kind, item = path_kind(change.path)
            data = None if change.status == "removed" else self.read(change.path)
            if data is None:
                if change.status != "removed":
                    raise Refused(f"{change.path}: the file vanished while committing; nothing was changed")
                _delete(cs, kind, item, change.path)
            elif kind == "page" and item:
                cs.upsert_page(Page.parse(item, data, change.path))
            elif kind == "actor" and item:
                cs.upsert_actor(Actor.parse(item, data, change.path))
            else:
                if kind == "story":
                    Story.parse(data, change.path)
                cs.put_file(change.path, data)
        return cs


def _delete(cs: ChangeSet, kind: str, item: str | None, path: str) -> None:
    if kind == "page" and item:
        cs.delete_page(item)
    elif kind == "actor" and item:
        cs.delete_actor(item)
    elif kind == "story":
        raise InvalidFile(path, None, "story.yaml cannot be removed")
    else:
        cs.delete_file(path)
