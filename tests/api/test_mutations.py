"""GraphQL mutations on every backend: commits (with independent rebasing), branches, merges."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.graphql.schema import Context, schema
from narrative_vcs.repository import Repository
from tests.conftest import Backend

from .conftest import Story, Tokens, data, error_codes, gql

COMMIT = """mutation($input: CommitInput!) { commit(input: $input) {
    branch rebased previousHead commit { id subject actorName parents { id } changedPages } } }"""


def page_change(page_id: str, body: str = "Text.", **fields: Any) -> dict[str, Any]:
    return {"upsertPage": {"id": page_id, "title": page_id.title(), "body": body, **fields}}


def commit_input(expected: str | None, *changes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"branch": "main", "expectedHead": expected, "message": "Edit"}
    return {"input": {**base, **fields, "changes": list(changes)}}


def history(repo: Repository, branch: str = "main") -> list[str]:
    return [c.id for c in repo.walk([branch])]


# --- commit -----------------------------------------------------------------------------------------


def test_commit_moves_the_branch(client: TestClient, repo: Repository, story: Story) -> None:
    variables = commit_input(
        story.main_edit,
        page_change("hall", "A long hall.", follows=["door"], tags=["place"]),
        {"upsertActor": {"id": "dee", "name": "Dee", "kind": "agent", "archetype": "scout"}},
        message="Add the hall",
    )
    got = data(client, COMMIT, variables)["commit"]
    assert got["rebased"] is False
    assert got["previousHead"] == story.main_edit
    assert got["commit"]["subject"] == "Add the hall"
    assert got["commit"]["actorName"] == "Ada Lovelace"
    assert got["commit"]["parents"] == [{"id": story.main_edit}]
    assert got["commit"]["changedPages"] == ["hall"]
    assert repo.branch_head("main") == got["commit"]["id"]
    page = repo.read_page("hall", "main")
    assert (page.body, page.follows, page.tags) == ("A long hall.\n", ("door",), ("place",))
    assert repo.read_actor("dee", "main").archetype == "scout"


def test_delete_and_new_actor_in_the_same_change_set(
    client: TestClient, repo: Repository, story: Story, tokens: Tokens
) -> None:
    variables = commit_input(
        story.main_edit,
        {"deletePage": {"id": "door-alt"}},
        {"upsertActor": {"id": "eve", "name": "Eve"}},
        actor="eve",
    )
    got = data(client, COMMIT, variables, tokens.auth("eve"))["commit"]
    assert got["commit"]["actorName"] == "Eve"
    assert "door-alt" not in repo.list_pages("main")


def test_first_commit_creates_the_branch(
    client: TestClient, repo: Repository, story: Story, tokens: Tokens
) -> None:
    variables = commit_input(
        None, {"upsertActor": {"id": "fay", "name": "Fay"}}, page_change("one"), branch="fresh"
    )
    got = data(client, COMMIT, variables, tokens.auth("fay"))["commit"]
    assert got["previousHead"] is None and got["commit"]["parents"] == []
    assert repo.branch_head("fresh") == got["commit"]["id"]


def test_stale_head_with_disjoint_pages_is_rebased(
    client: TestClient, repo: Repository, story: Story
) -> None:
    first = data(client, COMMIT, commit_input(story.main_edit, page_change("hall")))["commit"]
    got = data(client, COMMIT, commit_input(story.main_edit, page_change("cellar")))["commit"]
    assert got["rebased"] is True
    assert got["previousHead"] == first["commit"]["id"]
    assert got["commit"]["parents"] == [{"id": first["commit"]["id"]}]
    assert history(repo)[:3] == [got["commit"]["id"], first["commit"]["id"], story.main_edit]
    assert repo.branch_head("main") == got["commit"]["id"]


def test_stale_head_with_an_overlapping_page_is_a_conflict(
    client: TestClient, repo: Repository, story: Story
) -> None:
    body = gql(client, COMMIT, commit_input(story.door, page_change("door", "The fox slept.")))
    assert error_codes(body) == ["CONFLICT"]
    assert body["errors"][0]["extensions"]["paths"] == ["pages/door.md"]
    assert "\n" not in body["errors"][0]["message"]
    assert body["data"] is None
    assert repo.branch_head("main") == story.main_edit


@pytest.mark.parametrize(
    ("changes", "fields", "code"),
    [
        ([{"upsertPage": {"id": "x", "title": "X"}, "deletePage": {"id": "door"}}], {}, "BAD_INPUT"),
        ([{}], {}, "BAD_INPUT"),
        ([], {}, "BAD_INPUT"),
        ([{"upsertPage": {"id": "../x", "title": "X"}}], {}, "BAD_INPUT"),
        ([{"deletePage": {"id": "../door"}}], {}, "BAD_INPUT"),
        ([{"upsertActor": {"id": "a/../b", "name": "B"}}], {}, "BAD_INPUT"),
        ([{"upsertPage": {"id": "x", "title": "X", "follows": ["nowhere"]}}], {}, "BAD_INPUT"),
        (
            [{"upsertPage": {"id": "x", "title": "X"}}, {"upsertPage": {"id": "x", "title": "Y"}}],
            {},
            "BAD_INPUT",
        ),
        ([{"deletePage": {"id": "nowhere"}}], {}, "NOT_FOUND"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"actor": "cal"}, "FORBIDDEN"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"actor": "../ada"}, "FORBIDDEN"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"branch": "nope"}, "NOT_FOUND"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"branch": "../main"}, "BAD_INPUT"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"expectedHead": "main"}, "BAD_INPUT"),
        ([{"upsertPage": {"id": "x", "title": "X"}}], {"expectedHead": "0" * 40}, "NOT_FOUND"),
    ],
)
def test_bad_commit_input_writes_nothing(
    client: TestClient,
    repo: Repository,
    story: Story,
    changes: list[dict[str, Any]],
    fields: dict[str, Any],
    code: str,
) -> None:
    before = repo.branches()
    body = gql(client, COMMIT, commit_input(story.main_edit, *changes, **fields))
    assert error_codes(body) == [code], body
    assert "\n" not in body["errors"][0]["message"]
    assert repo.branches() == before


def test_a_token_of_an_actor_the_story_lacks_writes_nothing(
    client: TestClient, repo: Repository, story: Story, tokens: Tokens
) -> None:
    body = gql(client, COMMIT, commit_input(story.main_edit, page_change("x")), tokens.auth("nobody"))
    assert error_codes(body) == ["NOT_FOUND"]
    assert repo.branch_head("main") == story.main_edit


def test_upsert_keeps_the_fields_the_api_does_not_set(
    client: TestClient, repo: Repository, story: Story
) -> None:
    from narrative_vcs.objects import Glyph, Page
    from narrative_vcs.repository import ChangeSet

    page = Page("hall", "Hall", "Old.", glyphs=(Glyph("key", 90),), extra=(("mood", "dark"),))
    head = repo.commit(
        "main", ChangeSet().upsert_page(page), actor="ada", message="Hall", expected_head=story.main_edit
    )
    data(client, COMMIT, commit_input(head, page_change("hall", "New.")))
    new = repo.read_page("hall", "main")
    assert (new.body, new.glyphs, new.extra) == ("New.\n", page.glyphs, page.extra)


def test_concurrent_commits_with_one_stale_head_are_all_kept(
    backend: Backend, repo: Repository, story: Story, tokens: Tokens
) -> None:
    """N writers commit their own page with the same expected head at once: all are acknowledged and
    every acknowledged commit is on the branch. Only outcomes are asserted, never an order or a time."""
    writers = 8
    before = history(repo)
    start = threading.Barrier(writers)
    results: dict[int, Any] = {}

    def write(n: int) -> None:
        variables = commit_input(story.main_edit, page_change(f"room-{n}", f"Room {n}."))
        start.wait()
        outcome = asyncio.run(schema.execute(COMMIT, variables, Context.for_request(repo, "ada")))
        results[n] = outcome

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(writers))
    assert all(r.errors is None for r in results.values()), [r.errors for r in results.values()]
    payloads = [r.data["commit"] for r in results.values()]
    ids = {p["commit"]["id"] for p in payloads}
    after = history(repo)
    assert len(ids) == writers
    assert ids <= set(after)
    assert len(after) == len(before) + writers
    # Exactly one writer found the head it expected; the others say they were rebased.
    assert sorted(p["rebased"] for p in payloads) == [False] + [True] * (writers - 1)
    for p in payloads:
        assert (p["previousHead"] == story.main_edit) is not p["rebased"]
    assert {f"room-{n}" for n in range(writers)} <= set(repo.list_pages("main"))


# --- branches ---------------------------------------------------------------------------------------


def test_create_and_delete_branch(client: TestClient, repo: Repository, story: Story) -> None:
    got = data(client, 'mutation { createBranch(name: "side", start: "main~1") { name head { id } } }')
    assert got["createBranch"] == {"name": "side", "head": {"id": story.door_alt}}
    assert repo.branch_head("side") == story.door_alt
    body = gql(client, 'mutation { createBranch(name: "side") { name } }')
    assert error_codes(body) == ["BAD_INPUT"]
    query = 'mutation($h: String!) { deleteBranch(name: "side", expectedHead: $h) { name head } }'
    body = gql(client, query, {"h": story.main_edit})
    assert error_codes(body) == ["CONFLICT"]
    assert repo.branch_head("side") == story.door_alt
    got = data(client, query, {"h": story.door_alt})
    assert got["deleteBranch"] == {"name": "side", "head": story.door_alt}
    assert repo.branch_head("side") is None
    assert error_codes(gql(client, query, {"h": story.door_alt})) == ["NOT_FOUND"]


def test_create_branch_refuses_bad_names_and_revisions(client: TestClient, story: Story) -> None:
    assert error_codes(gql(client, 'mutation { createBranch(name: "../x") { name } }')) == ["BAD_INPUT"]
    assert error_codes(gql(client, 'mutation { createBranch(name: "x", start: "nope") { name } }')) == [
        "NOT_FOUND"
    ]


# --- merge ------------------------------------------------------------------------------------------

MERGE = """mutation($source: String!, $target: String!, $dry: Boolean!, $head: String, $strategy: String) {
    merge(source: $source, target: $target, dryRun: $dry, expectedHead: $head, strategy: $strategy) {
        status dryRun commit { id kind parents { id } } conflicts { kind path page } } }"""


def test_merge_dry_run_changes_nothing(client: TestClient, repo: Repository, story: Story) -> None:
    before = repo.branches()
    got = data(client, MERGE, {"source": "alt", "target": "main", "dry": True})["merge"]
    assert got["status"] == "conflicts" and got["dryRun"] is True and got["commit"] is None
    assert [(c["path"], c["page"]) for c in got["conflicts"]] == [("pages/door.md", "door")]
    assert repo.branches() == before


def test_merge_with_conflicts_moves_nothing(client: TestClient, repo: Repository, story: Story) -> None:
    before = repo.branches()
    variables = {"source": "alt", "target": "main", "dry": False, "head": story.main_edit}
    got = data(client, MERGE, variables)["merge"]
    assert got["status"] == "conflicts" and got["commit"] is None
    assert [c["path"] for c in got["conflicts"]] == ["pages/door.md"]
    assert repo.branches() == before


def test_clean_merge_and_strategy(client: TestClient, repo: Repository, story: Story) -> None:
    variables = {"source": "alt", "target": "main", "dry": False, "head": story.main_edit, "strategy": "ours"}
    got = data(client, MERGE, variables)["merge"]
    assert got["status"] == "merged" and got["conflicts"] == []
    assert got["commit"]["kind"] == "merge"
    assert got["commit"]["parents"] == [{"id": story.main_edit}, {"id": story.alt_edit}]
    assert repo.branch_head("main") == got["commit"]["id"]


def test_clean_merge_of_disjoint_work(client: TestClient, repo: Repository, story: Story) -> None:
    alt = repo.branch_head("alt")
    data(client, 'mutation { createBranch(name: "side") { name } }')
    made = data(client, COMMIT, commit_input(story.main_edit, page_change("hall"), branch="side"))
    main = data(client, COMMIT, commit_input(story.main_edit, page_change("cellar")))
    variables = {"source": "side", "target": "main", "dry": False, "head": main["commit"]["commit"]["id"]}
    got = data(client, MERGE, variables)["merge"]
    assert got["status"] == "merged"
    assert got["commit"]["parents"] == [
        {"id": main["commit"]["commit"]["id"]},
        {"id": made["commit"]["commit"]["id"]},
    ]
    assert {"hall", "cellar"} <= set(repo.list_pages("main"))
    assert repo.branch_head("alt") == alt


def test_merge_refusals(client: TestClient, repo: Repository, story: Story) -> None:
    before = repo.branches()
    stale = {"source": "alt", "target": "main", "dry": False, "head": story.door}
    assert error_codes(gql(client, MERGE, stale)) == ["CONFLICT"]
    no_head = {"source": "alt", "target": "main", "dry": False}
    assert error_codes(gql(client, MERGE, no_head)) == ["BAD_INPUT"]
    unknown = {"source": "nope", "target": "main", "dry": True}
    assert error_codes(gql(client, MERGE, unknown)) == ["NOT_FOUND"]
    bad_strategy = {"source": "alt", "target": "main", "dry": True, "strategy": "both"}
    assert error_codes(gql(client, MERGE, bad_strategy)) == ["BAD_INPUT"]
    assert repo.branches() == before


# --- resolveConflicts -------------------------------------------------------------------------------

RESOLVE = """mutation($input: ResolveConflictsInput!) { resolveConflicts(input: $input) {
    status commit { id kind subject parents { id } changedPages } } }"""


def resolve_input(head: str, *resolutions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"source": "alt", "target": "main", "expectedHead": head}
    return {"input": {**base, **fields, "resolutions": list(resolutions)}}


@pytest.mark.parametrize(
    ("resolution", "body"),
    [
        ({"side": "THEIRS"}, "The fox hid.\n\nSee [[prologue]].\n"),
        ({"side": "OURS"}, "The fox ran.\n\nSee [[prologue]].\n"),
        ({"side": "BASE"}, "The fox waited.\n\nSee [[prologue]].\n"),
        (
            {
                "page": {
                    "id": "door",
                    "title": "Door",
                    "body": "The fox ran and hid.",
                    "follows": ["prologue"],
                }
            },
            "The fox ran and hid.\n",
        ),
    ],
)
def test_resolve_conflicts_commits_the_merge(
    client: TestClient, repo: Repository, story: Story, resolution: dict[str, Any], body: str
) -> None:
    variables = resolve_input(story.main_edit, {"path": "pages/door.md", **resolution}, message="Settle")
    got = data(client, RESOLVE, variables)["resolveConflicts"]
    assert got["status"] == "merged"
    assert got["commit"]["kind"] == "merge" and got["commit"]["subject"] == "Settle"
    assert got["commit"]["parents"] == [{"id": story.main_edit}, {"id": story.alt_edit}]
    assert repo.branch_head("main") == got["commit"]["id"]
    assert repo.read_page("door", "main").body == body
    assert "door-alt" in repo.list_pages("main")


def test_resolve_conflicts_with_union_keeps_both_sides(
    client: TestClient, repo: Repository, story: Story
) -> None:
    variables = resolve_input(story.main_edit, {"path": "pages/door.md", "side": "UNION"})
    data(client, RESOLVE, variables)
    body = repo.read_page("door", "main").body
    assert "The fox ran." in body and "The fox hid." in body and "<<<<<<<" not in body


def test_resolve_conflicts_refusals_change_nothing(
    client: TestClient, repo: Repository, story: Story
) -> None:
    before = repo.branches()
    door = "pages/door.md"
    cases = {
        "CONFLICT": [
            resolve_input(story.main_edit),  # nothing settled: CONFLICT naming the page
            resolve_input(story.door, {"path": door, "side": "OURS"}),  # a stale head
        ],
        "BAD_INPUT": [
            resolve_input(story.main_edit, {"path": door, "side": "OURS"}, {"path": door, "side": "THEIRS"}),
            resolve_input(story.main_edit, {"path": door}),
            resolve_input(story.main_edit, {"path": door, "side": "OURS", "delete": True}),
            resolve_input(story.main_edit, {"path": "pages/hall.md", "side": "OURS"}),
            resolve_input(story.main_edit, {"path": "../etc/passwd", "side": "OURS"}),
            resolve_input(story.main_edit, {"path": door, "content": "---\ntitle: [\n---\nbroken"}),
            resolve_input(
                story.main_edit, {"path": door, "page": {"id": "hall", "title": "Hall", "body": "x"}}
            ),
            resolve_input("abc", {"path": door, "side": "OURS"}),
            resolve_input(
                story.main_edit,
                {"path": door, "page": {"id": "door", "title": "Door", "body": "x", "follows": ["attic"]}},
            ),
        ],
        "NOT_FOUND": [
            resolve_input(story.main_edit, {"path": door, "side": "OURS"}, source="nope"),
        ],
        "FORBIDDEN": [
            resolve_input(story.main_edit, {"path": door, "side": "OURS"}, actor="cal"),
        ],
    }
    for code, inputs in cases.items():
        for variables in inputs:
            body = gql(client, RESOLVE, variables)
            assert error_codes(body) == [code], (variables, body)
            assert "\n" not in body["errors"][0]["message"]
    unsettled = gql(client, RESOLVE, resolve_input(story.main_edit))
    assert unsettled["errors"][0]["extensions"]["paths"] == [door]
    assert repo.branches() == before


def test_resolve_conflicts_refuses_a_clean_merge(client: TestClient, repo: Repository, story: Story) -> None:
    data(client, 'mutation { createBranch(name: "side") { name } }')
    data(client, COMMIT, commit_input(story.main_edit, page_change("hall"), branch="side"))
    head = repo.branch_head("main")
    assert head is not None
    variables = resolve_input(head, {"path": "pages/hall.md", "side": "OURS"}, source="side")
    assert error_codes(gql(client, RESOLVE, variables)) == ["REFUSED"]
    assert repo.branch_head("main") == head
