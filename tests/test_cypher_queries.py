"""The example queries of ``cypher/queries`` against the real Neo4j server, checked against the repository.

Each test builds the demo story (:mod:`narrative_vcs.demo`) in memory, copies every branch and tag into
the emptied Neo4j database of the test, runs a query file through the official driver in a managed read
transaction and compares its answer with what the repository API says about the same story.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from cypher import statement
from narrative_vcs import governance
from narrative_vcs.demo import BASE_TIME, build_demo
from narrative_vcs.graph.neo4j import Neo4jObjectStore
from narrative_vcs.objects import Page
from narrative_vcs.refs import tag_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.transfer import copy_branch
from tests.conftest import Backend

if TYPE_CHECKING:
    import neo4j

pytestmark = pytest.mark.neo4j

#: FileChange.status -> CHANGED.op
OPS = {"added": "add", "modified": "modify", "removed": "delete"}


# --- the demo story in Neo4j ----------------------------------------------------------------------


@dataclass
class DemoGraph:
    """The demo story twice: in memory (``source``, the reference) and projected in Neo4j (``store``)."""

    source: Repository
    store: Neo4jObjectStore

    def records(self, cypher: str, **params: Any) -> list[neo4j.Record]:
        """The records of a read statement, run in a managed read transaction."""

        def work(tx: neo4j.ManagedTransaction) -> list[neo4j.Record]:
            return list(tx.run(cypher, params))

        server = self.store.server
        with server.driver.session(database=server.location.database) as session:
            return session.execute_read(work)

    def run(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return [record.data() for record in self.records(cypher, **params)]

    def query(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """The rows of ``cypher/queries/<name>.cypher``."""
        return self.run(statement(f"queries/{name}"), **params)


def build_demo_source() -> Repository:
    """The demo story in memory: the history ``gvcs demo`` writes (same function, same commit ids)."""
    repo = Repository.memory()
    build_demo(repo)
    return repo


def load_demo(source: Repository, backend: Backend) -> DemoGraph:
    """Copy every branch and tag of ``source`` into the (empty) Neo4j store of ``backend``."""
    store = backend.objects
    assert isinstance(store, Neo4jObjectStore), backend.name
    destination = Repository(backend.objects, backend.refs)
    for branch in sorted(source.branches()):
        copy_branch(source, destination, branch)
    for tag, target in sorted(source.tags().items()):
        destination.refs.add_if_new(tag_ref(tag), target, who="test", message="tag: copied")
    graph = DemoGraph(source, store)
    # The database is shared: make sure it holds exactly this story before asking it anything.
    commits = len(list(source.walk(sorted(source.branches()))))
    assert graph.run("MATCH (c:Commit) RETURN count(c) AS n") == [{"n": commits}]
    return graph


@pytest.fixture(scope="session")
def demo_source() -> Repository:
    return build_demo_source()


@pytest.fixture
def demo(demo_source: Repository, neo4j_backend: Backend) -> Iterator[DemoGraph]:
    yield load_demo(demo_source, neo4j_backend)


# --- what the repository says -------------------------------------------------------------------


def branches(repo: Repository) -> list[str]:
    return sorted(repo.branches())


def all_pages(repo: Repository) -> list[str]:
    return sorted({page for branch in branches(repo) for page in repo.list_pages(branch)})


def moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def native_times(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """``rows`` with the Neo4j DateTime values under ``keys`` as Python datetimes."""
    return [{**row, **{key: row[key].to_native() for key in keys}} for row in rows]


def expected_page_history(repo: Repository, page: str) -> list[dict[str, Any]]:
    path = f"pages/{page}.md"
    rows = []
    for info in repo.iter_log(branches(repo), page=page):
        change = next(c for c in repo.changes(info.id) if c.path == path)
        blob = change.new if change.new is not None else change.old
        assert blob is not None
        data = repo.read_blob(blob)
        rows.append(
            {
                "commit": info.short_id,
                "time": moment(info.time),
                "actor": repo.read_actor(info.actor, info.id).name,
                "op": OPS[change.status],
                "title": Page.parse(page, data).title,
                "subject": info.subject,
                "branches": [b for b in branches(repo) if repo.read_file(path, b) == data],
            }
        )
    return sorted(rows, key=lambda row: row["time"], reverse=True)


def expected_pages_changed_by(repo: Repository, actor: str) -> list[dict[str, Any]]:
    changes: defaultdict[str, list[tuple[int, str, str]]] = defaultdict(list)  # page -> (time, op, title)
    for info in repo.iter_log(branches(repo), actor=actor):
        for change in repo.changes(info.id):
            if change.kind != "page" or change.item_id is None:
                continue
            blob = change.new if change.new is not None else change.old
            assert blob is not None
            title = Page.parse(change.item_id, repo.read_blob(blob)).title
            changes[change.item_id].append((info.time, OPS[change.status], title))
    rows = []
    for page, edits in changes.items():
        last = max(edits)
        rows.append(
            {
                "page": page,
                "title": last[2],
                "commits": len(edits),
                "ops": [op for op in ("add", "modify", "delete") if op in {e[1] for e in edits}],
                "last_change": moment(last[0]),
            }
        )
    return sorted(rows, key=lambda row: (-row["last_change"].timestamp(), row["page"]))


def expected_alternates(repo: Repository, page: str) -> list[dict[str, Any]]:
    holders: defaultdict[tuple[str, str, bytes | None], list[str]] = defaultdict(list)
    for branch in branches(repo):
        for alternate in repo.read_story(branch).pages.values():
            if alternate.alternate_of == page:
                version = repo.read_file(alternate.path, branch)
                holders[(alternate.id, alternate.title, version)].append(branch)
    rows = [
        {"alternate": alternate, "title": title, "branches": sorted(held)}
        for (alternate, title, _), held in holders.items()
    ]
    return sorted(rows, key=lambda row: (row["alternate"], row["branches"]))


def expected_reading_order(repo: Repository, branch: str) -> list[dict[str, Any]]:
    pages = repo.read_story(branch).pages
    depths: dict[str, int] = {}

    def depth(page: str) -> int:
        if page not in depths:
            before = [depth(p) for p in pages[page].follows if p in pages]
            depths[page] = 1 + max(before, default=-1)
        return depths[page]

    order = sorted(pages, key=lambda page: (depth(page), page))
    return [
        {"position": n, "depth": depth(page), "page": page, "title": pages[page].title}
        for n, page in enumerate(order, start=1)
    ]


# --- the queries ----------------------------------------------------------------------------------


def test_page_history(demo: DemoGraph) -> None:
    repo = demo.source
    seen_on_several_branches = False
    for page in all_pages(repo):
        rows = native_times(demo.query("page_history", page=page), "time")
        expected = expected_page_history(repo, page)
        assert rows == expected, page
        assert rows, f"{page} has no history"
        seen_on_several_branches |= any(len(row["branches"]) > 1 for row in rows)
    assert seen_on_several_branches
    assert demo.query("page_history", page="no-such-page") == []


def test_page_history_of_an_edited_page(demo: DemoGraph) -> None:
    """The heist: written on main, copy-edited on agent-drafts; each version is on its own branches."""
    rows = demo.query("page_history", page="the-heist")
    assert [(r["op"], r["actor"], r["branches"]) for r in rows] == [
        ("modify", "Cop-E-Right", ["agent-drafts"]),
        ("add", "Imogen Vale", ["alt-ending", "main"]),
    ]
    assert rows[0]["time"].to_native() > rows[1]["time"].to_native()


def test_pages_changed_by_actor(demo: DemoGraph) -> None:
    repo = demo.source
    actors = [actor.id for actor in repo.list_actors("main")]
    assert len(actors) == 3
    for actor in actors:
        rows = native_times(demo.query("pages_changed_by_actor", actor=actor), "last_change")
        assert rows == expected_pages_changed_by(repo, actor), actor
        assert rows, f"{actor} changed nothing"
    assert demo.query("pages_changed_by_actor", actor="nobody") == []


def test_alternates_of_page(demo: DemoGraph) -> None:
    repo = demo.source
    found = {}
    for page in all_pages(repo):
        rows = demo.query("alternates_of_page", page=page)
        assert rows == expected_alternates(repo, page), page
        if rows:
            found[page] = rows
    assert found == {
        "epilogue": [
            {"alternate": "epilogue-alt", "title": "Epilogue: Unshelved", "branches": ["alt-ending"]}
        ],
        "the-reckoning": [
            {
                "alternate": "the-reckoning-alt",
                "title": "The Reckoning (as the Fox Tells It)",
                "branches": ["alt-ending"],
            }
        ],
    }


def test_reading_order(demo: DemoGraph) -> None:
    repo = demo.source
    for branch in branches(repo):
        rows = demo.query("reading_order", branch=branch)
        assert rows == expected_reading_order(repo, branch), branch
        assert sorted(row["page"] for row in rows) == sorted(repo.list_pages(branch))
        # The defining property: every page comes after the pages of the branch it follows.
        place = {row["page"]: row["position"] for row in rows}
        story = repo.read_story(branch).pages
        for page, position in place.items():
            for before in story[page].follows:
                if before in place:
                    assert place[before] < position, (branch, before, page)
    assert demo.query("reading_order", branch="no-such-branch") == []


def test_reading_order_reads_each_branch_in_its_own_versions(neo4j_backend: Backend) -> None:
    """A page that follows other pages on another branch does not move the pages after it here."""
    source = build_demo_source()
    source.create_branch("reorder", "main", who="test")
    wakes = source.read_page("cop-e-right-wakes", "reorder")
    source.commit(
        "reorder",
        ChangeSet().upsert_page(replace(wakes, follows=("the-stacks",))),
        actor="imogen",
        message="The copyist wakes after the interlude",
        expected_head=source.branch_head("reorder"),
        timestamp=BASE_TIME + 24 * 3600,
    )
    demo = load_demo(source, neo4j_backend)
    depths = {}
    for branch in branches(source):
        rows = demo.query("reading_order", branch=branch)
        assert rows == expected_reading_order(source, branch), branch
        depths[branch] = {row["page"]: row["depth"] for row in rows}
    # The vault door follows the copyist's waking, which reorder moved after the stacks.
    assert depths["main"]["the-vault-door"] == 3
    assert depths["reorder"]["the-vault-door"] == 5
    rows = native_times(demo.query("page_history", page="cop-e-right-wakes"), "time")
    assert rows == expected_page_history(source, "cop-e-right-wakes")
    assert [row["branches"] for row in rows] == [["reorder"], ["agent-drafts", "alt-ending", "main"]]


def test_every_query_file_is_tested() -> None:
    from importlib import resources

    folder = resources.files("cypher").joinpath("queries")
    names = sorted(p.name.removesuffix(".cypher") for p in folder.iterdir() if p.name.endswith(".cypher"))
    assert names == [
        "alternates_of_page",
        "page_history",
        "pages_changed_between_branches",
        "pages_changed_by_actor",
        "proposals_voted_by_actor",
        "reading_order",
    ]
    for name in names:
        text = statement(f"queries/{name}")
        header = [line for line in text.splitlines() if line.startswith("//")]
        assert header and any("Parameters: $" in line for line in header), name
        assert "PARENT" not in text, f"{name}: history algorithms do not run in Cypher"


# --- governance and branch comparison -------------------------------------------------------------


def build_governed_demo() -> Repository:
    """The demo story with governance in it: imogen's open proposal to merge alt-ending into main (the
    one ``gvcs demo`` suggests), with london-fox's yes vote (one vote is short of the quorum of 2)."""
    repo = build_demo_source()
    governance.propose(
        repo, "alt-ending", "main", actor="imogen", message="Take the other ending", now=BASE_TIME + 3600
    )
    governance.vote(repo, 1, actor="london-fox", choice="yes", now=BASE_TIME + 3700)
    return repo


@pytest.fixture(scope="session")
def governed_source() -> Repository:
    return build_governed_demo()


@pytest.fixture
def governed(governed_source: Repository, neo4j_backend: Backend) -> Iterator[DemoGraph]:
    yield load_demo(governed_source, neo4j_backend)


def held_pages(repo: Repository, branch: str) -> dict[str, str]:
    """page id -> the blob id of its file at the head of ``branch``."""
    listed = repo.snapshots.list_dir(repo.tree_of(branch), "pages")
    return {name.removesuffix(".md"): blob for name, blob in listed.items() if name.endswith(".md")}


def expected_pages_changed_between(repo: Repository, a: str, b: str) -> list[dict[str, Any]]:
    before, after = held_pages(repo, a), held_pages(repo, b)

    def title(page: str, blobs: dict[str, str]) -> str | None:
        return Page.parse(page, repo.read_blob(blobs[page])).title if page in blobs else None

    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    return [
        {
            "page": page,
            "change": "add" if page not in before else "delete" if page not in after else "modify",
            "title_a": title(page, before),
            "title_b": title(page, after),
        }
        for page in changed
    ]


def test_pages_changed_between_branches(demo: DemoGraph) -> None:
    repo = demo.source
    for a in branches(repo):
        for b in branches(repo):
            rows = demo.query("pages_changed_between_branches", a=a, b=b)
            assert rows == expected_pages_changed_between(repo, a, b), (a, b)
            if a == b:
                assert rows == []
    rows = demo.query("pages_changed_between_branches", a="main", b="alt-ending")
    assert {(row["page"], row["change"]) for row in rows} >= {
        ("epilogue-alt", "add"),
        ("the-reckoning-alt", "add"),
    }
    assert demo.query("pages_changed_between_branches", a="main", b="no-such-branch") == []


def test_proposals_voted_by_actor(governed: DemoGraph) -> None:
    repo = governed.source
    proposals = governance.list_proposals(repo)
    assert len(proposals) == 1
    voted = 0
    for actor in [actor.id for actor in repo.list_actors("main")]:
        expected = [
            {
                "number": p.number,
                "status": p.status,
                "source": p.source,
                "target": p.target,
                "message": p.message,
                "choice": p.votes[actor].choice,
                "weight": p.votes[actor].weight,
                "yes": p.tally.yes,
                "no": p.tally.no,
            }
            for p in reversed(proposals)
            if actor in p.votes
        ]
        assert governed.query("proposals_voted_by_actor", actor=actor) == expected, actor
        voted += len(expected)
    assert voted == 1
    assert governed.query("proposals_voted_by_actor", actor="nobody") == []
