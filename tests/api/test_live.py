"""Live updates against a real ``gvcs serve`` (uvicorn): the ``commitAdded`` subscription over
graphql-transport-ws and the ``/events`` server-sent events, fed by the API's own mutations and by
another writer of the same store; and one page watched (``pageChanged``, ``/events?page=``): each commit
that changes it, once, in order, the other commits left out."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import init_repository, open_repository
from tests.conftest import Writer

from .serving import Served, get_json, serve

SUBSCRIBE = """subscription($branch: String) { commitAdded(branch: $branch) {
    branch commit { id subject kind actor { id name } changedPages } } }"""
COMMIT = """mutation($input: CommitInput!) { commit(input: $input) { commit { id } } }"""


@pytest.fixture
def story_dir(tmp_path: Path) -> Path:
    repo = init_repository(tmp_path / "story")
    writer = Writer(repo)
    writer.setup()
    writer.page("intro", "Once.")
    repo.close()
    return tmp_path / "story"


@pytest.fixture
def token(story_dir: Path) -> str:
    repo = open_repository(story_dir)
    try:
        return create_token(repo.access, "ada")[1]
    finally:
        repo.close()


@pytest.fixture
def server(story_dir: Path) -> Iterator[Served]:
    with serve(story_dir) as served:
        yield served


def _commit_via_api(server: Served, token: str, page: str) -> str:
    head = server.graphql('{ branch(name: "main") { head { id } } }')["data"]["branch"]["head"]["id"]
    change = {"upsertPage": {"id": page, "title": page.title(), "body": f"{page}."}}
    variables = {
        "input": {"branch": "main", "expectedHead": head, "message": f"Add {page}", "changes": [change]}
    }
    body = server.graphql(COMMIT, variables, authorization=f"Bearer {token}")
    assert "errors" not in body, body
    oid: str = body["data"]["commit"]["commit"]["id"]
    return oid


def _commit_elsewhere(story_dir: Path, page: str, kind: str = "edit") -> str:
    """Another writer of the same store (not the server): the server learns of it by watching."""
    repo = open_repository(story_dir)
    try:
        return Writer(repo).page(page, f"{page}.", actor="bot", kind=kind)
    finally:
        repo.close()


# --- graphql-transport-ws ---------------------------------------------------------------------------


@contextmanager
def _ws(server: Served, payload: dict[str, Any] | None) -> Iterator[ClientConnection]:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        yield ws


def _wait_for_subscribers(server: Served, count: int) -> None:
    """Until the server has registered ``count`` subscribers: commits after that reach them."""
    deadline = time.monotonic() + 15
    while get_json(f"{server.base}/health")["subscribers"] < count:
        assert time.monotonic() < deadline, "the subscription was not registered"
        time.sleep(0.02)


def _subscribe(ws: ClientConnection, sub_id: str, branch: str) -> None:
    payload = {"query": SUBSCRIBE, "variables": {"branch": branch}}
    ws.send(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))


def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=15))
        if message["type"] != "ping":
            return message
        ws.send(json.dumps({"type": "pong"}))


def test_subscription_streams_commits_from_the_api_and_from_other_writers(
    server: Served, story_dir: Path, token: str
) -> None:
    with _ws(server, {"Authorization": f"Bearer {token}"}) as ws:
        assert _next(ws) == {"type": "connection_ack"}
        _subscribe(ws, "1", "main")
        _subscribe(ws, "2", "other")
        _wait_for_subscribers(server, 2)
        first = _commit_via_api(server, token, "hall")
        got = _next(ws)
        assert got["id"] == "1" and got["type"] == "next"
        added = got["payload"]["data"]["commitAdded"]
        assert added["branch"] == "main" and added["commit"]["id"] == first
        assert added["commit"]["actor"] == {"id": "ada", "name": "Ada Lovelace"}
        assert added["commit"]["changedPages"] == ["hall"]
        second = _commit_elsewhere(story_dir, "cellar")
        third = _commit_elsewhere(story_dir, "attic")
        ids = [_next(ws)["payload"]["data"]["commitAdded"]["commit"]["id"] for _ in range(2)]
        assert ids == [second, third]
        ws.send(json.dumps({"id": "1", "type": "complete"}))


def test_subscription_refuses_a_forged_token(server: Served) -> None:
    forged = {"Authorization": "Bearer gvcs_00000000_" + "A" * 43}
    with _ws(server, forged) as ws, pytest.raises(ConnectionClosed) as closed:
        _next(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_subscription_bad_branch_is_a_typed_error(server: Served) -> None:
    with _ws(server, None) as ws:
        assert _next(ws) == {"type": "connection_ack"}
        _subscribe(ws, "1", "../x")
        got = _next(ws)
        assert got["type"] in ("error", "next")
        errors = got["payload"] if got["type"] == "error" else got["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_INPUT"]


# --- server-sent events -----------------------------------------------------------------------------


class EventStream:
    """A ``text/event-stream`` response read event by event."""

    def __init__(self, server: Served, path: str, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()

    def next(self) -> dict[str, str]:
        """The next event's fields (comments skipped)."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value

    def close(self) -> None:
        self.conn.close()


def test_events_stream_commits_and_resume_after_a_reconnect(
    server: Served, story_dir: Path, token: str
) -> None:
    auth = {"authorization": f"Bearer {token}"}
    stream = EventStream(server, "/events?branch=main", auth)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("content-type", "").startswith("text/event-stream")
        _wait_for_subscribers(server, 1)
        first = _commit_via_api(server, token, "hall")
        event = stream.next()
        assert event["event"] == "commit" and event["id"] == f"main:{first}"
        data = json.loads(event["data"])
        assert (data["branch"], data["id"], data["actor"], data["kind"]) == ("main", first, "ada", "edit")
        gift = _commit_elsewhere(story_dir, "ledger-note", kind="agent.emit.v1")
        assert stream.next()["id"] == f"main:{gift}"
    finally:
        stream.close()
    # Missed while disconnected: replayed from Last-Event-ID, oldest first, then live again.
    missed = [_commit_elsewhere(story_dir, f"room-{i}") for i in range(3)]
    resumed = EventStream(server, "/events?branch=main", {**auth, "last-event-id": f"main:{gift}"})
    try:
        assert [resumed.next()["id"] for _ in range(3)] == [f"main:{m}" for m in missed]
        _wait_for_subscribers(server, 1)
        live = _commit_elsewhere(story_dir, "after")
        assert resumed.next()["id"] == f"main:{live}"
    finally:
        resumed.close()


def test_events_filter_by_kind(server: Served, story_dir: Path, token: str) -> None:
    stream = EventStream(server, "/events?kind=agent.emit.v1", {"authorization": f"Bearer {token}"})
    try:
        assert stream.response.status == 200
        _wait_for_subscribers(server, 1)
        _commit_via_api(server, token, "plain")  # an edit: filtered out
        gift = _commit_elsewhere(story_dir, "ledger-note", kind="agent.emit.v1")
        event = stream.next()
        assert event["id"] == f"main:{gift}" and json.loads(event["data"])["kind"] == "agent.emit.v1"
    finally:
        stream.close()


def test_events_bad_input(server: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/events?branch=../x")
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    conn.request("GET", "/events", headers={"authorization": "Bearer nope"})
    response = conn.getresponse()
    assert response.status == 401
    assert json.loads(response.read())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    conn.close()


# --- watching one page --------------------------------------------------------------------------------

WATCH = """subscription($id: String!, $branch: String) { pageChanged(id: $id, branch: $branch) {
    branch commit { id changedPages } } }"""


def _write(story_dir: Path, page: str, body: str, branch: str = "main") -> str:
    """Another writer of the store commits ``page`` with ``body`` on ``branch``."""
    repo = open_repository(story_dir)
    try:
        writer = Writer(repo, branch)
        writer.time = repo.commits.get(repo.branch_head(branch)).time  # type: ignore[arg-type]
        return writer.page(page, body, actor="bot")
    finally:
        repo.close()


def _branch(story_dir: Path, name: str) -> None:
    repo = open_repository(story_dir)
    try:
        repo.create_branch(name, "main")
    finally:
        repo.close()


def test_page_changed_streams_the_commits_of_one_page_once(
    server: Served, story_dir: Path, token: str
) -> None:
    with _ws(server, {"Authorization": f"Bearer {token}"}) as ws:
        assert _next(ws) == {"type": "connection_ack"}
        ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": WATCH, "variables": {"id": "hall"}}}
            )
        )
        _wait_for_subscribers(server, 1)
        _commit_via_api(server, token, "cellar")  # another page: left out
        added = _commit_via_api(server, token, "hall")
        got = _next(ws)
        assert got["id"] == "1" and got["type"] == "next", got
        change = got["payload"]["data"]["pageChanged"]
        assert (change["branch"], change["commit"]["id"], change["commit"]["changedPages"]) == (
            "main",
            added,
            ["hall"],
        )
        _branch(story_dir, "side")  # the same commit on a new branch: not sent again
        _write(story_dir, "attic", "Dust.", branch="side")  # another page on the other branch: left out
        edited = _write(story_dir, "hall", "The hall, swept.", branch="side")
        seen = _next(ws)["payload"]["data"]["pageChanged"]
        assert (seen["branch"], seen["commit"]["id"]) == ("side", edited)
        _write(story_dir, "attic", "More dust.")
        lit = _write(story_dir, "hall", "The hall, lit.")
        aired = _write(story_dir, "hall", "The hall, aired.")
        seen = [_next(ws)["payload"]["data"]["pageChanged"] for _ in range(2)]
        assert [(s["branch"], s["commit"]["id"]) for s in seen] == [("main", lit), ("main", aired)]
        ws.send(json.dumps({"id": "1", "type": "complete"}))


def test_page_changed_refuses_a_bad_page_id(server: Served) -> None:
    with _ws(server, None) as ws:
        assert _next(ws) == {"type": "connection_ack"}
        payload = {"query": WATCH, "variables": {"id": "../x"}}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        got = _next(ws)
        errors = got["payload"] if got["type"] == "error" else got["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_INPUT"]


def test_events_of_one_page_on_one_branch(server: Served, story_dir: Path, token: str) -> None:
    stream = EventStream(server, "/events?page=hall&branch=main", {"authorization": f"Bearer {token}"})
    try:
        assert stream.response.status == 200
        _wait_for_subscribers(server, 1)
        _commit_via_api(server, token, "cellar")  # another page: left out
        _branch(story_dir, "side")
        _write(story_dir, "hall", "On the side.", branch="side")  # another branch: left out
        added = _write(story_dir, "hall", "The hall.")
        event = stream.next()
        assert event["event"] == "commit" and event["id"] == f"main:{added}"
        assert json.loads(event["data"])["id"] == added
    finally:
        stream.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/events?page=../x", headers={"authorization": f"Bearer {token}"})
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    conn.close()
