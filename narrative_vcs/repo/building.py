"""Building commits: one change set, a group of them with one ref update, or commits worked out on a tip."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import BadInput, BranchMoved, GvcsError, NotFound, NothingToCommit
from ..objects import Actor, Commit, Signature, Story, event_trailer, format_message, validate_id
from ..refs import GroupQueue, RefMove, branch_ref
from ..snapshot import EMPTY_TREE
from ..types import ObjectId, RefName
from .queued import decode_outcome, decode_pending, encode_outcome, encode_pending
from .reading import Reading
from .values import ChangeSet, CommitBuilder, GroupOutcome, PendingCommit

__all__ = ["Building"]


class _GroupRefused(Exception):
    """A queued group refused as a whole (by the gate): its batch writes nothing."""

    def __init__(self, error: GvcsError) -> None:
        super().__init__(str(error))
        self.error = error


class Building(Reading):
    # --- writing ----------------------------------------------------------------------------------

    def commit(
        self,
        branch: str,
        changes: ChangeSet,
        *,
        actor: str,
        message: str,
        expected_head: ObjectId | None,
        kind: str = "edit",
        extra_parents: Sequence[ObjectId] = (),
        trailers: Mapping[str, str] | None = None,
        event: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
        allow_empty: bool = False,
        on_written: Callable[[ObjectId], None] | None = None,
    ) -> ObjectId:
        """Commit ``changes`` on ``branch`` if the branch is still at ``expected_head``.

        ``expected_head`` None means the branch must not exist yet (the first commit). A stale head
        raises :class:`BranchMoved` and writes no ref; the objects already written are unreachable
        and harmless. ``on_written`` is called with the new commit's id once its objects are stored
        and before the branch moves (a work tree journals it there).
        """
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        base_tree = self.commits.get(current).tree if current else None
        paths = changes.paths()
        self._check_changes(base_tree, changes)
        author = self._author(base_tree, changes, actor)
        # The blobs, trees and commit are written together (one pack on disk) when the batch ends,
        # and only then is the ref moved: it never points at objects that are not all in place.
        # An error inside the batch writes nothing.
        with self.objects.batch():
            new_tree = self.snapshots.write(base_tree, paths) if paths else (base_tree or EMPTY_TREE)
            if new_tree == (base_tree or EMPTY_TREE) and not allow_empty and not extra_parents:
                raise NothingToCommit("nothing to commit: the change set changes nothing")
            facts = {"Gvcs-Actor": actor, "Gvcs-Kind": check_kind(kind)}
            if event_id is not None:
                facts["Gvcs-Event-Id"] = event_id
            if event is not None:
                facts["Gvcs-Event"] = event_trailer(event)
            facts.update(trailers or {})
            parents = ((current,) if current else ()) + tuple(extra_parents)
            commit = self._commit_object(new_tree, parents, author, message, facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
            self._wrote(oid, commit, changes)
            self.check_moves([RefMove(ref, current, oid)])  # refused: the batch is dropped, nothing written
            if on_written is not None:
                on_written(oid)
            # Where the store can (Neo4j), the ref moves in the transaction that writes the commit.
            moves = [RefMove(ref, current, oid)]
            together = self.refs.move_with_batch(moves, who=_who(author), message=f"commit: {commit.subject}")
        if together:
            self.refs.moved(moves)
            self.objects.maintain()
        else:
            self._move(ref, current, oid, author, commit)
        return oid

    def amend(
        self,
        branch: str,
        changes: ChangeSet,
        *,
        actor: str,
        message: str,
        expected_head: ObjectId,
        on_written: Callable[[ObjectId], None] | None = None,
    ) -> ObjectId:
        """Replace the head of ``branch`` (``expected_head``) by a commit with its parents, its tree
        with ``changes`` applied, and ``message`` (``git commit --amend``). The branch moves sideways:
        the gate refuses that on a protected branch. The reflog keeps the commit that was replaced."""
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        old = self.commits.get(current)
        base_tree = old.tree
        paths = changes.paths()
        self._check_changes(base_tree, changes)
        author = self._author(base_tree, changes, actor)
        with self.objects.batch():
            new_tree = self.snapshots.write(base_tree, paths) if paths else base_tree
            facts = {"Gvcs-Actor": actor, "Gvcs-Kind": check_kind(old.kind)}
            commit = self._commit_object(new_tree, tuple(old.parents), author, message, facts, None)
            oid = self.objects.put("commit", commit.serialise())
            self._wrote(oid, commit, changes)
            self.check_moves([RefMove(ref, current, oid)])
        if on_written is not None:
            on_written(oid)
        who = f"{author.name} <{author.email}>"
        self.refs.set_if_equals(ref, current, oid, who=who, message=f"commit (amend): {commit.subject}")
        self.objects.maintain()
        return oid

    def write_stash(
        self, base: ObjectId, files: Mapping[str, bytes | ObjectId | None], *, actor: str, message: str
    ) -> ObjectId:
        """Write (without moving any ref) a commit on ``base`` whose tree is ``base``'s with ``files``
        (bytes, a blob id, or None: removed): uncommitted work put aside (``gvcs stash``). Such a commit
        is never on a branch; the story's rules check it if it ever is."""
        base_tree = self.commits.get(base).tree
        with self.objects.batch():
            tree = self.snapshots.write(base_tree, files)
            when = int(time.time())
            signature = Signature(actor, f"{actor}@actors.gvcs", when, 0)
            text = format_message(message, {"Gvcs-Actor": actor})
            commit = Commit(tree, (base,), signature, signature, text)
            oid = self.objects.put("commit", commit.serialise())
        return oid

    def commit_group(self, branch: str, items: Sequence[PendingCommit]) -> list[GroupOutcome]:
        """Commit several change sets on ``branch`` one after the other, with one ref update.

        Each item is applied in order on the tip so far: directly when its ``expected_head`` is that
        tip, else when nothing between its ``expected_head`` and the tip touches a file it writes (it
        is then ``rebased``), else it fails with :class:`BranchMoved` naming the files. An item that
        fails (a conflict, bad input, an unknown actor) gets its error and the others go on. The
        objects of all are written as one batch, then the branch moves once, by compare-and-swap,
        from where it was to the last commit; if another writer moved it meanwhile, the whole group
        is worked out again on the new head. This is a group commit: many writers of one branch cost
        one ref update and one pack, and each still gets a commit of its own.

        On a store shared by several processes (:meth:`RefStore.group_queue`), a group that lost the
        branch to another process is queued instead, and the groups of all processes writing the branch
        are written together, one compare-and-swap for all (:class:`~narrative_vcs.refs.GroupQueue`).
        """
        ref = branch_ref(branch)
        queue = self.refs.group_queue()
        if queue is not None and queue.busy(ref):
            queued = self._commit_queued(ref, items, queue)
            if queued is not None:
                return queued
        for attempt in range(100):
            # The head this process last saw (no round trip on a remote store); a stale one fails the
            # compare-and-swap, which reads the ref, and the group is worked out again on it.
            start = self.refs.last_known(ref) if attempt == 0 else self.refs.get(ref)
            together = False
            try:
                with self.objects.batch():
                    outcomes, tip, last = self._build_group(ref, start, items)
                    if last is not None and tip is not None:
                        moves = [RefMove(ref, start, tip)]
                        together = self.refs.move_with_batch(moves, **self._group_reflog(last, outcomes))
            except BranchMoved:
                if not together:
                    raise
                if queue is not None and start is not None:
                    # Another process writes this branch too: write our groups with theirs.
                    queue.contended(ref)
                    queued = self._commit_queued(ref, items, queue)
                    if queued is not None:
                        return queued
                continue  # another writer moved the branch: nothing was written; work it out again
            if last is None or tip is None:
                return outcomes
            if together:
                self.refs.moved([RefMove(ref, start, tip)])
                self.objects.maintain()
            elif not self._publish_group(ref, start, tip, last, outcomes):
                continue  # another writer moved the branch: work the group out again on its head
            return outcomes
        raise BranchMoved(ref, None, self.refs.get(ref))

    def _build_group(
        self, ref: RefName, start: ObjectId | None, items: Sequence[PendingCommit | GvcsError]
    ) -> tuple[list[GroupOutcome], ObjectId | None, tuple[Actor, Commit] | None]:
        """Build (inside the caller's batch) each item on the tip so far, from ``start``: the outcomes,
        the last tip, and the author and commit of the last commit built (None: none was)."""
        tip, tip_tree = start, (self.commits.get(start).tree if start else None)
        outcomes: list[GroupOutcome] = []
        last: tuple[Actor, Commit] | None = None
        for item in items:
            try:
                if isinstance(item, GvcsError):
                    raise item
                rebased = item.expected_head != tip
                if rebased:
                    self._check_independent(ref, item, tip, tip_tree)
                oid, tree, author, commit = self._build_commit(
                    ref, tip, tip_tree, item.changes, item.actor, item.message, item.kind
                )
            except GvcsError as exc:
                outcomes.append(GroupOutcome(None, None, False, exc))
                continue
            outcomes.append(GroupOutcome(oid, tip, rebased, None))
            tip, tip_tree, last = oid, tree, (author, commit)
        return outcomes, tip, last

    def _commit_queued(
        self, ref: RefName, items: Sequence[PendingCommit], queue: GroupQueue
    ) -> list[GroupOutcome] | None:
        """:meth:`commit_group` through the store's queue: ``items`` are written in the same transaction
        as the change sets other processes queued for ``ref`` (by whichever process's turn comes first).
        None if ``ref`` does not exist (nothing was queued)."""
        tickets = queue.submit(ref, [encode_pending(item) for item in items])
        if tickets is None:
            return None
        landed: list[RefMove] = []

        def combine(head: ObjectId, queued: list[bytes]) -> list[bytes]:
            landed.clear()
            pending: list[PendingCommit | GvcsError] = []
            for data in queued:
                try:
                    pending.append(decode_pending(data))
                except GvcsError as exc:
                    pending.append(exc)
            try:
                with self.objects.batch():
                    try:
                        outcomes, tip, last = self._build_group(ref, head, pending)
                        if last is not None and tip is not None:
                            move = RefMove(ref, head, tip)
                            if not self.refs.move_with_batch([move], **self._group_reflog(last, outcomes)):
                                raise RuntimeError("a queued group needs refs moved with the batch")
                            landed.append(move)
                    except BranchMoved:
                        raise
                    except GvcsError as exc:  # the group as a whole is refused: nothing is written
                        raise _GroupRefused(exc) from exc
            except _GroupRefused as refused:
                landed.clear()
                outcomes = [GroupOutcome(None, None, False, refused.error) for _ in pending]
            return [encode_outcome(o) for o in outcomes]

        for _ in range(100):
            try:
                results = queue.take_turn(ref, tickets, combine)
                break
            except BranchMoved:
                continue  # a writer that did not queue moved the branch during the turn: take it again
        else:
            raise BranchMoved(ref, None, self.refs.get(ref))
        if results is None:
            return None
        if landed:
            self.refs.moved(landed)
            self.objects.maintain()
        return [decode_outcome(r) for r in results]

    def _publish_group(
        self,
        ref: RefName,
        old: ObjectId | None,
        tip: ObjectId,
        last: tuple[Actor, Commit],
        outcomes: Sequence[GroupOutcome],
    ) -> bool:
        """Move ``ref`` from ``old`` to a group's last commit (one reflog entry for the group); False if
        another writer moved it first."""
        try:
            self.refs.set_if_equals(ref, old, tip, **self._group_reflog(last, outcomes))
        except BranchMoved:
            return False
        self.objects.maintain()
        return True

    @staticmethod
    def _group_reflog(last: tuple[Actor, Commit], outcomes: Sequence[GroupOutcome]) -> dict[str, str]:
        """Who moves the ref for a group and its reflog message (one entry for the whole group)."""
        author, commit = last
        count = sum(o.commit is not None for o in outcomes)
        message = f"commit: {commit.subject}" if count == 1 else f"commit ({count} commits): {commit.subject}"
        return {"who": _who(author), "message": message}

    def commit_built(
        self,
        branch: str,
        builders: Sequence[CommitBuilder],
        *,
        start: ObjectId | None = None,
        before: Callable[[ObjectId | None], None] | None = None,
    ) -> list[GroupOutcome]:
        """Commit what each builder works out on the tip it goes on, in order, with one ref update.

        A group commit (as :meth:`commit_group`) for changes that depend on the state they are applied
        to, such as a balance: each builder is called with the running tip (the branch head, then the
        commit of the builder before it) and computes its change set from that tip, so changes of
        different writers never conflict. A builder that returns None is left out; one that raises a
        :class:`GvcsError` is refused alone. A branch that does not exist yet starts at ``start`` (None:
        a root commit) and is created by the same compare-and-swap. If another writer moved the branch
        meanwhile, every builder is called again on the new head, so builders must not write anything
        themselves. ``before`` is called with the head (or ``start``) before each attempt.
        """
        ref = branch_ref(branch)
        for _ in range(100):
            head = self.refs.get(ref)
            base = head if head is not None else start
            if before is not None:
                before(base)
            tip, tip_tree = base, (self.commits.get(base).tree if base else None)
            outcomes: list[GroupOutcome] = []
            last: tuple[Actor, Commit] | None = None
            together = False
            try:
                with self.objects.batch():
                    for build in builders:
                        try:
                            built = build(tip, tip_tree)
                            if built is None:
                                outcomes.append(GroupOutcome(None, None, False, None))
                                continue
                            oid, tree, author, commit = self._build_commit(
                                ref, tip, tip_tree, built.changes, built.actor, built.message, built.kind,
                                facts=built.facts(), timestamp=built.timestamp,
                            )  # fmt: skip
                        except GvcsError as exc:
                            outcomes.append(GroupOutcome(None, None, False, exc))
                            continue
                        outcomes.append(GroupOutcome(oid, tip, False, None))
                        tip, tip_tree, last = oid, tree, (author, commit)
                    if last is not None and tip is not None:
                        moves = [RefMove(ref, head, tip)]
                        together = self.refs.move_with_batch(moves, **self._group_reflog(last, outcomes))
            except BranchMoved:
                if not together:
                    raise
                continue  # another writer moved the branch: nothing was written; work it out again
            if last is None or tip is None:
                return outcomes
            if together:
                self.refs.moved([RefMove(ref, head, tip)])
                self.objects.maintain()
            elif not self._publish_group(ref, head, tip, last, outcomes):
                continue  # another writer moved the branch: work every change out again on its head
            return outcomes
        raise BranchMoved(ref, None, self.refs.get(ref))

    def _check_independent(
        self, ref: RefName, item: PendingCommit, tip: ObjectId | None, tip_tree: ObjectId | None
    ) -> None:
        if tip is None or item.expected_head is None or tip_tree is None:
            raise BranchMoved(ref, item.expected_head, tip)
        overlap = self._moved(item.expected_head, tip_tree, item.changes)
        if overlap:
            raise BranchMoved(ref, item.expected_head, tip, overlap)

    def _moved(self, expected: ObjectId, tip_tree: ObjectId, changes: ChangeSet) -> list[str]:
        """The files ``changes`` writes that differ between ``expected`` and ``tip_tree``: only those
        matter for whether the change set commutes with what moved (not whole-tree diffs)."""
        old_tree = self.commits.get(expected).tree
        return sorted(
            path
            for path in changes.paths()
            if self.snapshots.entry(old_tree, path) != self.snapshots.entry(tip_tree, path)
        )

    def write_commit(
        self,
        branch: str,
        parent: ObjectId | None,
        changes: ChangeSet,
        *,
        actor: str,
        message: str,
        kind: str = "edit",
        facts: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        alone: bool = True,
    ) -> ObjectId:
        """Write one commit of ``changes`` on ``parent`` for ``branch`` without moving any ref;
        :meth:`move_refs` then publishes it (with other refs, atomically). ``alone``: first ask the gate
        whether ``branch`` could move from ``parent`` to it by itself (not for a commit that is only valid
        together with the other moves). ``facts``: trailers after ``Gvcs-Actor`` and ``Gvcs-Kind``."""
        tree = self.commits.get(parent).tree if parent else None
        ref = branch_ref(branch)
        with self.objects.batch():
            built = self._build_commit(
                ref,
                parent,
                tree,
                changes,
                actor,
                message,
                kind,
                facts=facts,
                timestamp=timestamp,
                check=alone,
            )
        return built[0]

    def move_refs(self, moves: Sequence[RefMove], *, who: str = "", message: str = "") -> None:
        """Move several refs together, through the gate, by one compare-and-swap of them all."""
        self.refs.update_many(moves, who=who, message=message)
        self.objects.maintain()

    def _build_commit(
        self,
        ref: RefName,
        current: ObjectId | None,
        base_tree: ObjectId | None,
        changes: ChangeSet,
        actor: str,
        message: str,
        kind: str,
        *,
        facts: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        check: bool = True,
    ) -> tuple[ObjectId, ObjectId, Actor, Commit]:
        """Write (inside the caller's batch) the trees and commit of ``changes`` on ``current``, once the
        gate would let ``ref`` move there; ``facts``: trailers after ``Gvcs-Actor`` and ``Gvcs-Kind``."""
        validate_id("actor", actor)
        paths = changes.paths()
        self._check_changes(base_tree, changes)
        author = self._author(base_tree, changes, actor)
        new_tree = self.snapshots.write(base_tree, paths) if paths else (base_tree or EMPTY_TREE)
        if new_tree == (base_tree or EMPTY_TREE):
            raise NothingToCommit("nothing to commit: the change set changes nothing")
        all_facts = {"Gvcs-Actor": actor, "Gvcs-Kind": check_kind(kind), **(facts or {})}
        parents = (current,) if current else ()
        commit = self._commit_object(new_tree, parents, author, message, all_facts, timestamp)
        oid = self.objects.put("commit", commit.serialise())
        self._wrote(oid, commit, changes)
        if check:
            self.check_moves([RefMove(ref, current, oid)])
        return oid, new_tree, author, commit

    def _wrote(self, oid: ObjectId, commit: Commit, changes: ChangeSet) -> None:
        """Keep what was just written as it was built, for the gate and the next commit to read back
        without parsing: the commit, and the pages of ``changes``."""
        self.commits.add(oid, commit)
        for page in changes.pages.values():
            if page is not None:
                blob = self.snapshots.blob_id(commit.tree, f"pages/{page.id}.md")
                if blob is not None:
                    self.remember_page(blob, page)

    def _commit_object(
        self,
        tree: ObjectId,
        parents: tuple[ObjectId, ...],
        author: Actor,
        message: str,
        facts: Mapping[str, str],
        timestamp: int | None,
    ) -> Commit:
        when = int(time.time()) if timestamp is None else int(timestamp)
        signature = Signature(author.name, author.email, when, 0)
        return Commit(tree, parents, signature, signature, format_message(message, facts))

    def _move(
        self, ref: RefName, current: ObjectId | None, oid: ObjectId, author: Actor, commit: Commit
    ) -> None:
        who = f"{author.name} <{author.email}>"
        self.refs.set_if_equals(ref, current, oid, who=who, message=f"commit: {commit.subject}")
        self.objects.maintain()

    def _author(self, base_tree: ObjectId | None, changes: ChangeSet, actor: str) -> Actor:
        record = changes.actors.get(actor)
        if record is not None:
            return record  # their own record, new or changed, signs the commit
        # An actor who removes their own record (leaves the story) signs with the record they had.
        oid = self.snapshots.blob_id(base_tree, f"actors/{actor}.yaml") if base_tree else None
        if oid is None:
            raise NotFound(f"unknown actor {actor!r}: add it first (gvcs actor add {actor} --name ...)")
        return self.actor_record(actor, oid)

    def _check_changes(self, base_tree: ObjectId | None, changes: ChangeSet) -> None:
        """Refuse deletes of missing items and links to pages that will not exist."""

        def exists(path: str) -> bool:
            return base_tree is not None and self.snapshots.blob_id(base_tree, path) is not None

        for pid, page in changes.pages.items():
            if page is None and not exists(f"pages/{pid}.md"):
                raise NotFound(f"cannot delete page {pid!r}: it does not exist")
        for aid, actor in changes.actors.items():
            if actor is None and not exists(f"actors/{aid}.yaml"):
                raise NotFound(f"cannot delete actor {aid!r}: it does not exist")
        for path, data in changes.files.items():
            if data is None and not exists(path):
                raise NotFound(f"cannot delete {path}: it does not exist")
            if path == Story.PATH and data is not None:
                Story.parse(data)
        for page in changes.pages.values():
            if page is None:
                continue
            for target in (*page.follows, *([page.alternate_of] if page.alternate_of else [])):
                if target in changes.pages:
                    if changes.pages[target] is None:
                        raise BadInput(f"page {page.id} links to {target}, which this commit deletes")
                elif not exists(f"pages/{target}.md"):
                    raise BadInput(f"page {page.id} links to {target!r}, which does not exist")

    def commit_independent(
        self, branch: str, changes: ChangeSet, *, expected_head: ObjectId | None, **kwargs: Any
    ) -> tuple[ObjectId, bool]:
        """Commit ``changes`` with ``expected_head``; if the branch moved, commit on the new head when
        nothing that moved touches a file the change set writes (the changes commute).

        Returns the new commit and whether it was applied on a newer head. Raises
        :class:`BranchMoved` naming the overlapping files otherwise.
        """
        ref = branch_ref(branch)
        for _ in range(100):  # other writers may keep moving the branch; each retry re-checks
            current = self.refs.get(ref)
            if current == expected_head:
                try:
                    return self.commit(branch, changes, expected_head=expected_head, **kwargs), False
                except BranchMoved:
                    continue
            if current is None or expected_head is None:
                raise BranchMoved(ref, expected_head, current)
            overlap = self._moved(expected_head, self.commits.get(current).tree, changes)
            if overlap:
                raise BranchMoved(ref, expected_head, current, overlap)
            try:
                return self.commit(branch, changes, expected_head=current, **kwargs), True
            except BranchMoved:
                continue
        raise BranchMoved(ref, expected_head, self.refs.get(ref))


_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


def check_kind(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise BadInput(f"invalid commit kind {kind!r}")
    return kind


def _who(author: Actor) -> str:
    return f"{author.name} <{author.email}>"
