"""Malformed requests get a typed error and a 4xx, never a 500 or a stack trace: bodies that are not a
GraphQL request, not JSON, not UTF-8 or nested too deep, bodies over the limit, content types other than
JSON, and a damaged access file (writes refused, reads served under the read policy)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.access import READS, create_token
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .serving import Served, serve

READ = {"query": "{ branches { name } }"}
WRITE = {"query": 'mutation { createBranch(name: "side") { name } }'}
MINT = {"op": "mint", "amount": 5}
JSON_TYPE = {"content-type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def _error(status: int, text: str, want: int, code: str = "BAD_INPUT") -> str:
    """The one error of a response in the API's shape; its message."""
    assert status == want, text
    assert "Traceback" not in text
    body = json.loads(text)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code, body
    message: str = error["message"]
    assert message and "\n" not in message
    return message


def _refused(response: Any, want: int, code: str = "BAD_INPUT") -> str:
    return _error(response.status_code, response.text, want, code)


@dataclass
class Story:
    """A story on disk (so its access file is a real file) and a token acting as ada."""

    root: Path
    token: str

    @property
    def access_file(self) -> Path:
        return self.root / ".gvcs" / "gvcs-access.json"

    def open(self) -> Repository:
        return open_repository(self.root)


@pytest.fixture
def story(tmp_path: Path) -> Story:
    repo = init_repository(tmp_path / "story")
    Writer(repo).setup()
    token = create_token(repo.access, "ada")[1]
    repo.close()
    return Story(tmp_path / "story", token)


@pytest.fixture
def repo(story: Story) -> Iterator[Repository]:
    opened = story.open()
    yield opened
    opened.close()


@pytest.fixture
def client(repo: Repository, story: Story) -> Iterator[TestClient]:
    app = create_app(repo, close_on_shutdown=False)
    with TestClient(app, headers={"authorization": f"Bearer {story.token}"}) as test_client:
        yield test_client


# --- bodies ------------------------------------------------------------------------------------------

BAD_BODIES = [
    (b'"hello"', "must be a JSON object"),
    (b"null", "must be a JSON object"),
    (b"17", "must be a JSON object"),
    (b"[]", "Batching is not enabled"),
    (b'\xff\xfe{"query": "{ branches { name } }"}', "not UTF-8"),
    (b'{"query": "{ branches { name } }"', "not JSON"),
    (DEEP, "nested deeper than"),
    (b'{"query": "{ branches { name } }", "variables": {"v": ' + DEEP + b"}}", "nested deeper than"),
    (b'{"query": 5}', "must be a string"),
    (b'{"query": "{ branches { name } }", "variables": [1]}', "must be an object"),
    (b"{}", "No GraphQL query"),
]


@pytest.mark.parametrize(("body", "says"), BAD_BODIES, ids=[str(i) for i in range(len(BAD_BODIES))])
def test_a_body_that_is_not_a_graphql_request_is_400(client: TestClient, body: bytes, says: str) -> None:
    assert says in _refused(client.post("/graphql", content=body, headers=JSON_TYPE), 400)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'"hello"', "payload must be a JSON object"),
        (b"null", "payload must be a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (DEEP, "nested deeper than"),
        (b'{"payload": ' + b"[" * 300 + b"]" * 300 + b"}", "nested deeper than"),
    ],
)
def test_a_malformed_event_body_is_400(client: TestClient, body: bytes, says: str) -> None:
    assert says in _refused(client.post("/events/gift.txn.v1", content=body, headers=JSON_TYPE), 400)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "json"],
)
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    message = _refused(client.post("/graphql", content=json.dumps(READ), headers=headers), 415)
    assert "application/json" in message
    event = client.post("/events/gift.txn.v1", content=json.dumps(MINT), headers=headers)
    _refused(event, 415)


def test_json_in_any_spelling_is_taken(client: TestClient) -> None:
    for content_type in (
        "application/json",
        "Application/JSON; charset=UTF-8",
        'application/json;charset="utf-8"',
    ):
        response = client.post("/graphql", content=json.dumps(READ), headers={"content-type": content_type})
        assert response.json() == {"data": {"branches": [{"name": "main"}]}}
    # The explorer page and its assets are not JSON requests.
    assert client.get("/graphql", headers={"accept": "text/html"}).status_code == 200


def test_what_the_router_refuses_is_in_the_api_shape(client: TestClient) -> None:
    _refused(client.get("/nope"), 404, "NOT_FOUND")
    _refused(client.put("/graphql", content=b"{}", headers=JSON_TYPE), 405)
    _refused(client.get("/events/gift.txn.v1"), 405)
    _refused(client.get("/graphql", params={"query": "{ branches { name } }"}), 400)
    _refused(client.get("/health", headers={"content-length": "12a"}), 400)


# --- a real server ---------------------------------------------------------------------------------


@pytest.fixture
def server(story: Story) -> Iterator[tuple[Served, str]]:
    with serve(story.root) as served:
        yield served, story.token


def _post(served: Served, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST with urllib, which says ``Connection: close``: the server must answer before it closes."""
    request = urllib.request.Request(f"{served.base}{path}", data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_real_server_answers_malformed_bodies_with_400(server: tuple[Served, str]) -> None:
    served, token = server
    auth = {"authorization": f"Bearer {token}", **JSON_TYPE}
    for body, says in BAD_BODIES:
        assert says in _error(*_post(served, "/graphql", body, JSON_TYPE), 400)
    assert "not UTF-8" in _error(*_post(served, "/events/gift.txn.v1", b"\xff\xfe{}", auth), 400)
    assert "deeper" in _error(*_post(served, "/events/gift.txn.v1", DEEP, auth), 400)
    _error(
        *_post(
            served, "/events/gift.txn.v1", json.dumps(MINT).encode(), {**auth, "content-type": "text/plain"}
        ),
        415,
    )
    assert _post(served, "/graphql", json.dumps(READ).encode(), JSON_TYPE)[0] == 200


def test_a_body_over_the_limit_is_answered_413_not_reset(server: tuple[Served, str]) -> None:
    served, token = server
    big = b"x" * (50 << 20)
    auth = {"authorization": f"Bearer {token}", **JSON_TYPE}
    for path, headers in (("/graphql", JSON_TYPE), ("/events/gift.txn.v1", auth)):
        assert "too large" in _error(*_post(served, path, big, headers), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
            for start in range(0, len(big), 1 << 20):
                yield big[start : start + (1 << 20)]

        chunked = {**headers, "transfer-encoding": "chunked"}
        assert "too large" in _error(*_post(served, path, chunks(), chunked), 413)
    # A client that waits for "100 Continue" is answered at once, without sending its body.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes
            answer += chunk
        answer_text = answer.decode()
    assert answer_text.startswith("HTTP/1.1 413") and "request body too large" in answer_text
    assert _post(served, "/graphql", json.dumps(READ).encode(), JSON_TYPE)[0] == 200


# --- a damaged access file -------------------------------------------------------------------------

DAMAGES = {
    "garbage": "\x00not json at all {{{",
    "truncated": None,  # the file cut in the middle
    "wrong-shape": json.dumps({"tokens": "nope", "settings": {}}),
    "wrong-records": json.dumps({"tokens": [1, {"id": "x"}], "settings": {}}),
    "a-list": "[]",
}


def _damage(story: Story, how: str) -> str:
    """Damage the access file; returns what it held, to repair it."""
    good = story.access_file.read_text()
    damaged = DAMAGES[how]
    story.access_file.write_text(good[: len(good) // 2] if damaged is None else damaged)
    return good


def _access_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "access file" in r.getMessage()]


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_damaged_access_file_refuses_writes_and_serves_reads(
    repo: Repository, story: Story, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    ada = {"authorization": f"Bearer {story.token}"}
    with TestClient(create_app(repo, close_on_shutdown=False)) as client:
        assert client.post("/graphql", json=READ).status_code == 200  # the policy is read: open
        good = _damage(story, how)
        with caplog.at_level(logging.INFO, logger="gvcs.api"):
            # A malformed token is refused without the file.
            _refused(
                client.post("/graphql", json=READ, headers={"authorization": "Bearer x"}),
                401,
                "UNAUTHENTICATED",
            )
            for headers in (ada, {}):
                answer = client.post("/graphql", json=READ, headers=headers).json()
                assert answer == {"data": {"branches": [{"name": "main"}]}}
            for headers in (ada, {}):
                write = client.post("/graphql", json=WRITE, headers=headers).json()
                assert write["data"] is None
                assert [e["extensions"]["code"] for e in write["errors"]] == ["CORRUPT"]
                event = client.post("/events/gift.txn.v1", json=MINT, headers=headers)
                assert "access file" in _refused(event, 503, "CORRUPT")
        assert repo.branch_head("side") is None
        (line,) = _access_log(caplog)
        assert line.levelno == logging.ERROR and line.exc_info is None and "\n" not in line.getMessage()
        assert "reads: open" in line.getMessage()
        story.access_file.write_text(good)
        assert client.post("/graphql", json=WRITE, headers=ada).json() == {
            "data": {"createBranch": {"name": "side"}}
        }


def test_a_damaged_file_keeps_a_token_policy_closed(
    repo: Repository, story: Story, caplog: pytest.LogCaptureFixture
) -> None:
    repo.access.set_setting(READS, "token")
    with TestClient(create_app(repo, close_on_shutdown=False)) as anonymous:
        _refused(anonymous.post("/graphql", json=READ), 401, "UNAUTHENTICATED")  # the policy is read
        _damage(story, "garbage")
        with caplog.at_level(logging.INFO, logger="gvcs.api"):
            # No token can be checked, and the story is not opened to anyone.
            ada = {"authorization": f"Bearer {story.token}"}
            _refused(anonymous.post("/graphql", json=READ, headers=ada), 503, "CORRUPT")
            _refused(anonymous.post("/graphql", json=READ), 503, "CORRUPT")
    assert len(_access_log(caplog)) == 1 and "reads: token" in _access_log(caplog)[0].getMessage()


def test_a_file_damaged_before_the_server_starts_closes_reads(repo: Repository, story: Story) -> None:
    good = _damage(story, "truncated")
    with TestClient(create_app(repo, close_on_shutdown=False)) as anonymous:
        _refused(anonymous.post("/graphql", json=READ), 503, "CORRUPT")
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/graphql", headers={"accept": "text/html"}).status_code == 200
        story.access_file.write_text(good)
        assert anonymous.post("/graphql", json=READ).status_code == 200


def test_a_damaged_file_over_the_websocket(client: TestClient, story: Story) -> None:
    _damage(story, "garbage")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {story.token}"}}
        ws.send_text(json.dumps(init))
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_text(json.dumps({"type": "subscribe", "id": "1", "payload": READ}))
        assert ws.receive_json()["payload"] == {"data": {"branches": [{"name": "main"}]}}
        assert ws.receive_json()["type"] == "complete"
        ws.send_text(json.dumps({"type": "subscribe", "id": "2", "payload": WRITE}))
        errors = ws.receive_json()["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["CORRUPT"]


def test_a_real_server_with_a_damaged_access_file(story: Story) -> None:
    auth = {"authorization": f"Bearer {story.token}", **JSON_TYPE}
    with serve(story.root) as served:
        assert _post(served, "/graphql", json.dumps(READ).encode(), auth)[0] == 200
        _damage(story, "truncated")
        for _ in range(3):
            status, text = _post(served, "/graphql", json.dumps(READ).encode(), auth)
            assert status == 200 and json.loads(text) == {"data": {"branches": [{"name": "main"}]}}
            status, text = _post(served, "/graphql", json.dumps(WRITE).encode(), auth)
            assert [e["extensions"]["code"] for e in json.loads(text)["errors"]] == ["CORRUPT"]
            _error(*_post(served, "/events/gift.txn.v1", json.dumps(MINT).encode(), auth), 503, "CORRUPT")
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        connection.close()
    # serve() checked that the server logged no traceback; the damage is one line.
    lines = [line for line in served.stderr.splitlines() if "access file" in line]
    assert len(lines) == 1, served.stderr
