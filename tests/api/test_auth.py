"""Tokens, read policy, and the limits of a request: who may ask, and how much."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql import auth
from api.graphql.app import create_app
from api.graphql.auth import ServerAccess
from api.graphql.limits import MAX_COST, MAX_DEPTH
from narrative_vcs.access import READS, create_token
from narrative_vcs.repository import Repository
from narrative_vcs.types import RefName

from .conftest import Story, Tokens, data, error_codes, gql

CREATE = 'mutation { createBranch(name: "side") { name } }'
READ = "{ branches { name } }"


@pytest.fixture
def anonymous(repo: Repository) -> Any:
    with TestClient(create_app(repo, close_on_shutdown=False)) as test_client:
        yield test_client


def _one_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    message: str = body["errors"][0]["message"]
    assert "\n" not in message and "Traceback" not in response.text
    return message


def test_mutations_need_a_token(anonymous: TestClient, repo: Repository, story: Story) -> None:
    body = gql(anonymous, CREATE)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "gvcs token create" in body["errors"][0]["message"]
    assert repo.branch_head("side") is None
    assert data(anonymous, READ)["branches"]  # reads are open by default


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer gvcs_00000000_" + "A" * 43,  # well-formed, unknown
        "Bearer not-a-token",
        "Bearer ",
        "Basic YWRhOnNlY3JldA==",
        "Bearer gvcs_12345678_" + "A" * 43 + "; DROP",
    ],
)
def test_a_forged_token_is_refused_even_for_reads(
    anonymous: TestClient, repo: Repository, story: Story, authorization: str
) -> None:
    for query in (READ, CREATE):
        response = anonymous.post("/graphql", json={"query": query}, headers={"authorization": authorization})
        assert _one_error(response, 401, "UNAUTHENTICATED") == "invalid or revoked API token"
    assert repo.branch_head("side") is None


def test_a_token_with_another_digest_or_id_is_refused(
    anonymous: TestClient, repo: Repository, story: Story
) -> None:
    _, token = create_token(repo.access, "ada")
    prefix, token_id, secret = token.split("_", 2)
    other_id = f"{prefix}_{'0' * 8 if token_id != '0' * 8 else '1' * 8}_{secret}"
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (other_id, flipped):
        response = anonymous.post(
            "/graphql", json={"query": CREATE}, headers={"authorization": f"Bearer {bad}"}
        )
        _one_error(response, 401, "UNAUTHENTICATED")
    good = anonymous.post("/graphql", json={"query": CREATE}, headers={"authorization": f"Bearer {token}"})
    assert good.json() == {"data": {"createBranch": {"name": "side"}}}
    assert repo.refs.reflog(RefName("refs/heads/side"))[-1].who == "ada"


def test_a_revoked_token_stops_working(
    anonymous: TestClient, repo: Repository, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At once on a local store; on a remote one (Neo4j) once ServerAccess.token_ttl has passed (the
    clock is moved, not waited for)."""
    record, token = create_token(repo.access, "ada")
    headers = {"authorization": f"Bearer {token}"}
    assert data(anonymous, READ, headers=headers)
    assert repo.access.remove_token(record.id)
    if repo.access.remote:
        now = time.monotonic()
        monkeypatch.setattr(auth.time, "monotonic", lambda: now + ServerAccess.token_ttl + 0.001)
    _one_error(anonymous.post("/graphql", json={"query": READ}, headers=headers), 401, "UNAUTHENTICATED")


def test_a_remote_store_is_asked_once_per_token_ttl(
    repo: Repository, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a check is a round trip (Neo4j), a server takes a checked token as valid while the
    store's access generation stays the same, and reads the generation at most once per
    ServerAccess.token_ttl; once a revocation has moved it, the token is refused. The clock is moved,
    not waited for; a refusal is never remembered."""
    monkeypatch.setattr(repo.access, "remote", True, raising=False)
    record, token = create_token(repo.access, "ada")
    headers = {"authorization": f"Bearer {token}"}
    reads: list[str] = []
    find = repo.access.find_token
    monkeypatch.setattr(repo.access, "find_token", lambda digest: reads.append(digest) or find(digest))
    with TestClient(create_app(repo, close_on_shutdown=False)) as client:
        for _ in range(3):
            assert data(client, READ, headers=headers)
        assert len(reads) == 1
        bad = "gvcs_00000000_" + "A" * 43
        for _ in range(2):
            client.post("/graphql", json={"query": READ}, headers={"authorization": f"Bearer {bad}"})
        assert len(reads) == 3
        now = time.monotonic()
        monkeypatch.setattr(auth.time, "monotonic", lambda: now + ServerAccess.token_ttl + 0.001)
        assert data(client, READ, headers=headers)  # the generation did not move: no new check
        assert len(reads) == 3
        assert repo.access.remove_token(record.id)
        assert data(client, READ, headers=headers)  # within the ttl: still taken
        monkeypatch.setattr(auth.time, "monotonic", lambda: now + 2 * ServerAccess.token_ttl + 0.002)
        response = client.post("/graphql", json={"query": READ}, headers=headers)
        _one_error(response, 401, "UNAUTHENTICATED")


def test_a_token_acts_only_as_its_actor(client: TestClient, repo: Repository, story: Story) -> None:
    mutation = """mutation($actor: String) {
        merge(source: "alt", target: "main", dryRun: true, actor: $actor) { status } }"""
    assert data(client, mutation, {"actor": "ada"})["merge"]["status"] == "conflicts"
    body = gql(client, mutation, {"actor": "cal"})
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] == "this token acts as ada, not as cal"


def test_token_only_reads(anonymous: TestClient, repo: Repository, story: Story, tokens: Tokens) -> None:
    repo.access.set_setting(READS, "token")
    message = _one_error(anonymous.post("/graphql", json={"query": READ}), 401, "UNAUTHENTICATED")
    assert "needs a token to read" in message
    _one_error(anonymous.get("/events"), 401, "UNAUTHENTICATED")
    assert data(anonymous, READ, headers=tokens.auth("bot"))["branches"]
    page = anonymous.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200  # the explorer page itself holds no data
    # ... nor do its files, which the browser loads before anyone can give a token: a missing one is
    # 404, never 401; the path next to them is still guarded.
    assert anonymous.get("/graphql/assets/nope@1/x.js").status_code == 404
    assert anonymous.get("/graphql/assetsx").status_code == 401
    assert anonymous.get("/health").status_code == 200
    repo.access.set_setting(READS, "open")
    assert data(anonymous, READ)["branches"]


# --- limits -----------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_anything_runs(
    repo: Repository, story: Story, tokens: Tokens
) -> None:
    app = create_app(repo, close_on_shutdown=False, max_body=4096)
    with TestClient(app, headers=tokens.auth("ada")) as small:
        body = json.dumps({"query": CREATE, "variables": {"pad": "x" * 5000}})
        response = small.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert "request body too large" in _one_error(response, 413, "BAD_INPUT")

        def chunks() -> Any:  # no content-length: the body is counted as it arrives
            yield body[:3000].encode()
            yield body[3000:].encode()

        response = small.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        _one_error(response, 413, "BAD_INPUT")
        assert repo.branch_head("side") is None
        ok = small.post("/graphql", json={"query": CREATE})
        assert ok.json() == {"data": {"createBranch": {"name": "side"}}}


def test_depth_limit(client: TestClient, story: Story) -> None:
    nested = "id " + "parents { id " * MAX_DEPTH + "}" * MAX_DEPTH
    body = gql(client, f'{{ commit(id: "main") {{ {nested} }} }}')
    assert error_codes(body) == ["BAD_INPUT"]
    assert body["errors"][0]["message"].startswith("query too deep")
    shallow = "id " + "parents { id " * (MAX_DEPTH - 2) + "}" * (MAX_DEPTH - 2)
    assert "commit" in data(client, f'{{ commit(id: "main") {{ {shallow} }} }}')


def test_introspection_is_not_limited(client: TestClient) -> None:
    from graphql import get_introspection_query

    got = data(client, get_introspection_query(descriptions=True))
    assert got["__schema"]["queryType"]["name"] == "Query"


def test_cost_limit_counts_page_sizes_and_variables(client: TestClient, story: Story) -> None:
    costly = """query($n: Int!) { pages(first: $n) { edges { node {
        history(first: 200) { edges { node { id actor { name } } } } } } } }"""
    body = gql(client, costly, {"n": 200})
    assert error_codes(body) == ["BAD_INPUT"]
    assert f"at most {MAX_COST}" in body["errors"][0]["message"]
    assert data(client, costly, {"n": 2})["pages"]["edges"]
    log = """{ branch(name: "main") { log(first: 50) { edges { node {
        id actor { name } changedPages } } } } }"""
    assert data(client, log)["branch"]["log"]["edges"]


def test_page_size_limit(client: TestClient, story: Story) -> None:
    body = gql(client, '{ branch(name: "main") { log(first: 201) { edges { node { id } } } } }')
    assert error_codes(body) == ["BAD_INPUT"]


def test_alias_limit(client: TestClient, story: Story) -> None:
    many = " ".join(f"a{i}: repository {{ title }}" for i in range(60))
    body = gql(client, f"{{ {many} }}")
    assert error_codes(body) == ["BAD_INPUT"]
    assert body["errors"][0]["message"].startswith("too many aliases")


@pytest.mark.parametrize(
    "query",
    [
        '{ page(id: "../story") { title } }',
        '{ page(id: "a/../../etc/passwd") { title } }',
        '{ commit(id: "../HEAD") { id } }',
        '{ branch(name: "../main") { name } }',
        '{ pages(rev: "main", after: "Li4v") { totalCount } }',
    ],
)
def test_ids_that_climb_out_are_bad_input(client: TestClient, story: Story, query: str) -> None:
    body = gql(client, query)
    assert error_codes(body) in (["BAD_INPUT"], ["NOT_FOUND"]), body
    if "page(" in query or "branch(" in query:
        assert error_codes(body) == ["BAD_INPUT"]


def test_batched_and_get_queries_are_refused(client: TestClient, story: Story) -> None:
    response = client.post("/graphql", json=[{"query": READ}, {"query": READ}])
    assert response.status_code == 400
    assert "Traceback" not in response.text
    response = client.get("/graphql", params={"query": READ})
    assert response.status_code in (400, 405)


def test_parsed_documents_are_reused_and_bad_ones_are_not_kept(client: TestClient, story: Story) -> None:
    from api.graphql.limits import Parsed

    query = '{ branch(name: "main") { name } }'
    assert data(client, query) == data(client, query) == {"branch": {"name": "main"}}
    assert query in Parsed._documents
    broken = "{ branch(name: "
    for _ in range(2):
        assert error_codes(gql(client, broken)) == ["BAD_INPUT"]
    assert broken not in Parsed._documents
