"""The Starlette app (health, GraphiQL, lifespan, masked errors) and a real ``gvcs serve``."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .conftest import Story, error_codes, gql

ROOT = Path(__file__).resolve().parents[2]


def test_health(client: TestClient, backend: Any, story: Story) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "store": backend.name, "branches": 2}


def test_graphiql_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_lifespan_closes_the_repository() -> None:
    closed: list[bool] = []
    repo = Repository.memory()
    repo.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with TestClient(create_app(repo)) as client:
        assert client.get("/health").json()["ok"] is True
        assert closed == []
    assert closed == [True]


def test_unexpected_errors_are_masked_and_logged(
    repo: Repository, client: TestClient, story: Story, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(repo, "merge_bases", boom)
    with caplog.at_level(logging.ERROR, logger="gvcs.api"):
        body = gql(client, '{ mergeBase(a: "main", b: "alt") { id } }')
    assert error_codes(body) == ["INTERNAL"]
    assert "secret" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)
    assert "secret detail" in caplog.text


def test_user_errors_are_not_logged(client: TestClient, story: Story, caplog: Any) -> None:
    with caplog.at_level(logging.ERROR, logger="gvcs.api"):
        assert error_codes(gql(client, '{ commit(id: "nope") { id } }')) == ["NOT_FOUND"]
    assert caplog.text == ""


def test_checked_in_sdl_is_current() -> None:
    from api.graphql.schema import schema

    sdl = (ROOT / "api" / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    assert sdl == schema.as_str() + "\n", "regenerate: strawberry export-schema api.graphql.schema"


# --- a real server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


def test_gvcs_serve(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    writer = Writer(repo)
    writer.setup()
    writer.page("intro", "Once.")
    repo.close()
    port = _free_port()
    gvcs = Path(sys.executable).with_name("gvcs")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = subprocess.Popen(
        [str(gvcs), "-C", str(tmp_path / "story"), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                health = _get(f"{base}/health")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "gvcs serve did not start"
                time.sleep(0.1)
        assert health == {"ok": True, "store": "git", "branches": 1}
        request = urllib.request.Request(
            f"{base}/graphql",
            data=json.dumps({"query": '{ page(id: "intro") { title body } }'}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
        assert body == {"data": {"page": {"title": "Intro", "body": "Once.\n"}}}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
