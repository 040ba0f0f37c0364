"""The story's world over GraphQL: gift-token balances (``ledger.yaml``), spores and their health
(``infra/``), ritual counts (``rituals.yaml``) and the event commits of a topic.

Each reads the state file as the engine does (:mod:`narrative_vcs.events`), at a revision: the default
is the branch the topic's events go to (``main`` for gifts and rituals, ``mycelium`` for spores).
"""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from narrative_vcs.errors import GvcsError
from narrative_vcs.events import MYCELIUM, balances, default_branch, spores
from narrative_vcs.events.listing import check_topic, event_branches
from narrative_vcs.events.state import Tip
from narrative_vcs.merge.contents import RITUALS_PATH, read_counters
from narrative_vcs.objects import validate_id

from .schema import DEFAULT_FIRST, CommitConnection, GInfo, _log, _LogQuery

__all__ = ["WorldQuery"]


@strawberry.type(description="An actor's gift tokens.")
class Balance:
    actor: str
    amount: int


@strawberry.type(description="ledger.yaml at one commit: the gift-token balances, by actor id.")
class Ledger:
    revision: str = strawberry.field(description="the commit the ledger is read at")
    balances: list[Balance] = strawberry.field(description="every actor with a balance, by actor id")
    total: int = strawberry.field(description="the tokens in circulation")

    @strawberry.field(description="one actor's balance (0 without an entry)")
    def balance(self, actor: str) -> int:
        validate_id("actor", actor)
        return next((b.amount for b in self.balances if b.actor == actor), 0)


@strawberry.type(description="A spore's incident: the phoenix rule saw too many restarts.")
class SporeIncident:
    since: int = strawberry.field(description="unix seconds, UTC")
    event: str | None = strawberry.field(description="the decay event that started it")
    restarts: int
    hearing: bool = strawberry.field(description="whether a hearing was opened for it")


@strawberry.type(description="A spore (a piece of infrastructure) and its health: infra/spores/<id>.yaml.")
class Spore:
    id: str
    type: str | None
    status: str | None = strawberry.field(description="healthy, unhealthy, died or restarted")
    spec: JSON
    added: int | None = strawberry.field(description="unix seconds, UTC")
    updated: int | None = strawberry.field(description="unix seconds, UTC")
    reason: str | None = strawberry.field(description="the reason the last decay event gave")
    restarts: list[int] = strawberry.field(description="the recent restarts the phoenix rule counts")
    incident: SporeIncident | None = strawberry.field(description="null when there is none")

    @classmethod
    def of(cls, spore_id: str, record: dict[str, Any]) -> Spore:
        incident = record.get("incident")
        return cls(
            id=spore_id,
            type=_text(record.get("type")),
            status=_text(record.get("status")),
            spec=cast(JSON, record.get("spec") or {}),
            added=_number(record.get("added")),
            updated=_number(record.get("updated")),
            reason=_text(record.get("reason")),
            restarts=[t for t in record.get("restarts") or [] if isinstance(t, int)],
            incident=_incident(incident) if isinstance(incident, dict) else None,
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _incident(data: dict[str, Any]) -> SporeIncident:
    return SporeIncident(
        since=_number(data.get("since")) or 0,
        event=_text(data.get("event")),
        restarts=_number(data.get("restarts")) or 0,
        hearing=bool(data.get("hearing")),
    )


@strawberry.type(description="How many times a glyph was turned to a rotation.")
class RitualCount:
    glyph: str
    rotation: int
    count: int
    opcode: str | None = strawberry.field(
        description="the opcode story.yaml's glyph table gives it at this revision; null if none"
    )


@strawberry.type(description="rituals.yaml at one commit.")
class Rituals:
    revision: str
    counts: list[RitualCount] = strawberry.field(description="by glyph, then rotation")
    total: int


def _ritual_counts(info: GInfo, commit: str) -> list[RitualCount]:
    from narrative_vcs.events.settings import glyph_table

    repo = info.context.repo
    counts = read_counters(RITUALS_PATH, repo.read_file(RITUALS_PATH, commit))
    try:
        table = glyph_table(Tip(repo, commit, None, repo.commits.get(repo.resolve(commit)).tree, 0))
    except GvcsError:  # a glyph table that does not parse fires nothing: the counts stand alone
        table = []
    opcodes = {(rule.id, rule.rotation): rule.opcode for rule in table}
    found = []
    for key, count in counts.items():
        glyph, _, rotation = key.rpartition("@")
        turn = int(rotation) if rotation.isdigit() else 0
        found.append(RitualCount(glyph=glyph, rotation=turn, count=count, opcode=opcodes.get((glyph, turn))))
    return sorted(found, key=lambda r: (r.glyph, r.rotation))


@strawberry.type
class WorldQuery:
    @strawberry.field(
        description="the gift-token balances of ledger.yaml at a revision (default: the ledger's branch, "
        "main)"
    )
    def ledger(self, info: GInfo, rev: str | None = None) -> Ledger:
        repo = info.context.repo
        commit = repo.resolve(rev if rev is not None else default_branch(repo))
        found = balances(repo, commit)
        return Ledger(
            revision=commit,
            balances=[Balance(actor=a, amount=n) for a, n in sorted(found.items())],
            total=sum(found.values()),
        )

    @strawberry.field(
        description="the spores of infra/ and their health at a revision (default: the mycelium branch; "
        "none while it does not exist), by id"
    )
    def spores(self, info: GInfo, rev: str | None = None) -> list[Spore]:
        repo = info.context.repo
        if rev is None and repo.branch_head(MYCELIUM) is None:
            return []
        commit = repo.resolve(rev if rev is not None else MYCELIUM)
        return [Spore.of(sid, record) for sid, record in sorted(spores(repo, commit).items())]

    @strawberry.field(
        description="how many times each glyph was turned to each rotation (rituals.yaml) at a revision "
        "(default: main), with the opcode each fires"
    )
    def rituals(self, info: GInfo, rev: str | None = None) -> Rituals:
        repo = info.context.repo
        commit = repo.resolve(rev if rev is not None else default_branch(repo))
        counts = _ritual_counts(info, commit)
        return Rituals(revision=commit, counts=counts, total=sum(c.count for c in counts))

    @strawberry.field(
        description="the event commits of a topic, newest first, on one branch or on every branch (a Relay "
        "connection; as gvcs event list --topic)"
    )
    def events(
        self,
        info: GInfo,
        topic: str,
        branch: str | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> CommitConnection:
        from narrative_vcs.errors import BadInput
        from narrative_vcs.events import PUBLISHED

        check_topic(topic)
        if topic == PUBLISHED:
            raise BadInput(
                f"{topic} is published, not committed: subscribe to narrativeChanged, or use gvcs event list"
            )
        repo = info.context.repo
        revs = tuple(event_branches(repo, branch))
        return _log(repo, _LogQuery(revs, kind=topic), first, after)
