"""Concurrent writers on one on-disk repository: no lost update, no broken store, even after SIGKILL.

The writers are separate OS processes running ``WRITER`` (below): each commits its own page to the
same branch, re-reading the head and retrying on BranchMoved, and prints each commit id once
``commit`` has returned (its acknowledgement).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from narrative_vcs.errors import BranchMoved
from narrative_vcs.graph.factory import GVCS_DIR, open_repository
from narrative_vcs.graph.git import GitRefStore
from narrative_vcs.objects import Page, hash_object
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId, RefName

from .conftest import Writer

WRITER = """
import sys, time
from pathlib import Path
from narrative_vcs.errors import BranchMoved
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet

root, name, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
repo = open_repository(root)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
i = retries = 0
while count < 0 or i < count:
    changes = ChangeSet().upsert_page(Page(name, name.title(), f"Version {i} by {name}."))
    while True:
        head = repo.branch_head("main")
        try:
            oid = repo.commit("main", changes, actor="ada", message=f"{name} {i}", expected_head=head)
            break
        except BranchMoved:
            retries += 1
    print(oid, flush=True)
    i += 1
print(f"retries {retries}", flush=True)
"""

OID_LINE = re.compile(r"[0-9a-f]{40}")
Git = Callable[..., str]


def start_writer(root: Path, name: str, count: int, go: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), name, str(count), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # a hung writer is killed, so the test fails instead of hanging
    watchdog = threading.Timer(300, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.stderr else ""
    return proc


def first_parent_line(repo: Repository) -> list[ObjectId]:
    return [c.id for c in repo.walk(["main"], first_parent=True)]


def assert_each_once(acknowledged: list[ObjectId], history: list[ObjectId]) -> None:
    counts = Counter(history)
    assert all(n == 1 for n in counts.values()), "a commit appears twice in history"
    missing = [oid for oid in acknowledged if oid not in counts]
    assert not missing, f"acknowledged commits lost: {missing}"


def run_writers(root: Path, go: Path, setup: ObjectId, writers: int, commits_each: int) -> Repository:
    """Start ``writers`` processes together on ``main``; check nothing acknowledged was lost."""
    procs = [start_writer(root, f"writer-{n}", commits_each, go) for n in range(writers)]
    go.touch()  # every writer is ready: start them together
    acknowledged: dict[str, list[ObjectId]] = {}
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        acknowledged[f"writer-{n}"] = [ObjectId(x) for x in out.split() if OID_LINE.fullmatch(x)]
        assert len(acknowledged[f"writer-{n}"]) == commits_each
    repo = open_repository(root)
    history = first_parent_line(repo)
    assert_each_once([oid for acks in acknowledged.values() for oid in acks], history)
    assert len(history) == 1 + writers * commits_each and history[-1] == setup
    for name, acks in acknowledged.items():
        # each writer's commits are in its own order on the line, and its page holds its last version
        positions = [history.index(oid) for oid in acks]
        assert positions == sorted(positions, reverse=True)
        assert repo.read_page(name).body == f"Version {commits_each - 1} by {name}.\n"
    return repo


@pytest.mark.parametrize("writers, commits_each", [(2, 25), (4, 12)])
def test_concurrent_writers_lose_no_update(
    tmp_path: Path, disk_repo: Repository, disk_writer: Writer, git_cli: Git, writers: int, commits_each: int
) -> None:
    root = tmp_path / "story"
    setup = disk_writer.setup()
    repo = run_writers(root, tmp_path / "go", setup, writers, commits_each)
    assert repo.fsck().ok
    git_cli(root / GVCS_DIR, "fsck", "--strict", "--no-dangling")


def test_a_writer_killed_mid_loop_never_breaks_the_store(
    tmp_path: Path, disk_repo: Repository, disk_writer: Writer, git_cli: Git
) -> None:
    root = tmp_path / "story"
    disk_writer.setup()
    go = tmp_path / "go"
    go.touch()
    rng = random.Random(20_240_601)
    acknowledged: list[ObjectId] = []
    for round_ in range(6):
        proc = start_writer(root, f"victim-{round_}", -1, go)
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 8)):
            acknowledged.append(ObjectId(proc.stdout.readline().strip()))
        spin = rng.randint(0, 20_000)
        while spin:  # let it get somewhere into its next commit
            spin -= 1
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # lines it printed before it died were acknowledged too; a torn last line was not
        acknowledged += [ObjectId(x) for x in out.splitlines() if OID_LINE.fullmatch(x)]
        # the next writer succeeds at once, and nothing acknowledged is lost
        repo = open_repository(root)
        survivor = Writer(repo, start_time=1_900_000_000 + round_ * 100).page(
            f"after-{round_}", "Still here."
        )
        history = first_parent_line(repo)
        assert history[0] == survivor
        assert_each_once(acknowledged, history)
    report = open_repository(root).fsck()
    assert report.ok, report.problems
    git_cli(root / GVCS_DIR, "fsck", "--strict", "--no-dangling")


def test_threads_sharing_one_ref_store_lose_no_update(tmp_path: Path, disk_repo: Repository) -> None:
    refs = GitRefStore(tmp_path / "story" / GVCS_DIR)
    ref = RefName("refs/heads/counter")
    successes: list[ObjectId] = []
    lock = threading.Lock()

    def bump(n: int) -> None:
        for i in range(60):
            new = hash_object("commit", f"{n}-{i}".encode())
            while True:
                old = refs.get(ref)
                try:
                    refs.set_if_equals(ref, old, new)
                    break
                except BranchMoved:
                    continue
            with lock:
                successes.append(new)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=bump, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        sys.setswitchinterval(interval)
        refs.close()
    log = GitRefStore(tmp_path / "story" / GVCS_DIR).reflog(ref)
    assert len(log) == len(successes) == 240
    # every update started from the value the one before it wrote: a chain, no lost update
    assert all(later.old == earlier.new for earlier, later in itertools.pairwise(log))
    assert {e.new for e in log} == set(successes)


def test_two_repository_objects_in_one_process_see_each_other(tmp_path: Path, disk_writer: Writer) -> None:
    disk_writer.setup()
    one, two = open_repository(tmp_path / "story"), open_repository(tmp_path / "story")
    head = one.branch_head("main")
    Writer(one, start_time=1_800_000_000).page("a", "A")
    with pytest.raises(BranchMoved):
        two.commit(
            "main", ChangeSet().upsert_page(Page("b", "B")), actor="ada", message="m", expected_head=head
        )
    Writer(two, start_time=1_800_000_100).page("b", "B")
    assert one.list_pages() == ["a", "b"]


# --- Neo4j ----------------------------------------------------------------------------------------


def test_twenty_writers_on_one_neo4j_branch_lose_no_update(tmp_path: Path, neo4j_uri: str) -> None:
    """20 processes commit to one branch of a story that lives only in the real Neo4j server."""
    from narrative_vcs.graph.factory import init_repository
    from narrative_vcs.graph.neo4j import open_neo4j

    objects, _refs, _access = open_neo4j(neo4j_uri)
    objects.server.clear()
    objects.close()
    root = tmp_path / "story"
    first = init_repository(root, store=neo4j_uri)
    setup = Writer(first).setup()
    first.close()
    writers, commits_each = 20, 3
    repo = run_writers(root, tmp_path / "go", setup, writers, commits_each)
    # the reflog is one chain: every update started from the value the one before it wrote
    log = repo.refs.reflog(RefName("refs/heads/main"))
    assert len(log) == 1 + writers * commits_each
    assert all(later.old == earlier.new for earlier, later in itertools.pairwise(log))
    assert repo.fsck().ok
    repo.close()
