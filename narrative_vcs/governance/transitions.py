"""How a proposal changes, step by step, as pure functions: the engine (:mod:`.lifecycle`) takes each step
with them, and the rules (:mod:`narrative_vcs.rules.governance`) replay every governance commit with the
same functions to verify it. Nothing here reads refs or the clock: a step depends on the proposal as it
was, the step's own facts (who, when, which vote) and the target's snapshot when the proposal opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..records import replace
from ..types import ObjectId
from .proposal import ProposalResult, ProposalState, ResolutionValue, Vote
from .rules import GovernanceRules

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["closing", "decide", "electorate", "opened", "voted"]


def opened(
    number: int,
    *,
    source: str | None,
    source_head: ObjectId | None,
    target: str,
    target_head: ObjectId,
    message: str,
    proposer: str,
    when: int,
    rules: GovernanceRules,
    resolutions: Mapping[str, ResolutionValue],
    event_id: str | None,
) -> ProposalState:
    """A proposal as it opens."""
    return ProposalState(
        number=number,
        status="open",
        source=source,
        source_head=source_head,
        target=target,
        target_head=target_head,
        message=message.strip(),
        proposer=proposer,
        opened=when,
        closes=when + rules.window,
        rules=rules,
        resolutions=dict(resolutions),
        event_id=event_id,
    )


def electorate(repo: Repository, state: ProposalState) -> frozenset[str]:
    """Who may vote: the actors of the target as it was when the proposal opened."""
    tree = repo.commits.get(state.target_head).tree
    names = repo.snapshots.list_dir(tree, "actors")
    return frozenset(n.removesuffix(".yaml") for n in names if n.endswith(".yaml"))


def voted(state: ProposalState, ballot: Vote, voters: frozenset[str]) -> ProposalState:
    """``state`` with ``ballot`` counted, decided at once when the vote settles it (passed, or rejected
    when it can no longer pass)."""
    counted = state.changed(votes={**state.votes, ballot.actor: ballot})
    status, reason = decide(counted, voters)
    result = None
    if status == "rejected":
        result = ProposalResult("rejected", ballot.time, reason=reason, returned=counted.locked())
    return replace(counted, status=status, result=result)


def decide(state: ProposalState, voters: frozenset[str]) -> tuple[str, str]:
    """``passed`` when quorum is reached and the yes share is above the threshold; ``rejected`` when
    that can no longer happen even if every other actor of the electorate votes yes; else ``open``."""
    tally = state.tally
    if tally.passing:
        return "passed", ""
    remaining = len(set(voters) - set(state.votes))
    if state.rules.weight == "stake":
        # A stake's weight has no upper bound known in advance: only a complete vote decides early.
        if remaining:
            return "open", ""
        return "rejected", "every actor voted and the proposal did not pass"
    best_yes, best_total = tally.yes + remaining, tally.yes + tally.no + remaining
    if tally.voters + remaining < tally.quorum:
        return "rejected", f"quorum of {tally.quorum} can no longer be reached"
    if best_total <= 0 or best_yes / best_total <= tally.threshold:
        return "rejected", f"the yes share can no longer exceed {tally.threshold:g}"
    return "open", ""


def closing(state: ProposalState, when: int) -> tuple[str, str] | None:
    """How a proposal whose window ended closes without being carried out: (``rejected`` or ``expired``,
    the reason); None when its tally passes (it is carried out instead)."""
    if state.status == "passed" or state.tally.passing:
        return None
    status = "rejected" if state.tally.quorum_reached else "expired"
    reason = "the yes share did not exceed the threshold" if status == "rejected" else "quorum not reached"
    return status, f"window ended: {reason}"
