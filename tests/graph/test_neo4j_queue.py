"""Group commits across processes on Neo4j (narrative_vcs/graph/neo4j/queue.py): change sets that
several processes queue for one branch are written in one transaction with one compare-and-swap, by
whichever process's turn comes first; the others read what became of theirs.

"Another process" is another repository on the same database with its own driver (nothing is shared in
memory), or a real subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.errors import BranchMoved, GvcsError
from narrative_vcs.graph.neo4j import Neo4jObjectStore, open_neo4j
from narrative_vcs.objects import Page
from narrative_vcs.refs import GroupQueue
from narrative_vcs.repo.queued import decode_outcome, encode_pending
from narrative_vcs.repository import ChangeSet, PendingCommit, Repository
from narrative_vcs.types import ObjectId, RefName

from ..conftest import Writer

pytestmark = pytest.mark.neo4j

ROOT = Path(__file__).resolve().parents[2]
MAIN = RefName("refs/heads/main")


@pytest.fixture
def other(neo: Repository, neo4j_uri: str) -> Iterator[Repository]:
    """A second process's repository on the same database."""
    objects, refs, access = open_neo4j(neo4j_uri)
    repo = Repository(objects, refs, access)
    yield repo
    repo.close()


def queue_of(repo: Repository) -> GroupQueue:
    queue = repo.refs.group_queue()
    assert queue is not None
    return queue


def count(repo: Repository, cypher: str) -> int:
    store = repo.objects
    assert isinstance(store, Neo4jObjectStore)
    with store.server.driver.session(database=store.server.location.database) as session:
        return int(session.execute_read(lambda tx: tx.run(cypher).single()[0]))


def edit(page: str, body: str, head: ObjectId | None, actor: str = "ada") -> PendingCommit:
    return PendingCommit(
        ChangeSet().upsert_page(Page(page, page.title(), body)), head, actor, f"Write {page}"
    )


def no_turn(head: ObjectId, queued: list[bytes]) -> list[bytes]:
    raise AssertionError("this group was written by another process's turn")


def test_change_sets_of_two_processes_land_in_one_transaction(neo: Repository, other: Repository) -> None:
    base = Writer(neo).setup(pages=[Page("a", "A", "One."), Page("b", "B", "One."), Page("c", "C", "One.")])
    entries = len(neo.refs.reflog(MAIN))
    # The other process queues two change sets and has not had its turn yet.
    theirs = [edit("b", "Theirs.", base, "bot"), edit("c", "Theirs too.", base, "cal")]
    tickets = queue_of(other).submit(MAIN, [encode_pending(i) for i in theirs])
    assert tickets is not None
    # This process knows the branch is busy: its group queues, and its turn writes all three.
    queue_of(neo).contended(MAIN)
    (ours,) = neo.commit_group("main", [edit("a", "Ours.", base)])
    assert ours.error is None and ours.commit is not None
    head = neo.refs.get(MAIN)
    assert head == ours.commit
    # Their turn finds what became of theirs, written by ours.
    results = queue_of(other).take_turn(MAIN, tickets, no_turn)
    assert results is not None
    first, second = (decode_outcome(r) for r in results)
    assert first.error is None and second.error is None
    assert first.parent == base and second.parent == first.commit and ours.parent == second.commit
    assert [c.id for c in neo.walk(["main"])][:4] == [ours.commit, second.commit, first.commit, base]
    assert [c.actor for c in neo.walk(["main"])][:3] == ["ada", "cal", "bot"]
    # One compare-and-swap for the three: one reflog entry.
    log = neo.refs.reflog(MAIN)
    assert len(log) == entries + 1 and log[-1].old == base and log[-1].new == head
    assert "3 commits" in log[-1].message
    assert count(neo, "MATCH (n) WHERE n:QueuedCommit OR n:QueuedResult RETURN count(n)") == 0
    assert (
        neo.read_page("b", "main").body.strip() == "Theirs."
        and neo.read_page("c", "main").body.strip() == "Theirs too."
    )


def test_a_refused_change_set_comes_back_to_its_process_with_its_error(
    neo: Repository, other: Repository
) -> None:
    base = Writer(neo).setup(pages=[Page("a", "A", "One."), Page("b", "B", "One.")])
    moved = Writer(neo).page("b", "Moved on.")  # after `base`: a change set from base on b conflicts
    theirs = [edit("b", "Stale.", base), edit("a", "By nobody.", moved, actor="nobody")]
    tickets = queue_of(other).submit(MAIN, [encode_pending(i) for i in theirs])
    assert tickets is not None
    queue_of(neo).contended(MAIN)
    (ours,) = neo.commit_group("main", [edit("a", "Ours.", moved)])
    assert ours.error is None and neo.refs.get(MAIN) == ours.commit
    results = queue_of(other).take_turn(MAIN, tickets, no_turn)
    assert results is not None
    stale, unknown = (decode_outcome(r) for r in results)
    assert isinstance(stale.error, BranchMoved) and stale.error.paths == ["pages/b.md"]
    assert stale.error.code == "CONFLICT" and "both changed pages/b.md" in str(stale.error)
    assert isinstance(unknown.error, GvcsError) and "nobody" in str(unknown.error)
    assert stale.commit is None and unknown.commit is None
    assert neo.read_page("b", "main").body.strip() == "Moved on."


def test_a_turn_that_fails_writes_nothing_and_the_queue_waits_for_the_next(
    neo: Repository, other: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn is one transaction: if it dies half way (here its process fails while building), the ref,
    the commits and the queue are as before, and the next turn writes everything queued."""
    base = Writer(neo).setup(pages=[Page("a", "A", "One."), Page("b", "B", "One.")])
    commits = count(neo, "MATCH (c:Commit) RETURN count(c)")
    tickets = queue_of(other).submit(MAIN, [encode_pending(edit("b", "Theirs.", base))])
    assert tickets is not None
    queue_of(neo).contended(MAIN)
    real = Repository._build_group

    def dies(self: Repository, ref: RefName, start: Any, items: Any) -> Any:
        real(self, ref, start, items)  # builds (the objects go into the batch), then the process fails
        raise KeyboardInterrupt

    monkeypatch.setattr(Repository, "_build_group", dies)
    with pytest.raises(KeyboardInterrupt):
        neo.commit_group("main", [edit("a", "Ours.", base)])
    assert neo.refs.get(MAIN) == base
    assert count(neo, "MATCH (c:Commit) RETURN count(c)") == commits
    assert count(neo, "MATCH (q:QueuedCommit) RETURN count(q)") == 2  # theirs, and ours of the failed run
    monkeypatch.setattr(Repository, "_build_group", real)
    # The other process's turn now: it writes both, its own and the one the dead turn left queued.
    results = queue_of(other).take_turn(MAIN, tickets, lambda head, queued: _write(other, head, queued))
    assert results is not None and decode_outcome(results[0]).error is None
    assert [c.subject for c in neo.walk(["main"])][:2] == ["Write a", "Write b"]
    assert count(neo, "MATCH (n) WHERE n:QueuedCommit RETURN count(n)") == 0
    assert count(neo, "MATCH (n) WHERE n:QueuedResult RETURN count(n)") == 1  # for the dead one's ticket


def _write(repo: Repository, head: ObjectId, queued: list[bytes]) -> list[bytes]:
    """What a turn of ``repo`` does (Repository._commit_queued's combine), called straight."""
    from narrative_vcs.refs import RefMove
    from narrative_vcs.repo.queued import decode_pending, encode_outcome

    with repo.objects.batch():
        outcomes, tip, last = repo._build_group(MAIN, head, [decode_pending(q) for q in queued])
        assert tip is not None and last is not None
        assert repo.refs.move_with_batch([RefMove(MAIN, head, tip)], who="test", message="turn")
    return [encode_outcome(o) for o in outcomes]


def test_a_queued_group_on_a_deleted_branch_is_taken_off_the_queue(
    neo: Repository, other: Repository
) -> None:
    w = Writer(neo)
    base = w.setup(pages=[Page("a", "A", "One.")])
    neo.create_branch("draft", base)
    assert queue_of(other).submit(RefName("refs/heads/nowhere"), [b"{}"]) is None
    tickets = queue_of(other).submit(RefName("refs/heads/draft"), [encode_pending(edit("a", "Two.", base))])
    assert tickets is not None
    neo.delete_branch("draft")
    assert queue_of(other).take_turn(RefName("refs/heads/draft"), tickets, no_turn) is None
    assert count(neo, "MATCH (q:QueuedCommit) RETURN count(q)") == 0
    assert neo.refs.get(RefName("refs/heads/draft")) is None


WRITER = textwrap.dedent(
    """
    import json, sys, threading
    from narrative_vcs.graph.neo4j import open_neo4j
    from narrative_vcs.objects import Page
    from narrative_vcs.repository import ChangeSet, PendingCommit, Repository

    uri, name, writers, commits = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    objects, refs, access = open_neo4j(uri)
    repo = Repository(objects, refs, access)
    out, lock = [], threading.Lock()

    def write(n):
        page = f"{name}-{n}"
        head = repo.refs.get("refs/heads/main")
        for i in range(commits):
            item = PendingCommit(
                ChangeSet().upsert_page(Page(page, page, f"Take {i}.")), head, "ada", f"{page} {i}"
            )
            (outcome,) = repo.commit_group("main", [item])
            head = outcome.commit or head  # as an agent does: its next change goes on its last commit
            error = None if outcome.error is None else f"{type(outcome.error).__name__}: {outcome.error}"
            with lock:
                out.append({"page": page, "take": i, "commit": outcome.commit, "error": error})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    repo.close()
    print(json.dumps(out))
    """
)


def test_writers_in_two_processes_lose_nothing_and_never_conflict(neo: Repository, neo4j_uri: str) -> None:
    """Real processes, each with several writers of pages of their own on one branch, each writer's
    next change made on its last commit: every acknowledged commit is on the branch, and none is
    refused (their change sets are independent)."""
    Writer(neo).setup()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, neo4j_uri, name, "4", "6"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p", "q")
    ]
    outcomes: list[dict[str, Any]] = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        outcomes.extend(json.loads(stdout))
    assert len(outcomes) == 2 * 4 * 6
    assert [o for o in outcomes if o["error"] is not None] == []
    on_main = {c.id for c in neo.walk(["main"])}
    assert {o["commit"] for o in outcomes} <= on_main
    for n in range(4):
        for name in ("p", "q"):
            assert neo.read_page(f"{name}-{n}", "main").body.strip() == "Take 5."
    assert count(neo, "MATCH (q:QueuedCommit) RETURN count(q)") == 0
    assert count(neo, "MATCH (o:QueuedResult) RETURN count(o)") == 0


def test_a_writer_that_did_not_queue_moving_the_branch_during_a_turn_costs_the_turn_only(
    neo: Repository, other: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn holds its own lock, not the ref's: a writer of another process that did not queue can
    move the branch meanwhile. The turn's compare-and-swap then fails, nothing of it is written, and
    the turn is taken again on the new head."""
    base = Writer(neo).setup(pages=[Page("a", "A", "One."), Page("b", "B", "One.")])
    queue_of(other).contended(MAIN)
    real = Repository._build_group
    theirs: list[ObjectId] = []

    def interrupted(self: Repository, ref: RefName, start: Any, items: Any) -> Any:
        if not theirs:
            theirs.append(Writer(neo).page("b", "Not queued."))  # commits in its own transaction
        return real(self, ref, start, items)

    monkeypatch.setattr(Repository, "_build_group", interrupted)
    (outcome,) = other.commit_group("main", [edit("a", "Queued.", base)])
    assert outcome.error is None and outcome.rebased and outcome.parent == theirs[0]
    assert [c.id for c in neo.walk(["main"])][:3] == [outcome.commit, theirs[0], base]
    assert count(neo, "MATCH (c:Commit) RETURN count(c)") == 3  # nothing of the failed turn
    assert count(neo, "MATCH (n) WHERE n:QueuedCommit OR n:QueuedResult RETURN count(n)") == 0
