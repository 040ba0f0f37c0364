"""Reads answered from memory while the refs stay put, and never once they moved."""

from __future__ import annotations

from starlette.testclient import TestClient

from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .conftest import Story, data, gql

LOG = '{ branch(name: "main") { head { id } log(first: 3) { edges { node { id subject } } } } }'


def test_a_commit_by_any_writer_is_seen_at_once(
    client: TestClient, repo: Repository, writer: Writer, story: Story
) -> None:
    first = data(client, LOG)
    assert data(client, LOG) == first
    new = writer.page("hall", "A hall.")  # another writer of the same store, not the API
    got = data(client, LOG)
    assert got["branch"]["head"]["id"] == new != first["branch"]["head"]["id"]
    repo.create_branch("side")
    assert data(client, "{ branches { name } }")["branches"] == [
        {"name": "alt"},
        {"name": "main"},
        {"name": "side"},
    ]
    repo.set_head_branch("side")
    assert data(client, "{ repository { headBranch } }")["repository"]["headBranch"] == "side"
    repo.set_head_branch("main")
    assert data(client, "{ repository { headBranch } }")["repository"]["headBranch"] == "main"


def test_variables_and_errors(client: TestClient, repo: Repository, story: Story) -> None:
    query = "query($id: String!) { commit(id: $id) { id } }"
    assert data(client, query, {"id": story.door})["commit"]["id"] == story.door
    assert data(client, query, {"id": story.prologue})["commit"]["id"] == story.prologue
    assert "errors" in gql(client, query, {"id": "nope"})
    repo.create_tag("nope", story.setup)  # the same failing read now succeeds: errors are not kept
    assert data(client, query, {"id": "nope"})["commit"]["id"] == story.setup
