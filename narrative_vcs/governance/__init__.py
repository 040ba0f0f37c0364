"""Governance: merges into protected branches are proposed, voted on and executed as commits.

- :mod:`.rules`: ``protected`` branches and the ``governance`` rules of story.yaml;
- :mod:`.proposal`: ``proposals/<n>.yaml`` (a proposal, its votes, tally and result);
- :mod:`.lifecycle`: :func:`propose`, :func:`vote`, :func:`execute`, :func:`close_expired`, reads;
- :mod:`.ledger`: stakes taken from and given back to ``ledger.yaml``;
- :mod:`.hooks`: ``narrative.change.v1``, announced when a proposal's merge lands.

See docs/governance.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hooks import NARRATIVE_CHANGE, NarrativeChange, on_narrative_change
    from .lifecycle import close_expired, execute, list_proposals, propose, show, vote
    from .proposal import CHOICES, STATUSES, ProposalResult, ProposalState, Tally, Vote
    from .rules import GOVERNANCE_BRANCH, GovernanceRules, ProtectedBranch, protected_branches, rules_of

# Each name is imported from its module on first use, so that the rules, which read a setting or two
# for every commit, do not load the whole engine into a short command.
_HOME = {
    **dict.fromkeys(("NARRATIVE_CHANGE", "NarrativeChange", "on_narrative_change"), "hooks"),
    **dict.fromkeys(("close_expired", "execute", "list_proposals", "propose", "show", "vote"), "lifecycle"),
    **dict.fromkeys(("CHOICES", "STATUSES", "ProposalResult", "ProposalState", "Tally", "Vote"), "proposal"),
    **dict.fromkeys(
        ("GOVERNANCE_BRANCH", "GovernanceRules", "ProtectedBranch", "protected_branches", "rules_of"), "rules"
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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
