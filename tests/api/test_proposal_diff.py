"""``Proposal.diff`` on every backend: what a proposal merges, page by page, before and after the vote."""

from __future__ import annotations

from starlette.testclient import TestClient

from narrative_vcs.repository import Repository
from tests.conftest import Writer
from tests.governance.story import DOOR, make_story

from .conftest import Tokens, data

DIFF = """query($n: Int!) { proposal(number: $n) { status diff {
    basis from { id } to { id }
    pages { id path status title titleChange { old new } followsAdded followsRemoved alternateOf { old new }
            referencesAdded referencesRemoved fields paragraphs { op oldIndex newIndex old new words } }
    changes { path kind status } } } }"""
PROPOSE = "mutation($input: ProposeInput!) { propose(input: $input) { number } }"
VOTE = "mutation($n: Int!) { vote(number: $n, choice: YES) { status } }"


def _propose(client: TestClient, message: str = "Open the door") -> int:
    variables = {"input": {"source": "side", "target": "main", "message": message}}
    number: int = data(client, PROPOSE, variables)["propose"]["number"]
    return number


def test_an_open_proposal_shows_what_its_source_brings(client: TestClient, writer: Writer) -> None:
    fork = make_story(writer)
    cellar = writer.page("cellar", "Down to the [[hall]].", title="Cellar", follows=("door",), branch="side")
    number = _propose(client)
    proposal = data(client, DIFF, {"n": number})["proposal"]
    assert proposal["status"] == "open"
    diff = proposal["diff"]
    assert (diff["basis"], diff["from"]["id"], diff["to"]["id"]) == ("merge-base", fork.main, cellar)
    added, door = diff["pages"]
    assert added == {
        "id": "cellar",
        "path": "pages/cellar.md",
        "status": "added",
        "title": "Cellar",
        "titleChange": {"old": None, "new": "Cellar"},
        "followsAdded": ["door"],
        "followsRemoved": [],
        "alternateOf": None,
        "referencesAdded": ["hall"],
        "referencesRemoved": [],
        "fields": [],
        "paragraphs": [
            {
                "op": "inserted",
                "oldIndex": None,
                "newIndex": 1,
                "old": None,
                "new": "Down to the [[hall]].",
                "words": None,
            }
        ],
    }
    assert (door["id"], door["status"], door["title"], door["titleChange"]) == (
        "door",
        "modified",
        "Door",
        None,
    )
    (paragraph,) = door["paragraphs"]
    assert (paragraph["op"], paragraph["oldIndex"], paragraph["newIndex"]) == ("changed", 2, 2)
    assert (paragraph["old"], paragraph["new"]) == ("The door was shut.", "The door stood open.")
    assert {"op": "inserted", "text": "stood"} in paragraph["words"]
    assert diff["changes"] == [
        {"path": "pages/cellar.md", "kind": "page", "status": "added"},
        {"path": "pages/door.md", "kind": "page", "status": "modified"},
    ]


def test_the_diff_follows_the_target_while_the_proposal_is_open(
    client: TestClient, repo: Repository, writer: Writer
) -> None:
    """main takes the side's head by another way (the story leaves main unprotected): nothing is left
    to merge, and the diff says so."""
    fork = make_story(writer, protected=False)
    number = _propose(client)
    assert len(data(client, DIFF, {"n": number})["proposal"]["diff"]["pages"]) == 1
    merged = repo.merge("main", "side", actor="ada", expected_head=fork.main, message="Merge side")
    assert merged.commit is not None
    diff = data(client, DIFF, {"n": number})["proposal"]["diff"]
    assert (diff["basis"], diff["from"]["id"], diff["to"]["id"]) == ("merge-base", fork.side, fork.side)
    assert diff["pages"] == [] and diff["changes"] == []


def test_a_merged_proposal_shows_what_landed(
    client: TestClient, repo: Repository, writer: Writer, tokens: Tokens
) -> None:
    fork = make_story(writer)
    number = _propose(client)
    assert data(client, VOTE, {"n": number}, headers=tokens.auth("bot"))["vote"]["status"] == "open"
    assert data(client, VOTE, {"n": number}, headers=tokens.auth("cal"))["vote"]["status"] == "executed"
    proposal = data(client, DIFF, {"n": number})["proposal"]
    diff = proposal["diff"]
    assert proposal["status"] == "executed"
    assert (diff["basis"], diff["from"]["id"], diff["to"]["id"]) == (
        "merged",
        fork.main,
        repo.branch_head("main"),
    )
    (door,) = diff["pages"]
    assert door["id"] == "door" and door["paragraphs"][0]["new"] == "The door stood open."
    assert repo.read_file("pages/door.md", "main") != DOOR


def test_a_hearing_merges_nothing(client: TestClient, writer: Writer) -> None:
    make_story(writer)
    variables = {"input": {"target": "main", "message": "Shall the door open?"}}
    number = data(client, PROPOSE, variables)["propose"]["number"]
    diff = data(client, DIFF, {"n": number})["proposal"]["diff"]
    assert diff == {"basis": "hearing", "from": None, "to": None, "pages": [], "changes": []}
