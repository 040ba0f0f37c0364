"""Protected branches (story.yaml ``protected: [main]``) move only forward, through decided changes.

Whether a branch is protected is read from story.yaml at the branch's old head, so a story that protects
a branch keeps it protected until a passed proposal brings a story.yaml that does not. A move of a
protected branch is a fast-forward along first parents (no force, no reset, no delete) through commits
that are each:

- an event the story lets through without a vote (``gift.txn.v1``, ``ritual.performed.v1``,
  ``infra.spore.v1``, ``mycelium.decay.v1``), itself verified by replay (:mod:`.state`); or
- a merge carrying ``Gvcs-Proposal: N`` where proposal N, on the governance branch as the same update
  leaves it, passed to merge exactly that source head into this branch, under the rules the branch has
  now, by its proposer; and the merge commit holds exactly what merging that source head (with the
  proposal's resolutions) gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..gate import MoveCheck, Rule
from ..governance.rules import (
    GOVERNANCE_BRANCH,
    PROTECTED_EVENTS,
    ProtectedBranch,
    rules_of,
)
from ..history import CommitInfo
from ..refs import RefMove
from ..types import ObjectId
from .governance import proposal_at
from .settings import settings_at

if TYPE_CHECKING:
    from ..governance.proposal import ProposalState
    from ..repository import Repository

__all__ = ["ProtectedBranches", "protected_at"]


def protected_at(check: MoveCheck, commit: ObjectId) -> frozenset[str]:
    """The branches story.yaml protects at ``commit``."""
    repo = check.repo
    return settings_at(check.gate, repo.snapshots, repo.commits.get(commit).tree).protected


class ProtectedBranches(Rule):
    name = ProtectedBranch.RULE

    def check_move(self, check: MoveCheck) -> None:
        move = check.move
        branch = move.branch
        if branch is None or move.old is None or branch not in protected_at(check, move.old):
            return
        if move.new is None:
            raise ProtectedBranch(branch, f"{branch} is protected: it cannot be deleted")
        line = check.first_parents()
        if line is None:
            raise ProtectedBranch(
                branch, f"{branch} is protected: it only moves forward (no force, no reset, no rewrite)"
            )
        for info in line:
            if info.kind in PROTECTED_EVENTS and len(info.parents) == 1:
                continue
            if info.kind == "merge" and "Gvcs-Proposal" in info.trailers:
                self._proposal_merge(check, branch, info)
                continue
            raise ProtectedBranch(branch, commit=info)

    def moved(self, repo: Repository, moves: Sequence[RefMove]) -> None:
        """Announce (``narrative.change.v1``) every commit that landed on a protected branch, and every
        proposal's merge."""
        for move in moves:
            branch = move.branch
            if branch is None or move.new is None or move.old is None:
                continue
            protected = (
                branch in settings_at(repo.gate, repo.snapshots, repo.commits.get(move.old).tree).protected
            )
            if protected or _may_hold_a_decision(repo, move.new):
                from ..governance.hooks import publish
                from ..governance.narrative import changes_between

                for change in changes_between(repo, branch, move.old, move.new):
                    publish(change)

    def _proposal_merge(self, check: MoveCheck, branch: str, info: CommitInfo) -> None:
        from ..events.index import index_of

        repo = check.repo
        raw = info.trailers["Gvcs-Proposal"]
        number = int(raw) if raw.isdigit() else 0
        state = proposal_at(repo, check.head(f"refs/heads/{GOVERNANCE_BRANCH}"), number) if number else None

        def refuse(why: str) -> None:
            raise ProtectedBranch(branch, f"{branch} is protected, and {why}", commit=info)

        if state is None:
            refuse(f"the {GOVERNANCE_BRANCH} branch has no proposal {raw}")
            return
        ours, theirs = info.parents
        passed = state.status == "passed" or (
            state.status == "executed" and state.result is not None and state.result.commit == info.id
        )
        if not passed:
            refuse(f"proposal {number} is {state.status}, not passed")
        if state.target != branch or state.source_head != theirs:
            refuse(f"proposal {number} merges {str(state.source_head)[:10]} into {state.target}, not this")
        if info.actor != state.proposer:
            refuse(f"proposal {number}'s merge is signed by its proposer, {state.proposer}")
        if rules_of(repo.read_story_record(ours)) != state.rules:
            refuse(f"proposal {number} was decided under other rules than {branch} has now: propose it again")
        index = index_of(repo)
        index.add(ours)
        if state.target_head not in index or not index.reaches(ours, state.target_head):
            refuse(f"proposal {number} was opened on a {branch} this one does not descend from")
        if _merged_tree(check, state, ours, theirs) != info.tree:
            refuse(f"the merge does not hold what merging proposal {number}'s source gives")


def _merged_tree(check: MoveCheck, state: ProposalState, ours: ObjectId, theirs: ObjectId) -> ObjectId | None:
    """What the engine's merge of ``theirs`` into ``ours`` with the proposal's resolutions holds (worked
    out without writing anything); None when it would not merge."""
    from ..events.index import index_of
    from ..merge.snapshot import merge_trees
    from ..repo.merging import resolved_files
    from ..snapshot import Snapshots
    from ..store import OverlayObjectStore

    repo = check.repo
    index = index_of(repo)
    if theirs in index and index.reaches(ours, theirs):
        return None  # already merged: nothing to merge again
    snapshots = Snapshots(OverlayObjectStore(repo.objects))
    base = repo.merge_base_tree(ours, theirs)
    ours_tree, theirs_tree = repo.commits.get(ours).tree, repo.commits.get(theirs).tree
    result = merge_trees(snapshots, base, ours_tree, theirs_tree)
    if result.clean:
        return result.tree
    needed = {c.path: state.resolutions[c.path] for c in result.conflicts if c.path in state.resolutions}
    if len(needed) != len({c.path for c in result.conflicts}):
        return None
    files = resolved_files(snapshots, ours_tree, theirs_tree, base, needed)
    return snapshots.write(result.tree, files)


def _may_hold_a_decision(repo: Repository, new: ObjectId) -> bool:
    """Whether the new head is a merge (a proposal's merge lands as one): most moves are not."""
    return len(repo.commits.get(new).parents) > 1
