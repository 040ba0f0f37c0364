"""Governance: merges into protected branches are proposed, voted on and executed as commits.

- :mod:`.rules`: ``protected`` branches and the ``governance`` rules of story.yaml;
- :mod:`.proposal`: ``proposals/<n>.yaml`` (a proposal, its votes, tally and result);
- :mod:`.lifecycle`: :func:`propose`, :func:`vote`, :func:`execute`, :func:`close_expired`, reads;
- :mod:`.ledger`: stakes taken from and given back to ``ledger.yaml``;
- :mod:`.hooks`: ``narrative.change.v1``, announced when a proposal's merge lands.

See docs/governance.md.
"""

from __future__ import annotations

from .hooks import NARRATIVE_CHANGE, NarrativeChange, on_narrative_change
from .lifecycle import close_expired, execute, list_proposals, propose, show, vote
from .proposal import CHOICES, STATUSES, ProposalResult, ProposalState, Tally, Vote
from .rules import GOVERNANCE_BRANCH, GovernanceRules, ProtectedBranch, protected_branches, rules_of

__all__ = [
    "CHOICES",
    "GOVERNANCE_BRANCH",
    "NARRATIVE_CHANGE",
    "STATUSES",
    "GovernanceRules",
    "NarrativeChange",
    "ProposalResult",
    "ProposalState",
    "ProtectedBranch",
    "Tally",
    "Vote",
    "close_expired",
    "execute",
    "list_proposals",
    "on_narrative_change",
    "propose",
    "protected_branches",
    "rules_of",
    "show",
    "vote",
]
