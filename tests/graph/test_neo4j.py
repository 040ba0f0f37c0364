"""The Neo4j backend against the real server: the projection people read, compare-and-swap inside a
transaction, incremental commit listing, and where its Cypher lives.

The shared backend suite (tests/test_store.py, test_refs.py, test_repository.py, ...) runs on this
backend too through the ``neo4j_backend`` fixture; these tests cover what only Neo4j has.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.errors import BadInput, BranchMoved
from narrative_vcs.graph.neo4j import Neo4jObjectStore, parse_neo4j_uri
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import RefName

from ..conftest import Backend, Writer

pytestmark = pytest.mark.neo4j

ROOT = Path(__file__).resolve().parents[2]
MAIN = RefName("refs/heads/main")


def rows(repo: Repository, cypher: str, **params: Any) -> list[dict[str, Any]]:
    store = repo.objects
    assert isinstance(store, Neo4jObjectStore)
    with store.server.driver.session(database=store.server.location.database) as session:
        return session.execute_read(lambda tx: [r.data() for r in tx.run(cypher, params)])


def count_listings(objects: Neo4jObjectStore) -> list[int]:
    """Make ``objects`` record how many commits each listing of new commits returned."""
    counts: list[int] = []
    listing = objects.commit_headers

    def counting(after: int) -> tuple[list[Any], int]:
        found = listing(after)
        counts.append(len(found[0]))
        return found

    objects.commit_headers = counting  # type: ignore[method-assign]
    return counts


def test_commits_pages_and_links_are_projected(neo: Repository) -> None:
    w = Writer(neo)
    first = w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
    second = w.page("vault", "The door. See [[prologue]].", title="The Vault", follows=("prologue",))
    commits = rows(
        neo,
        "MATCH (c:Commit)-[:AUTHORED_BY]->(a:Actor) OPTIONAL MATCH (c)-[p:PARENT]->(parent) "
        "RETURN c.id AS id, c.subject AS subject, c.kind AS kind, a.id AS actor, a.name AS name, "
        "parent.id AS parent, p.order AS order ORDER BY c.seq",
    )
    assert [(r["id"], r["parent"], r["order"]) for r in commits] == [(first, None, None), (second, first, 0)]
    assert commits[1]["subject"] == "Write vault" and commits[1]["actor"] == "ada"
    assert commits[1]["name"] == "Ada Lovelace" and commits[1]["kind"] == "edit"
    links = rows(
        neo,
        "MATCH (:Commit {id: $id})-[ch:CHANGED]->(v:PageVersion)-[r]->(p:Page) "
        "RETURN ch.op AS op, v.title AS title, type(r) AS type, p.id AS page ORDER BY type, page",
        id=second,
    )
    assert [(r["op"], r["type"], r["page"]) for r in links] == [
        ("add", "FOLLOWS", "prologue"),
        ("add", "LINKS_TO", "prologue"),
        ("add", "VERSION_OF", "vault"),
    ]
    assert {r["title"] for r in links} == {"The Vault"}


def test_a_branch_holds_its_heads_page_versions_and_follows_its_moves(neo: Repository) -> None:
    w = Writer(neo)
    w.setup(pages=[Page("a", "A", "One."), Page("b", "B", "Two.")])
    neo.create_branch("side")
    w.page("a", "One, revised.", branch="side")
    w.commit(ChangeSet().delete_page("b"), message="Cut b", branch="side")

    def held(branch: str) -> dict[str, str]:
        found = rows(
            neo,
            "MATCH (:Branch {name: $b})-[:HAS_PAGE]->(v:PageVersion) RETURN v.page AS page, v.blob AS blob",
            b=branch,
        )
        return {r["page"]: r["blob"] for r in found}

    for branch in ("main", "side"):
        expected = {
            p: neo.snapshots.blob_id(neo.tree_of(branch), f"pages/{p}.md") for p in neo.list_pages(branch)
        }
        assert held(branch) == expected
    assert set(held("side")) == {"a"} and set(held("main")) == {"a", "b"}
    head = rows(neo, "MATCH (:Branch {name: 'side'})-[:HEAD]->(c:Commit) RETURN c.subject AS s")
    assert head == [{"s": "Cut b"}]
    deleted = rows(neo, "MATCH (c:Commit)-[:CHANGED {op: 'delete'}]->(v) RETURN c.subject AS s, v.page AS p")
    assert deleted == [{"s": "Cut b", "p": "b"}]


def test_a_stale_compare_and_swap_changes_nothing(neo: Repository) -> None:
    w = Writer(neo)
    first = w.setup(pages=[Page("a", "A", "One.")])
    second = w.page("a", "Two.")
    stale = w.page("a", "Three.")
    log_before = neo.refs.reflog(MAIN)
    with pytest.raises(BranchMoved):
        neo.refs.set_if_equals(MAIN, second, first)  # expects second; the branch is at `stale`
    assert neo.refs.get(MAIN) == stale
    assert neo.refs.reflog(MAIN) == log_before
    head = rows(neo, "MATCH (:Branch {name: 'main'})-[:HEAD]->(c:Commit) RETURN c.id AS id")
    assert head == [{"id": stale}]
    with pytest.raises(BranchMoved):
        neo.refs.add_if_new(MAIN, first)
    with pytest.raises(BadInput, match="exists"):
        neo.refs.add_if_new(RefName("refs/heads/main/sub"), first)


def test_a_commit_and_its_ref_land_in_one_transaction(neo: Repository, neo4j_uri: str) -> None:
    """A group that loses the race to another writer (another process: here another repository on
    the same database) writes nothing, not even Commit nodes; it is queued and written in the branch's
    turn (narrative_vcs/graph/neo4j/queue.py). Every Commit node of the graph is on a branch."""
    from narrative_vcs.graph.neo4j import open_neo4j
    from narrative_vcs.repository import PendingCommit

    w = Writer(neo)
    base = w.setup(pages=[Page("a", "A", "One."), Page("b", "B", "One.")])
    objects, refs, _access = open_neo4j(neo4j_uri)
    other = Repository(objects, refs)
    real = neo.refs.move_with_batch
    theirs: list[Any] = []

    def first_another_writer(moves: Any, **kwargs: Any) -> bool:
        if not theirs:  # just before our group's transaction, another process commits
            theirs.append(Writer(other).page("b", "Theirs."))
        return real(moves, **kwargs)

    neo.refs.move_with_batch = first_another_writer  # type: ignore[method-assign]
    writes: list[str] = []
    server = objects.server
    call = neo.objects.server._call  # type: ignore[attr-defined]

    def counting(mode: str, work: Any) -> Any:
        writes.append(mode)
        return call(mode, work)

    neo.objects.server._call = counting  # type: ignore[attr-defined]
    try:
        (outcome,) = neo.commit_group(
            "main", [PendingCommit(ChangeSet().upsert_page(Page("a", "A", "Ours.")), base, "ada", "Ours")]
        )
    finally:
        server.close()
    assert outcome.error is None and outcome.rebased and outcome.parent == theirs[0]
    # The lost attempt (rolled back), the change set queued, and the turn that wrote it.
    assert writes.count("write") == 3
    on_main = {c.id for c in neo.walk(["main"])}
    stored = {r["id"] for r in rows(neo, "MATCH (c:Commit) RETURN c.id AS id")}
    assert stored == on_main  # no Commit node of the attempt that lost


def test_a_group_starts_from_the_head_it_last_saw_and_a_stale_one_costs_no_update(
    neo: Repository, neo4j_uri: str
) -> None:
    """A group commit reads no ref when this process moved the branch last (RefStore.last_known); when
    another process moved it meanwhile, the compare-and-swap fails, tells the head it found, and the
    group lands on it: nothing acknowledged is lost."""
    from narrative_vcs.graph.neo4j import open_neo4j
    from narrative_vcs.repository import PendingCommit

    w = Writer(neo)
    base = w.setup(pages=[Page("a", "A", "One."), Page("b", "B", "One.")])
    ref = RefName("refs/heads/main")
    assert neo.refs.last_known(ref) == base
    reads: list[str] = []
    query = neo.objects.server.query  # type: ignore[attr-defined]

    def counting(name: str, /, **params: Any) -> Any:
        reads.append(name)
        return query(name, **params)

    neo.objects.server.query = counting  # type: ignore[attr-defined]
    (first,) = neo.commit_group(
        "main", [PendingCommit(ChangeSet().upsert_page(Page("a", "A", "Two.")), base, "ada", "2")]
    )
    assert first.error is None and first.parent == base
    assert "refs/get" not in reads
    objects, refs, _access = open_neo4j(neo4j_uri)
    try:
        theirs = Writer(Repository(objects, refs)).page("b", "Theirs.")  # another process moves main
    finally:
        objects.server.close()
    assert neo.refs.last_known(ref) == first.commit  # stale now
    (second,) = neo.commit_group(
        "main", [PendingCommit(ChangeSet().upsert_page(Page("a", "A", "Three.")), first.commit, "ada", "3")]
    )
    assert second.error is None and second.rebased and second.parent == theirs
    assert neo.refs.get(ref) == second.commit and neo.refs.last_known(ref) == second.commit
    assert [c.id for c in neo.walk(["main"])][:3] == [second.commit, theirs, first.commit]


def test_commit_listing_returns_only_new_commits(neo: Repository) -> None:
    w = Writer(neo)
    first = w.setup()
    listed, mark = neo.objects.commit_headers(0)  # type: ignore[misc]
    assert [oid for oid, _ in listed] == [first]
    second = w.page("a", "One.")
    third = w.page("b", "Two.")
    newer, later = neo.objects.commit_headers(mark)  # type: ignore[misc]
    assert [oid for oid, _ in newer] == [second, third] and later > mark
    assert neo.objects.commit_headers(later) == ([], later)  # type: ignore[misc]


def test_history_reads_new_commits_incrementally(neo4j_backend: Backend, neo4j_uri: str) -> None:
    writer_repo = Repository(neo4j_backend.objects, neo4j_backend.refs)
    writer_repo.set_head_branch("main")
    w = Writer(writer_repo)
    w.setup()
    for i in range(60):
        w.page(f"p{i}", f"Page {i}.")
    # A second reader (another server process would be the same) walks, then sees new commits only.
    from narrative_vcs.graph.neo4j import open_neo4j

    objects, refs, _access = open_neo4j(neo4j_uri)
    try:
        reader = Repository(objects, refs)
        calls = count_listings(objects)
        assert len(list(reader.walk(["main"]))) == 61
        w.page("late", "Late.")
        assert len(list(reader.walk(["main"]))) == 62
        assert reader.merge_bases("main", "main~3") == [reader.resolve("main~3")]
        assert calls[0] == 61 and calls[-1] == 1  # the second listing read the one new commit
    finally:
        objects.close()


def test_uri_forms() -> None:
    loc = parse_neo4j_uri("neo4j://alice:s%40cret@db.example:7690/stories")
    assert (loc.address, loc.user, loc.password, loc.database) == (
        "neo4j://db.example:7690",  # routing kept: a cluster or Aura works unchanged
        "alice",
        "s@cret",
        "stories",
    )
    assert str(loc) == "neo4j://alice@db.example:7690/stories"  # no password in messages
    assert parse_neo4j_uri("bolt://h").address == "bolt://h:7687"
    assert parse_neo4j_uri("neo4j+s://x.databases.neo4j.io").address == "neo4j+s://x.databases.neo4j.io:7687"
    for bad in ("http://h:7687", "neo4j://:7687", "neo4j://h:99999", "neo4j://h/a/b"):
        with pytest.raises(BadInput):
            parse_neo4j_uri(bad)


def test_every_statement_lives_in_the_cypher_package() -> None:
    package = ROOT / "narrative_vcs" / "graph" / "neo4j"
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.glob("*.py")))
    names = set(re.findall(r'_statement\(\s*f?"([a-z_/{}]+)"', source))
    assert names, "no statements found"
    for name in names:
        for expanded in [name] if "{" not in name else []:
            assert (ROOT / "cypher" / f"{expanded}.cypher").is_file(), expanded
    # no Cypher keywords in string literals of the backend: statements are loaded, never built
    for keyword in ("MATCH (", "MERGE (", "CREATE (", "UNWIND $"):
        assert keyword not in source, keyword


def test_gvcs_statements_never_walk_history_in_cypher() -> None:
    """History algorithms run on the in-memory DAG; only the examples for people may walk paths."""
    for path in (ROOT / "cypher").rglob("*.cypher"):
        if path.parent.name in ("queries",):
            continue
        text = re.sub(r"//.*", "", path.read_text(encoding="utf-8"))
        assert not re.search(r"\[[^\]]*\*[^\]]*\]", text), f"{path.name}: variable-length path"


def test_a_work_tree_keeps_the_commit_listing_between_processes(
    neo: Repository, neo4j_uri: str, tmp_path: Path
) -> None:
    from narrative_vcs.graph.neo4j import open_neo4j
    from narrative_vcs.history import Commits

    w = Writer(neo)
    w.setup()
    for i in range(1200):
        w.commit(ChangeSet().upsert_page(Page(f"p{i % 7}", "P", f"Version {i}.")), message=f"c{i}")
    head = neo.branch_head("main")
    assert head is not None
    objects, refs, _access = open_neo4j(neo4j_uri, cache_dir=tmp_path)
    try:
        first = [c.id for c in Commits(objects).walk([head])]
        assert len(first) == 1201 and (tmp_path / Commits.LISTING_NAME).is_file()
        w.page("late", "Late.")
        late = neo.branch_head("main")
        assert late is not None
        listed = count_listings(objects)
        again = [c.id for c in Commits(objects).walk([late])]
        assert again == [late, *first]
        assert listed == [1]  # the next process listed only the commit stored since
    finally:
        objects.close()
        refs.close()


def test_a_batch_is_prepared_on_the_one_before_while_that_one_is_written(neo: Repository) -> None:
    from narrative_vcs.errors import NotFound
    from narrative_vcs.transfer import _objects_of, missing_commits

    source = Repository.memory()
    w = Writer(source)
    w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
    w.page("vault", "The door.")
    w.page("vault", "The door opens.")
    w.page("cellar", "Dark.")
    order = missing_commits(source, source.branch_head("main"), neo)
    first = neo.objects.prepare_write(list(_objects_of(source, order[:2])))
    # The second batch's projection reads the trees of the first, which is not written yet.
    second = neo.objects.prepare_write(list(_objects_of(source, order[2:3])))
    assert neo.objects.get(order[1].id) == source.objects.get(order[1].id)  # readable meanwhile
    first.write()
    second.write()
    third = neo.objects.prepare_write(list(_objects_of(source, order[3:])))
    third.discard()
    with pytest.raises(NotFound):
        neo.objects.get(order[3].id)
    changed = rows(
        neo,
        "MATCH (c:Commit)-[ch:CHANGED]->(v:PageVersion) RETURN c.id AS id, ch.op AS op, v.page AS page",
    )
    assert sorted((r["id"], r["op"], r["page"]) for r in changed) == sorted(
        [
            (order[0].id, "add", "prologue"),
            (order[1].id, "add", "vault"),
            (order[2].id, "modify", "vault"),
        ]
    )
    parents = rows(neo, "MATCH (c:Commit {id: $id})-[:PARENT]->(p) RETURN p.id AS id", id=order[2].id)
    assert parents == [{"id": order[1].id}]
