"""A proposal as ``proposals/<n>.yaml`` holds it: what it merges, its votes, its tally and its result.

The file is YAML in a fixed key order, rewritten by every governance commit that changes the proposal:

```yaml
number: 3
status: open               # open, passed, executed, failed, rejected, expired
source: side               # null for a hearing (a decision that merges nothing)
source_head: 7f34...       # the commit voters vote on: later commits of the source are not merged
target: main
target_head: a7c7...       # the target's head when the proposal opened
message: Merge the side plot
proposer: ada
opened: 1700000000
closes: 1700086400
event_id: null
rules: {quorum: 2, threshold: 0.5, window: 86400, weight: one-actor-one-vote, stake: burn, ledger: main}
votes:
  cal: {choice: yes, stake: 0, weight: 1.0, time: 1700000100}
resolutions: {}            # pages/x.md: {side: ours} | {content: "..."} | {delete: true}
result: null               # when closed: status, commit, target_head, rechecked, conflicts, reason...
revision: 2                # how many commits changed this file (the projection keeps the newest)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadInput, InvalidFile
from ..objects import load_yaml
from ..records import field, record, replace
from ..snapshot import check_path
from ..types import ObjectId
from .rules import GovernanceRules

__all__ = [
    "CHOICES",
    "CLOSED",
    "SIDES",
    "STATUSES",
    "ProposalResult",
    "ProposalState",
    "Tally",
    "Vote",
    "proposal_path",
]

STATUSES = ("open", "passed", "executed", "failed", "rejected", "expired")
#: Statuses after which nothing changes any more.
CLOSED = frozenset({"executed", "failed", "rejected", "expired"})
CHOICES = ("yes", "no")
SIDES = ("ours", "theirs", "base", "union")

# How a conflicted file is settled when the merge executes (see Repository.merge_resolved): a side,
# the file's new content, or None (the file is removed).
ResolutionValue = str | bytes | None


def proposal_path(number: int) -> str:
    return f"proposals/{number}.yaml"


@record
class Vote:
    actor: str
    choice: str  # yes | no
    stake: int
    weight: float
    time: int
    stake_commit: ObjectId | None = None  # the ledger commit that took the stake

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "choice": self.choice,
            "stake": self.stake,
            "weight": self.weight,
            "time": self.time,
            "stake_commit": self.stake_commit,
        }

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "choice": self.choice,
            "stake": self.stake,
            "weight": self.weight,
            "time": self.time,
        }
        if self.stake_commit is not None:
            record["stake_commit"] = self.stake_commit
        return record


@record
class Tally:
    """The votes counted: how many voted, the weight of yes and no, and whether that passes."""

    voters: int
    yes: float
    no: float
    quorum: int
    threshold: float

    @property
    def share(self) -> float | None:
        """The yes share of the vote weight (None before any weight was cast)."""
        total = self.yes + self.no
        return None if total <= 0 else self.yes / total

    @property
    def quorum_reached(self) -> bool:
        return self.voters >= self.quorum

    @property
    def passing(self) -> bool:
        """Quorum reached and the yes share strictly above the threshold."""
        share = self.share
        return self.quorum_reached and share is not None and share > self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "voters": self.voters,
            "yes": self.yes,
            "no": self.no,
            "share": self.share,
            "quorum": self.quorum,
            "quorum_reached": self.quorum_reached,
            "threshold": self.threshold,
            "passing": self.passing,
        }


@record
class ProposalResult:
    """How a proposal closed.

    ``status``: ``merged`` (``commit`` is the merge commit on the target), ``up-to-date`` (the target
    already had the source; ``commit`` is its head), ``decided`` (a hearing passed), ``conflicts`` (the
    merge on the current target head conflicts where the proposal carries no resolution; ``conflicts``
    names the files), ``error`` (the merge was refused: ``reason``), ``rejected`` or ``expired``.
    """

    status: str
    time: int
    commit: ObjectId | None = None
    target_head: ObjectId | None = None  # the target head the merge was worked out on
    rechecked: bool = False  # the target had moved since the proposal opened
    conflicts: tuple[str, ...] = ()
    reason: str = ""
    returned: Mapping[str, int] = field(default_factory=dict)  # locked stakes given back

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "commit": self.commit,
            "target_head": self.target_head,
            "rechecked": self.rechecked,
            "conflicts": list(self.conflicts),
            "reason": self.reason,
            "time": self.time,
            "returned": dict(self.returned),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProposalResult:
        return cls(
            status=str(data["status"]),
            time=int(data["time"]),
            commit=_oid(data.get("commit")),
            target_head=_oid(data.get("target_head")),
            rechecked=bool(data.get("rechecked", False)),
            conflicts=tuple(str(p) for p in data.get("conflicts") or ()),
            reason=str(data.get("reason") or ""),
            returned={str(k): int(v) for k, v in (data.get("returned") or {}).items()},
        )


@record
class ProposalState:
    """One proposal as of a governance commit (``commit``: the commit that last changed it)."""

    number: int
    status: str
    source: str | None
    source_head: ObjectId | None
    target: str
    target_head: ObjectId
    message: str
    proposer: str
    opened: int
    closes: int
    rules: GovernanceRules
    votes: Mapping[str, Vote] = field(default_factory=dict)
    resolutions: Mapping[str, ResolutionValue] = field(default_factory=dict)
    event_id: str | None = None
    result: ProposalResult | None = None
    revision: int = 1
    commit: ObjectId | None = None

    @property
    def hearing(self) -> bool:
        """A hearing decides without merging anything (no source)."""
        return self.source is None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    @property
    def tally(self) -> Tally:
        yes = sum(v.weight for v in self.votes.values() if v.choice == "yes")
        no = sum(v.weight for v in self.votes.values() if v.choice == "no")
        return Tally(len(self.votes), yes, no, self.rules.quorum, self.rules.threshold)

    def locked(self) -> dict[str, int]:
        """Stakes locked by this proposal's votes (rules ``stake: lock``), by actor."""
        if self.rules.weight != "stake" or self.rules.stake != "lock":
            return {}
        return {v.actor: v.stake for v in self.votes.values() if v.stake > 0}

    def changed(self, **changes: Any) -> ProposalState:
        """A copy with ``changes``, one revision later."""
        return replace(self, revision=self.revision + 1, commit=None, **changes)

    # --- the file ---------------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "source": self.source,
            "source_head": self.source_head,
            "target": self.target,
            "target_head": self.target_head,
            "message": self.message,
            "proposer": self.proposer,
            "opened": self.opened,
            "closes": self.closes,
            "event_id": self.event_id,
            "rules": self.rules.to_json(),
            "votes": {
                v.actor: v.to_record() for v in sorted(self.votes.values(), key=lambda v: (v.time, v.actor))
            },
            "resolutions": {p: _resolution_record(p, r) for p, r in sorted(self.resolutions.items())},
            "result": None if self.result is None else self.result.to_json(),
            "revision": self.revision,
        }

    def serialise(self) -> bytes:
        import yaml

        # libyaml's emitter and loader when PyYAML has them: the pure-Python ones cost tens of ms a file.
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(
            self.to_record(),
            Dumper=dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=None,
            width=100,
        )
        return text.encode()

    @classmethod
    def parse(cls, number: int, data: bytes, commit: ObjectId | None = None) -> ProposalState:
        path = proposal_path(number)
        try:
            raw = load_yaml(data.decode("utf-8"), path)
        except UnicodeDecodeError as exc:
            raise InvalidFile(path, None, f"not a proposal: {exc}") from None
        if not isinstance(raw, dict) or raw.get("number") != number:
            raise InvalidFile(path, None, f"not proposal {number}")
        try:
            return cls._from_record(raw, commit)
        except (KeyError, TypeError, ValueError, AttributeError, BadInput) as exc:
            raise InvalidFile(path, None, f"not a proposal: {exc}") from None

    @classmethod
    def _from_record(cls, raw: dict[str, Any], commit: ObjectId | None) -> ProposalState:
        votes = {
            str(actor): Vote(
                str(actor),
                str(v["choice"]),
                int(v.get("stake", 0)),
                float(v["weight"]),
                int(v["time"]),
                _oid(v.get("stake_commit")),
            )
            for actor, v in (raw.get("votes") or {}).items()
        }
        resolutions = {str(p): _resolution_value(r) for p, r in (raw.get("resolutions") or {}).items()}
        result = raw.get("result")
        return cls(
            number=int(raw["number"]),
            status=str(raw["status"]),
            source=None if raw.get("source") is None else str(raw["source"]),
            source_head=_oid(raw.get("source_head")),
            target=str(raw["target"]),
            target_head=ObjectId(str(raw["target_head"])),
            message=str(raw.get("message") or ""),
            proposer=str(raw["proposer"]),
            opened=int(raw["opened"]),
            closes=int(raw["closes"]),
            rules=GovernanceRules.from_settings(raw.get("rules")),
            votes=votes,
            resolutions=resolutions,
            event_id=None if raw.get("event_id") is None else str(raw["event_id"]),
            result=None if result is None else ProposalResult.from_json(result),
            revision=int(raw.get("revision", 1)),
            commit=commit,
        )

    def to_json(self) -> dict[str, Any]:
        """The proposal as ``--json`` and the API show it (see docs/governance.md)."""
        return {
            "number": self.number,
            "status": self.status,
            "hearing": self.hearing,
            "source": self.source,
            "source_head": self.source_head,
            "target": self.target,
            "target_head": self.target_head,
            "message": self.message,
            "proposer": self.proposer,
            "opened": self.opened,
            "closes": self.closes,
            "event_id": self.event_id,
            "rules": self.rules.to_json(),
            "votes": [v.to_json() for v in sorted(self.votes.values(), key=lambda v: (v.time, v.actor))],
            "tally": self.tally.to_json(),
            "resolutions": {p: _resolution_kind(r) for p, r in sorted(self.resolutions.items())},
            "result": None if self.result is None else self.result.to_json(),
            "revision": self.revision,
            "commit": self.commit,
        }


def check_resolutions(resolutions: Mapping[str, ResolutionValue]) -> dict[str, ResolutionValue]:
    """Resolutions as a proposal keeps them: valid paths, known sides, UTF-8 content."""
    out: dict[str, ResolutionValue] = {}
    for path, value in resolutions.items():
        check_path(path)
        if path in ("ledger.yaml", "rituals.yaml") or path.startswith(("infra/", "proposals/")):
            raise BadInput(f"{path} merges as its events made it: a proposal takes no resolution for it")
        if isinstance(value, str) and value not in SIDES:
            raise BadInput(f"{path}: unknown side {value!r}: use ours, theirs, base or union")
        if isinstance(value, bytes):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadInput(f"{path}: a resolution's content must be UTF-8 text") from None
        elif value is not None and not isinstance(value, str):
            raise BadInput(f"{path}: a resolution is a side, the file's content or None")
        out[path] = value
    return out


def _resolution_kind(value: ResolutionValue) -> str:
    if value is None:
        return "delete"
    return value if isinstance(value, str) else "content"


def _resolution_record(path: str, value: ResolutionValue) -> dict[str, Any]:
    if value is None:
        return {"delete": True}
    if isinstance(value, str):
        return {"side": value}
    return {"content": value.decode("utf-8")}


def _resolution_value(record: Any) -> ResolutionValue:
    if not isinstance(record, dict) or len(record) != 1:
        raise ValueError("a resolution is {side: S}, {content: TEXT} or {delete: true}")
    ((key, value),) = record.items()
    if key == "side" and value in SIDES:
        return str(value)
    if key == "content" and isinstance(value, str):
        return value.encode("utf-8")
    if key == "delete" and value is True:
        return None
    raise ValueError(f"unknown resolution {record!r}")


def _oid(value: Any) -> ObjectId | None:
    return None if value is None else ObjectId(str(value))
