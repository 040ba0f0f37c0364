"""Events and what became of them: the values that the intake (CLI, API, workers) passes around."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import BadInput, Conflict, GvcsError
from ..limits import load_json
from ..objects import validate_id
from ..records import record
from ..refs import validate_ref_name
from ..types import ObjectId
from .schemas import MAX_PAYLOAD, check_payload

__all__ = [
    "EVENT_ID",
    "INGESTED",
    "MAX_EVENT_JSON",
    "PUBLISHED",
    "TOPICS",
    "Event",
    "EventConflict",
    "Ingested",
    "check_event_id",
    "check_ingestible",
    "validate",
]

#: The published topic: announced by gvcs when a merge lands on a protected branch, never ingested.
PUBLISHED = "narrative.change.v1"
TOPICS = (
    "agent.emit.v1",
    "gift.txn.v1",
    "ritual.performed.v1",
    "infra.spore.v1",
    "mycelium.decay.v1",
    PUBLISHED,
)
#: The topics the intake accepts: each accepted event becomes one commit of that kind.
INGESTED = tuple(t for t in TOPICS if t != PUBLISHED)
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
#: The largest event given as JSON text (Event.from_json): its payload at most MAX_PAYLOAD as compact
#: JSON, with room for the other fields, whitespace and escapes.
MAX_EVENT_JSON = 4 * MAX_PAYLOAD
_KEYS = ("topic", "id", "actor", "payload", "branch", "time")


#: The semantics version of each topic whose payloads have more than one (agent.emit.v1's mode, and the
#: emit opcode of rituals). A new event (:meth:`Event.new`, :meth:`Event.from_json`: every intake) gets the
#: current one in its payload when it names none; an event rebuilt from a commit's trailer to replay it
#: keeps the payload as committed, so an old commit means what it meant when it was made.
VERSIONED = {"agent.emit.v1": 2, "ritual.performed.v1": 2}


def stamped(topic: object, payload: object) -> Any:
    """``payload`` with the current semantics ``version`` of ``topic`` unless it names one."""
    version = VERSIONED.get(topic) if isinstance(topic, str) else None
    if version is None or not isinstance(payload, Mapping) or "version" in payload:
        return dict(payload) if isinstance(payload, Mapping) else payload
    return {**payload, "version": version}


def check_topic(topic: object) -> str:
    if not isinstance(topic, str) or topic not in TOPICS:
        shown = topic if isinstance(topic, str) else type(topic).__name__
        raise BadInput(f"unknown event topic {shown!r}: use one of {', '.join(TOPICS)}")
    return topic


def check_event_id(value: object) -> str:
    """``value`` if it is a valid event id (1-100 characters ``A-Z a-z 0-9 . _ : -``), else BadInput."""
    if not isinstance(value, str) or not EVENT_ID.fullmatch(value):
        shown = value if isinstance(value, str) else type(value).__name__
        if isinstance(shown, str) and len(shown) > 40:
            shown = shown[:37] + "..."
        raise BadInput(f"invalid event id {shown!r}: use 1-100 characters A-Z a-z 0-9 . _ : -")
    return value


def validate(topic: str, payload: object) -> dict[str, Any]:
    """The payload of an event to ingest, as plain JSON, if it fits its topic's schema.

    Raises :class:`BadInput` with one line naming the topic, the JSON path and the problem; an unknown
    topic lists the topics; ``narrative.change.v1`` is refused (gvcs publishes it, nobody sends it).
    """
    check_ingestible(topic)
    return check_payload(topic, payload)


def check_ingestible(topic: str) -> str:
    """``topic`` if events of it are ingested, else BadInput (an unknown or the published topic)."""
    if topic not in TOPICS:
        shown = topic if isinstance(topic, str) else type(topic).__name__
        raise BadInput(f"unknown event topic {shown!r}: use one of {', '.join(INGESTED)}")
    if topic == PUBLISHED:
        raise BadInput(
            f"{PUBLISHED} is published by gvcs when a merge lands on a protected branch; "
            "it cannot be ingested"
        )
    return topic


@record
class Event:
    """Something that happened, to be recorded as one commit of kind ``topic``.

    ``id`` makes it idempotent: an event whose id is already in the history of its branch is never
    committed again (the same topic, actor and payload: a duplicate; anything else: a conflict).
    ``branch`` None means the topic's default branch; ``time`` (unix seconds) is the commit time and the
    clock of time windows (None: when it is committed). A value of this class is always well-formed: the
    constructor checks every field and the payload against its schema.
    """

    topic: str
    id: str
    actor: str
    payload: dict[str, Any]
    branch: str | None = None
    time: int | None = None

    def __post_init__(self) -> None:
        check_topic(self.topic)
        check_event_id(self.id)
        try:
            validate_id("actor", self.actor)
            if self.branch is not None:
                if not isinstance(self.branch, str):
                    raise BadInput(f"branch must be a name, not {type(self.branch).__name__}")
                validate_ref_name("branch", self.branch)
        except BadInput as exc:
            raise BadInput(f"{self.topic}: {exc}") from None
        if self.time is not None and (isinstance(self.time, bool) or not isinstance(self.time, int)):
            raise BadInput(f"{self.topic}: time must be unix seconds (a whole number), not {self.time!r}")
        # The payload as its commit's Gvcs-Event trailer keeps it (keys sorted): what the event makes of
        # it must not depend on the order a sender wrote the keys in, or a replay would differ.
        object.__setattr__(self, "payload", check_payload(self.topic, self.payload))

    @classmethod
    def new(
        cls,
        topic: str,
        actor: str,
        payload: Mapping[str, Any],
        branch: str | None = None,
        id: str | None = None,
        *,
        time: int | None = None,
    ) -> Event:
        """An event with a new random id (uuid4, 32 hex digits) unless ``id`` is given."""
        import uuid

        return cls(
            topic, uuid.uuid4().hex if id is None else id, actor, stamped(topic, payload), branch, time
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "id": self.id,
            "actor": self.actor,
            "payload": self.payload,
            "branch": self.branch,
            "time": self.time,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> Event:
        """The event of :meth:`to_json` (a mapping, or its JSON text); BadInput names what does not fit."""
        if isinstance(data, str | bytes):
            data = load_json(data, "event", max_bytes=MAX_EVENT_JSON)
        if not isinstance(data, Mapping):
            raise BadInput("event must be a JSON object with topic, id, actor and payload")
        unknown = sorted(str(k) for k in data if k not in _KEYS)
        if unknown:
            raise BadInput(f"event: {unknown[0]!r} is not a field (use {', '.join(_KEYS)})")
        missing = [k for k in ("topic", "id", "actor", "payload") if k not in data]
        if missing:
            raise BadInput(f"event: {missing[0]!r} is required")
        payload = stamped(data["topic"], data["payload"])
        return cls(data["topic"], data["id"], data["actor"], payload, data.get("branch"), data.get("time"))


class EventConflict(Conflict):
    """An event whose id the branch's history already holds for another event: a different topic,
    actor or payload. An event id is an idempotency key: the same event sent again is a duplicate, a
    different one under the same id is refused and nothing is committed."""

    def __init__(self, event_id: str, commit: ObjectId, branch: str, differs: list[str]) -> None:
        what = " and ".join(differs)
        super().__init__(
            f"event {event_id} is already on {branch} as {commit[:10]} with a different {what}: "
            "nothing was committed; send this event with a new id"
        )
        self.event_id = event_id
        self.commit = commit
        self.differs = list(differs)


@record
class Ingested:
    """What became of an event: its commit, or the commit that already had its id (``duplicate``), or
    the error that refused it (``commit`` None; an :class:`EventConflict` when the id is on the branch
    for another event). An error with a commit means the event is committed but its follow-up (a branch,
    tag or proposal its ritual or incident calls for) failed; sending the event again retries the
    follow-up."""

    event: Event
    branch: str
    commit: ObjectId | None
    duplicate: bool
    error: GvcsError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        error = None if self.error is None else {"code": self.error.code, "message": str(self.error)}
        return {
            "event_id": self.event.id,
            "topic": self.event.topic,
            "actor": self.event.actor,
            "branch": self.branch,
            "commit": self.commit,
            "duplicate": self.duplicate,
            "error": error,
        }
