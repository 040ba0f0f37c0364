"""Governance through GraphQL on every backend: propose and vote with the tokens of several actors, the
merge executed, proposals read back; protection and errors with their codes."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from narrative_vcs import governance
from narrative_vcs.repository import Repository
from tests.conftest import Writer
from tests.governance.story import DOOR, make_story

from .conftest import Tokens, data, error_codes, gql

PROPOSAL = """
  number status hearing source target message proposer opened closes revision resolutions
  rules { quorum threshold window weight stake ledger }
  votes { actor choice stake weight time }
  tally { voters yes no share quorum quorumReached threshold passing }
  sourceHead { id } targetHead { id } commit { id kind }
  result { status rechecked conflicts reason returned commit { id kind parents { id } } }
"""
PROPOSE = "mutation($input: ProposeInput!) { propose(input: $input) { " + PROPOSAL + " } }"
VOTE = (
    "mutation($n: Int!, $c: VoteChoice!, $s: Int! = 0) { vote(number: $n, choice: $c, stake: $s) { "
    + PROPOSAL
    + " } }"
)
PROPOSALS = "query($status: String) { proposals(status: $status) { number status tally { voters } } }"
ONE = "query($n: Int!) { proposal(number: $n) { " + PROPOSAL + " } }"


def test_the_governance_life_cycle_over_graphql(
    client: TestClient, repo: Repository, writer: Writer, tokens: Tokens
) -> None:
    fork = make_story(writer)
    opened = data(
        client, PROPOSE, {"input": {"source": "side", "target": "main", "message": "Open the door"}}
    )["propose"]
    assert (opened["number"], opened["status"], opened["proposer"]) == (1, "open", "ada")
    assert opened["sourceHead"]["id"] == fork.side and opened["targetHead"]["id"] == fork.main
    assert opened["commit"]["kind"] == "proposal.opened" and opened["result"] is None
    assert opened["rules"]["quorum"] == 2 and opened["tally"]["passing"] is False
    assert data(client, PROPOSALS)["proposals"] == [{"number": 1, "status": "open", "tally": {"voters": 0}}]

    first = data(client, VOTE, {"n": 1, "c": "YES"}, headers=tokens.auth("bot"))["vote"]
    assert first["status"] == "open" and first["votes"][0]["actor"] == "bot"
    twice = gql(client, VOTE, {"n": 1, "c": "NO"}, headers=tokens.auth("bot"))
    assert error_codes(twice) == ["REFUSED"]
    assert twice["errors"][0]["message"] == "bot already voted yes on proposal 1: one vote per actor"

    final = data(client, VOTE, {"n": 1, "c": "YES"}, headers=tokens.auth("cal"))["vote"]
    assert final["status"] == "executed" and final["commit"]["kind"] == "proposal.executed"
    result = final["result"]
    assert result["status"] == "merged" and result["rechecked"] is False
    assert result["commit"]["kind"] == "merge"
    assert [p["id"] for p in result["commit"]["parents"]] == [fork.main, fork.side]
    assert repo.branch_head("main") == result["commit"]["id"]
    assert final["tally"] == {
        "voters": 2,
        "yes": 2.0,
        "no": 0.0,
        "share": 1.0,
        "quorum": 2,
        "quorumReached": True,
        "threshold": 0.5,
        "passing": True,
    }

    shown = data(client, ONE, {"n": 1})["proposal"]
    assert shown["status"] == "executed" and shown["result"]["commit"]["id"] == result["commit"]["id"]
    assert [v["actor"] for v in shown["votes"]] == ["bot", "cal"]
    assert data(client, ONE, {"n": 9})["proposal"] is None
    assert data(client, PROPOSALS, {"status": "open"})["proposals"] == []
    closed = gql(client, VOTE, {"n": 1, "c": "YES"}, headers=tokens.auth("dot"))
    assert error_codes(closed) == ["REFUSED"]


def test_protected_branches_refuse_commits_and_merges_over_graphql(
    client: TestClient, writer: Writer
) -> None:
    fork = make_story(writer)
    commit = gql(
        client,
        "mutation($input: CommitInput!) { commit(input: $input) { commit { id } } }",
        {
            "input": {
                "branch": "main",
                "expectedHead": fork.main,
                "message": "Direct",
                "changes": [{"upsertPage": {"id": "hall", "title": "Hall", "body": "Direct."}}],
            }
        },
    )
    assert error_codes(commit) == ["REFUSED"]
    message = commit["errors"][0]["message"]
    refusal = (
        "main is protected: open a proposal (gvcs propose SOURCE --into main) (rule: protected-branches)"
    )
    assert message.endswith(f"by ada: {refusal}")
    merge = gql(
        client,
        'mutation($h: String!) { merge(source: "side", target: "main", expectedHead: $h) { status } }',
        {"h": fork.main},
    )
    assert error_codes(merge) == ["REFUSED"]


def test_a_conflicting_proposal_needs_resolutions_over_graphql(
    client: TestClient, repo: Repository, writer: Writer, tokens: Tokens
) -> None:
    make_story(writer, protected=False)
    writer.page("door", DOOR.replace("was shut", "was bricked up"), title="Door")
    conflicting = gql(client, PROPOSE, {"input": {"source": "side", "target": "main", "message": "Open it"}})
    assert error_codes(conflicting) == ["CONFLICT"]
    assert conflicting["errors"][0]["extensions"]["paths"] == ["pages/door.md"]
    resolved = {"source": "side", "target": "main", "message": "Open it",
                "resolutions": [{"path": "pages/door.md", "side": "THEIRS"}]}  # fmt: skip
    opened = data(client, PROPOSE, {"input": resolved})["propose"]
    assert opened["resolutions"] == {"pages/door.md": "theirs"}
    data(client, VOTE, {"n": 1, "c": "YES"}, headers=tokens.auth("bot"))
    final = data(client, VOTE, {"n": 1, "c": "YES"}, headers=tokens.auth("dot"))["vote"]
    assert final["status"] == "executed"
    assert "stood open" in repo.read_page("door").body


def test_reads_close_expired_proposals_and_are_not_cached_while_open(
    client: TestClient, repo: Repository, writer: Writer
) -> None:
    make_story(writer, window=60)
    governance.propose(repo, "side", "main", actor="ada", message="Soon over", now=int(time.time()) - 58)
    assert data(client, PROPOSALS)["proposals"][0]["status"] == "open"
    time.sleep(2.5)
    assert data(client, PROPOSALS)["proposals"][0]["status"] == "expired"  # same refs, same query


def test_governance_errors_carry_codes(client: TestClient, writer: Writer, tokens: Tokens) -> None:
    make_story(writer)
    missing = gql(client, PROPOSE, {"input": {"source": "nowhere", "target": "main", "message": "x"}})
    assert error_codes(missing) == ["NOT_FOUND"]
    data(client, PROPOSE, {"input": {"source": "side", "target": "main", "message": "Go"}})
    assert error_codes(gql(client, VOTE, {"n": 1, "c": "YES", "s": 3})) == ["BAD_INPUT"]
    assert error_codes(gql(client, VOTE, {"n": 7, "c": "YES"})) == ["NOT_FOUND"]
    assert error_codes(gql(client, PROPOSALS, {"status": "bogus"})) == ["BAD_INPUT"]
    anonymous = gql(client, VOTE, {"n": 1, "c": "YES"}, headers={"authorization": ""})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    other = {"source": "side", "target": "main", "message": "As bot", "actor": "bot"}
    assert error_codes(gql(client, PROPOSE, {"input": other})) == ["FORBIDDEN"]
    hearing = data(client, PROPOSE, {"input": {"target": "main", "message": "Wake?"}}, tokens.auth("cal"))
    assert hearing["propose"]["hearing"] is True and hearing["propose"]["sourceHead"] is None
