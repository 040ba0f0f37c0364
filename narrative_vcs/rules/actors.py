"""Who may commit, and whose records a commit may change.

- A commit's author is an actor of its parent's snapshot (of either parent's, for a merge), or the
  commit adds exactly the author's own record: a new agent given a token introduces itself. story.yaml
  ``actors: {join: closed}`` closes that door; existing actors may still add others. The first commit of
  a story holds its author's record.
- A newcomer's commit adds no record but their own.
- An existing actor's record (changed or removed) changes only in that actor's own commit. A merge may
  bring a record as one of its parents has it, or as the merge of the two would give it.
- On the governance branch the governance rules decide who votes: proposal commits are left to them.
"""

from __future__ import annotations

from ..gate import CommitCheck, Rule
from ..types import ObjectId
from .commits import PROPOSAL_KINDS
from .settings import settings_at

__all__ = ["ActorRecords"]


class ActorRecords(Rule):
    name = "actors"

    def check_commit(self, check: CommitCheck) -> None:
        info, snapshots = check.info, check.repo.snapshots
        actor = info.email.split("@", 1)[0]
        own = f"actors/{actor}.yaml"
        parent_trees = [p.tree for p in check.parents]
        known = any(snapshots.blob_id(tree, own) is not None for tree in parent_trees)
        changed = {c.path: c for c in check.changes if c.path.startswith("actors/")}
        if not known:
            if own not in changed or changed[own].new is None:
                if not parent_trees:
                    check.fail(self.name, f"the first commit of a story holds its author's record ({own})")
                check.fail(self.name, f"{actor} is not an actor here: add {own} in their first commit")
            if parent_trees and info.kind not in PROPOSAL_KINDS:
                join = settings_at(check.gate, snapshots, check.parent_tree).join
                if join == "closed":
                    check.fail(
                        self.name, f"{actor} is not an actor here and story.yaml says actors.join: closed"
                    )
            if parent_trees:
                others = sorted(p for p in changed if p != own)
                if others:
                    check.fail(self.name, f"{actor} joins in this commit and cannot also write {others[0]}")
        for path, change in sorted(changed.items()):
            if path == own or change.old is None:
                continue  # one's own record, or a new actor added by an actor
            if self._from_a_parent(check, path, change.new):
                continue
            whose = path[7:-5]
            verb = "remove" if change.new is None else "change"
            check.fail(self.name, f"{actor} cannot {verb} {whose}'s record ({path}): only {whose} can")

    @staticmethod
    def _from_a_parent(check: CommitCheck, path: str, blob: ObjectId | None) -> bool:
        """A merge's record that one of its other parents holds as it is (or the merge gives it)."""
        if len(check.parents) < 2:
            return False
        snapshots = check.repo.snapshots
        if any(snapshots.blob_id(p.tree, path) == blob for p in check.parents[1:]):
            return True
        return blob == _merged_record(check, path)


def _merged_record(check: CommitCheck, path: str) -> ObjectId | None:
    """The record the merge engine makes of the two parents' versions of ``path`` (None if it would not
    merge cleanly or would remove it)."""
    from ..merge.contents import merge_file
    from ..objects import hash_object

    repo = check.repo
    ours, theirs = check.parents[0], check.parents[1]
    base_tree = repo.merge_base_tree(ours.id, theirs.id)
    snapshots = repo.snapshots

    def read(tree: ObjectId | None) -> bytes | None:
        return snapshots.read(tree, path) if tree is not None else None

    data, conflict = merge_file(path, read(base_tree), read(ours.tree), read(theirs.tree))
    if conflict is not None or data is None:
        return None
    return hash_object("blob", data)
