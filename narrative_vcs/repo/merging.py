"""Merging branches and replaying commits (cherry-pick, revert, rebase) with the story-aware merge."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import BadInput, BranchMoved, MergeConflicts, NothingToCommit, Refused
from ..history import CommitInfo
from ..objects import Actor, Page, validate_id
from ..refs import RefMove, branch_ref
from ..snapshot import EMPTY_TREE, Snapshots
from ..types import ObjectId
from .building import Building, check_kind
from .values import ChangeSet, MergeOutcome, MergePreview, Resolution, path_kind

if TYPE_CHECKING:
    from ..merge.base import CommitGraph
    from ..merge.snapshot import SnapshotMerge

__all__ = ["Merging"]


class Merging(Building):
    def merge(
        self,
        branch: str,
        source: str,
        *,
        actor: str,
        expected_head: ObjectId,
        message: str | None = None,
        strategy: str | None = None,
        no_ff: bool = False,
        timestamp: int | None = None,
        proposal: int | None = None,
        check: Callable[[MergePreview], None] | None = None,
    ) -> MergeOutcome:
        """Merge ``source`` into ``branch`` if the branch is still at ``expected_head``.

        Up to date: nothing happens. A fast-forward moves the branch unless ``no_ff``. A clean merge
        (or one a ``strategy`` settles) is committed with two parents and kind ``merge``. With
        conflicts nothing is written: the outcome carries the merged snapshot and the conflicts.
        A protected branch refuses the merge, except the one a passed governance ``proposal`` makes
        (only :mod:`narrative_vcs.governance` passes it; the commit gets ``Gvcs-Proposal: <n>``).
        ``check`` sees the merge worked out before anything is written (a work tree refuses a merge that
        would overwrite uncommitted changes); if it raises, nothing is.
        """
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        # One batch for the merged trees and the commit: one pack written at the end instead of a loose
        # object per tree, and nothing written if the gate refuses the commit.
        with self.objects.batch():
            preview = self.merge_preview(current, source, strategy=strategy)
            if check is not None:
                check(preview)
            commits = not preview.up_to_date and not (preview.fast_forward and not no_ff) and preview.clean
            if commits:
                author = self._author(preview.result.tree, ChangeSet(), actor)
                facts = _merge_facts(actor, proposal)
                text = message or f"Merge {source} into {branch}"
                commit = self._commit_object(
                    preview.result.tree, (current, preview.theirs), author, text, facts, timestamp
                )
                oid = self.objects.put("commit", commit.serialise())
                self.check_moves([RefMove(ref, current, oid)])
        if preview.up_to_date:
            return MergeOutcome("up-to-date", current, preview)
        if preview.fast_forward and not no_ff:
            self.refs.set_if_equals(ref, current, preview.theirs, message=f"merge {source}: fast-forward")
            return MergeOutcome("fast-forward", preview.theirs, preview)
        if not preview.clean:
            return MergeOutcome("conflicts", None, preview)
        self._move(ref, current, oid, author, commit)
        return MergeOutcome("merged", oid, preview)

    def merge_resolved(
        self,
        branch: str,
        source: str,
        resolutions: Mapping[str, Resolution],
        *,
        actor: str,
        expected_head: ObjectId,
        message: str | None = None,
        timestamp: int | None = None,
        proposal: int | None = None,
    ) -> MergeOutcome:
        """Merge ``source`` into ``branch`` with every conflict settled by ``resolutions``.

        ``resolutions`` maps each conflicted path to a side (``ours``, ``theirs``, ``base``, ``union``),
        to the file's new content (bytes) or to None (the file is removed). A conflict without a
        resolution raises :class:`MergeConflicts` naming it; a path without a conflict, a page that does
        not parse or a stale ``expected_head`` raise too, and nothing is written. A merge that needs no
        resolution is refused: use :meth:`merge`. Protected branches: as :meth:`merge`.
        """
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        preview = self.merge_preview(current, source)
        if preview.clean:
            raise Refused(f"merging {source} into {branch} has no conflicts: merge it without resolutions")
        conflicted = {c.path for c in preview.result.conflicts}
        unknown = sorted(set(resolutions) - conflicted)
        if unknown:
            raise BadInput(f"{unknown[0]} has no conflict in merging {source} into {branch}")
        missing = [c for c in preview.result.conflicts if c.path not in resolutions]
        if missing:
            raise MergeConflicts(f"merging {source} into {branch}: unresolved", missing)
        ours_tree = self.commits.get(current).tree
        theirs_tree = self.commits.get(preview.theirs).tree
        files = resolved_files(self.snapshots, ours_tree, theirs_tree, preview.base_tree, resolutions)
        pages: list[Page] = []
        for path, data in files.items():
            kind, item = path_kind(path)
            if data is not None and kind == "page" and item:
                pages.append(Page.parse(item, data, path))
            elif data is not None and kind == "actor" and item:
                Actor.parse(item, data, path)
        for page in pages:
            for target in (*page.follows, *([page.alternate_of] if page.alternate_of else [])):
                path = f"pages/{target}.md"
                there = (
                    files[path] is not None
                    if path in files
                    else self.snapshots.blob_id(preview.result.tree, path) is not None
                )
                if not there:
                    raise BadInput(f"page {page.id} links to {target!r}, which the merge does not have")
        author = self._author(preview.result.tree, ChangeSet(), actor)
        facts = _merge_facts(actor, proposal)
        text = message or f"Merge {source} into {branch}"
        with self.objects.batch():
            tree = self.snapshots.write(preview.result.tree, files)
            commit = self._commit_object(tree, (current, preview.theirs), author, text, facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
            self.check_moves([RefMove(ref, current, oid)])
        self._move(ref, current, oid, author, commit)
        return MergeOutcome("merged", oid, preview)

    # --- merge bases ------------------------------------------------------------------------------

    def merge_bases(self, a: str, b: str) -> list[ObjectId]:
        """The best common ancestors of two revisions (several in a criss-cross history), sorted."""
        return self._commit_graph().merge_bases(self.resolve(a), self.resolve(b))

    def _commit_graph(self) -> CommitGraph:
        if self._graph is None:
            from ..merge.base import CommitGraph

            self._graph = CommitGraph(self.commits)
        return self._graph

    def merge_preview(self, ours: str, theirs: str, *, strategy: str | None = None) -> MergePreview:
        """What merging ``theirs`` into ``ours`` gives, without changing anything.

        Several merge bases (a criss-cross history) are first merged into a virtual base, as git's
        recursive strategy does.
        """
        from ..merge.text import STRATEGIES

        ours_id, theirs_id = self.resolve(ours), self.resolve(theirs)
        bases = self.merge_bases(ours_id, theirs_id)
        up_to_date = theirs_id in bases
        fast_forward = not up_to_date and ours_id in bases
        base_tree = self._virtual_base(bases)
        if strategy is not None and strategy not in STRATEGIES:
            raise BadInput(f"unknown merge strategy {strategy!r}: use ours, theirs or union")
        ours_tree, theirs_tree = self.commits.get(ours_id).tree, self.commits.get(theirs_id).tree
        result = self._merge_trees(base_tree, ours_tree, theirs_tree, strategy)
        return MergePreview(ours_id, theirs_id, bases, up_to_date, fast_forward, result, base_tree)

    # --- replaying commits: cherry-pick, revert, rebase, independent change sets ---------------------

    def cherry_pick(
        self, branch: str, rev: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> ObjectId:
        """Apply the change a commit made (against its first parent) on top of ``branch``."""
        info = self.commit_info(rev)
        parent_tree = self.commits.get(info.parents[0]).tree if info.parents else None
        facts = {"Gvcs-Cherry-Picked-From": info.id}
        return self._replay(
            branch, parent_tree, info.tree, actor, expected_head, info.message, info.kind, facts, timestamp
        )

    def revert(
        self, branch: str, rev: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> ObjectId:
        """Undo the change a commit made, on top of ``branch`` (kind ``revert``)."""
        info = self.commit_info(rev)
        parent_tree = self.commits.get(info.parents[0]).tree if info.parents else EMPTY_TREE
        message = f'Revert "{info.subject}"\n\nThis reverts commit {info.id}.'
        facts = {"Gvcs-Reverts": info.id}
        return self._replay(
            branch, info.tree, parent_tree, actor, expected_head, message, "revert", facts, timestamp
        )

    def rebase(
        self, branch: str, onto: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> list[ObjectId]:
        """Replay the commits of ``branch`` that ``onto`` lacks on top of ``onto``, oldest first.

        All or nothing: if one commit does not apply cleanly, :class:`MergeConflicts` is raised and the
        branch stays where it was. Commits that touch pages ``onto`` did not change commute and never
        conflict. Merge commits on the branch are left out, as ``git rebase`` does. Returns the new ids.
        """
        ref = branch_ref(branch)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        target = self.resolve(onto)
        behind = self._commit_graph().ancestors(target)
        todo: list[CommitInfo] = []
        for info in self.commits.walk([current], first_parent=True):
            if info.id in behind:
                break
            if len(info.parents) == 1:
                todo.append(info)
        head, new = target, []
        for info in reversed(todo):
            parent_tree = self.commits.get(info.parents[0]).tree
            tree = self._replayed_tree(parent_tree, info.tree, self.commits.get(head).tree, info.id)
            author = self._author(tree, ChangeSet(), info.actor)
            facts = dict(info.trailers)
            with self.objects.batch():
                commit = self._commit_object(tree, (head,), author, info.message, facts, timestamp)
                head = self.objects.put("commit", commit.serialise())
            new.append(head)
        if new or head != current:
            self.refs.set_if_equals(ref, current, head, message=f"rebase onto {onto}")
        return new

    def _replay(
        self,
        branch: str,
        base_tree: ObjectId | None,
        new_tree: ObjectId,
        actor: str,
        expected_head: ObjectId,
        message: str,
        kind: str,
        facts: Mapping[str, str],
        timestamp: int | None,
    ) -> ObjectId:
        ref = branch_ref(branch)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        head_tree = self.commits.get(current).tree
        tree = self._replayed_tree(base_tree, new_tree, head_tree, message.split("\n", 1)[0])
        if tree == head_tree:
            raise NothingToCommit("nothing to commit: the change is already there")
        author = self._author(tree, ChangeSet(), actor)
        all_facts = {"Gvcs-Actor": actor, "Gvcs-Kind": check_kind(kind), **facts}
        with self.objects.batch():
            commit = self._commit_object(tree, (current,), author, message, all_facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
            self.check_moves([RefMove(ref, current, oid)])
        self._move(ref, current, oid, author, commit)
        return oid

    def _replayed_tree(
        self, base_tree: ObjectId | None, new_tree: ObjectId, onto_tree: ObjectId, what: str
    ) -> ObjectId:
        result = self._merge_trees(base_tree, onto_tree, new_tree)
        if not result.clean:
            raise MergeConflicts(what, result.conflicts)
        return result.tree

    def merge_base_tree(self, a: ObjectId, b: ObjectId) -> ObjectId | None:
        """The tree a merge of ``a`` and ``b`` starts from: their merge base's (a virtual one for several,
        None for unrelated histories)."""
        return self._virtual_base(self.merge_bases(a, b))

    def _virtual_base(self, bases: Sequence[ObjectId]) -> ObjectId | None:
        if not bases:
            return None
        tree = self.commits.get(bases[0]).tree
        for other in bases[1:]:
            inner = self._virtual_base(self.merge_bases(bases[0], other))
            other_tree = self.commits.get(other).tree
            tree = self._merge_trees(inner, tree, other_tree).tree
        return tree

    def _merge_trees(
        self, base: ObjectId | None, ours: ObjectId, theirs: ObjectId, strategy: str | None = None
    ) -> SnapshotMerge:
        """:func:`~narrative_vcs.merge.snapshot.merge_trees` over this repository's pages, blobs and
        front-matter keys, which it keeps for the rules gate that checks the result next."""
        from ..merge.snapshot import merge_trees

        return merge_trees(
            self.snapshots,
            base,
            ours,
            theirs,
            strategy,
            pages=self.page_record,
            blobs=self.read_blob,
            fronts=self.front_key,
        )


def _merge_facts(actor: str, proposal: int | None) -> dict[str, str]:
    facts = {"Gvcs-Actor": actor, "Gvcs-Kind": "merge"}
    if proposal is not None:
        facts["Gvcs-Proposal"] = str(int(proposal))
    return facts


def resolved_files(
    snapshots: Snapshots,
    ours_tree: ObjectId,
    theirs_tree: ObjectId,
    base_tree: ObjectId | None,
    resolutions: Mapping[str, Resolution],
) -> dict[str, bytes | None]:
    """The content each resolution gives its conflicted file: a side (``ours``, ``theirs``, ``base``,
    ``union``), the content itself, or None (removed)."""
    from ..merge.contents import merge_file

    files: dict[str, bytes | None] = {}
    for path, resolution in sorted(resolutions.items()):
        if isinstance(resolution, str):
            ours = snapshots.read(ours_tree, path)
            theirs = snapshots.read(theirs_tree, path)
            base = snapshots.read(base_tree, path) if base_tree else None
            sides = {"ours": ours, "theirs": theirs, "base": base}
            if resolution in sides:
                data = sides[resolution]
            elif resolution == "union":
                data = merge_file(path, base, ours, theirs, "union")[0]
            else:
                raise BadInput(f"{path}: unknown side {resolution!r}: use ours, theirs, base or union")
        else:
            data = resolution
        files[path] = data
    return files
