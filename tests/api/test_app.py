"""The Starlette app (health, GraphiQL, lifespan, masked errors) and a real ``gvcs serve``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from api.graphql.explorer import find_assets
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer
from tests.services import need

from .conftest import Story, error_codes, gql
from .serving import get_json, serve

ROOT = Path(__file__).resolve().parents[2]


def test_health(client: TestClient, backend: Any, story: Story) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "store": backend.name, "branches": 2, "subscribers": 0}


def test_graphiql_in_a_browser(client: TestClient) -> None:
    need("GraphiQL's files", None if find_assets() else "run make (npm ci in api/graphql/graphiql)")
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert 'src="/graphql/assets/graphiql@' in response.text  # local files (api/graphql/explorer.py) ...
    assert "unpkg" not in response.text and "jsdelivr" not in response.text  # ... not a CDN


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
    regenerate = (
        "python -c 'from api.graphql.schema import schema; print(schema)' > api/graphql/schema.graphql"
    )
    assert sdl == schema.as_str() + "\n", f"regenerate it: {regenerate}"


# --- a real server ----------------------------------------------------------------------------------


def test_gvcs_serve(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    writer = Writer(repo)
    writer.setup()
    writer.page("intro", "Once.")
    repo.close()
    with serve(tmp_path / "story") as server:
        health = get_json(f"{server.base}/health")
        assert health == {"ok": True, "store": "git", "branches": 1, "subscribers": 0}
        body = server.graphql('{ page(id: "intro") { title body } }')
        assert body == {"data": {"page": {"title": "Intro", "body": "Once.\n"}}}
