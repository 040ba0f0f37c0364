"""Events over the API: the ``emitEvent`` mutation and ``POST /events/{topic}`` (every backend), and a
real server streaming an event's commit to a ``/events`` subscriber."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.access import create_token
from narrative_vcs.events import balances
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .conftest import Story, Tokens, data, error_codes, gql
from .serving import get_json, serve

EMIT = """mutation($input: EmitEventInput!) { emitEvent(input: $input) {
    eventId branch duplicate commit { id kind eventId event subject actor { id } } } }"""
MINT = {"op": "mint", "to": "ada", "amount": 5}


def emit(client: TestClient, topic: str, payload: Any, **fields: Any) -> dict[str, Any]:
    return gql(client, EMIT, {"input": {"topic": topic, "payload": payload, **fields}})


# --- emitEvent -------------------------------------------------------------------------------------------


def test_emit_event_commits_as_the_tokens_actor(client: TestClient, repo: Repository, story: Story) -> None:
    body = emit(client, "gift.txn.v1", MINT, id="g-1")
    assert "errors" not in body, body
    result = body["data"]["emitEvent"]
    assert (result["eventId"], result["branch"], result["duplicate"]) == ("g-1", "main", False)
    commit = result["commit"]
    assert (commit["kind"], commit["eventId"], commit["event"], commit["actor"]["id"]) == (
        "gift.txn.v1",
        "g-1",
        MINT,
        "ada",
    )
    assert commit["id"] == repo.branch_head("main")
    again = data(client, EMIT, {"input": {"topic": "gift.txn.v1", "payload": MINT, "id": "g-1"}})["emitEvent"]
    assert again["duplicate"] is True and again["commit"]["id"] == commit["id"]
    assert balances(repo, "main") == {"ada": 5}


def test_emit_event_on_an_agents_branch(
    client: TestClient, repo: Repository, tokens: Tokens, story: Story
) -> None:
    payload = {"page": "door", "body": "Bot's door.", "mode": "replace", "force": True}
    variables = {"input": {"topic": "agent.emit.v1", "payload": payload}}
    result = data(client, EMIT, variables, headers=tokens.auth("bot"))["emitEvent"]
    assert result["branch"] == "agents/bot" and result["commit"]["subject"] == "Revise door"
    assert repo.read_page("door", "agents/bot").body == "Bot's door.\n"
    assert len(result["eventId"]) == 32  # a new id


@pytest.mark.parametrize(
    ("topic", "payload", "fields", "code", "words"),
    [
        (
            "gift.txn.v1",
            {"op": "mint", "to": "ada", "amount": -5},
            {},
            "BAD_INPUT",
            "payload.amount: -5 is less",
        ),
        ("gift.txn.v1", [1], {}, "BAD_INPUT", "payload must be a JSON object"),
        ("gift.v2", {}, {}, "BAD_INPUT", "unknown event topic"),
        ("narrative.change.v1", {}, {}, "BAD_INPUT", "cannot be ingested"),
        ("gift.txn.v1", MINT, {"id": "bad id"}, "BAD_INPUT", "invalid event id"),
        ("gift.txn.v1", MINT, {"branch": "nowhere"}, "NOT_FOUND", "branch 'nowhere' not found"),
        ("gift.txn.v1", {"op": "mint", "to": "zed", "amount": 1}, {}, "NOT_FOUND", "unknown recipient 'zed'"),
        ("gift.txn.v1", {"op": "burn", "amount": 1}, {}, "REFUSED", "ada has 0 tokens, cannot burn 1"),
        ("ritual.performed.v1", {"glyph": "moon", "rotation": 0}, {}, "REFUSED", "not in the glyph table"),
    ],
)
def test_emit_event_errors_are_typed(
    client: TestClient,
    repo: Repository,
    story: Story,
    topic: str,
    payload: Any,
    fields: dict[str, Any],
    code: str,
    words: str,
) -> None:
    tip = repo.branch_head("main")
    body = emit(client, topic, payload, **fields)
    assert error_codes(body) == [code]
    assert words in body["errors"][0]["message"] and "\n" not in body["errors"][0]["message"]
    assert repo.branch_head("main") == tip


def test_emit_event_with_a_used_id_for_another_event_is_a_conflict(
    client: TestClient, repo: Repository, tokens: Tokens, story: Story
) -> None:
    first = data(client, EMIT, {"input": {"topic": "gift.txn.v1", "payload": MINT, "id": "g-1"}})["emitEvent"]
    commit = first["commit"]["id"]
    tip = repo.branch_head("main")
    body = emit(client, "gift.txn.v1", {**MINT, "amount": 6}, id="g-1")
    assert error_codes(body) == ["CONFLICT"]
    message = body["errors"][0]["message"]
    assert message.startswith(f"event g-1 is already on main as {commit[:10]} with a different payload")
    as_cal = gql(
        client, EMIT, {"input": {"topic": "gift.txn.v1", "payload": MINT, "id": "g-1"}}, tokens.auth("cal")
    )
    assert error_codes(as_cal) == ["CONFLICT"] and "different actor" in as_cal["errors"][0]["message"]
    assert repo.branch_head("main") == tip and balances(repo, "main") == {"ada": 5}
    again = data(client, EMIT, {"input": {"topic": "gift.txn.v1", "payload": MINT, "id": "g-1"}})["emitEvent"]
    assert again["duplicate"] is True and again["commit"]["id"] == commit


def test_emit_event_with_a_deep_payload_is_bad_input(
    client: TestClient, repo: Repository, story: Story
) -> None:
    deep: Any = []
    for _ in range(200):
        deep = [deep]
    tip = repo.branch_head("main")
    body = emit(client, "gift.txn.v1", {**MINT, "memo": deep})
    assert error_codes(body) == ["BAD_INPUT"]
    assert body["errors"][0]["message"] == "gift.txn.v1: payload: nested deeper than 64 levels"
    assert repo.branch_head("main") == tip


def test_emit_event_needs_a_token(repo: Repository, story: Story) -> None:
    with TestClient(create_app(repo, close_on_shutdown=False)) as anonymous:
        assert error_codes(emit(anonymous, "gift.txn.v1", MINT)) == ["UNAUTHENTICATED"]


# --- POST /events/{topic} ---------------------------------------------------------------------------------


def test_post_an_event(client: TestClient, repo: Repository, story: Story) -> None:
    response = client.post("/events/gift.txn.v1", json=MINT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["branch"] == "main" and body["duplicate"] is False and len(body["eventId"]) == 32
    assert body["commit"] == repo.branch_head("main")
    envelope = {"id": "p-1", "payload": {"op": "transfer", "to": "cal", "amount": 2}}
    first = client.post("/events/gift.txn.v1", json=envelope)
    assert first.status_code == 201 and first.json()["eventId"] == "p-1"
    again = client.post("/events/gift.txn.v1", json=envelope)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert balances(repo, "main") == {"ada": 3, "cal": 2}


def test_post_a_used_id_for_another_event_is_409(client: TestClient, repo: Repository, story: Story) -> None:
    first = client.post("/events/gift.txn.v1", json={"id": "p-9", "payload": MINT})
    assert first.status_code == 201, first.text
    tip = repo.branch_head("main")
    response = client.post("/events/gift.txn.v1", json={"id": "p-9", "payload": {**MINT, "amount": 1}})
    assert response.status_code == 409, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"].startswith(f"event p-9 is already on main as {first.json()['commit'][:10]} ")
    assert repo.branch_head("main") == tip
    assert client.post("/events/gift.txn.v1", json={"id": "p-9", "payload": MINT}).status_code == 200


def test_post_an_event_to_a_branch_at_a_time(client: TestClient, repo: Repository, story: Story) -> None:
    envelope = {"id": "p-2", "payload": MINT, "branch": "alt", "time": 1_800_000_000}
    response = client.post("/events/gift.txn.v1", json=envelope)
    assert response.status_code == 201, response.text
    assert response.json()["branch"] == "alt"
    assert repo.commits.get(response.json()["commit"]).time == 1_800_000_000


@pytest.mark.parametrize(
    ("topic", "body", "headers", "status", "code"),
    [
        ("gift.txn.v1", b"{nope", {}, 400, "BAD_INPUT"),
        ("gift.txn.v1", json.dumps({"op": "mint", "amount": 1}).encode(), {}, 400, "BAD_INPUT"),
        ("nope.v1", b"{}", {}, 400, "BAD_INPUT"),
        ("gift.txn.v1", json.dumps(MINT).encode(), {"authorization": "Bearer nope"}, 401, "UNAUTHENTICATED"),
        ("gift.txn.v1", json.dumps({"payload": MINT, "branch": "x"}).encode(), {}, 404, "NOT_FOUND"),
        ("gift.txn.v1", json.dumps({"op": "burn", "amount": 9}).encode(), {}, 409, "REFUSED"),
    ],
)
def test_post_errors(
    client: TestClient, story: Story, topic: str, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.post(
        f"/events/{topic}", content=body, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == [code]
    assert "\n" not in errors[0]["message"]


def test_post_without_a_token_is_401(repo: Repository, story: Story) -> None:
    with TestClient(create_app(repo, close_on_shutdown=False)) as anonymous:
        response = anonymous.post("/events/gift.txn.v1", json=MINT)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.get("/events/gift.txn.v1").status_code in (404, 405)


# --- a real server: the event's commit reaches a subscriber ------------------------------------------


def test_a_posted_event_reaches_the_event_stream(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    Writer(repo).setup()
    token = create_token(repo.access, "ada")[1]
    repo.close()
    auth = {"authorization": f"Bearer {token}"}
    with serve(tmp_path / "story") as server:
        stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        stream.request("GET", "/events?branch=main", headers=auth)
        response = stream.getresponse()
        try:
            deadline = time.monotonic() + 10
            while get_json(f"{server.base}/health")["subscribers"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            post = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
            post.request(
                "POST",
                "/events/gift.txn.v1",
                body=json.dumps({"id": "live-1", "payload": MINT}),
                headers={**auth, "content-type": "application/json"},
            )
            posted = post.getresponse()
            assert posted.status == 201
            commit = json.loads(posted.read())["commit"]
            post.close()
            while True:
                line = response.readline().decode()
                assert line, "the stream ended"
                if line.startswith("data: "):
                    break
            event = json.loads(line[len("data: ") :])
            assert (event["id"], event["kind"], event["eventId"], event["event"]) == (
                commit,
                "gift.txn.v1",
                "live-1",
                MINT,
            )
        finally:
            stream.close()


def test_a_real_server_answers_409_for_a_used_id_and_another_payload(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    Writer(repo).setup()
    token = create_token(repo.access, "ada")[1]
    repo.close()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    def post(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        try:
            body = json.dumps({"id": "live-2", "payload": payload})
            connection.request("POST", "/events/gift.txn.v1", body=body, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    with serve(tmp_path / "story") as server:
        status, first = post(MINT)
        assert status == 201
        status, conflict = post({**MINT, "amount": 7})
        assert status == 409
        assert conflict["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert f"as {first['commit'][:10]} with a different payload" in conflict["errors"][0]["message"]
        assert post(MINT) == (200, {**first, "duplicate": True})
