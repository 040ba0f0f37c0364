"""Limits that abusive documents cannot get round: fragment bombs, huge and overlapping documents.

Work is counted, never timed: the measurer's visits must grow with the document's text, not with what it
spreads out to, and validation must never see a document the limits refuse.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import parse
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, Visitor, visit
from starlette.testclient import TestClient
from websockets.sync.client import connect
from websockets.typing import Subprotocol

import api.graphql.limits as limits
from api.graphql.app import create_app
from api.graphql.limits import MAX_FIELDS, MAX_QUERY, MAX_TOKENS, check_document, measure
from api.graphql.schema import schema
from bench.abuse import fragment_bomb
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .serving import get_json, post_json, serve

SCHEMA = schema._schema


@pytest.fixture
def app_client() -> Iterator[TestClient]:
    """A client of a small story in memory (one backend: these tests are about documents)."""
    repo = Repository.memory()
    Writer(repo).setup()
    with TestClient(create_app(repo, close_on_shutdown=False)) as client:
        yield client


def _selections(query: str) -> int:
    """How many fields and fragment spreads/inlines the text of ``query`` holds."""
    count = 0

    class Count(Visitor):
        def enter(self, node: Any, *args: Any) -> None:
            nonlocal count
            if isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                count += 1

    visit(parse(query), Count())
    return count


def _refusal(body: dict[str, Any]) -> str:
    assert body.get("data") is None, body
    assert body["errors"] and {e["extensions"]["code"] for e in body["errors"]} == {"BAD_INPUT"}, body
    assert not any("\n" in e["message"] or "Traceback" in e["message"] for e in body["errors"])
    message: str = body["errors"][0]["message"]
    return message


# --- the measurer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10, 20, 30])
def test_a_fragment_bomb_is_measured_in_linear_work(depth: int) -> None:
    query = fragment_bomb(depth)
    found = measure(SCHEMA, parse(query), None, {})
    assert found is not None
    # Each selection of the text is looked at once, however often its fragment is spread ...
    assert found.visited == _selections(query) == 4 * depth + 1
    # ... and the figures are still those of the whole spread-out query.
    assert found.fields == 5 * 2 ** (depth - 1) - 1
    assert found.total > 2**depth and found.depth == 3


def test_work_grows_with_the_text_not_with_the_spread() -> None:
    visits = []
    for depth in (10, 20, 30):
        found = measure(SCHEMA, parse(fragment_bomb(depth)), None, {})
        assert found is not None
        visits.append(found.visited)
    assert visits[2] - visits[1] == visits[1] - visits[0] == 40


def test_fragment_cycles_and_unknown_fragments_end() -> None:
    query = """{ commit(id: "main") { ...A ...Nope } }
        fragment A on Commit { id parents { ...B } } fragment B on Commit { ...A ...B kind }"""
    found = measure(SCHEMA, parse(query), None, {})
    assert found is not None and found.visited == _selections(query)


def test_a_long_chain_of_fragments_needs_no_recursion() -> None:
    chain = " ".join(f"fragment P{i} on Commit {{ parents {{ ...P{i + 1} }} }}" for i in range(900))
    query = f'{{ commit(id: "main") {{ ...P0 }} }} {chain} fragment P900 on Commit {{ id }}'
    assert check_document(SCHEMA, parse(query), None, {}) == "query too deep: 902 levels, at most 12"


def test_introspection_counts_towards_the_fields() -> None:
    fragments = ["fragment T0 on __Type { name }"]
    fragments += [f"fragment T{i} on __Type {{ ofType {{ ...T{i - 1} }} ...T{i - 1} }}" for i in range(1, 25)]
    query = "{ __schema { types { ...T24 } } } " + " ".join(fragments)
    problem = check_document(SCHEMA, parse(query), None, {})
    assert problem is not None and problem.startswith("query too large") and str(MAX_FIELDS) in problem


# --- over HTTP and the websocket --------------------------------------------------------------------


def test_the_bomb_is_refused_before_validation(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[object] = []
    real = limits.validate

    def counting(*args: Any) -> Any:
        validated.append(args)
        return real(*args)

    monkeypatch.setattr(limits, "validate", counting)
    response = app_client.post("/graphql", json={"query": fragment_bomb(24)})
    assert _refusal(response.json()).startswith("query too large: ")
    assert validated == []
    assert app_client.post("/graphql", json={"query": "{ branches { name } }"}).json()["data"]
    assert len(validated) == 1


def test_the_bomb_is_refused_over_the_websocket(app_client: TestClient) -> None:
    with app_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text(json.dumps({"type": "connection_init", "payload": {}}))
        assert ws.receive_json() == {"type": "connection_ack"}
        for sub_id, operation in (("1", "subscription"), ("2", "query")):
            payload = {"query": fragment_bomb(24, operation)}
            ws.send_text(json.dumps({"type": "subscribe", "id": sub_id, "payload": payload}))
            message = ws.receive_json()
            assert (message["id"], message["type"]) == (sub_id, "error")
            assert _refusal({"errors": message["payload"]}).startswith("query too large: ")
        ws.send_text(
            json.dumps({"type": "subscribe", "id": "3", "payload": {"query": "{ branches { name } }"}})
        )
        assert ws.receive_json()["payload"] == {"data": {"branches": [{"name": "main"}]}}


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("{ branches { name } }" + " " * MAX_QUERY, "Syntax Error: Source contains more than"),
        ("{ branches { " + "name " * MAX_TOKENS + "} }", f"more than {MAX_TOKENS} tokens"),
        ("{ branches { name } }" + "\n# comment" * MAX_TOKENS, f"more than {MAX_TOKENS} tokens"),
        # Ten fields of one name, each holding ten more: validation would compare them pairwise.
        (
            '{ commit(id: "main") { ' + " ".join(["parents { " + "parents { id } " * 10 + "}"] * 10) + " } }",
            "query too complex to validate",
        ),
        (
            '{ commit(id: "main") { '
            + " ".join(f"...F{i}" for i in range(10))
            + " } } "
            + " ".join(f"fragment F{i} on Commit {{ {'parents { id shortId } ' * 5}}}" for i in range(10)),
            "query too complex to validate",
        ),
        (
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            "introspection depth",
        ),
        ('{ commit(id: "main") { ' + " ".join(f"a{i}: id" for i in range(51)) + " } }", "too many aliases"),
    ],
    ids=[
        "characters",
        "tokens",
        "comments",
        "repeated-fields",
        "overlapping-fragments",
        "introspection",
        "aliases",
    ],
)
def test_documents_over_a_limit_are_bad_input(app_client: TestClient, query: str, refusal: str) -> None:
    response = app_client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    assert refusal in _refusal(response.json())


def test_many_validation_errors_are_cut_short(app_client: TestClient) -> None:
    query = "{ " + " ".join(f"nope{i}" for i in range(300)) + " }"
    errors = app_client.post("/graphql", json={"query": query}).json()["errors"]
    assert len(errors) == limits.MAX_ERRORS + 1
    assert {e["extensions"]["code"] for e in errors} == {"BAD_INPUT"}


def test_fragments_that_overlap_a_little_are_fine(app_client: TestClient) -> None:
    query = """{ branch(name: "main") { head { ...C ...D parents { ...C } } } }
        fragment C on Commit { id shortId subject actor { id name } parents { id } }
        fragment D on Commit { id kind changedPages actor { id kind } parents { id shortId } }"""
    body = app_client.post("/graphql", json={"query": query}).json()
    assert "errors" not in body and body["data"]["branch"]["head"]["kind"] == "edit"


def test_a_subscription_over_plain_http_is_refused(app_client: TestClient) -> None:
    response = app_client.post("/graphql", json={"query": "subscription { commitAdded { branch } }"})
    assert response.status_code == 400
    assert "subscriptions are not allowed" in _refusal(response.json())


# --- a real server stays responsive ------------------------------------------------------------------


def test_health_answers_while_bombs_are_sent(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    Writer(repo).setup()
    repo.close()
    with serve(tmp_path / "story") as server:
        stop = threading.Event()
        refused: list[str] = []
        failures: list[BaseException] = []

        def http_bombs(depth: int) -> None:
            try:
                while not stop.is_set():
                    refused.append(
                        _refusal(post_json(f"{server.base}/graphql", {"query": fragment_bomb(depth)}))
                    )
            except BaseException as exc:  # reported by the test below
                failures.append(exc)

        def ws_bombs() -> None:
            url = f"ws://127.0.0.1:{server.port}/graphql"
            try:
                with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
                    ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                    assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
                    n = 0
                    while not stop.is_set():
                        n += 1
                        payload = {"query": fragment_bomb(30, "subscription")}
                        ws.send(json.dumps({"type": "subscribe", "id": str(n), "payload": payload}))
                        message = json.loads(ws.recv(timeout=10))
                        refused.append(_refusal({"errors": message["payload"]}))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=http_bombs, args=(d,)) for d in (24, 28, 30)]
        threads.append(threading.Thread(target=ws_bombs))
        for thread in threads:
            thread.start()
        try:
            answered = 0
            while answered < 30 or len(refused) < 30:
                # Each answer must come within the client's timeout, bombs or not.
                with urllib.request.urlopen(f"{server.base}/health", timeout=5) as response:
                    assert response.status == 200 and json.load(response)["ok"] is True
                answered += 1
                assert not failures, failures
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert not failures, failures
        assert all(message.startswith("query too large") for message in refused)
        assert get_json(f"{server.base}/health")["ok"] is True
