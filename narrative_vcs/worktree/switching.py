"""Moving the checkout: switching branches, detaching HEAD, and the commands that move the branch and
then the files (rebase, cherry-pick, revert, a pull's fast-forward)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import BadInput, NotFound, Refused
from ..refs import DETACH_REFUSED, RefMove, branch_ref
from ..types import ObjectId
from .merging import Merging

__all__ = ["Switching"]


class Switching(Merging):
    def switch(self, branch: str) -> ObjectId | None:
        """Rewrite the work tree to the head of ``branch`` and check that branch out.

        Refused while the work tree has uncommitted changes, so switching never loses an edit.
        Switching to the current branch brings the work tree up to a head another process moved;
        uncommitted edits are kept unless the update changes the same files.
        """
        target = self.repo.branch_head(branch)
        if target is None and not (branch == self.branch and self.commit_id is None):
            raise NotFound(f"branch {branch!r} not found (create it with: gvcs switch -c {branch})")
        if branch == self.branch:
            self._require_no_overlap(target)
        else:
            self.require_clean("switch")
        self.checkout(branch, target, op="switch")
        return target

    def detach(self, rev: str) -> ObjectId:
        """Check out the commit ``rev`` names (a tag, a commit, ``main~2``) with HEAD detached at it."""
        if not self.repo.refs.can_detach:
            raise Refused(DETACH_REFUSED)
        target = self.repo.resolve(rev)
        if target != self.commit_id or not self.detached:
            self.require_clean("switch")
        self.checkout(None, target, op="switch --detach")
        return target

    def _require_no_overlap(self, target: ObjectId | None) -> None:
        """Refuse to update to ``target`` if a file it changes also has uncommitted changes here (a file
        that already holds what the update brings is no clash)."""
        new_tree = self.repo.commits.get(target).tree if target else None
        incoming = {d.path: d.new for d in self.repo.snapshots.diff(self.tree, new_tree)}
        clashes = [c.path for c in self.status() if c.path in incoming and c.new != incoming[c.path]]
        if clashes:
            shown = ", ".join(clashes[:3]) + (", ..." if len(clashes) > 3 else "")
            raise Refused(
                f"cannot update {self.branch}: {shown} changed both here and on the branch; "
                "put your changes aside (gvcs stash), update, then gvcs stash pop"
            )

    def create_branch(self, branch: str, start: str | None = None) -> ObjectId | None:
        """Create ``branch`` at the checked-out commit (or ``start``) and check it out; the work-tree
        files stay as they are when it starts at the checked-out commit."""
        if self.commit_id is None and start is None:
            # No commits yet: like git, only the name of the branch to be born changes.
            if self.repo.branch_head(branch) is not None:
                raise BadInput(f"branch {branch} already exists")
            with self.lock.held():
                self.repo.set_head_branch(branch)
                self.branch = branch
                self.save_state()
            return None
        target = self.repo.resolve(start) if start is not None else self.commit_id
        if target != self.commit_id:
            self.require_clean("switch")
        assert target is not None
        with self._operation("switch -c") as journal:
            journal.update(
                ref={"name": branch_ref(branch), "old": None, "new": target},
                files={"from": "@from", "to": "@state"},
                state={"branch": branch, "commit": target},
            )
            self.repo.create_branch(branch, target)
            self._apply(journal.entry or {})
        return target

    def checkout(self, branch: str | None, target: ObjectId | None, *, op: str = "checkout") -> None:
        """Make the work tree hold commit ``target`` and record ``branch`` as checked out (None: HEAD
        detached at ``target``). Only files that differ between the current checkout and the target are
        written or removed; a kill leaves the old checkout or the new one (see :mod:`.journal`)."""
        with self._operation(op) as journal:
            journal.update(
                files={"from": "@from", "to": "@state"}, state={"branch": branch, "commit": target}
            )
            self._apply(journal.entry or {})

    def rebase(self, onto: str, actor: str) -> list[ObjectId]:
        """Replay the checked-out branch's own commits on top of ``onto``, then check out the result."""
        branch = self.on_branch("rebase")
        self.require_clean("rebase")
        head = self._moving_head("rebase")
        with self._operation("rebase") as journal:
            journal.update(
                ref={"name": branch_ref(branch), "old": head, "new": None, "unknown": True},
                files={"from": "@from", "to": "@state"},
            )
            new = self.repo.rebase(branch, onto, actor=actor, expected_head=head)
            self._moved(journal, branch)
        return new

    def replay(self, action: str, rev: str, actor: str) -> ObjectId:
        """``cherry-pick`` or ``revert`` the commit ``rev`` on the checked-out branch."""
        branch = self.on_branch(action)
        self.require_clean(action)
        head = self._moving_head(action)
        with self._operation(action) as journal:
            journal.update(
                ref={"name": branch_ref(branch), "old": head, "new": None, "unknown": True},
                files={"from": "@from", "to": "@state"},
            )
            replay = self.repo.cherry_pick if action == "cherry-pick" else self.repo.revert
            oid = replay(branch, rev, actor=actor, expected_head=head)
            self._moved(journal, branch)
        return oid

    def fast_forward(self, moves: Sequence[RefMove], *, who: str, message: str, op: str = "pull") -> None:
        """Move refs together (a pull's fast-forwards); if the checked-out branch is among them, bring
        the work tree to its new head (refused first if the work tree has uncommitted changes)."""
        current = next((m for m in moves if m.branch is not None and m.branch == self.branch), None)
        if current is None:
            self.repo.move_refs(moves, who=who, message=message)
            return
        self.require_clean(op)
        with self._operation(op) as journal:
            journal.update(
                ref={"name": current.ref, "old": current.old, "new": current.new},
                files={"from": "@from", "to": "@state"},
            )
            self.repo.move_refs(moves, who=who, message=message)
            self._apply(journal.entry or {})

    def _moving_head(self, action: str) -> ObjectId:
        if self.commit_id is None:
            raise Refused("the current branch has no commits yet")
        if self.merge_state() is not None:
            raise Refused("a merge is in progress: finish it (gvcs merge --continue) or gvcs merge --abort")
        return self.commit_id

    def _moved(self, journal: object, branch: str) -> None:
        """The branch moved (a rebase, a cherry-pick): record where, then bring the files there."""
        from .journal import Journal

        assert isinstance(journal, Journal) and journal.entry is not None
        head = self.repo.branch_head(branch)
        journal.update(ref={**journal.entry["ref"], "new": head}, files={"from": "@from", "to": "@state"})
        self._apply(journal.entry)
