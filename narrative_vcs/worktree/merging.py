"""Merging in the work tree: a merge, its conflicts, their resolution, and going on or giving up."""

from __future__ import annotations

from typing import Any

from ..errors import BadInput, NotFound, Refused
from ..objects import Page, hash_object
from ..refs import branch_ref
from ..repository import MergeOutcome, MergePreview, path_kind
from ..types import ObjectId
from .base import CommitResult
from .committing import Committing
from .files import has_markers

__all__ = ["Merging"]


class Merging(Committing):
    def commit(self, message: str, actor: str) -> CommitResult:
        """Commit the work tree; during a merge, conclude it (see :meth:`continue_merge`)."""
        if self.merge_state() is not None:
            return self.continue_merge(actor, message)
        return self._commit(message, actor)

    def merge(
        self,
        source: str,
        actor: str,
        *,
        strategy: str | None = None,
        no_ff: bool = False,
        message: str | None = None,
        op: str = "merge",
    ) -> MergeOutcome:
        """Merge ``source`` into the checked-out branch.

        Clean merges and fast-forwards update the work tree. With conflicts, the merged files (conflict
        markers in bodies) are written to the work tree, the merge state is kept in ``.gvcs/``, and
        the branch does not move until :meth:`continue_merge`. Uncommitted changes: see
        :meth:`_check_merge`.
        """
        if self.merge_state() is not None:
            raise Refused("a merge is in progress: resolve it (gvcs merge --continue) or gvcs merge --abort")
        branch = self.on_branch("merge")
        if self.commit_id is None:
            raise Refused("nothing to merge into: the branch has no commits yet")
        with self._operation(op) as journal:
            journal.update(
                ref={"name": branch_ref(branch), "old": self.commit_id, "new": None, "unknown": True},
                files={"from": "@from", "to": "@state"},
            )
            outcome = self.repo.merge(
                branch,
                source,
                actor=actor,
                expected_head=self.commit_id,
                strategy=strategy,
                no_ff=no_ff,
                message=message,
                check=lambda preview: self._check_merge(source, preview),
            )
            if outcome.status in ("fast-forward", "merged") and outcome.commit is not None:
                journal.update(
                    ref={**(journal.entry or {})["ref"], "new": outcome.commit},
                    files={"from": "@from", "to": "@state"},
                )
                self._apply(journal.entry or {})
            elif outcome.status == "conflicts":
                self._write_conflicted(source, outcome, message, journal)
        return outcome

    def _check_merge(self, source: str, preview: MergePreview) -> None:
        """Refuse a merge that would overwrite uncommitted changes, before anything is written. As in
        git, changes to files the merge leaves alone stay uncommitted; but a merge that stops with
        conflicts needs a clean work tree, since concluding it commits every file and aborting it puts
        every file back."""
        if preview.up_to_date:
            return
        if preview.clean:
            self.require_untouched(preview.result.changed, "merge")
        else:
            self.require_clean(f"merge {source}, which has conflicts to resolve")

    def _write_conflicted(
        self, source: str, outcome: MergeOutcome, message: str | None, journal: Any
    ) -> None:
        """Write the merged files, conflict markers and all, and keep the merge state (journaled: a kill
        leaves the work tree as it was or the merge stopped with every file written)."""
        preview = outcome.preview
        conflicts = [c.to_json() for c in preview.result.conflicts]
        for c in conflicts:
            c["written"] = self.repo.snapshots.blob_id(preview.result.tree, c["path"])
            c["resolved"] = False
        state = {
            "version": 1,
            "source": source,
            "theirs": preview.theirs,
            "base_tree": preview.base_tree,
            "result_tree": preview.result.tree,
            "message": message or f"Merge {source} into {self.branch}",
            "conflicts": conflicts,
        }
        # The branch has not moved: the files go from the commit's tree to the merge's result, and the
        # state still describes the commit (the merge's changes show as uncommitted).
        entry = dict(journal.entry or {})
        entry.pop("ref", None)
        journal.entry = entry
        journal.update(
            files={"from": self.tree, "to": preview.result.tree},
            state={"branch": self.branch, "commit": self.commit_id},
            after={"merge_state": state},
        )
        self._apply(journal.entry or {})

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts of the merge in progress, each with ``resolved`` brought up to date.

        A conflict counts as resolved once ``gvcs resolve`` settled it, or once its file was edited
        and holds no conflict markers.
        """
        state = self.merge_state()
        if state is None:
            raise Refused("no merge in progress")
        out = []
        for c in state["conflicts"]:
            data = self.read(c["path"])
            blob = None if data is None else hash_object("blob", data)
            edited = blob != c.get("written") and not has_markers(data)
            out.append({**c, "resolved": bool(c.get("resolved")) or edited})
        return out

    def resolve(self, path: str, *, side: str | None = None, data: bytes | None = None) -> None:
        """Settle one conflicted file with ``side`` (ours, theirs, union) or with ``data``."""
        with self.lock.held():
            state = self.merge_state()
            if state is None:
                raise Refused("no merge in progress")
            matching = [c for c in state["conflicts"] if c["path"] == path]
            if not matching:
                raise NotFound(f"{path} has no conflict in this merge (see gvcs conflicts)")
            if data is None:
                data = self._side(path, side or "ours", state)
            if data is None:
                self._remove(path)
            else:
                kind, item = path_kind(path)
                if kind == "page" and item:
                    Page.parse(item, data, path)
                self.write(path, data)
            for c in matching:
                c["resolved"] = True
            self._save_merge(state)

    def _side(self, path: str, side: str, state: dict[str, Any]) -> bytes | None:
        from ..merge.contents import merge_file

        ours = self.repo.snapshots.read(self.tree, path) if self.tree else None
        theirs_tree = self.repo.commits.get(state["theirs"]).tree
        theirs = self.repo.snapshots.read(theirs_tree, path)
        if side == "ours":
            return ours
        if side == "theirs":
            return theirs
        if side != "union":
            raise BadInput(f"unknown side {side!r}: use ours, theirs or union")
        base = self.repo.snapshots.read(state["base_tree"], path) if state.get("base_tree") else None
        return merge_file(path, base, ours, theirs, "union")[0]

    def continue_merge(self, actor: str, message: str | None = None) -> CommitResult:
        """Commit the resolved merge (two parents, kind ``merge``); refused while conflicts remain."""
        state = self.merge_state()
        if state is None:
            raise Refused("no merge in progress")
        open_ = [c["path"] for c in self.conflicts() if not c["resolved"]]
        marked = [p for p in self.scan() if has_markers(self.read(p))]
        if open_ or marked:
            shown = ", ".join(sorted(set(open_ + marked))[:3])
            raise Refused(f"unresolved conflicts remain ({shown}): edit them or use gvcs resolve")
        return self._commit(
            message or state["message"],
            actor,
            (ObjectId(state["theirs"]),),
            "merge",
            op="merge --continue",
            after={"merge_state": None},
        )

    def abort_merge(self) -> None:
        """Put every file back as the checked-out commit has it and forget the merge."""
        if self.merge_state() is None:
            raise Refused("no merge in progress")
        with self._operation("merge --abort") as journal:
            paths = sorted({c.path for c in self.status()})
            journal.update(
                files={"from": None, "to": self.tree, "paths": paths, "force": True},
                after={"merge_state": None},
            )
            self._apply(journal.entry or {})
