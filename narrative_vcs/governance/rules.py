"""The governance settings of ``story.yaml``: protected branches and the rules proposals are voted by.

```yaml
protected: [main]            # direct commits and plain merges into these branches are refused
governance:
  quorum: 2                  # votes (distinct actors) needed before a proposal can pass
  threshold: 0.5             # the yes share of the vote weight must be MORE than this
  window: 86400              # seconds a proposal stays open
  weight: one-actor-one-vote # or: stake (weight = sqrt(tokens staked from ledger.yaml))
  stake: burn                # with weight stake: burn the tokens, or lock them until the proposal closes
  ledger: main               # the branch whose ledger.yaml holds the balances stakes come from
```

Every key is optional; a key that is present must be valid, else :class:`BadInput` names it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import BadInput
from ..gate import RuleBroken
from ..history import CommitInfo
from ..objects import Story
from ..records import asdict, record
from ..refs import validate_ref_name

__all__ = [
    "GOVERNANCE_BRANCH",
    "PROTECTED_EVENTS",
    "STAKE_MODES",
    "WEIGHTS",
    "GovernanceRules",
    "ProtectedBranch",
    "check_story_settings",
    "protected_branches",
    "rules_of",
]

#: The branch whose commits are the proposals and their votes (``proposals/<n>.yaml``).
GOVERNANCE_BRANCH = "governance"

WEIGHTS = ("one-actor-one-vote", "stake")
STAKE_MODES = ("burn", "lock")

#: Commit kinds a protected branch takes without a proposal: events, each verified by replaying it.
PROTECTED_EVENTS = frozenset({"gift.txn.v1", "ritual.performed.v1", "infra.spore.v1", "mycelium.decay.v1"})
_KEYS = ("quorum", "threshold", "window", "weight", "stake", "ledger")


class ProtectedBranch(RuleBroken):
    """A move of a protected branch that is not a fast-forward through passed proposals and events: a
    direct commit, a plain merge, a replay, a force, a delete."""

    RULE = "protected-branches"

    def __init__(self, branch: str, message: str | None = None, *, commit: CommitInfo | None = None) -> None:
        text = message or f"{branch} is protected: open a proposal (gvcs propose SOURCE --into {branch})"
        super().__init__(self.RULE, text, commit=commit)
        self.branch = branch


@record
class GovernanceRules:
    """How proposals are decided. A proposal keeps the rules it was opened under."""

    quorum: int = 2
    threshold: float = 0.5
    window: int = 86_400
    weight: str = "one-actor-one-vote"
    stake: str = "burn"
    ledger: str = "main"

    def __post_init__(self) -> None:
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int) or self.quorum < 1:
            raise BadInput(f"governance.quorum must be a whole number of at least 1, not {self.quorum!r}")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold < 1:
            raise BadInput(
                f"governance.threshold must be a number from 0 up to (not including) 1, not {threshold!r}"
            )
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise BadInput(f"governance.window must be a whole number of seconds (1+), not {self.window!r}")
        if self.weight not in WEIGHTS:
            raise BadInput(f"governance.weight must be {' or '.join(WEIGHTS)}, not {self.weight!r}")
        if self.stake not in STAKE_MODES:
            raise BadInput(f"governance.stake must be {' or '.join(STAKE_MODES)}, not {self.stake!r}")
        if not isinstance(self.ledger, str):
            raise BadInput(f"governance.ledger must be a branch name, not {self.ledger!r}")
        validate_ref_name("branch", self.ledger)
        object.__setattr__(self, "threshold", float(threshold))

    @classmethod
    def from_settings(cls, value: object) -> GovernanceRules:
        """The rules from the ``governance`` mapping of story.yaml (None: the defaults)."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise BadInput("governance must be a mapping (quorum, threshold, window, weight, stake, ledger)")
        unknown = sorted(str(k) for k in value if k not in _KEYS)
        if unknown:
            raise BadInput(f"governance.{unknown[0]} is not a setting: use {', '.join(_KEYS)}")
        return cls(**{str(k): v for k, v in value.items()})

    def vote_weight(self, stake: int) -> float:
        """The weight of a vote: 1, or the square root of the stake (diminishing returns)."""
        return math.sqrt(stake) if self.weight == "stake" else 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rules_of(story: Story | None) -> GovernanceRules:
    """The governance rules of a story record (the defaults without one)."""
    return GovernanceRules.from_settings(None if story is None else story.get("governance"))


def protected_branches(story: Story | None) -> frozenset[str]:
    """The branches ``story.yaml`` protects (``protected: [main]``)."""
    value = None if story is None else story.get("protected")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput("story.yaml: protected must be a list of branch names, e.g. [main]")
    return frozenset(validate_ref_name("branch", v) for v in value)


def check_story_settings(story: Story) -> None:
    """Refuse a story record whose governance settings are not valid (one line naming the key)."""
    try:
        protected_branches(story)
        rules_of(story)
    except BadInput as exc:
        message = str(exc)
        raise BadInput(message if message.startswith("story.yaml") else f"story.yaml: {message}") from None
