"""Governance over GraphQL: the ``proposals`` and ``proposal`` queries, the ``propose`` and ``vote``
mutations (acting as the token's actor). See docs/governance.md.

Reading proposals first closes those whose window has ended (executing the ones that passed), as the
CLI does, so a server without background workers still closes them on the next look. A read that shows
an open proposal depends on the clock as well as on the refs: it is not kept by the read cache.
"""

from __future__ import annotations

import enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from narrative_vcs import governance
from narrative_vcs.errors import BadInput, NotFound
from narrative_vcs.governance import ProposalResult, ProposalState

from .mutations import ResolutionInput, _resolutions
from .proposal_diff import ProposalDiff
from .schema import Commit, GInfo

__all__ = ["GovernanceMutation", "GovernanceQuery", "Proposal"]


@strawberry.enum(description="A vote on a proposal.")
class VoteChoice(enum.Enum):
    YES = "yes"
    NO = "no"


@strawberry.type(description="The rules a proposal is decided by (a snapshot of story.yaml's governance).")
class GovernanceRules:
    quorum: int = strawberry.field(description="votes (distinct actors) needed before it can pass")
    threshold: float = strawberry.field(description="the yes share of the weight must be more than this")
    window: int = strawberry.field(description="seconds the proposal stays open")
    weight: str = strawberry.field(description="one-actor-one-vote or stake (sqrt of the tokens staked)")
    stake: str = strawberry.field(description="burn or lock: what happens to staked tokens")
    ledger: str = strawberry.field(description="the branch whose ledger.yaml stakes come from")


@strawberry.type(description="One actor's vote.")
class ProposalVote:
    actor: str
    choice: str
    stake: int
    weight: float
    time: int = strawberry.field(description="unix seconds, UTC")
    stake_commit: str | None = strawberry.field(
        default=None, description="the ledger commit that took the stake (stake-weighted votes)"
    )


@strawberry.type(description="The votes counted.")
class Tally:
    voters: int
    yes: float = strawberry.field(description="the weight of yes votes")
    no: float = strawberry.field(description="the weight of no votes")
    share: float | None = strawberry.field(description="yes / (yes + no); null before any vote")
    quorum: int
    quorum_reached: bool
    threshold: float
    passing: bool = strawberry.field(description="quorum reached and share above the threshold")


@strawberry.type(name="ProposalResult", description="How a proposal closed.")
class ProposalResultType:
    closed: strawberry.Private[ProposalResult]
    status: str = strawberry.field(
        description="merged, up-to-date, decided (a hearing), conflicts, error, rejected or expired"
    )
    target_head: str | None = strawberry.field(description="the target head the merge was worked out on")
    rechecked: bool = strawberry.field(description="the target had moved since the proposal opened")
    conflicts: list[str] = strawberry.field(description="the files that conflicted (status conflicts)")
    reason: str
    time: int
    returned: JSON = strawberry.field(description="locked stakes given back, by actor")

    @strawberry.field(description="the merge commit on the target (its head for up-to-date)")
    async def commit(self, info: GInfo) -> Commit | None:
        if self.closed.commit is None:
            return None
        return Commit.of(await info.context.loaders.commit.load(self.closed.commit))


@strawberry.type(description="A governance proposal: merge a branch into another when the votes pass.")
class Proposal:
    state: strawberry.Private[ProposalState]
    number: int
    status: str = strawberry.field(description="open, passed, executed, failed, rejected or expired")
    hearing: bool = strawberry.field(description="a decision that merges nothing (no source)")
    source: str | None
    target: str
    message: str
    proposer: str
    opened: int = strawberry.field(description="unix seconds, UTC")
    closes: int = strawberry.field(description="unix seconds, UTC: the end of the voting window")
    rules: GovernanceRules
    votes: list[ProposalVote]
    tally: Tally
    resolutions: JSON = strawberry.field(description="conflicted files the merge settles: path -> how")
    result: ProposalResultType | None = strawberry.field(description="how it closed; null while open")
    revision: int = strawberry.field(description="how many governance commits changed it")

    @classmethod
    def of(cls, state: ProposalState) -> Proposal:
        data = state.to_json()
        closed = state.result
        result = None
        if closed is not None:
            result = ProposalResultType(
                closed=closed,
                status=closed.status,
                target_head=closed.target_head,
                rechecked=closed.rechecked,
                conflicts=list(closed.conflicts),
                reason=closed.reason,
                time=closed.time,
                returned=cast(JSON, dict(closed.returned)),
            )
        return cls(
            state=state,
            number=state.number,
            status=state.status,
            hearing=state.hearing,
            source=state.source,
            target=state.target,
            message=state.message,
            proposer=state.proposer,
            opened=state.opened,
            closes=state.closes,
            rules=GovernanceRules(**data["rules"]),
            votes=[ProposalVote(**v) for v in data["votes"]],
            tally=Tally(**data["tally"]),
            resolutions=data["resolutions"],
            result=result,
            revision=state.revision,
        )

    @strawberry.field(description="the source's head when the proposal opened: what is merged")
    async def source_head(self, info: GInfo) -> Commit | None:
        if self.state.source_head is None:
            return None
        return Commit.of(await info.context.loaders.commit.load(self.state.source_head))

    @strawberry.field(description="the target's head when the proposal opened")
    async def target_head(self, info: GInfo) -> Commit:
        return Commit.of(await info.context.loaders.commit.load(self.state.target_head))

    @strawberry.field(
        description="what the proposal merges into its target, as a semantic diff: pages added, changed "
        "and removed, with their links and paragraphs"
    )
    def diff(self, info: GInfo) -> ProposalDiff:
        from narrative_vcs.governance.diff import proposal_diff

        repo = info.context.repo
        return ProposalDiff.of(repo, proposal_diff(repo, self.state))

    @strawberry.field(description="the governance commit that last changed the proposal")
    async def commit(self, info: GInfo) -> Commit | None:
        if self.state.commit is None:
            return None
        return Commit.of(await info.context.loaders.commit.load(self.state.commit))


def _read(info: GInfo) -> None:
    """Close what has expired, and keep answers that show open proposals out of the read cache."""
    if governance.close_expired(info.context.repo):
        info.context.changed()


def _shown(info: GInfo, states: list[ProposalState]) -> list[Proposal]:
    if any(not s.closed for s in states):
        info.context.cacheable = False
    return [Proposal.of(s) for s in states]


@strawberry.type
class GovernanceQuery:
    @strawberry.field(description="the governance proposals, by number (status: only those)")
    def proposals(self, info: GInfo, status: str | None = None) -> list[Proposal]:
        if status is not None and status not in governance.STATUSES:
            raise BadInput(f"unknown status {status!r}: use {', '.join(governance.STATUSES)}")
        _read(info)
        return _shown(info, governance.list_proposals(info.context.repo, status=status))

    @strawberry.field(description="a proposal by number, or null if there is none")
    def proposal(self, info: GInfo, number: int) -> Proposal | None:
        _read(info)
        head = info.context.repo.branch_head(governance.GOVERNANCE_BRANCH)
        if head is None or number < 1:
            return None
        try:
            state = governance.show(info.context.repo, number)
        except NotFound:
            return None
        return _shown(info, [state])[0]


@strawberry.input(description="A proposal to open. Without source it is a hearing: a decision to vote on.")
class ProposeInput:
    target: str
    message: str
    source: str | None = None
    resolutions: list[ResolutionInput] = strawberry.field(
        default_factory=list, description="how to settle the merge's conflicts when it executes"
    )
    actor: str | None = strawberry.field(default=None, description="must be the token's actor if given")


@strawberry.type
class GovernanceMutation:
    @strawberry.field(
        description="open a proposal to merge source into target (the merge must be clean or every "
        "conflict settled by resolutions); the token's actor proposes"
    )
    def propose(self, info: GInfo, input: ProposeInput) -> Proposal:
        repo = info.context.repo
        actor = info.context.acting(input.actor)
        number = governance.propose(
            repo,
            input.source,
            input.target,
            actor=actor,
            message=input.message,
            resolutions=_resolutions(input.resolutions),
        )
        info.context.changed()
        return Proposal.of(governance.show(repo, number))

    @strawberry.field(
        description="vote on an open proposal as the token's actor (stake: tokens, when votes are "
        "weighted by stake); a deciding vote closes it and executes its merge before this returns"
    )
    def vote(self, info: GInfo, number: int, choice: VoteChoice, stake: int = 0) -> Proposal:
        actor = info.context.acting()
        state = governance.vote(info.context.repo, number, actor=actor, choice=choice.value, stake=stake)
        info.context.changed()
        return Proposal.of(state)
