"""Event payloads and envelopes: each topic's schema, and one-line errors that name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastjsonschema import JsonSchemaException
from hypothesis import given
from hypothesis import strategies as st

from narrative_vcs.errors import BadInput
from narrative_vcs.events import INGESTED, TOPICS, Event, schemas, validate
from narrative_vcs.events.schemas import check_settings, schema_of

VALID: dict[str, list[dict[str, Any]]] = {
    "agent.emit.v1": [
        {"page": "door", "body": "The fox waited."},
        {"page": "door", "title": "The Door", "body": "", "follows": ["prologue"], "tags": ["act-1"]},
        {"page": "door-alt", "body": "More.", "alternate_of": "door", "mode": "append"},
        {"page": "door", "body": "x", "alternate_of": None},
    ],
    "gift.txn.v1": [
        {"op": "mint", "to": "ada", "amount": 5},
        {"op": "transfer", "to": "bot", "amount": 1, "memo": "thanks"},
        {"op": "transfer", "from": "ada", "to": "bot", "amount": 2},
        {"op": "burn", "amount": 3},
        {"op": "burn", "from": "ada", "amount": 3},
    ],
    "ritual.performed.v1": [
        {"glyph": "key-of-margins", "rotation": 90},
        {"glyph": "ward", "rotation": 0, "page": "door"},
    ],
    "infra.spore.v1": [
        {"spore": "db-1", "op": "added", "type": "postgres", "spec": {"size": 2, "tags": ["a"]}},
        {"spore": "db-1", "op": "updated", "spec": {}},
        {"spore": "db-1", "op": "removed"},
    ],
    "mycelium.decay.v1": [
        {"spore": "db-1", "state": "unhealthy"},
        {"spore": "db-1", "state": "restarted", "reason": "out of memory"},
    ],
}

# topic, payload, the path the error names, a word of the problem
BAD: list[tuple[str, Any, str, str]] = [
    ("agent.emit.v1", {"body": "x"}, "payload.page", "required"),
    ("agent.emit.v1", {"page": "door"}, "payload.body", "required"),
    ("agent.emit.v1", {"page": "Door!", "body": "x"}, "payload.page", "not an id"),
    ("agent.emit.v1", {"page": "a..b", "body": "x"}, "payload.page", "'..'"),
    ("agent.emit.v1", {"page": "door", "body": 5}, "payload.body", "text"),
    ("agent.emit.v1", {"page": "door", "body": "x", "title": "two\nlines"}, "payload.title", "one line"),
    ("agent.emit.v1", {"page": "door", "body": "x", "follows": ["ok", "Bad"]}, "payload.follows[1]", "id"),
    ("agent.emit.v1", {"page": "door", "body": "x", "tags": ["a", "a"]}, "payload.tags", "repeat"),
    ("agent.emit.v1", {"page": "door", "body": "x", "mode": "prepend"}, "payload.mode", "prepend"),
    ("agent.emit.v1", {"page": "door", "body": "x", "colour": "red"}, "payload.colour", "not a known field"),
    ("agent.emit.v1", {"page": "door", "body": "x" * 100_001}, "payload.body", "too long"),
    (
        "gift.txn.v1",
        {"op": "mint", "to": "ada", "amount": -5},
        "payload.amount",
        "-5 is less than the minimum",
    ),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "amount": 0}, "payload.amount", "minimum of 1"),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "amount": 2.5}, "payload.amount", "whole number"),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "amount": 2.0}, "payload.amount", "whole number"),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "amount": True}, "payload.amount", "whole number"),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "amount": "5"}, "payload.amount", "whole number"),
    ("gift.txn.v1", {"op": "mint", "amount": 5}, "payload.to", "a mint needs 'to'"),
    ("gift.txn.v1", {"op": "mint", "to": "ada", "from": "bot", "amount": 5}, "payload.from", "a mint has no"),
    ("gift.txn.v1", {"op": "transfer", "amount": 5}, "payload.to", "a transfer needs 'to'"),
    ("gift.txn.v1", {"op": "burn", "to": "ada", "amount": 5}, "payload.to", "a burn has no 'to'"),
    ("gift.txn.v1", {"op": "steal", "amount": 5}, "payload.op", "steal"),
    ("gift.txn.v1", {"to": "ada", "amount": 5}, "payload.op", "required"),
    ("ritual.performed.v1", {"glyph": "key", "rotation": 45}, "payload.rotation", "0, 90, 180 or 270"),
    ("ritual.performed.v1", {"glyph": "key", "rotation": 90.0}, "payload.rotation", "whole number"),
    ("ritual.performed.v1", {"rotation": 90}, "payload.glyph", "required"),
    ("infra.spore.v1", {"spore": "db", "op": "rebooted"}, "payload.op", "rebooted"),
    ("infra.spore.v1", {"spore": "db", "op": "added", "spec": [1]}, "payload.spec", "an object"),
    ("infra.spore.v1", {"spore": "db", "op": "removed", "spec": {}}, "payload.spec", "no spec"),
    ("mycelium.decay.v1", {"spore": "db", "state": "asleep"}, "payload.state", "asleep"),
    ("mycelium.decay.v1", {"state": "died"}, "payload.spore", "required"),
]


@pytest.mark.parametrize(("topic", "payload"), [(t, p) for t, ps in VALID.items() for p in ps])
def test_valid_payloads_pass(topic: str, payload: dict[str, Any]) -> None:
    assert validate(topic, payload) == payload


@pytest.mark.parametrize(("topic", "payload", "path", "problem"), BAD)
def test_bad_payloads_name_the_field_on_one_line(topic: str, payload: Any, path: str, problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        validate(topic, payload)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{topic}: {path}: "), message
    assert problem in message
    assert len(message) < 300


def test_every_ingested_topic_is_tested_and_has_a_valid_schema() -> None:
    from jsonschema import Draft202012Validator

    assert set(VALID) == set(INGESTED)
    for name in [*TOPICS, "story-settings"]:
        Draft202012Validator.check_schema(schema_of(name))


def test_payload_must_be_an_object() -> None:
    with pytest.raises(BadInput, match=r"^gift\.txn\.v1: payload must be a JSON object, not a list$"):
        validate("gift.txn.v1", [1])


def test_payload_must_be_json() -> None:
    with pytest.raises(BadInput, match="payload is not JSON"):
        validate("gift.txn.v1", {"op": "mint", "to": "ada", "amount": float("nan")})


def test_unknown_topic_lists_the_topics_one_may_send() -> None:
    with pytest.raises(BadInput) as caught:
        validate("gift.txn.v2", {})
    assert str(caught.value) == f"unknown event topic 'gift.txn.v2': use one of {', '.join(INGESTED)}"
    assert "narrative.change.v1" not in str(caught.value)  # published by gvcs: nobody sends it


def test_narrative_change_is_published_not_ingested() -> None:
    with pytest.raises(BadInput) as caught:
        validate("narrative.change.v1", {"branch": "main", "commit": "a" * 40})
    assert str(caught.value) == (
        "narrative.change.v1 is published by gvcs when a merge lands on a protected branch; "
        "it cannot be ingested"
    )


def test_a_published_event_is_still_a_well_formed_event() -> None:
    event = Event.new("narrative.change.v1", "ada", {"branch": "main", "commit": "a" * 40, "proposal": 3})
    assert Event.from_json(event.to_json()) == event


# --- the envelope ------------------------------------------------------------------------------------


def test_new_makes_an_id_and_round_trips_through_json() -> None:
    event = Event.new("gift.txn.v1", "ada", {"op": "mint", "to": "ada", "amount": 5}, branch="main", time=7)
    assert len(event.id) == 32
    assert Event.new("gift.txn.v1", "ada", {"op": "burn", "amount": 1}).id != event.id
    data = event.to_json()
    assert data == {
        "topic": "gift.txn.v1",
        "id": event.id,
        "actor": "ada",
        "payload": {"op": "mint", "to": "ada", "amount": 5},
        "branch": "main",
        "time": 7,
    }
    assert Event.from_json(data) == event
    assert Event.from_json(json.dumps(data)) == event


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": "has space"}, "invalid event id 'has space'"),
        ({"id": ""}, "invalid event id ''"),
        ({"id": "x" * 101}, "invalid event id"),
        ({"actor": "Ada"}, "gift.txn.v1: invalid actor id 'Ada'"),
        ({"branch": "a..b"}, "gift.txn.v1: invalid branch name 'a..b'"),
        ({"time": "noon"}, "gift.txn.v1: time must be unix seconds"),
        ({"topic": "nope"}, "unknown event topic 'nope'"),
        ({"payload": {"op": "mint"}}, "gift.txn.v1: payload."),
    ],
)
def test_from_json_refuses_a_bad_envelope(change: dict[str, Any], problem: str) -> None:
    data = {"topic": "gift.txn.v1", "id": "e-1:a.B_c", "actor": "ada", "payload": {"op": "burn", "amount": 1}}
    with pytest.raises(BadInput) as caught:
        Event.from_json({**data, **change})
    assert str(caught.value).startswith(problem), caught.value
    assert "\n" not in str(caught.value)


def test_from_json_refuses_unknown_and_missing_keys() -> None:
    base = {"topic": "gift.txn.v1", "id": "e1", "actor": "ada", "payload": {"op": "burn", "amount": 1}}
    with pytest.raises(BadInput, match="'colour' is not a field"):
        Event.from_json({**base, "colour": 1})
    with pytest.raises(BadInput, match="'actor' is required"):
        Event.from_json({k: v for k, v in base.items() if k != "actor"})
    with pytest.raises(BadInput, match="event is not JSON"):
        Event.from_json("{")


ids = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@given(
    op=st.sampled_from(["mint", "transfer", "burn"]),
    to=ids,
    amount=st.integers(min_value=1, max_value=10**12),
    memo=st.none() | st.text(max_size=50),
    event_id=st.from_regex(r"[A-Za-z0-9._:-]{1,100}", fullmatch=True),
)
def test_gift_events_round_trip(op: str, to: str, amount: int, memo: str | None, event_id: str) -> None:
    payload: dict[str, Any] = {"op": op, "amount": amount}
    if op != "burn":
        payload["to"] = to
    if memo is not None:
        payload["memo"] = memo
    event = Event("gift.txn.v1", event_id, "ada", payload)
    assert Event.from_json(json.dumps(event.to_json())) == event


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(topic=st.sampled_from(INGESTED), payload=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_payload_is_accepted_or_refused_on_one_line(topic: str, payload: dict[str, Any]) -> None:
    try:
        assert validate(topic, payload) == payload
    except BadInput as exc:
        assert str(exc).startswith(f"{topic}: payload")
        assert "\n" not in str(exc)


# --- story.yaml settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"glyphs": {"key": "opens"}}, "story.yaml: glyphs: must be a list of {id, rotation, opcode, args}"),
        (
            {"glyphs": [{"id": "key", "rotation": 45, "opcode": "emit", "args": {"body": "x"}}]},
            "story.yaml: glyphs[0].rotation: 45",
        ),
        ({"glyphs": [{"id": "key", "rotation": 0, "opcode": "fly"}]}, 'story.yaml: glyphs[0].opcode: "fly"'),
        ({"glyphs": [{"id": "key", "rotation": 0, "opcode": "create_branch"}]}, "story.yaml: glyphs[0].args"),
        (
            {"glyphs": [{"id": "key", "rotation": 0, "opcode": "tag_head", "args": {}}]},
            "story.yaml: glyphs[0].args.name: is required",
        ),
        ({"gift": {"minters": ["Ada"]}}, 'story.yaml: gift.minters[0]: "Ada" is not an id'),
        ({"phoenix": {"restarts": 3}}, "story.yaml: phoenix: needs both restarts and minutes"),
        ({"phoenix": {"restarts": 3, "minutes": 0}}, "story.yaml: phoenix.minutes: 0 is less than"),
    ],
)
def test_bad_settings_are_named(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        check_settings(settings)
    assert str(caught.value).startswith(problem), caught.value


def test_good_settings_pass() -> None:
    check_settings(
        {
            "glyphs": [
                {"id": "key", "rotation": 90, "opcode": "create_branch", "args": {"name": "vault-{n}"}},
                {"id": "key", "rotation": 0, "opcode": "open_proposal"},
                {"id": "ink", "rotation": 0, "opcode": "emit", "args": {"page": "door", "body": "Ink."}},
            ],
            "gift": {"minters": ["ada"]},
            "phoenix": {"restarts": 3, "minutes": 10, "watches": "the vault"},
        }
    )


# --- the fast path (fastjsonschema) ------------------------------------------------------------------


@pytest.fixture
def warmed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every schema already used often enough in this process to be checked by fastjsonschema first."""
    monkeypatch.setattr(schemas, "_uses", dict.fromkeys(INGESTED, schemas._FAST_AFTER))


@pytest.mark.usefixtures("warmed")
@pytest.mark.parametrize(("topic", "payload"), [(t, p) for t, ps in VALID.items() for p in ps])
def test_valid_payloads_pass_the_fast_check_too(topic: str, payload: dict[str, Any]) -> None:
    assert schemas._quickly_valid(topic, payload) == schemas._plain(payload)
    assert validate(topic, payload) == payload


@pytest.mark.usefixtures("warmed")
@pytest.mark.parametrize(("topic", "payload", "path", "problem"), BAD)
def test_bad_payloads_are_named_the_same_once_the_fast_check_is_on(
    topic: str, payload: Any, path: str, problem: str
) -> None:
    assert not schemas._quickly_valid(topic, payload)
    with pytest.raises(BadInput) as caught:
        validate(topic, payload)
    assert str(caught.value).startswith(f"{topic}: {path}: ")
    assert problem in str(caught.value)


def test_every_payload_schema_compiles_for_the_fast_check() -> None:
    for topic in INGESTED:
        assert schemas._fast(topic) is not None, topic
    # story.yaml settings use dependentRequired, which fastjsonschema reads otherwise: never fast.
    assert schemas._fast(schemas.SETTINGS_SCHEMA) is None


def _near(case: tuple[str, dict[str, Any]]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A valid payload of a topic with a few fields added or replaced by any JSON values."""
    topic, base = case
    extra = st.dictionaries(st.sampled_from([*base, "x", "from", "to"]), json_values, max_size=3)
    return st.tuples(st.just(topic), extra.map(lambda more: {**base, **more}))


near_valid = st.sampled_from([(t, p) for t, ps in VALID.items() for p in ps]).flatmap(_near)


@given(case=near_valid)
def test_the_fast_check_never_passes_what_jsonschema_refuses(case: tuple[str, dict[str, Any]]) -> None:
    topic, payload = case
    fast = schemas._fast(topic)
    assert fast is not None
    try:
        fast(payload)
    except JsonSchemaException:
        return
    if schemas._plain(payload):
        assert schemas._validator(topic).is_valid(payload), payload
