"""Fixtures of the GraphQL tests: a small story on every backend and a client for the app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.access import create_token
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Writer


@dataclass
class Story:
    """Ids of the commits the ``story`` fixture made."""

    setup: ObjectId
    prologue: ObjectId
    door: ObjectId
    door_alt: ObjectId
    fork: ObjectId  # where the ``alt`` branch starts
    main_edit: ObjectId
    alt_edit: ObjectId


@pytest.fixture
def story(repo: Repository, writer: Writer) -> Story:
    """main: setup, prologue, door (follows prologue), door-alt (bot, alternate of door), an edit of door;
    branch ``alt`` from door-alt edits the same paragraph of door differently (a conflict)."""
    setup = writer.setup()
    prologue = writer.page("prologue", "It begins.\n\nThe library wakes.", title="Prologue")
    door = writer.page("door", "The fox waited.\n\nSee [[prologue]].", follows=("prologue",), actor="cal")
    door_alt = writer.page("door-alt", "The fox did not wait.", alternate_of="door", actor="bot")
    repo.create_branch("alt", door_alt)
    main_edit = writer.page("door", "The fox ran.\n\nSee [[prologue]].", follows=("prologue",), actor="cal")
    alt_edit = writer.page("door", "The fox hid.\n\nSee [[prologue]].", follows=("prologue",), branch="alt")
    return Story(setup, prologue, door, door_alt, door_alt, main_edit, alt_edit)


class Tokens:
    """API tokens of the story's actors, made on first use: ``tokens["cal"]`` is a token acting as cal."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._made: dict[str, str] = {}

    def __getitem__(self, actor: str) -> str:
        if actor not in self._made:
            self._made[actor] = create_token(self.repo.access, actor)[1]
        return self._made[actor]

    def auth(self, actor: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self[actor]}"}


@pytest.fixture
def tokens(repo: Repository) -> Tokens:
    return Tokens(repo)


@pytest.fixture
def client(repo: Repository, tokens: Tokens) -> Iterator[TestClient]:
    """A client of the app that sends ada's token (pass ``headers`` to act as someone else)."""
    app = create_app(repo, close_on_shutdown=False, feed_interval=0.05)
    with TestClient(app, headers=tokens.auth("ada")) as test_client:
        yield test_client


def gql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a query; return the whole response body (``data`` and maybe ``errors``)."""
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code in (200, 400, 401), response.text
    body: dict[str, Any] = response.json()
    return body


def data(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``data`` of a query that must not fail."""
    body = gql(client, query, variables, headers)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]
