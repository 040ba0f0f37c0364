"""``gvcs remote``, ``push``, ``pull``, ``clone`` and ``init --store`` through real subprocesses.

Directory remotes need nothing else; the Neo4j tests use the real server of ``scripts/neo4j`` (marker
``neo4j``) and empty its database first.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.graph.factory import init_repository, open_repository, redact
from narrative_vcs.graph.neo4j import Neo4jObjectStore, open_neo4j
from narrative_vcs.objects import Commit, Tree
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Writer

from .conftest import REPO_ROOT, Gvcs, Result, ok, one_line_error

GitCli = Callable[..., str]

SECOND = "---\ntitle: Second\nfollows: [opening]\nalternate_of: null\ntags: []\nglyphs: []\n---\n{body}"
UNREACHABLE = "neo4j://neo4j:x@127.0.0.1:1"


# --- helpers ---------------------------------------------------------------------------------------


def log_ids(gvcs: Gvcs, cwd: Path, *revs: str) -> list[str]:
    """The ids of ``gvcs log REV... --json``, newest first."""
    return [c["id"] for c in json.loads(ok(gvcs("log", *revs, "--json", cwd=cwd)).out)]


def head(gvcs: Gvcs, cwd: Path, rev: str = "HEAD") -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(ok(gvcs("log", rev, "-n", "1", "--json", cwd=cwd)).out)
    return found[0]


def branches(gvcs: Gvcs, cwd: Path) -> dict[str, str]:
    return {b["name"]: b["commit"] for b in json.loads(ok(gvcs("branch", "--json", cwd=cwd)).out)}


def add_page(gvcs: Gvcs, cwd: Path, page: str, *, actor: str = "mara") -> str:
    """``page new PAGE`` and commit it; the new commit's id."""
    ok(gvcs("page", "new", page, "--title", page.title(), cwd=cwd))
    ok(gvcs("commit", "-m", f"Add {page}", actor=actor, cwd=cwd))
    return str(head(gvcs, cwd)["id"])


def write_second(root: Path, body: str) -> None:
    (root / "pages" / "second.md").write_text(SECOND.format(body=body))


def sent(result: Result) -> tuple[int, int]:
    """(commits, objects) from a push or pull report: ``... (3 commits, 20 objects)``."""
    found = re.search(r"\((\d+) commits?, (\d+) objects\)", result.out)
    assert found, result.out
    return int(found.group(1)), int(found.group(2))


def hub_and_clone(gvcs: Gvcs, story: Path, tmp_path: Path) -> tuple[Path, Path]:
    """An empty repository ``hub`` that ``story`` pushed main into, and ``third``, a clone of hub."""
    ok(gvcs("init", "hub"))
    ok(gvcs("remote", "add", "origin", "../hub", cwd=story))
    ok(gvcs("push", "origin", cwd=story))
    ok(gvcs("clone", "hub", "third"))
    return tmp_path / "hub", tmp_path / "third"


@pytest.fixture
def empty_neo4j(neo4j_uri: str) -> Iterator[str]:
    """The test server's URI, its database emptied first."""
    objects, _refs, _access = open_neo4j(neo4j_uri)
    objects.server.clear()
    objects.close()
    yield neo4j_uri


def neo4j_repo(uri: str) -> Repository:
    objects, refs, _access = open_neo4j(uri)
    return Repository(objects, refs)


def count_objects(objects: Neo4jObjectStore) -> int:
    return int(objects.server.query("admin/count_objects")[0]["objects"])


# --- directory remotes -----------------------------------------------------------------------------


def test_remote_add_list_and_remove(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    ok(gvcs("init", "hub"))
    hub = tmp_path / "hub"
    assert ok(gvcs("remote", cwd=story)).out == ""
    assert ok(gvcs("remote", "add", "origin", "../hub", cwd=story)).out == f"Added remote origin: {hub}\n"
    assert ok(gvcs("remote", cwd=story)).out == "origin\n"
    assert ok(gvcs("remote", "-v", cwd=story)).out == f"origin\t{hub}\n"
    assert ok(gvcs("remote", "list", "-v", cwd=story)).out == f"origin\t{hub}\n"
    assert json.loads(ok(gvcs("remote", "--json", cwd=story)).out) == [
        {"name": "origin", "location": str(hub)}
    ]
    assert "already exists" in one_line_error(gvcs("remote", "add", "origin", "../hub", cwd=story), 2)
    ok(gvcs("push", "origin", cwd=story))
    assert head(gvcs, story, "origin/main")["id"] == head(gvcs, story)["id"]

    assert ok(gvcs("remote", "remove", "origin", cwd=story)).out == "Removed remote origin\n"
    assert ok(gvcs("remote", "-v", cwd=story)).out == ""
    assert json.loads(ok(gvcs("remote", "--json", cwd=story)).out) == []
    assert "unknown revision" in one_line_error(gvcs("log", "origin/main", cwd=story), 2)
    assert json.loads((story / ".gvcs" / "gvcs.json").read_text()).get("remotes", {}) == {}
    assert "no remote 'origin'" in one_line_error(gvcs("remote", "remove", "origin", cwd=story), 2)


def test_push_into_another_repository_then_pull_fast_forward(
    gvcs: Gvcs, story: Path, tmp_path: Path, git_cli: GitCli
) -> None:
    ok(gvcs("init", "hub"))
    hub = tmp_path / "hub"
    ok(gvcs("remote", "add", "origin", "../hub", cwd=story))
    tip = str(head(gvcs, story)["id"])
    pushed = ok(gvcs("push", "origin", cwd=story))
    assert pushed.out.startswith(f"To {hub}: (new)..{tip[:10]} refs/heads/main (1 commit, ")
    assert log_ids(gvcs, hub, "main") == log_ids(gvcs, story) == [tip]
    assert head(gvcs, story, "origin/main")["id"] == tip
    assert ok(gvcs("push", "origin", cwd=story)).out == f"To {hub}: everything up to date (refs/heads/main)\n"
    git_cli(hub / ".gvcs", "fsck", "--strict", "--no-dangling")

    ok(gvcs("clone", "hub", "third"))
    third = tmp_path / "third"
    assert log_ids(gvcs, third) == [tip]
    assert ok(gvcs("remote", "-v", cwd=third)).out == f"origin\t{hub}\n"
    assert (third / "pages" / "second.md").read_text() == (story / "pages" / "second.md").read_text()

    new = add_page(gvcs, story, "third-page")
    assert sent(ok(gvcs("push", "origin", cwd=story)))[0] == 1
    pulled = ok(gvcs("pull", "origin", cwd=third))
    assert pulled.out.endswith(f"Fast-forward main to {new[:10]}\n"), pulled.out
    assert sent(pulled)[0] == 1
    assert log_ids(gvcs, third) == log_ids(gvcs, story) == log_ids(gvcs, hub, "main") == [new, tip]
    assert head(gvcs, third, "origin/main")["id"] == new
    assert (third / "pages" / "third-page.md").is_file()
    assert ok(gvcs("status", cwd=third)).out.endswith("nothing to commit, work tree clean\n")
    assert "already contains" in ok(gvcs("pull", "origin", cwd=third)).out


def test_pull_merges_a_diverged_branch_with_disjoint_pages(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    hub, third = hub_and_clone(gvcs, story, tmp_path)
    north = add_page(gvcs, story, "north")
    ok(gvcs("push", "origin", cwd=story))
    south = add_page(gvcs, third, "south", actor="bot")

    pulled = ok(gvcs("pull", "origin", actor="bot", cwd=third))
    assert "Merged origin/main into main" in pulled.out
    merge = head(gvcs, third)
    assert merge["kind"] == "merge" and merge["parents"] == [south, north]
    assert (third / "pages" / "north.md").is_file() and (third / "pages" / "south.md").is_file()
    assert ok(gvcs("status", cwd=third)).out.endswith("nothing to commit, work tree clean\n")

    # the merge contains the remote's branch: it goes back by fast-forward, and comes round to story
    ok(gvcs("push", "origin", cwd=third))
    assert log_ids(gvcs, hub, "main") == log_ids(gvcs, third)
    assert ok(gvcs("pull", "origin", cwd=story)).out.endswith(f"Fast-forward main to {merge['id'][:10]}\n")
    assert log_ids(gvcs, story) == log_ids(gvcs, third)


def test_a_pull_that_conflicts_keeps_the_merge_state(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    _hub, third = hub_and_clone(gvcs, story, tmp_path)
    write_second(story, "The fox ran.\n")
    ok(gvcs("commit", "-m", "Ran", actor="mara", cwd=story))
    theirs = str(head(gvcs, story)["id"])
    ok(gvcs("push", "origin", cwd=story))
    write_second(third, "The fox hid.\n")
    ok(gvcs("commit", "-m", "Hid", actor="bot", cwd=third))
    ours = str(head(gvcs, third)["id"])
    before = (third / "pages" / "second.md").read_bytes()

    pulled = gvcs("pull", "origin", actor="bot", cwd=third)
    assert pulled.code == 1, pulled
    assert "Merge of origin/main into main stopped: 1 conflict(s)" in pulled.out
    assert "pages/second.md" in pulled.out and "merge --abort" in pulled.out
    assert "<<<<<<< ours" in (third / "pages" / "second.md").read_text()
    assert (third / ".gvcs" / "MERGE_HEAD").read_text().strip() == theirs
    listed = json.loads(ok(gvcs("conflicts", "--json", cwd=third)).out)
    assert [(c["path"], c["resolved"]) for c in listed] == [("pages/second.md", False)]
    assert head(gvcs, third, "origin/main")["id"] == theirs  # the fetch happened
    assert "a merge is in progress" in one_line_error(gvcs("pull", "origin", actor="bot", cwd=third), 1)

    ok(gvcs("merge", "--abort", cwd=third))
    assert (third / "pages" / "second.md").read_bytes() == before
    assert not (third / ".gvcs" / "MERGE_HEAD").exists()
    assert head(gvcs, third)["id"] == ours
    # with --json the whole answer is one JSON document, conflicts included
    as_json = gvcs("pull", "origin", "--json", actor="bot", cwd=third)
    assert as_json.code == 1, as_json
    report = json.loads(as_json.out)
    assert report["status"] == "conflicts" and report["fetch"]["up_to_date"]
    assert [c["path"] for c in report["conflicts"]] == ["pages/second.md"]
    ok(gvcs("merge", "--abort", cwd=third))


def test_a_push_to_a_diverged_remote_is_refused_until_forced(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    hub, third = hub_and_clone(gvcs, story, tmp_path)
    pushed_before = str(head(gvcs, story, "origin/main")["id"])
    theirs = add_page(gvcs, third, "theirs", actor="bot")
    ok(gvcs("push", "origin", cwd=third))
    ours = add_page(gvcs, story, "ours")

    error = one_line_error(gvcs("push", "origin", cwd=story), 1)
    assert "pull" in error and "force" in error
    assert head(gvcs, hub, "main")["id"] == theirs  # the remote's branch did not move
    assert head(gvcs, story, "origin/main")["id"] == pushed_before

    forced = ok(gvcs("push", "--force", "origin", cwd=story))
    assert f"{theirs[:10]}..{ours[:10]} refs/heads/main (1 commit, " in forced.out
    assert log_ids(gvcs, hub, "main") == log_ids(gvcs, story)
    assert head(gvcs, story, "origin/main")["id"] == ours
    # the forced-out commit is still in third, which now pulls a diverged branch: a merge
    assert "Merged origin/main into main" in ok(gvcs("pull", "origin", actor="bot", cwd=third)).out


def test_push_and_pull_name_a_branch(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    hub, third = hub_and_clone(gvcs, story, tmp_path)
    ok(gvcs("switch", "-c", "side", cwd=story))
    side = add_page(gvcs, story, "side-page")
    ok(gvcs("switch", "main", cwd=story))
    result = json.loads(ok(gvcs("push", "origin", "side", "--json", cwd=story)).out)
    assert result == {
        "ref": "refs/heads/side",
        "old": None,
        "new": side,
        "commits": 1,
        "objects": result["objects"],
        "up_to_date": False,
    }
    assert branches(gvcs, hub)["side"] == side
    assert head(gvcs, story, "origin/side")["id"] == side
    ok(gvcs("pull", "origin", "side", cwd=third))  # not the current branch: created, work tree untouched
    assert branches(gvcs, third)["side"] == side
    assert not (third / "pages" / "side-page.md").exists()


# --- a story in Neo4j ----------------------------------------------------------------------------


@pytest.mark.neo4j
def test_a_story_that_lives_only_in_neo4j(gvcs: Gvcs, tmp_path: Path, empty_neo4j: str) -> None:
    uri = empty_neo4j
    created = ok(gvcs("init", "n4", "--title", "Night Shift", "--store", uri))
    assert f"its history in {redact(uri)}\n" in created.out
    root = tmp_path / "n4"
    ok(gvcs("actor", "add", "mara", "--name", "Mara Ink", cwd=root))
    first = add_page(gvcs, root, "opening")
    ok(gvcs("switch", "-c", "side", cwd=root))
    side = add_page(gvcs, root, "side-note")
    ok(gvcs("switch", "main", cwd=root))
    assert not (root / "pages" / "side-note.md").exists()
    main = add_page(gvcs, root, "main-note")
    assert branches(gvcs, root) == {"main": main, "side": side}
    assert ok(gvcs("log", "--oneline", cwd=root)).out == (
        f"{main[:10]} (HEAD -> main) Add main-note\n{first[:10]} Add opening\n"
    )
    assert "Merged side into main" in ok(gvcs("merge", "side", cwd=root)).out
    merge = head(gvcs, root)
    assert merge["kind"] == "merge" and merge["parents"] == [main, side]
    assert (root / "pages" / "side-note.md").is_file()
    assert ok(gvcs("fsck", cwd=root)).code == 0

    # .gvcs holds the settings and the work tree's state (and maybe caches): no git store, no objects
    inside = {p.name: p for p in (root / ".gvcs").iterdir()}
    assert {"gvcs.json", "gvcs-worktree.json"} <= set(inside), inside
    assert not set(inside) & {"HEAD", "objects", "refs", "packed-refs", "config", "logs"}, inside
    assert all(p.is_file() for p in inside.values()), inside
    assert json.loads((root / ".gvcs" / "gvcs.json").read_text())["store"] == uri
    there = neo4j_repo(uri)
    try:
        assert there.branches() == {"main": merge["id"], "side": side}
        assert there.head_branch() == "main"
    finally:
        there.close()

    # a second story cannot start in the same database: nothing is created
    error = one_line_error(gvcs("init", "other", "--store", uri), 2)
    assert f"the Neo4j database at {redact(uri)} already holds a story" in error
    assert not (tmp_path / "other").exists()

    cloned = ok(gvcs("clone", uri, "copy"))
    assert "2 branch(es), on main" in cloned.out
    copy = tmp_path / "copy"
    assert branches(gvcs, copy) == branches(gvcs, root)
    for branch in ("main", "side"):
        assert log_ids(gvcs, copy, branch) == log_ids(gvcs, root, branch)
        assert head(gvcs, copy, f"origin/{branch}")["id"] == head(gvcs, root, branch)["id"]
    assert (copy / "pages" / "main-note.md").read_bytes() == (root / "pages" / "main-note.md").read_bytes()


@pytest.mark.neo4j
def test_push_and_pull_between_disk_and_neo4j_both_ways(gvcs: Gvcs, tmp_path: Path, empty_neo4j: str) -> None:
    uri = empty_neo4j
    ok(gvcs("init", "n4", "--store", uri))
    n4 = tmp_path / "n4"
    ok(gvcs("actor", "add", "mara", "--name", "Mara Ink", cwd=n4))
    add_page(gvcs, n4, "opening")
    ok(gvcs("clone", uri, "disk"))
    disk = tmp_path / "disk"

    # disk -> Neo4j by push; the Neo4j work tree catches up with switch
    from_disk = add_page(gvcs, disk, "from-disk")
    assert sent(ok(gvcs("push", "origin", cwd=disk)))[0] == 1
    assert head(gvcs, n4, "main")["id"] == from_disk
    ok(gvcs("switch", "main", cwd=n4))
    assert (n4 / "pages" / "from-disk.md").is_file()

    # Neo4j -> disk by pull
    from_neo4j = add_page(gvcs, n4, "from-neo4j")
    assert ok(gvcs("pull", "origin", cwd=disk)).out.endswith(f"Fast-forward main to {from_neo4j[:10]}\n")
    assert log_ids(gvcs, disk) == log_ids(gvcs, n4)

    # the Neo4j repository's own remote: a directory; pull from it, then push to it
    ok(gvcs("remote", "add", "disk", "../disk", cwd=n4))
    disk_two = add_page(gvcs, disk, "disk-two")
    assert sent(ok(gvcs("pull", "disk", cwd=n4)))[0] == 1
    assert head(gvcs, n4)["id"] == disk_two and (n4 / "pages" / "disk-two.md").is_file()
    neo4j_two = add_page(gvcs, n4, "neo4j-two")
    assert sent(ok(gvcs("push", "disk", "main", cwd=n4)))[0] == 1
    assert head(gvcs, disk, "main")["id"] == neo4j_two
    assert log_ids(gvcs, disk, "main") == log_ids(gvcs, n4)
    assert head(gvcs, n4, "disk/main")["id"] == neo4j_two


@pytest.mark.neo4j
def test_disk_to_neo4j_to_clone_keeps_every_id(
    gvcs: Gvcs, tmp_path: Path, empty_neo4j: str, git_cli: GitCli
) -> None:
    uri = empty_neo4j
    ok(gvcs("demo", "demo"))
    demo = tmp_path / "demo"
    ok(gvcs("remote", "add", "graph", uri, cwd=demo))
    assert ok(gvcs("remote", "-v", cwd=demo)).out == f"graph\t{redact(uri)}\n"
    counts = {
        b: sent(ok(gvcs("push", "graph", b, cwd=demo)))[0] for b in ("main", "alt-ending", "agent-drafts")
    }
    # main first; the other branches share its history, so only their own commits travel
    assert counts == {"main": 10, "alt-ending": 3, "agent-drafts": 3}

    ok(gvcs("clone", uri, "back"))
    back = tmp_path / "back"
    assert branches(gvcs, back) == branches(gvcs, demo)
    for branch in ("main", "alt-ending", "agent-drafts"):
        assert log_ids(gvcs, back, branch) == log_ids(gvcs, demo, branch)
    git_cli(back / ".gvcs", "fsck", "--strict", "--no-dangling")
    assert git_cli(back / ".gvcs", "rev-parse", "alt-ending").strip() == branches(gvcs, demo)["alt-ending"]
    ok(gvcs("fsck", cwd=back))


# --- a push killed halfway -----------------------------------------------------------------------

PUSH_IN_BATCHES = """
import sys
from narrative_vcs import transfer
transfer.BATCH_COMMITS = 20
import cli.main
sys.exit(cli.main.main(sys.argv[1:]))
"""


def closure_problems(repo: Repository) -> list[str]:
    """Every commit in ``repo`` whose parents or whose tree (with everything under it) are not all there."""
    present = set(repo.objects)
    raw = repo.objects.get_many(present)
    problems: list[str] = []
    complete: set[ObjectId] = set()

    def tree_complete(oid: ObjectId) -> bool:
        if oid in complete:
            return True
        if oid not in present:
            return False
        for entry in Tree.parse(raw[oid][1]).entries.values():
            if entry.is_tree and not tree_complete(entry.oid):
                return False
            if not entry.is_tree and entry.oid not in present:
                return False
        complete.add(oid)
        return True

    for oid, (obj_type, data) in raw.items():
        if obj_type != "commit":
            continue
        commit = Commit.parse(data)
        if not all(p in present for p in commit.parents):
            problems.append(f"{oid}: a parent is missing")
        if not tree_complete(commit.tree):
            problems.append(f"{oid}: its tree is incomplete")
    return problems


@pytest.mark.neo4j
def test_a_push_killed_halfway_leaves_neo4j_consistent_and_the_next_push_completes_it(
    gvcs: Gvcs, tmp_path: Path, empty_neo4j: str
) -> None:
    uri = empty_neo4j
    root = tmp_path / "big"
    local = init_repository(root)
    writer = Writer(local)
    writer.setup()
    for i in range(9):
        writer.page(f"p{i}", f"Page {i}.")
    local.close()
    ok(gvcs("remote", "add", "graph", uri, cwd=root))
    assert sent(ok(gvcs("push", "graph", "main", cwd=root)))[0] == 10
    pushed = str(head(gvcs, root)["id"])

    repo = open_repository(root)
    writer = Writer(repo, start_time=1_800_000_000)
    for i in range(240):
        writer.page(f"p{i % 30}", f"Page {i}.\n\nMore words for page {i}.")
    tip = repo.branch_head("main")
    assert tip is not None
    expected = [c.id for c in repo.commits.walk([tip])]
    repo.close()
    assert len(expected) == 250

    there = neo4j_repo(uri)
    assert isinstance(there.objects, Neo4jObjectStore)
    store = there.objects
    try:
        before = count_objects(store)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
        env["PYTHONPATH"] = str(REPO_ROOT)
        proc = subprocess.Popen(
            [sys.executable, "-c", PUSH_IN_BATCHES, "push", "graph", "main"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while count_objects(store) == before:  # wait for the first batch of 20 commits
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the push wrote nothing in 60 s"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        written = count_objects(store)
        assert written > before

        assert there.branch_head("main") == pushed  # the remote branch did not move
        report = there.fsck()
        assert report.ok, report.problems
        assert closure_problems(there) == []
    finally:
        there.close()

    completed = ok(gvcs("push", "graph", "main", cwd=root))
    commits, _objects = sent(completed)
    assert commits < 240, completed.out  # the commits of the killed push's batches did not travel again
    assert f"{pushed[:10]}..{tip[:10]} refs/heads/main" in completed.out

    there = neo4j_repo(uri)
    try:
        assert there.branch_head("main") == tip
        assert [c.id for c in there.commits.walk([tip])] == expected
        assert there.fsck().ok
        assert closure_problems(there) == []
    finally:
        there.close()


# --- bad input -----------------------------------------------------------------------------------


def test_remote_add_refuses_bad_names_and_locations(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    config = (story / ".gvcs" / "gvcs.json").read_bytes()
    ok(gvcs("init", "hub"))
    (tmp_path / "plain").mkdir()
    for name in ("bad name", "a/b", "a..b", "x~1"):
        assert "invalid remote name" in one_line_error(gvcs("remote", "add", name, "../hub", cwd=story), 2)
    for location in ("../nowhere", "../plain"):
        error = one_line_error(gvcs("remote", "add", "origin", location, cwd=story), 2)
        assert "is neither a store URI" in error and "a gvcs repository nor a git repository" in error
    assert "unknown scheme 'bogus'" in one_line_error(
        gvcs("remote", "add", "origin", "bogus://x", cwd=story), 2
    )
    for location in ("neo4j://host:notaport", "http:///story", "ssh://"):
        assert "URI" in one_line_error(
            gvcs("remote", "add", "origin", location, cwd=story), 2
        ) or "names no host" in one_line_error(gvcs("remote", "add", "origin", location, cwd=story), 2)
    assert (story / ".gvcs" / "gvcs.json").read_bytes() == config
    assert ok(gvcs("remote", cwd=story)).out == ""


def test_push_to_an_unknown_or_unreachable_remote(gvcs: Gvcs, story: Path) -> None:
    error = one_line_error(gvcs("push", "nowhere", cwd=story), 2)
    assert "no remote 'nowhere'" in error and "gvcs remote add" in error
    assert "no remote 'nowhere'" in one_line_error(gvcs("pull", "nowhere", cwd=story), 2)
    assert ok(gvcs("remote", cwd=story)).out == ""
    # a remote whose server is down: accepted by remote add, a quick one-line failure at push time
    ok(gvcs("remote", "add", "dead", UNREACHABLE, cwd=story))
    assert "not reachable" in one_line_error(gvcs("push", "dead", cwd=story), 1)
    assert "not reachable" in one_line_error(gvcs("pull", "dead", cwd=story), 1)
    assert "unknown revision" in one_line_error(gvcs("log", "dead/main", cwd=story), 2)


def test_clone_refuses_a_non_empty_directory(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    error = one_line_error(gvcs("clone", "story", "target"), 2)
    assert "already exists and is not an empty directory" in error
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    assert "is neither a store URI" in one_line_error(gvcs("clone", "target", "t2"), 2)
    assert not (tmp_path / "t2").exists()
    # an empty directory is fine
    (tmp_path / "empty").mkdir()
    ok(gvcs("clone", "story", "empty"))
    assert log_ids(gvcs, tmp_path / "empty") == log_ids(gvcs, story)


def test_clone_of_an_unreachable_server_fails_fast(gvcs: Gvcs, tmp_path: Path) -> None:
    error = one_line_error(gvcs("clone", UNREACHABLE, "copy"), 1)
    assert "not reachable" in error and ":x@" not in error
    assert not (tmp_path / "copy").exists()


def test_init_with_a_bad_or_unreachable_store_creates_nothing(gvcs: Gvcs, tmp_path: Path) -> None:
    assert "unknown store 'bogus://x'" in one_line_error(gvcs("init", "a", "--store", "bogus://x"), 2)
    assert not (tmp_path / "a").exists()
    error = one_line_error(gvcs("init", "b", env={"GVCS_STORE": "bogus://y"}), 2)
    assert "unknown store 'bogus://y'" in error
    assert not (tmp_path / "b").exists()

    started = time.monotonic()
    error = one_line_error(gvcs("init", "c", "--store", UNREACHABLE), 1)
    assert time.monotonic() - started < 15
    assert "not reachable" in error
    assert not (tmp_path / "c").exists()
    (tmp_path / "d").mkdir()
    one_line_error(gvcs("init", "d", "--store", UNREACHABLE), 1)
    assert list((tmp_path / "d").iterdir()) == []  # no .gvcs left behind


# --- tags travel with the history ---------------------------------------------------------------------


def tags(gvcs: Gvcs, cwd: Path) -> dict[str, str]:
    return {t["name"]: t["commit"] for t in json.loads(ok(gvcs("tag", "--json", cwd=cwd)).out)}


def test_push_takes_the_tags_on_the_pushed_history(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    hub, _third = hub_and_clone(gvcs, story, tmp_path)
    first = str(head(gvcs, story)["id"])
    ok(gvcs("tag", "v1", cwd=story))
    ok(gvcs("switch", "-c", "side", cwd=story))
    side = add_page(gvcs, story, "side-note")
    ok(gvcs("tag", "side-only", cwd=story))  # on a branch not pushed: stays home
    ok(gvcs("switch", "main", cwd=story))
    main = add_page(gvcs, story, "main-note")
    ok(gvcs("tag", "v2", cwd=story))
    pushed = ok(gvcs("push", "origin", "main", cwd=story)).out
    assert "new tag v1 -> " in pushed and "new tag v2 -> " in pushed and "side-only" not in pushed
    assert tags(gvcs, hub) == {"v1": first, "v2": main}
    assert "everything up to date" in ok(gvcs("push", "origin", "main", cwd=story)).out  # nothing twice
    ok(gvcs("push", "origin", "side", cwd=story))
    assert tags(gvcs, hub)["side-only"] == side


def test_a_tag_the_remote_has_elsewhere_is_left_there(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    hub, third = hub_and_clone(gvcs, story, tmp_path)
    ok(gvcs("tag", "v1", cwd=third))
    ok(gvcs("push", "origin", cwd=third))
    theirs = tags(gvcs, hub)["v1"]
    add_page(gvcs, story, "later")
    ok(gvcs("tag", "v1", cwd=story))  # the same name on another commit here
    ok(gvcs("pull", "origin", cwd=story))
    ok(gvcs("push", "origin", cwd=story))
    assert tags(gvcs, hub)["v1"] == theirs
    assert tags(gvcs, story)["v1"] != theirs


def test_pull_and_clone_bring_the_tags(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    _hub, third = hub_and_clone(gvcs, story, tmp_path)
    tagged = add_page(gvcs, story, "tagged")
    ok(gvcs("tag", "act-1", cwd=story))
    ok(gvcs("push", "origin", cwd=story))
    pulled = ok(gvcs("pull", "origin", cwd=third)).out
    assert "new tag act-1 -> " in pulled
    assert tags(gvcs, third) == {"act-1": tagged}
    ok(gvcs("clone", "hub", "fourth"))
    assert tags(gvcs, tmp_path / "fourth") == {"act-1": tagged}


@pytest.mark.neo4j
def test_tags_reach_neo4j(gvcs: Gvcs, story: Path, empty_neo4j: str) -> None:
    ok(gvcs("tag", "v1", cwd=story))
    ok(gvcs("remote", "add", "graph", empty_neo4j, cwd=story))
    ok(gvcs("push", "graph", cwd=story))
    repo = neo4j_repo(empty_neo4j)
    try:
        assert repo.tags() == {"v1": str(head(gvcs, story)["id"])}
        records = repo.objects.server.read(  # type: ignore[attr-defined]
            lambda tx: tx.run("MATCH (t:Tag)-[:HEAD]->(c:Commit) RETURN t.name AS name, c.id AS id").data()
        )
        assert records == [{"name": "v1", "id": str(head(gvcs, story)["id"])}]
    finally:
        repo.close()
