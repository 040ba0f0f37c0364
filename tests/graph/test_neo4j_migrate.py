"""``gvcs migrate`` against the real Neo4j server: a database of the first layout (an ``(:Object)`` node per
git object) moved to layout 2 (packs, commits on their ``Commit`` nodes), and writes refused until then.

The database of the first layout is made the honest way: a story written with gvcs into Neo4j, then
converted with plain Cypher, an ``Object`` node per pack entry and per commit, the packs and the ``Meta``
node deleted, and the ``object_id`` constraint that gvcs used to create.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.errors import CorruptObject
from narrative_vcs.graph.factory import open_repository, open_store
from narrative_vcs.graph.neo4j import (
    LAYOUT,
    NeedsMigration,
    Neo4jObjectStore,
    Neo4jServer,
    open_neo4j,
    parse_neo4j_uri,
)
from narrative_vcs.graph.neo4j.migrate import STALE_AFTER, MigrationReport, migrate
from narrative_vcs.graph.packfile import PackData
from narrative_vcs.objects import Page
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

from ..cli.conftest import REPO_ROOT, ok, one_line_error, run_gvcs
from ..conftest import Writer

pytestmark = pytest.mark.neo4j

TAG = b"object %s\ntype commit\ntag draft\ntagger Ada <ada@actors.gvcs> 1700000000 +0000\n\nA draft\n"
STRAY = b"a blob that no commit reaches\n"


# --- the database, in plain Cypher ------------------------------------------------------------------


def cypher(uri: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    server = Neo4jServer(parse_neo4j_uri(uri))
    try:
        with server.driver.session(database=server.location.database) as session:
            return session.execute_write(lambda tx: [r.data() for r in tx.run(statement, params)])
    finally:
        server.close()


def one(uri: str, statement: str, **params: Any) -> Any:
    (row,) = cypher(uri, statement, **params)
    (value,) = row.values()
    return value


def to_first_layout(uri: str, *, without_raw: int = 0) -> int:
    """Convert the story at ``uri`` to the first layout: an ``Object`` node per pack entry and per commit,
    no ``Pack`` or ``Meta`` node; ``without_raw`` commits also lose ``raw`` (stored before commits kept
    it). Returns how many objects the database holds."""
    packs = cypher(uri, "MATCH (p:Pack) RETURN p.data AS data, p.ids AS ids, p.offsets AS offsets")
    rows = []
    for pack in packs:
        data = PackData(bytes(pack["data"]), bytes(pack["ids"]), bytes(pack["offsets"]))
        for oid in data:
            obj_type, body = data.read(oid)
            rows.append({"id": str(oid), "type": obj_type, "data": body})
    cypher(uri, "CREATE CONSTRAINT object_id IF NOT EXISTS FOR (o:Object) REQUIRE o.id IS UNIQUE")
    cypher(
        uri,
        "UNWIND $rows AS r MERGE (o:Object {id: r.id}) ON CREATE SET o.type = r.type, o.data = r.data",
        rows=rows,
    )
    cypher(uri, "MATCH (c:Commit) CREATE (:Object {id: c.id, type: 'commit', data: c.raw})")
    cypher(uri, "MATCH (p:Pack) DELETE p")
    cypher(uri, "MATCH (m:Meta) DELETE m")
    cypher(uri, "MATCH (k:Counter) REMOVE k.packs")
    if without_raw:
        cypher(uri, "MATCH (c:Commit) WITH c ORDER BY c.seq LIMIT $n REMOVE c.raw", n=without_raw)
    return int(one(uri, "MATCH (o:Object) RETURN count(o)"))


def layout_state(uri: str) -> dict[str, Any]:
    (row,) = cypher(
        uri,
        """OPTIONAL MATCH (m:Meta {name: 'layout'})
        RETURN m.version AS version, m.migrating AS migrating,
          COUNT { MATCH (o:Object) } AS objects, COUNT { MATCH (p:Pack) } AS packs,
          COUNT { MATCH (c:Commit) WHERE c.raw IS NULL } AS unfilled""",
    )
    return row


def constraints(uri: str) -> set[str]:
    return {r["name"] for r in cypher(uri, "SHOW CONSTRAINTS YIELD name RETURN name")}


# --- a story ----------------------------------------------------------------------------------------


@dataclass
class Story:
    """A story gvcs wrote into Neo4j, and what it looked like then."""

    uri: str
    root: Path  # a work tree whose store is the database
    refs: dict[str, ObjectId]
    commits: list[ObjectId]
    log: str  # gvcs log --all --oneline
    tag: ObjectId  # an annotated tag that no ref names
    stray: ObjectId  # a blob that no commit reaches

    @property
    def location(self) -> str:
        return str(parse_neo4j_uri(self.uri))


def write_story(uri: str, where: Path) -> Story:
    """Branches main and side, a merge, a tag, and two objects no commit reaches, written by gvcs."""
    ok(run_gvcs(where, "init", "story", "--store", uri))
    repo = open_store(uri)
    try:
        w = Writer(repo)
        w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
        w.page("one", "Page one. See [[prologue]].", follows=["prologue"])
        repo.create_branch("side", "main")
        w.page("two", "Written on the side.", branch="side")
        w.page("three", "Written on main.")
        head = repo.branch_head("main")
        assert head is not None
        repo.merge(
            "main", "side", actor="ada", expected_head=head, message="Merge side", timestamp=w.time + 60
        )
        w.time += 60
        repo.create_tag("v1", "main")
        w.page("four", "After the tag.")
        w.page("five", "More on the side.", branch="side")
        head = repo.branch_head("main")
        assert head is not None
        tag = repo.objects.put("tag", TAG % head.encode())
        stray = repo.objects.put("blob", STRAY)
        refs = {str(k): v for k, v in repo.refs.list().items()}
        commits = walk(repo)
    finally:
        repo.close()
    root = where / "story"
    log = ok(run_gvcs(root, "log", "--all", "--oneline")).out
    assert log.count("\n") == len(commits) == 7
    return Story(uri, root, refs, commits, log, tag, stray)


def walk(repo: Repository) -> list[ObjectId]:
    return sorted(c.id for c in repo.commits.walk(list(repo.refs.list().values())))


def count_objects(uri: str) -> int:
    server = Neo4jServer(parse_neo4j_uri(uri))
    try:
        return int(server.query("admin/count_objects")[0]["objects"])
    finally:
        server.close()


def assert_same_story(story: Story) -> None:
    """Everything of ``story`` reads back from its database, as another process sees it."""
    assert ok(run_gvcs(story.root, "log", "--all", "--oneline")).out == story.log
    repo = open_store(story.uri)
    try:
        assert {str(k): v for k, v in repo.refs.list().items() if k in story.refs} == story.refs
        assert walk(repo) == story.commits
        assert repo.objects.get(story.tag)[0] == "tag"
        assert repo.objects.get(story.stray) == ("blob", STRAY)
        report = repo.fsck()
        assert report.ok, report.problems
    finally:
        repo.close()


def gvcs_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture
def empty_uri(neo4j_uri: str) -> Iterator[str]:
    """The test server's URI, its database emptied first."""
    objects, _refs, _access = open_neo4j(neo4j_uri)
    objects.server.clear()
    objects.close()
    yield neo4j_uri


# --- tests ------------------------------------------------------------------------------------------


def test_a_story_of_the_first_layout_is_read_refuses_writes_and_is_migrated(
    empty_uri: str, tmp_path: Path
) -> None:
    story = write_story(empty_uri, tmp_path)
    objects = to_first_layout(empty_uri, without_raw=2)
    assert layout_state(empty_uri) == {
        "version": None,
        "migrating": None,
        "objects": objects,
        "packs": 0,
        "unfilled": 2,
    }
    assert "object_id" in constraints(empty_uri)

    # Reads work as they are; every write is refused in one line, and writes nothing.
    assert ok(run_gvcs(story.root, "log", "--all", "--oneline")).out == story.log
    refusal = (
        f"gvcs: error: the Neo4j database at {story.location} holds a story in gvcs's old layout (a node "
        "per object): stop its servers and workers and run `gvcs migrate` (reads work meanwhile)"
    )
    assert one_line_error(run_gvcs(story.root, "branch", "later"), 1) == refusal
    waiting = open_store(empty_uri)  # a process that outlives the migration
    with pytest.raises(NeedsMigration) as refused:
        Writer(waiting, start_time=1_800_000_000).page("six", "Too early.")
    assert f"gvcs: error: {refused.value}" == refusal
    with pytest.raises(NeedsMigration):
        waiting.objects.put("blob", b"not even a blob")
    assert layout_state(empty_uri)["objects"] == objects
    assert layout_state(empty_uri)["version"] is None

    result = ok(run_gvcs(story.root, "migrate"))
    assert result.out.splitlines() == [
        f"Migrated the Neo4j database at {story.location} to layout {LAYOUT}:",
        "  7 commits: 7 commit Object nodes dropped (each Commit node holds its commit), 2 Commit nodes "
        "given their raw object",
        f"  {objects - 7} objects moved into 2 packs: {objects - 9} by history, 2 that no commit reaches",
        f"Check it with: gvcs fsck --store {story.location}",
    ]
    assert result.err == ""
    assert layout_state(empty_uri) == {
        "version": LAYOUT,
        "migrating": None,
        "objects": 0,
        "packs": 2,
        "unfilled": 0,
    }
    assert "object_id" not in constraints(empty_uri)
    assert count_objects(empty_uri) == objects
    assert_same_story(story)
    assert ok(run_gvcs(tmp_path, "fsck", "--store", empty_uri)).out.startswith(f"ok: {objects} objects")
    assert ok(run_gvcs(story.root, "fsck")).out.startswith(f"ok: {objects} objects")

    # Writes work again, also for the process that was refused; a second run has nothing to do.
    Writer(waiting, start_time=1_800_000_000).page("six", "In time.")
    waiting.close()
    ok(run_gvcs(story.root, "branch", "later"))
    assert ok(run_gvcs(story.root, "migrate")).out == (
        f"The Neo4j database at {story.location} is in the current layout ({LAYOUT}): nothing to do\n"
    )
    again = json.loads(ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri, "--json")).out)
    assert again["current"] is True and again["packs"] == 0

    # A clone out of the migrated store has the same commits under the same ids.
    ok(run_gvcs(tmp_path, "clone", empty_uri, "copy"))
    copy = open_repository(tmp_path / "copy")
    migrated = open_store(empty_uri)
    try:
        assert copy.branches() == migrated.branches()
        assert copy.tags() == migrated.tags() == {"v1": story.refs["refs/tags/v1"]}
        assert walk(copy) == walk(migrated)
        assert set(story.commits) < set(walk(copy))
    finally:
        copy.close()
        migrated.close()


def test_a_migration_cut_short_leaves_a_readable_store_that_the_next_run_finishes(
    empty_uri: str, tmp_path: Path
) -> None:
    story = write_story(empty_uri, tmp_path)
    objects = to_first_layout(empty_uri)

    class Stop(Exception):
        pass

    def stop_at_third(packs: int) -> None:
        if packs == 3:
            raise Stop

    server = Neo4jServer(parse_neo4j_uri(empty_uri))
    try:
        with pytest.raises(Stop):
            migrate(server, batch_commits=1, on_pack=stop_at_third)
        state = layout_state(empty_uri)
        assert state["migrating"] is not None and state["version"] is None
        assert state["packs"] == 3 and 0 < state["objects"] < objects

        # Every object reads, from packs, Commit nodes or Object nodes; writes wait for the migration.
        assert_same_story(story)
        line = one_line_error(run_gvcs(story.root, "branch", "later"), 1)
        assert line == (
            f"gvcs: error: the Neo4j database at {story.location} is changing layout: a migration is under "
            "way or was cut short: run `gvcs migrate` again (reads work meanwhile)"
        )

        # The migration that stopped was this process's, and it no longer runs: the next one goes on.
        report = migrate(server, batch_commits=2)
    finally:
        server.close()
    assert report.resumed is not None and report.resumed.startswith(f"{socket.gethostname()}/{os.getpid()}/")
    assert report.commits < len(story.commits)  # it went on from the last commit packed
    assert layout_state(empty_uri)["objects"] == 0
    assert layout_state(empty_uri)["version"] == LAYOUT
    assert count_objects(empty_uri) == objects
    assert_same_story(story)
    ok(run_gvcs(story.root, "branch", "later"))


def test_a_killed_migration_is_finished_by_gvcs_migrate(empty_uri: str, tmp_path: Path) -> None:
    story = write_story(empty_uri, tmp_path)
    objects = to_first_layout(empty_uri, without_raw=1)
    script = textwrap.dedent(
        f"""
        import os, signal
        from narrative_vcs.graph.neo4j import Neo4jServer, parse_neo4j_uri
        from narrative_vcs.graph.neo4j.migrate import migrate

        def kill(packs):
            if packs == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        migrate(Neo4jServer(parse_neo4j_uri({empty_uri!r})), batch_commits=1, on_pack=kill)
        """
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", script], cwd=tmp_path, env=gvcs_env(), stderr=subprocess.PIPE
    )
    _out, err = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, err
    state = layout_state(empty_uri)
    assert state["migrating"] is not None and state["packs"] == 2 and state["unfilled"] == 0
    assert_same_story(story)

    result = ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri))
    assert result.out.splitlines()[0] == (
        f"Continued the migration that {socket.gethostname()}, pid {killed.pid} began"
    )
    assert layout_state(empty_uri)["objects"] == 0
    assert layout_state(empty_uri)["migrating"] is None
    assert count_objects(empty_uri) == objects
    assert_same_story(story)
    assert ok(run_gvcs(tmp_path, "fsck", "--store", empty_uri)).out.startswith("ok: ")


def test_a_live_migration_is_taken_over_only_with_force(empty_uri: str, tmp_path: Path) -> None:
    story = write_story(empty_uri, tmp_path)
    to_first_layout(empty_uri)
    mark = "MERGE (m:Meta {name: 'layout'}) SET m.migrating = $mark, m.migrating_seen = timestamp() - $ago"
    host = socket.gethostname()

    # A process of this host that runs (this one), and one of another host that wrote a moment ago.
    cypher(empty_uri, mark, mark=f"{host}/{os.getpid()}/live", ago=0)
    line = one_line_error(run_gvcs(tmp_path, "migrate", "--store", empty_uri), 1)
    assert f"is under way ({host}, pid {os.getpid()}, last seen 0 s ago): wait for it" in line
    assert "`gvcs migrate --force` if it is dead" in line
    cypher(empty_uri, mark, mark="elsewhere.example/42/live", ago=0)
    line = one_line_error(run_gvcs(tmp_path, "migrate", "--store", empty_uri), 1)
    assert "is under way (elsewhere.example, pid 42, last seen 0 s ago)" in line
    assert layout_state(empty_uri)["packs"] == 0

    result = ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri, "--force"))
    assert result.out.startswith("Continued the migration that elsewhere.example, pid 42 began\n")
    assert layout_state(empty_uri)["objects"] == 0
    assert_same_story(story)

    # Another host's mark that has not moved for longer than STALE_AFTER is a dead migration's.
    cypher(empty_uri, mark, mark="elsewhere.example/42/dead", ago=(STALE_AFTER + 1) * 1000)
    report = json.loads(ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri, "--json")).out)
    assert report["resumed"] == "elsewhere.example, pid 42"
    assert layout_state(empty_uri)["migrating"] is None


def test_a_writer_that_found_the_layout_current_writes_nothing_once_a_migration_begins(
    empty_uri: str,
) -> None:
    objects, refs, _access = open_neo4j(empty_uri)
    repo = Repository(objects, refs)
    try:
        repo.set_head_branch("main")
        w = Writer(repo)
        w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
        head = repo.branch_head("main")
        before = layout_state(empty_uri)
        # A migration begins (its mark, as migrate/mark.cypher sets it) after this process checked.
        cypher(
            empty_uri,
            "MATCH (m:Meta {name: 'layout'}) SET m.migrating = 'elsewhere.example/42/x', "
            "m.migrating_seen = timestamp()",
        )
        with pytest.raises(NeedsMigration, match="a migration is under way or was cut short"):
            w.page("one", "Too late.")
        with pytest.raises(NeedsMigration):
            objects.put("blob", b"nor this")
        assert repo.branch_head("main") == head
        after = layout_state(empty_uri)
        assert (after["packs"], after["objects"]) == (before["packs"], 0)
        assert one(empty_uri, "MATCH (c:Commit) RETURN count(c)") == 1

        # Once it is over, the same process writes again.
        cypher(empty_uri, "MATCH (m:Meta {name: 'layout'}) REMOVE m.migrating, m.migrating_seen")
        w.page("one", "In time.")
        assert one(empty_uri, "MATCH (c:Commit) RETURN count(c)") == 2
    finally:
        repo.close()


def test_an_emptied_database_is_marked_again_by_a_writer(empty_uri: str) -> None:
    """The guard in the write statement finds no Meta node after another process emptied the database:
    the writer marks it again and writes, as a first write would."""
    objects, _refs, _access = open_neo4j(empty_uri)
    try:
        objects.put("blob", b"first")
        assert layout_state(empty_uri)["version"] == LAYOUT
        other, _refs, _access2 = open_neo4j(empty_uri)
        other.server.clear()
        other.close()
        oid = objects.put("blob", b"second")
        assert layout_state(empty_uri)["version"] == LAYOUT
        assert Neo4jObjectStore(objects.server).get(oid) == ("blob", b"second")
    finally:
        objects.close()


def test_migrate_leaves_a_current_database_alone_and_refuses_bad_stores(
    empty_uri: str, tmp_path: Path
) -> None:
    # An empty database is marked as the current layout, as a first write marks it.
    report = json.loads(ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri, "--json")).out)
    assert report["current"] is True and report["layout"] == LAYOUT
    assert layout_state(empty_uri)["version"] == LAYOUT

    ok(run_gvcs(tmp_path, "init", "plain"))
    line = one_line_error(run_gvcs(tmp_path / "plain", "migrate"), 2)
    assert "keeps its history in .gvcs (git), which needs no migration" in line
    assert "not a Neo4j URI" in one_line_error(run_gvcs(tmp_path, "migrate", "--store", "plain"), 2)
    assert "not a gvcs repository" in one_line_error(run_gvcs(tmp_path, "migrate"), 2)

    # A database written by a newer gvcs is neither migrated nor written.
    cypher(empty_uri, "MATCH (m:Meta {name: 'layout'}) SET m.version = $v", v=LAYOUT + 1)
    line = one_line_error(run_gvcs(tmp_path, "migrate", "--store", empty_uri), 1)
    assert f"holds layout {LAYOUT + 1}, newer than the one this gvcs writes ({LAYOUT})" in line
    objects, _refs, _access = open_neo4j(empty_uri)
    try:
        with pytest.raises(NeedsMigration, match="use a newer gvcs"):
            objects.put("blob", b"old code")
    finally:
        objects.close()


def test_a_damaged_object_stays_where_it_is_and_is_reported(empty_uri: str, tmp_path: Path) -> None:
    story = write_story(empty_uri, tmp_path)
    to_first_layout(empty_uri)
    cypher(empty_uri, "MATCH (o:Object {id: $id}) SET o.data = $data", id=story.stray, data=b"changed")
    server = Neo4jServer(parse_neo4j_uri(empty_uri))
    try:
        report: MigrationReport = migrate(server)
    finally:
        server.close()
    assert report.damaged == [story.stray]
    assert layout_state(empty_uri)["objects"] == 1
    assert layout_state(empty_uri)["version"] == LAYOUT
    repo = open_store(empty_uri)
    try:
        with pytest.raises(CorruptObject):
            repo.objects.get(story.stray)
        assert walk(repo) == story.commits
    finally:
        repo.close()
    # A later run finds it again, and says so; the rest stays as it is.
    result = ok(run_gvcs(tmp_path, "migrate", "--store", empty_uri))
    assert result.err == (
        f"gvcs: warning: 1 object(s) do not hash to their id and stay as Object nodes, e.g. {story.stray}\n"
    )
    assert layout_state(empty_uri)["packs"] == 2
