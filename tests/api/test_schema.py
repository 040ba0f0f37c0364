"""The GraphQL schema through the Starlette app, on every backend (memory, git, Neo4j)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from narrative_vcs.repository import Repository

from .conftest import Story, data, error_codes, gql

COMMIT_FIELDS = "id shortId subject kind time actorName eventId event parents { id } actor { id name kind }"


def test_repository_and_branches(client: TestClient, story: Story) -> None:
    got = data(
        client,
        "{ repository { headBranch branchCount tags { name } } branches { name current head { id } } }",
    )
    assert got["repository"] == {"headBranch": "main", "branchCount": 2, "tags": []}
    assert got["branches"] == [
        {"name": "alt", "current": False, "head": {"id": story.alt_edit}},
        {"name": "main", "current": True, "head": {"id": story.main_edit}},
    ]


def test_branch_log_is_a_relay_connection(client: TestClient, story: Story) -> None:
    query = """query($after: String) { branch(name: "main") { log(first: 2, after: $after) {
        edges { cursor node { id subject } } pageInfo { hasNextPage endCursor } } } }"""
    seen: list[str] = []
    after = None
    for _ in range(10):
        log = data(client, query, {"after": after})["branch"]["log"]
        seen.extend(e["node"]["id"] for e in log["edges"])
        if not log["pageInfo"]["hasNextPage"]:
            break
        after = log["pageInfo"]["endCursor"]
        assert after == log["edges"][-1]["cursor"]
    assert seen == [story.main_edit, story.door_alt, story.door, story.prologue, story.setup]
    # Every edge's cursor resumes right after that edge.
    first = data(client, query, {"after": None})["branch"]["log"]["edges"]
    resumed = data(client, query, {"after": first[0]["cursor"]})["branch"]["log"]["edges"]
    assert [e["node"]["id"] for e in resumed] == [story.door_alt, story.door]


def test_log_filters(client: TestClient, story: Story) -> None:
    query = """query($actor: String, $page: String) { branch(name: "main") {
        log(first: 10, actor: $actor, page: $page) { edges { node { id actor { id } } } } } }"""
    by_cal = data(client, query, {"actor": "cal"})["branch"]["log"]["edges"]
    assert [e["node"]["id"] for e in by_cal] == [story.main_edit, story.door]
    by_page = data(client, query, {"page": "prologue"})["branch"]["log"]["edges"]
    assert [e["node"]["id"] for e in by_page] == [story.prologue]
    kinds = data(client, '{ branch(name: "main") { log(kind: "merge") { edges { cursor } } } }')
    assert kinds["branch"]["log"]["edges"] == []


def test_unknown_branch_is_null(client: TestClient, story: Story) -> None:
    assert data(client, '{ branch(name: "nope") { name } }') == {"branch": None}


def test_commit(client: TestClient, story: Story) -> None:
    query = f"""query($id: String!) {{ commit(id: $id) {{ {COMMIT_FIELDS}
        changedPages changes {{ path kind id status old new }}
        diff {{ path kind id status title links paragraphs }} }} }}"""
    got = data(client, query, {"id": story.door_alt[:12]})["commit"]
    assert got["id"] == story.door_alt
    assert got["subject"] == "Write door-alt"
    assert got["kind"] == "edit"
    assert got["event"] is None
    assert got["parents"] == [{"id": story.door}]
    assert got["actor"] == {"id": "bot", "name": "Loom Bot", "kind": "agent"}
    assert got["changedPages"] == ["door-alt"]
    assert got["changes"][0]["path"] == "pages/door-alt.md"
    assert got["changes"][0]["status"] == "added"
    (change,) = got["diff"]
    assert change["status"] == "added"
    assert change["links"]["alternate_of"] == {"old": None, "new": "door"}
    assert change["paragraphs"][0]["new"] == "The fox did not wait."


def test_commit_by_revision_expression(client: TestClient, story: Story) -> None:
    assert data(client, '{ commit(id: "main~1") { id } }')["commit"]["id"] == story.door_alt


def test_event_payload(repo: Repository, client: TestClient, story: Story) -> None:
    from narrative_vcs.events import Event, ingest

    payload = {"page": "note", "title": "Note", "body": "A note."}
    oid = ingest(repo, Event("agent.emit.v1", "note-1", "bot", payload, "main")).commit
    got = data(client, f'{{ commit(id: "{oid}") {{ kind event }} }}')["commit"]
    assert got == {"kind": "agent.emit.v1", "event": payload}


def test_page(client: TestClient, story: Story) -> None:
    query = """{ page(id: "door") { id revision title body tags links
        follows { id title } alternateOf { id } alternates { id title alternateOf { id } }
        history(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } }
        blame { paragraph text commit { id actor { id } } } } }"""
    page = data(client, query)["page"]
    assert page["revision"] == story.main_edit
    assert page["title"] == "Door"
    assert page["body"] == "The fox ran.\n\nSee [[prologue]].\n"
    assert page["links"] == ["prologue"]
    assert page["follows"] == [{"id": "prologue", "title": "Prologue"}]
    assert page["alternateOf"] is None
    assert page["alternates"] == [{"id": "door-alt", "title": "Door-Alt", "alternateOf": {"id": "door"}}]
    assert page["history"]["edges"] == [{"node": {"id": story.main_edit}}]
    assert page["history"]["pageInfo"]["hasNextPage"] is True
    after = page["history"]["pageInfo"]["endCursor"]
    more = data(
        client, f'{{ page(id: "door") {{ history(after: "{after}") {{ edges {{ node {{ id }} }} }} }} }}'
    )
    assert more["page"]["history"]["edges"] == [{"node": {"id": story.door}}]
    assert [(b["paragraph"], b["commit"]["id"]) for b in page["blame"]] == [
        (0, story.main_edit),
        (1, story.door),
    ]


def test_page_at_revision_and_as_of(repo: Repository, client: TestClient, story: Story) -> None:
    old = data(client, f'{{ page(id: "door", rev: "{story.door}") {{ body alternates {{ id }} }} }}')
    assert old["page"] == {"body": "The fox waited.\n\nSee [[prologue]].\n", "alternates": []}
    on_alt = data(client, '{ page(id: "door", rev: "alt") { body } }')
    assert on_alt["page"]["body"].startswith("The fox hid.")
    when = repo.commits.get(story.door).time
    as_of = data(client, f'{{ page(id: "door", asOf: {when}) {{ revision }} }}')
    assert as_of["page"]["revision"] == story.door


def test_pages_connection(client: TestClient, story: Story) -> None:
    query = """query($after: String) { pages(first: 2, after: $after) { totalCount
        edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } }"""
    first = data(client, query)["pages"]
    assert first["totalCount"] == 3
    assert [e["node"]["id"] for e in first["edges"]] == ["door", "door-alt"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(client, query, {"after": first["pageInfo"]["endCursor"]})["pages"]
    assert [e["node"]["id"] for e in rest["edges"]] == ["prologue"]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][0]["cursor"]}
    old = data(client, f'{{ pages(rev: "{story.prologue}") {{ edges {{ node {{ id }} }} }} }}')
    assert old["pages"]["edges"] == [{"node": {"id": "prologue"}}]


def test_diff(client: TestClient, story: Story) -> None:
    query = f'{{ diff(from: "{story.door}", to: "main") {{ path status paragraphs }} }}'
    got = data(client, query)["diff"]
    assert [(c["path"], c["status"]) for c in got] == [
        ("pages/door-alt.md", "added"),
        ("pages/door.md", "modified"),
    ]
    assert got[1]["paragraphs"][0]["old"] == "The fox waited."
    everything = data(client, f'{{ diff(to: "{story.setup}") {{ kind }} }}')["diff"]
    assert {c["kind"] for c in everything} == {"actor"}


def test_merge_base_and_preview(client: TestClient, story: Story) -> None:
    got = data(client, '{ mergeBase(a: "main", b: "alt") { id } }')
    assert got["mergeBase"] == [{"id": story.fork}]
    query = """{ mergePreview(source: "alt", target: "main") { target { id } source { id } bases { id }
        upToDate fastForward clean
        conflicts { kind path page message base ours theirs fields regions { base ours theirs } } } }"""
    preview = data(client, query)["mergePreview"]
    assert preview["target"]["id"] == story.main_edit
    assert preview["source"]["id"] == story.alt_edit
    assert preview["bases"] == [{"id": story.fork}]
    assert (preview["upToDate"], preview["fastForward"], preview["clean"]) == (False, False, False)
    (conflict,) = preview["conflicts"]
    assert conflict["kind"] == "content"
    assert conflict["page"] == "door"
    assert conflict["regions"] == [
        {"base": "The fox waited.", "ours": "The fox ran.", "theirs": "The fox hid."}
    ]
    ff = data(
        client, '{ mergePreview(source: "main", target: "main~1") { fastForward clean conflicts { kind } } }'
    )
    assert ff["mergePreview"] == {"fastForward": True, "clean": True, "conflicts": []}


def test_actors(client: TestClient, story: Story) -> None:
    got = data(client, "{ actors { id name kind archetype } }")["actors"]
    assert [a["id"] for a in got] == ["ada", "bot", "cal"]
    assert got[1] == {"id": "bot", "name": "Loom Bot", "kind": "agent", "archetype": "weaver"}


def test_empty_repository(client: TestClient) -> None:
    got = data(client, "{ repository { headBranch branchCount title } branches { name } }")
    assert got == {"repository": {"headBranch": "main", "branchCount": 0, "title": None}, "branches": []}
    assert error_codes(gql(client, "{ pages { totalCount } }")) == ["NOT_FOUND"]


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ commit(id: "nope") { id } }', "NOT_FOUND"),
        ('{ page(id: "door", rev: "no-such-branch") { title } }', "NOT_FOUND"),
        ('{ page(id: "missing") { title } }', "NOT_FOUND"),
        ('{ page(id: "../etc/passwd") { title } }', "BAD_INPUT"),
        ('{ page(id: "door", rev: "../../x") { title } }', "NOT_FOUND"),
        ('{ branch(name: "../x") { name } }', "BAD_INPUT"),
        ('{ branch(name: "main") { log(page: "../x") { edges { cursor } } } }', "BAD_INPUT"),
        ('{ branch(name: "main") { log(after: "garbage") { edges { cursor } } } }', "BAD_INPUT"),
        ('{ branch(name: "main") { log(first: -1) { edges { cursor } } } }', "BAD_INPUT"),
        ('{ pages(after: "garbage") { totalCount } }', "BAD_INPUT"),
        ('{ mergePreview(source: "nope", target: "main") { clean } }', "NOT_FOUND"),
        ("{ nope }", "BAD_INPUT"),
        ("{ commit(id: 5) { id } }", "BAD_INPUT"),
        ("{ commit { id } }", "BAD_INPUT"),
        ("{ commit(id: ", "BAD_INPUT"),
    ],
)
def test_bad_input_is_a_coded_one_line_error(client: TestClient, story: Story, query: str, code: str) -> None:
    body = gql(client, query)
    assert error_codes(body) == [code]
    (error,) = body["errors"]
    assert "\n" not in error["message"]
    assert "Traceback" not in str(body)


def test_wrong_variable_type(client: TestClient, story: Story) -> None:
    body = gql(client, "query($id: String!) { commit(id: $id) { id } }", {"id": 12})
    assert error_codes(body) == ["BAD_INPUT"]
