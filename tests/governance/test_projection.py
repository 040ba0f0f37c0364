"""The governance graph in Neo4j: ``(:Proposal)-[:MERGES {role}]->(:Branch)`` and
``(:Actor)-[:VOTED {choice, weight}]->(:Proposal)``, kept at each proposal's newest revision."""

from __future__ import annotations

from typing import Any

import pytest

from narrative_vcs import governance
from narrative_vcs.graph.neo4j import Neo4jObjectStore
from narrative_vcs.repository import Repository
from narrative_vcs.transfer import copy_branch
from tests.conftest import Backend, Writer

from .story import T0, make_story

pytestmark = pytest.mark.neo4j


def rows(repo: Repository, cypher: str, **params: Any) -> list[dict[str, Any]]:
    store = repo.objects
    assert isinstance(store, Neo4jObjectStore)
    with store.server.driver.session(database=store.server.location.database) as session:
        return session.execute_read(lambda tx: [r.data() for r in tx.run(cypher, params)])


PROPOSALS = (
    "MATCH (p:Proposal) OPTIONAL MATCH (p)-[m:MERGES]->(b:Branch) "
    "RETURN p.number AS number, p.status AS status, p.revision AS revision, p.result AS result, "
    "p.result_commit AS commit, collect([m.role, b.name]) AS branches ORDER BY number"
)
VOTES = (
    "MATCH (a:Actor)-[v:VOTED]->(p:Proposal) "
    "RETURN p.number AS number, a.id AS actor, v.choice AS choice, v.weight AS weight ORDER BY actor"
)


def test_proposals_and_votes_are_projected(neo4j_backend: Backend) -> None:
    repo = Repository(neo4j_backend.objects, neo4j_backend.refs)
    repo.set_head_branch("main")
    make_story(Writer(repo))
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    opened = rows(repo, PROPOSALS)
    assert len(opened) == 1 and opened[0]["status"] == "open" and opened[0]["revision"] == 1
    assert sorted(opened[0]["branches"]) == [["source", "side"], ["target", "main"]]
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.result is not None
    (row,) = rows(repo, PROPOSALS)
    assert (row["status"], row["revision"], row["result"]) == ("executed", 4, "merged")
    assert row["commit"] == state.result.commit
    assert sorted(row["branches"]) == [["source", "side"], ["target", "main"]]
    votes = rows(repo, VOTES)
    assert [(v["actor"], v["choice"], v["weight"]) for v in votes] == [
        ("bot", "yes", 1.0),
        ("cal", "yes", 1.0),
    ]


def test_a_copied_history_projects_the_newest_revision(neo4j_backend: Backend) -> None:
    source = Repository.memory()
    make_story(Writer(source))
    governance.propose(source, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(source, 1, actor="dot", choice="no", now=T0 + 1)
    repo = Repository(neo4j_backend.objects, neo4j_backend.refs)
    for branch in ("main", "side", "governance"):
        copy_branch(source, repo, branch)
    (row,) = rows(repo, PROPOSALS)
    assert (row["status"], row["revision"]) == ("open", 2)
    assert [(v["actor"], v["choice"]) for v in rows(repo, VOTES)] == [("dot", "no")]


def test_proposals_meet_branches_copied_after_them(neo4j_backend: Backend) -> None:
    source = Repository.memory()
    make_story(Writer(source))
    governance.propose(source, "side", "main", actor="ada", message="Open the door", now=T0)
    repo = Repository(neo4j_backend.objects, neo4j_backend.refs)
    copy_branch(source, repo, "governance")  # before the branches the proposal merges
    (row,) = rows(repo, PROPOSALS)
    assert row["branches"] == [[None, None]]  # no MERGES yet: the OPTIONAL MATCH found no branch
    for branch in ("main", "side"):
        copy_branch(source, repo, branch)
    (row,) = rows(repo, PROPOSALS)
    assert sorted(row["branches"]) == [["source", "side"], ["target", "main"]]
