"""Attacks on the story's rules through a real ``gvcs serve``: forged records, reading-order cycles, the
governance branch, state files, raw page text and a protected ``main``, each refused as one line with
nothing changed; the honest ways still work; and ``narrative.change.v1`` reaches ``/events`` whoever
moved the branch (the server itself, or a vote and a gift made by the CLI next to it)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.graph.factory import open_repository

from .serving import EventStream, Served, post_json, serve, wait_for_subscribers
from .vault import Built, build_vault

PROTECTED = "main is protected: open a proposal (gvcs propose SOURCE --into main) (rule: protected-branches)"

HEADS = "{ branches { name head { id } } }"
ACTORS = "query($rev: String!) { actors(rev: $rev) { id name } }"
CHANGE_FIELDS = '{ __type(name: "ChangeInput") { inputFields { name } } }'
COMMIT = "mutation($input: CommitInput!) { commit(input: $input) { commit { id } } }"
MERGE = """mutation($s: String!, $t: String!, $h: String!) {
    merge(source: $s, target: $t, expectedHead: $h) { status } }"""
RESOLVE = "mutation($input: ResolveConflictsInput!) { resolveConflicts(input: $input) { status } }"
DELETE = "mutation($n: String!, $h: String!) { deleteBranch(name: $n, expectedHead: $h) { name } }"
CREATE = "mutation($n: String!, $s: String!) { createBranch(name: $n, start: $s) { name } }"
EMIT = """mutation($input: EmitEventInput!) { emitEvent(input: $input) {
    branch duplicate commit { id kind event actor { id } } } }"""
PROPOSE = "mutation($input: ProposeInput!) { propose(input: $input) { number status } }"
VOTE = """mutation($n: Int!, $c: VoteChoice!) { vote(number: $n, choice: $c) {
    status result { status reason commit { id parents { id } } } } }"""
PROPOSALS = "{ proposals { number status source target } }"
PROPOSAL = "query($n: Int!) { proposal(number: $n) { status result { commit { id } } } }"
HALL = '{ page(id: "hall", rev: "main") { body } }'
SIDE_INTO_MAIN = {"input": {"source": "side", "target": "main", "message": "A shorter hall"}}


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build_vault(tmp_path)


# --- helpers ---------------------------------------------------------------------------------------------


class Api:
    """GraphQL requests to a server, each with the token of the actor named."""

    def __init__(self, server: Served, built: Built) -> None:
        self.server = server
        self.built = built

    def auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.built.tokens[who]}"}

    def body(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole answer (``data`` and maybe ``errors``)."""
        return self.server.graphql(query, variables, **self.auth(who))

    def data(self, who: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a request that must not fail."""
        body = self.body(who, query, variables)
        assert "errors" not in body, body
        return body["data"]

    def heads(self) -> dict[str, str]:
        return {b["name"]: b["head"]["id"] for b in self.data("bot", HEADS)["branches"]}


def refused(body: dict[str, Any], rule: str | None = None, code: str = "REFUSED") -> str:
    """Assert one error of ``code`` on one line (ending with ``(rule: <rule>)`` if given); its message."""
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    message: str = body["errors"][0]["message"]
    assert "\n" not in message and "Traceback" not in message, message
    if rule is not None:
        assert message.endswith(f"(rule: {rule})"), message
    return message


def commit_input(branch: str, head: str, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"branch": branch, "expectedHead": head, "message": "Edit", "changes": list(changes)}}


def page(page_id: str, body: str = "Text.", **fields: Any) -> dict[str, Any]:
    return {"upsertPage": {"id": page_id, "title": page_id.title(), "body": body, **fields}}


def gift(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"input": {"topic": "gift.txn.v1", "payload": payload, **fields}}


def gvcs(built: Built, actor: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``gvcs -C STORY --actor ACTOR ARGS`` as another process, which must succeed (no GVCS_* setting
    of the tests leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    command = [str(Path(sys.executable).with_name("gvcs")), "-C", str(built.root), "--actor", actor, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


def narrative(event: dict[str, str]) -> dict[str, Any]:
    """The data of a ``narrative.change.v1`` event, whose id is ``<branch>:<commit>:narrative``."""
    assert event["event"] == "narrative.change.v1", event
    data: dict[str, Any] = json.loads(event["data"])
    assert data["topic"] == "narrative.change.v1"
    assert event["id"] == f"{data['branch']}:{data['commit']}:narrative"
    return data


# --- attacks ---------------------------------------------------------------------------------------------


def test_forged_records_cycles_and_the_governance_branch_are_refused(built: Built) -> None:
    with serve(built.root) as server:
        api = Api(server, built)
        draft = built.heads["draft"]
        hijack = commit_input("draft", draft, {"upsertActor": {"id": "bob", "name": "Bob Hijacked"}})
        message = refused(api.body("ada", COMMIT, hijack), "actors")
        assert message.endswith(
            "by ada: ada cannot change bob's record (actors/bob.yaml): only bob can (rule: actors)"
        )
        as_bob = {"input": {**hijack["input"], "actor": "bob"}}
        assert (
            refused(api.body("ada", COMMIT, as_bob), code="FORBIDDEN") == "this token acts as ada, not as bob"
        )
        assert api.heads() == built.heads
        assert {"id": "bob", "name": "Bob Builder"} in api.data("ada", ACTORS, {"rev": "draft"})["actors"]
        # bob's own token may change bob's record.
        own = commit_input("draft", draft, {"upsertActor": {"id": "bob", "name": "Bob Renamed"}})
        renamed = api.data("bob", COMMIT, own)["commit"]["commit"]["id"]
        assert {"id": "bob", "name": "Bob Renamed"} in api.data("ada", ACTORS, {"rev": "draft"})["actors"]
        # A newcomer brings their own record, and no one else's.
        zed, bob = {"id": "zed", "name": "Zed"}, {"id": "bob", "name": "Bob Zed"}
        joined = commit_input("draft", renamed, {"upsertActor": zed}, {"upsertActor": bob})
        assert refused(api.body("zed", COMMIT, joined), "actors").endswith(
            " by zed: zed joins in this commit and cannot also write actors/bob.yaml (rule: actors)"
        )

        # A reading-order cycle made across two commits, or in one.
        linked = api.data(
            "ada", COMMIT, commit_input("draft", renamed, page("p1"), page("p2", follows=["p1"]))
        )
        linked_id = linked["commit"]["commit"]["id"]
        cycle = commit_input("draft", linked_id, page("p1", follows=["p2"]))
        message = refused(api.body("ada", COMMIT, cycle), "pages")
        assert message.endswith(": reading order would have a cycle: p1 -> p2 -> p1 (rule: pages)")
        at_once = commit_input("draft", linked_id, page("p3", follows=["p4"]), page("p4", follows=["p3"]))
        assert "reading order would have a cycle" in refused(api.body("ada", COMMIT, at_once), "pages")
        # The same cycle, written by an agent's events (on agents/bot).
        emit = {"topic": "agent.emit.v1", "payload": {"page": "a1", "title": "A1", "body": "One."}}
        api.data("bot", EMIT, {"input": emit})
        second = {"page": "a2", "title": "A2", "body": "Two.", "follows": ["a1"]}
        api.data("bot", EMIT, {"input": {**emit, "payload": second}})
        before = api.heads()
        looped = {**emit, "payload": {"page": "a1", "body": "One.", "follows": ["a2"]}}
        refused(api.body("bot", EMIT, {"input": looped}), "pages")
        assert api.heads() == before and before["draft"] == linked_id

        # The governance branch: not made by hand, never deleted, written by proposals only.
        made = api.body("ada", CREATE, {"n": "governance", "s": "main"})
        assert "only governance writes the governance branch" in refused(made, "governance")
        assert api.data("ada", PROPOSE, SIDE_INTO_MAIN)["propose"] == {"number": 1, "status": "open"}
        before = api.heads()
        for who in ("ada", "bob", "cal", "bot"):
            deleted = api.body(who, DELETE, {"n": "governance", "h": before["governance"]})
            assert refused(deleted) == (
                "the governance branch holds every proposal: it cannot be deleted (rule: governance)"
            )
        edit = commit_input("governance", before["governance"], page("hall", "Mine."))
        refused(api.body("ada", COMMIT, edit), "governance")
        minted = api.body("ada", EMIT, gift({"op": "mint", "to": "ada", "amount": 1}, branch="governance"))
        assert "a gift.txn.v1 commit cannot go there" in refused(minted, "governance")
        assert api.heads() == before
        assert api.data("bob", PROPOSALS)["proposals"] == [
            {"number": 1, "status": "open", "source": "side", "target": "main"}
        ]


def test_state_files_raw_text_and_overspent_gifts_are_refused(built: Built) -> None:
    with serve(built.root) as server:
        api = Api(server, built)
        # The commit mutation writes pages and actors only: a ledger.yaml change has no field to go in.
        fields = api.data("ada", CHANGE_FIELDS)["__type"]["inputFields"]
        assert {f["name"] for f in fields} == {"upsertPage", "deletePage", "upsertActor"}
        # Resolutions are raw text: a state file that does not conflict takes none, and front matter with
        # YAML anchors and aliases is refused before anything is built.
        forged = {"path": "ledger.yaml", "content": "balances:\n  ada: 1000000\n"}
        settle = {"source": "clash", "target": "draft", "expectedHead": built.heads["draft"]}
        theirs = {"path": "pages/door.md", "side": "THEIRS"}
        body = api.body("ada", RESOLVE, {"input": {**settle, "resolutions": [theirs, forged]}})
        assert refused(body, code="BAD_INPUT") == "ledger.yaml has no conflict in merging clash into draft"
        bomb = {"path": "pages/door.md", "content": "---\ntitle: &t Door\ntags: [*t, *t]\n---\nThe door.\n"}
        body = api.body("ada", RESOLVE, {"input": {**settle, "resolutions": [bomb]}})
        assert "YAML anchors (&name) are not allowed" in refused(body, code="BAD_INPUT")
        assert api.heads() == built.heads
        # A page's fields are written out as plain text: YAML syntax in them stays text.
        odd = page("odd", "Body.", tags=["*t"])
        odd["upsertPage"]["title"] = "&t !!str *t"
        written = api.data("ada", COMMIT, commit_input("draft", built.heads["draft"], odd))["commit"][
            "commit"
        ]
        shown = api.data("ada", '{ page(id: "odd", rev: "draft") { title tags } }')["page"]
        assert shown == {"title": "&t !!str *t", "tags": ["*t"]}
        assert api.heads() == {**built.heads, "draft": written["id"]}

        # Tokens: nobody sends more than they have, an agent does not mint.
        overspend = {"op": "transfer", "to": "ada", "amount": 500000}
        body = api.body("bob", EMIT, gift(overspend))
        assert refused(body) == "gift.txn.v1: bob has 0 tokens, cannot send 500000"
        body = api.body("ada", EMIT, gift({**overspend, "to": "bob"}))
        assert refused(body) == "gift.txn.v1: ada has 5 tokens, cannot send 500000"
        body = api.body("bot", EMIT, gift({"op": "mint", "to": "bot", "amount": 3}))
        assert refused(body).startswith("gift.txn.v1: bot may not mint")
        with pytest.raises(urllib.error.HTTPError) as posted:
            post_json(f"{server.base}/events/gift.txn.v1", overspend, api.auth("bob"))
        assert posted.value.code == 409
        assert refused(json.loads(posted.value.read())) == "gift.txn.v1: bob has 0 tokens, cannot send 500000"
        assert api.heads() == {**built.heads, "draft": written["id"]}

        # A proposal's resolutions are raw text too: one for a state file, or a page that does not
        # parse, is refused when the proposal opens, so nobody votes on a merge that cannot be made.
        for carried, message in (
            (bomb, "YAML anchors (&name) are not allowed"),
            (forged, "merges as its events"),
        ):
            opening = {"source": "clash", "target": "main", "message": "Aliases", "resolutions": [carried]}
            assert message in refused(api.body("ada", PROPOSE, {"input": opening}), code="BAD_INPUT")
        after = api.heads()
        assert {k: v for k, v in after.items() if k != "governance"} == {
            **built.heads,
            "draft": written["id"],
        }


def test_protected_main_moves_only_by_a_passed_proposal_or_a_gift(built: Built) -> None:
    repo = open_repository(built.root)
    repo.set_head_branch("draft")  # so that deleting main meets the rules, not "the current branch"
    repo.close()
    with serve(built.root) as server:
        api = Api(server, built)
        main = built.heads["main"]
        direct = api.body("ada", COMMIT, commit_input("main", main, page("hall", "Direct.")))
        assert refused(direct).endswith(f" by ada: {PROTECTED}")
        assert refused(api.body("cal", MERGE, {"s": "side", "t": "main", "h": main})).endswith(PROTECTED)
        settle = {"source": "clash", "target": "main", "expectedHead": main}
        theirs = [{"path": "pages/door.md", "side": "THEIRS"}]
        resolved = api.body("ada", RESOLVE, {"input": {**settle, "resolutions": theirs}})
        assert refused(resolved).endswith(PROTECTED)
        agent = {"topic": "agent.emit.v1", "branch": "main", "payload": {"page": "door", "body": "Bot's."}}
        assert refused(api.body("bot", EMIT, {"input": agent})).endswith(f" by bot: {PROTECTED}")
        deleted = api.body("ada", DELETE, {"n": "main", "h": main})
        assert refused(deleted) == "main is protected: it cannot be deleted (rule: protected-branches)"
        assert api.heads() == built.heads

        stream = EventStream(server, "/events?kind=narrative.change.v1", api.auth("bot"))
        try:
            wait_for_subscribers(server, 1)
            # The honest way: a proposal and two votes; the deciding vote executes the merge.
            number = api.data("ada", PROPOSE, SIDE_INTO_MAIN)["propose"]["number"]
            assert api.data("bob", VOTE, {"n": number, "c": "YES"})["vote"]["status"] == "open"
            assert api.heads()["main"] == main
            final = api.data("cal", VOTE, {"n": number, "c": "YES"})["vote"]
            assert (final["status"], final["result"]["status"]) == ("executed", "merged")
            merge = final["result"]["commit"]
            assert [p["id"] for p in merge["parents"]] == [main, built.heads["side"]]
            assert api.heads()["main"] == merge["id"]
            assert api.data("ada", HALL)["page"]["body"] == "A short hall.\n"

            # A gift by a minter lands on protected main without a vote.
            payload = {"op": "transfer", "to": "bob", "amount": 2}
            sent = api.data("ada", EMIT, gift(payload))["emitEvent"]
            assert (sent["branch"], sent["duplicate"]) == ("main", False)
            assert sent["commit"]["kind"] == "gift.txn.v1" and sent["commit"]["event"] == payload
            assert sent["commit"]["actor"] == {"id": "ada"} and api.heads()["main"] == sent["commit"]["id"]

            # Each change reaches the stream once (this server's own news, and the head it saw move).
            change = narrative(stream.next())
            assert (change["id"], change["proposal"], change["kind"]) == (
                f"main:{merge['id']}",
                number,
                "merge",
            )
            given = narrative(stream.next())
            assert (given["id"], given["kind"]) == (f"main:{sent['commit']['id']}", "gift.txn.v1")
        finally:
            stream.close()

        # Still no direct edit, on the new head either.
        head = api.heads()["main"]
        refused(
            api.body("bob", COMMIT, commit_input("main", head, page("hall", "Again."))), "protected-branches"
        )
        assert api.heads()["main"] == head


# --- narrative.change.v1 from the CLI --------------------------------------------------------------------


def test_a_cli_vote_and_a_cli_gift_reach_the_event_streams(built: Built) -> None:
    gvcs(built, "ada", "access", "token")
    assert json.loads(gvcs(built, "ada", "access", "--json").stdout) == {"reads": "token"}
    with serve(built.root) as server:
        api = Api(server, built)
        anonymous = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        anonymous.request("GET", "/events?kind=narrative.change.v1")
        assert anonymous.getresponse().status == 401  # reads need a token now
        anonymous.close()
        main = built.heads["main"]
        changes = EventStream(server, "/events?kind=narrative.change.v1", api.auth("bot"))
        commits = EventStream(server, "/events?branch=main", api.auth("bob"))
        try:
            wait_for_subscribers(server, 2)
            assert api.data("ada", PROPOSE, SIDE_INTO_MAIN)["propose"]["number"] == 1
            assert api.data("bob", VOTE, {"n": 1, "c": "YES"})["vote"]["status"] == "open"
            voted = gvcs(built, "cal", "vote", "1", "yes")  # the deciding vote, by another process
            assert "proposal 1 executed: merged side into main" in voted.stdout
            shown = api.data("ada", PROPOSAL, {"n": 1})["proposal"]
            assert shown["status"] == "executed"
            merge = shown["result"]["commit"]["id"]

            change = narrative(changes.next())
            assert change["id"] == f"main:{merge}"
            assert (change["branch"], change["commit"], change["previous"]) == ("main", merge, main)
            assert (change["proposal"], change["source"], change["kind"]) == (1, "side", "merge")
            assert (change["actor"], change["pages"]) == ("ada", ["hall"])
            event = commits.next()
            assert (event["event"], event["id"]) == ("commit", f"main:{merge}")
            assert narrative(commits.next()) == change

            gvcs(built, "ada", "gift", "mint", "bob", "3", "--id", "cli-gift")
            minted_id = api.heads()["main"]
            minted = narrative(changes.next())
            assert (minted["id"], minted["kind"], minted["previous"]) == (
                f"main:{minted_id}",
                "gift.txn.v1",
                merge,
            )
            assert (minted["actor"], minted["proposal"]) == ("ada", None)
            event = commits.next()
            assert event["id"] == f"main:{minted_id}" and json.loads(event["data"])["eventId"] == "cli-gift"
            assert narrative(commits.next()) == minted
        finally:
            changes.close()
            commits.close()

        # Reconnecting from main's first commit: every commit since, each change after its commit (the
        # commits made before main was protected are no changes).
        since = {**api.auth("bot"), "last-event-id": f"main:{built.first}"}
        resumed = EventStream(server, "/events?branch=main", since)
        try:
            replayed = [resumed.next() for _ in range(7)]
        finally:
            resumed.close()
        assert [(e["event"], e["id"]) for e in replayed[2:]] == [
            ("commit", f"main:{main}"),
            ("commit", f"main:{merge}"),
            ("narrative.change.v1", f"main:{merge}:narrative"),
            ("commit", f"main:{minted_id}"),
            ("narrative.change.v1", f"main:{minted_id}:narrative"),
        ]
        assert [e["event"] for e in replayed[:2]] == ["commit", "commit"]
        assert json.loads(replayed[0]["data"])["parents"] == [built.first]
        assert narrative(replayed[4]) == change and narrative(replayed[6]) == minted
        # The narrative changes alone, from a commit before the merge, and from the merge.
        only = EventStream(
            server, "/events?kind=narrative.change.v1", {**since, "last-event-id": f"main:{main}"}
        )
        try:
            assert [narrative(only.next()) for _ in range(2)] == [change, minted]
        finally:
            only.close()
        after = EventStream(
            server, "/events?kind=narrative.change.v1", {**since, "last-event-id": f"main:{merge}:narrative"}
        )
        try:
            assert narrative(after.next()) == minted
        finally:
            after.close()
        # A client that had the merge's commit but not its change (it left between the two) gets it.
        between = EventStream(server, "/events?branch=main", {**since, "last-event-id": f"main:{merge}"})
        try:
            assert narrative(between.next()) == change
            assert between.next()["id"] == f"main:{minted_id}"
        finally:
            between.close()
    listed = json.loads(
        gvcs(built, "bot", "event", "list", "--topic", "narrative.change.v1", "--json").stdout
    )
    assert [c["id"] for c in listed] == [f"main:{minted_id}", f"main:{merge}"], listed
