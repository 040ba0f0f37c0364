"""The story's world over GraphQL, on every backend: ledger balances, spores and their health, ritual
counts, event commits by topic, and the pages that follow a page."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from narrative_vcs.objects import Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Writer

from .conftest import data, error_codes, gql

GLYPHS = [
    {"id": "key", "rotation": 90, "opcode": "create_branch", "args": {"name": "vault-{n}"}},
    {"id": "key", "rotation": 180, "opcode": "tag_head", "args": {"name": "turned-{n}"}},
]
STORY = Story("Night Shift", (("glyphs", GLYPHS), ("phoenix", {"restarts": 2, "minutes": 10})))


@dataclass
class World:
    minted: ObjectId  # main after ada's mint, before she sends bot tokens
    sent: ObjectId
    first_ritual: ObjectId
    spores_added: ObjectId  # mycelium with both spores healthy


@pytest.fixture
def world(repo: Repository, writer: Writer) -> World:
    """Pages prologue, door and hall (both follow prologue), coda (follows door); the glyph table; ada
    mints 10 and sends bot 4; key turned to 180 twice and to 90 once; on mycelium spore db turns
    unhealthy and spore web restarts three times within ten minutes (an incident and its hearing)."""
    writer.setup()
    changes = ChangeSet().set_story(STORY).upsert_page(Page("prologue", "Prologue", "It begins."))
    changes.upsert_page(Page("door", "Door", "The door.", ("prologue",)))
    changes.upsert_page(Page("hall", "Hall", "The hall.", ("prologue",)))
    changes.upsert_page(Page("coda", "Coda", "The end.", ("door",)))
    writer.commit(changes, message="The story")
    minted = writer.event("gift.txn.v1", {"op": "mint", "to": "ada", "amount": 10})
    sent = writer.event("gift.txn.v1", {"op": "transfer", "to": "bot", "amount": 4})
    first_ritual = writer.event("ritual.performed.v1", {"glyph": "key", "rotation": 180})
    writer.event("ritual.performed.v1", {"glyph": "key", "rotation": 180})
    writer.event("ritual.performed.v1", {"glyph": "key", "rotation": 90})
    writer.event("infra.spore.v1", {"spore": "db", "op": "added", "type": "database"}, branch="mycelium")
    added = writer.event("infra.spore.v1", {"spore": "web", "op": "added"}, branch="mycelium")
    writer.event(
        "mycelium.decay.v1", {"spore": "db", "state": "unhealthy", "reason": "slow"}, branch="mycelium"
    )
    for _ in range(3):
        writer.event("mycelium.decay.v1", {"spore": "web", "state": "restarted"}, branch="mycelium")
    return World(minted, sent, first_ritual, added)


LEDGER = """query($rev: String) { ledger(rev: $rev) {
    revision total balances { actor amount } bot: balance(actor: "bot") cal: balance(actor: "cal") } }"""


def test_ledger_balances_per_actor(client: TestClient, repo: Repository, world: World) -> None:
    now = data(client, LEDGER)["ledger"]
    assert now["revision"] == repo.branch_head("main")
    assert now["balances"] == [{"actor": "ada", "amount": 6}, {"actor": "bot", "amount": 4}]
    assert (now["total"], now["bot"], now["cal"]) == (10, 4, 0)
    then = data(client, LEDGER, {"rev": world.minted[:12]})["ledger"]
    assert then["revision"] == world.minted
    assert then["balances"] == [{"actor": "ada", "amount": 10}] and then["bot"] == 0
    story_only = data(client, LEDGER, {"rev": f"{world.minted}~1"})["ledger"]  # before any gift
    assert story_only["balances"] == [] and story_only["total"] == 0


def test_ledger_errors(client: TestClient, world: World) -> None:
    assert error_codes(gql(client, LEDGER, {"rev": "nope"})) == ["NOT_FOUND"]
    bad = gql(client, '{ ledger { balance(actor: "../x") } }')
    assert error_codes(bad) == ["BAD_INPUT"] and "invalid actor id" in bad["errors"][0]["message"]


SPORES = """query($rev: String) { spores(rev: $rev) {
    id type status reason spec added updated restarts incident { since event restarts hearing } } }"""


def test_spores_and_their_health(client: TestClient, repo: Repository, world: World) -> None:
    db, web = data(client, SPORES)["spores"]
    assert (db["id"], db["type"], db["status"], db["reason"]) == ("db", "database", "unhealthy", "slow")
    assert db["spec"] == {} and db["incident"] is None and db["restarts"] == []
    assert (web["id"], web["type"], web["status"]) == ("web", None, "restarted")
    assert len(web["restarts"]) == 3 and web["updated"] == web["restarts"][-1]
    incident = web["incident"]
    assert incident["restarts"] == 3 and incident["hearing"] is True
    assert incident["since"] == web["restarts"][-1]
    # The hearing the phoenix rule opened is a proposal on the mycelium branch.
    hearing = data(client, "{ proposal(number: 1) { hearing target } }")["proposal"]
    assert hearing == {"hearing": True, "target": "mycelium"}
    earlier = data(client, SPORES, {"rev": world.spores_added})["spores"]
    assert [(s["id"], s["status"], s["incident"]) for s in earlier] == [
        ("db", "healthy", None),
        ("web", "healthy", None),
    ]
    assert data(client, SPORES, {"rev": "main"})["spores"] == []  # main has no infra/
    assert error_codes(gql(client, SPORES, {"rev": "nope"})) == ["NOT_FOUND"]


def test_no_spores_before_the_mycelium_branch(client: TestClient, writer: Writer) -> None:
    writer.setup()
    assert data(client, SPORES)["spores"] == []


RITUALS = (
    "query($rev: String) { rituals(rev: $rev) { revision total counts { glyph rotation count opcode } } }"
)


def test_ritual_counts_with_their_opcodes(
    client: TestClient, repo: Repository, writer: Writer, world: World
) -> None:
    now = data(client, RITUALS)["rituals"]
    assert now["revision"] == repo.branch_head("main") and now["total"] == 3
    assert now["counts"] == [
        {"glyph": "key", "rotation": 90, "count": 1, "opcode": "create_branch"},
        {"glyph": "key", "rotation": 180, "count": 2, "opcode": "tag_head"},
    ]
    first = data(client, RITUALS, {"rev": world.first_ritual})["rituals"]
    assert first["counts"] == [{"glyph": "key", "rotation": 180, "count": 1, "opcode": "tag_head"}]
    assert data(client, RITUALS, {"rev": world.sent})["rituals"] == {
        "revision": world.sent,
        "total": 0,
        "counts": [],
    }
    # A count whose glyph the table no longer has keeps its count; its opcode is null.
    changed = writer.commit(ChangeSet().set_story(Story("Night Shift", (("glyphs", GLYPHS[:1]),))))
    counts = data(client, RITUALS, {"rev": changed})["rituals"]["counts"]
    assert [c["opcode"] for c in counts] == ["create_branch", None]


EVENTS = """query($topic: String!, $branch: String, $first: Int!, $after: String) {
    events(topic: $topic, branch: $branch, first: $first, after: $after) {
      edges { cursor node { id kind subject eventId event } } pageInfo { hasNextPage endCursor } } }"""


def _events(client: TestClient, topic: str, branch: str | None = None, first: int = 20) -> list[str]:
    """Every page of a listing, followed through its cursors: the subjects."""
    subjects: list[str] = []
    after = None
    while True:
        variables = {"topic": topic, "branch": branch, "first": first, "after": after}
        found = data(client, EVENTS, variables)["events"]
        subjects.extend(e["node"]["subject"] for e in found["edges"])
        if not found["pageInfo"]["hasNextPage"]:
            return subjects
        after = found["pageInfo"]["endCursor"]


def test_events_by_topic(client: TestClient, repo: Repository, world: World) -> None:
    gifts = data(client, EVENTS, {"topic": "gift.txn.v1", "first": 5})["events"]
    assert [e["node"]["id"] for e in gifts["edges"]] == [world.sent, world.minted]
    node = gifts["edges"][0]["node"]
    assert node["kind"] == "gift.txn.v1" and node["event"] == {"op": "transfer", "to": "bot", "amount": 4}
    assert gifts["pageInfo"]["hasNextPage"] is False
    rituals = _events(client, "ritual.performed.v1", first=1)
    assert rituals == [
        "Ritual key at 90°: create branch vault-1",
        "Ritual key at 180°: tag turned-2",
        "Ritual key at 180°: tag turned-1",
    ]
    # Every branch by default; one branch when asked.
    assert len(_events(client, "mycelium.decay.v1", first=2)) == 4
    assert _events(client, "mycelium.decay.v1", branch="main") == []
    assert _events(client, "infra.spore.v1", branch="mycelium") == [
        "Spore web added",
        "Spore db (database) added",
    ]
    assert _events(client, "agent.emit.v1") == []


@pytest.mark.parametrize(
    ("topic", "branch", "code", "message"),
    [
        ("gift", None, "BAD_INPUT", "unknown event topic 'gift': use one of agent.emit.v1, "),
        ("narrative.change.v1", None, "BAD_INPUT", "narrative.change.v1 is published, not committed"),
        ("gift.txn.v1", "nope", "NOT_FOUND", "branch 'nope' not found"),
        ("gift.txn.v1", "../x", "BAD_INPUT", "invalid branch name '../x'"),
    ],
)
def test_events_errors(
    client: TestClient, world: World, topic: str, branch: str | None, code: str, message: str
) -> None:
    body = gql(client, EVENTS, {"topic": topic, "branch": branch, "first": 5})
    assert error_codes(body) == [code]
    assert body["errors"][0]["message"].startswith(message)


def test_events_page_size_is_limited(client: TestClient, world: World) -> None:
    body = gql(client, EVENTS, {"topic": "gift.txn.v1", "first": 201})
    assert error_codes(body) == ["BAD_INPUT"]


FOLLOWED = """query($id: String!, $rev: String! = "HEAD") { page(id: $id, rev: $rev) {
    followedBy { id title revision followedBy { id } } } }"""


def test_pages_that_follow_a_page(client: TestClient, repo: Repository, writer: Writer, world: World) -> None:
    found = data(client, FOLLOWED, {"id": "prologue"})["page"]["followedBy"]
    head = repo.branch_head("main")
    assert found == [
        {"id": "door", "title": "Door", "revision": head, "followedBy": [{"id": "coda"}]},
        {"id": "hall", "title": "Hall", "revision": head, "followedBy": []},
    ]
    assert data(client, FOLLOWED, {"id": "coda"})["page"]["followedBy"] == []
    # At the revision asked for: after hall stops following prologue, only door does.
    moved = writer.page("hall", "The hall.", title="Hall", follows=("door",))
    assert [p["id"] for p in data(client, FOLLOWED, {"id": "prologue"})["page"]["followedBy"]] == ["door"]
    by_door = data(client, FOLLOWED, {"id": "door", "rev": moved})["page"]["followedBy"]
    assert [p["id"] for p in by_door] == ["coda", "hall"]
    old = data(client, FOLLOWED, {"id": "prologue", "rev": head})["page"]["followedBy"]
    assert [p["id"] for p in old] == ["door", "hall"]
