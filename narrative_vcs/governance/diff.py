"""What a proposal merges into its target, as the semantic diff voters read before they vote.

- An open (or not merged) proposal: the changes from the merge base of the target's current head and
  the proposal's source head to that source head: what the source brings that the target lacks, as
  ``gvcs diff TARGET...SOURCE_HEAD`` shows it (later commits of the source are not part of the vote).
  If the target branch is gone, the target's head when the proposal opened stands in for it.
- A merged proposal: what its merge commit changed on the target (against the target's head it was
  made on), which is what landed, conflicts settled and all.
- A hearing merges nothing: no changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import record
from ..types import ObjectId

if TYPE_CHECKING:
    from ..repository import Repository
    from ..semdiff import SemanticChange
    from .proposal import ProposalState

__all__ = ["ProposalDiff", "proposal_diff"]


@record
class ProposalDiff:
    """The diff of a proposal: ``basis`` says what it compares (``merge-base``, ``merged`` or
    ``hearing``), ``old`` and ``new`` the two commits (None for a hearing)."""

    basis: str
    old: ObjectId | None
    new: ObjectId | None
    changes: tuple[SemanticChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "old": self.old,
            "new": self.new,
            "changes": [c.to_json() for c in self.changes],
        }


def proposal_diff(repo: Repository, state: ProposalState) -> ProposalDiff:
    """The semantic diff of what ``state`` merges into its target (see the module's docstring)."""
    if state.source_head is None:
        return ProposalDiff("hearing", None, None, ())
    result = state.result
    if result is not None and result.status == "merged" and result.commit and result.target_head:
        old, new = result.target_head, result.commit
        return ProposalDiff("merged", old, new, tuple(repo.semantic_diff(old, new)))
    target = repo.branch_head(state.target) or state.target_head
    bases = repo.merge_bases(target, state.source_head)
    # No common history: everything the source holds is new to the target.
    old_base = bases[0] if bases else None
    changes = repo.semantic_diff(old_base, state.source_head)
    return ProposalDiff("merge-base", old_base, state.source_head, tuple(changes))
