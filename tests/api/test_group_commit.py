"""Many agents committing to one branch of a real ``gvcs serve`` at once: every acknowledged commit is on
the branch, no writer of its own page is refused, and concurrent commits share ref updates."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.objects import Actor, Page
from narrative_vcs.repository import ChangeSet
from narrative_vcs.types import RefName
from tests.conftest import Writer

from .serving import serve

COMMIT = """mutation($input: CommitInput!) { commit(input: $input) { rebased commit { id } } }"""
AGENTS = 16
COMMITS = 5


def test_concurrent_agents_through_a_real_server(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    writer = Writer(repo)
    writer.setup()
    changes = ChangeSet()
    for i in range(AGENTS):
        changes.upsert_actor(Actor(f"agent-{i}", f"Agent {i}", "agent"))
        changes.upsert_page(Page(f"desk-{i}", f"Desk {i}", "Empty.\n"))
    start = writer.commit(changes, message="Agents arrive")
    tokens = [create_token(repo.access, f"agent-{i}")[1] for i in range(AGENTS)]
    reflog_before = len(repo.refs.reflog(RefName("refs/heads/main")))
    repo.close()

    acked: list[str] = []
    failures: list[Any] = []
    barrier = threading.Barrier(AGENTS)

    with serve(tmp_path / "story") as server:

        def agent(i: int) -> None:
            head = start
            barrier.wait()
            for n in range(COMMITS):
                change = {"upsertPage": {"id": f"desk-{i}", "title": f"Desk {i}", "body": f"Visit {n}."}}
                variables = {
                    "input": {
                        "branch": "main",
                        "expectedHead": head,
                        "message": f"{i}/{n}",
                        "changes": [change],
                    }
                }
                body = server.graphql(COMMIT, variables, authorization=f"Bearer {tokens[i]}")
                if "errors" in body:
                    failures.append(body["errors"])
                    return
                head = body["data"]["commit"]["commit"]["id"]
                acked.append(head)

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(AGENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert failures == []
    assert len(acked) == AGENTS * COMMITS
    repo = open_repository(tmp_path / "story")
    try:
        line = [c.id for c in repo.walk(["main"], first_parent=True)]
        assert set(acked) <= set(line)
        assert len(line) == 2 + AGENTS * COMMITS  # setup, the agents' arrival, then every commit
        for i in range(AGENTS):
            assert repo.read_page(f"desk-{i}", "main").body == f"Visit {COMMITS - 1}.\n"
        updates = len(repo.refs.reflog(RefName("refs/heads/main"))) - reflog_before
        assert 1 <= updates <= AGENTS * COMMITS
    finally:
        repo.close()
