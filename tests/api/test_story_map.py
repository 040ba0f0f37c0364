"""The story map at /view/map (api/views/): its data, and the view in a real headless Chromium.

The browser tests need what the explorer's need (tests/api/test_explorer.py: Debian's chromium,
playwright, the npm files installed by make) and are skipped without them, failed under ``CI=true``.
They run a real ``gvcs serve`` on the demo story and save screenshots to ``build/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from api.views import routes as views
from api.views.story_map import StoryMaps
from bench.generate import StoryGenerator
from narrative_vcs.access import READS, create_token
from narrative_vcs.demo import build_demo
from narrative_vcs.export import page_graph
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.objects import Page
from narrative_vcs.repo.building import ChangeSet
from narrative_vcs.repository import Repository

from .browsing import ViewTab, browser, demo_dir, need_assets, need_browser, open_view
from .serving import Served, serve, wait_for_subscribers
from .test_explorer import TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# The fixtures, from tests/api/browsing.py, and need_browser, which tests/test_bench.py takes from here.
__all__ = ["browser", "demo_dir", "need_browser"]


@pytest.fixture
def demo() -> Iterator[Repository]:
    repo = Repository.memory()
    build_demo(repo)
    yield repo


class MapTab(ViewTab):
    """The story map open in a browser tab."""

    def node_ids(self) -> list[str]:
        return sorted(self.tab.evaluate("() => window.gvcsMap.cy.nodes().map((n) => n.id())"))

    def node(self, page: str) -> dict[str, Any]:
        data: dict[str, Any] = self.tab.evaluate("(id) => window.gvcsMap.cy.getElementById(id).data()", page)
        return data

    def click_node(self, page: str) -> None:
        """A real mouse click where the page's node is drawn."""
        box = self.tab.locator("#map").bounding_box()
        assert box is not None
        where = self.tab.evaluate(
            "(id) => { const cy = window.gvcsMap.cy; const node = cy.getElementById(id);"
            " cy.center(node); return node.renderedPosition(); }",
            page,
        )
        self.tab.mouse.click(box["x"] + where["x"], box["y"] + where["y"])


@contextmanager
def open_map(browser: Browser, server: Served, query: str = "") -> Iterator[MapTab]:
    """The map on ``/view/map?query``, once drawn; on exit, no errors, cytoscape.js loaded from the
    server and no request off loopback."""
    with open_view(browser, server, f"/view/map{query}", MapTab) as view:
        yield view
    assert any(urlsplit(url).path.startswith("/view/assets/cytoscape@") for url in view.requests)


# --- the data ---------------------------------------------------------------------------------------


def test_the_map_data_of_the_demo_story(demo: Repository) -> None:
    with TestClient(create_app(demo)) as client:
        data = client.get("/view/data/map").json()
        assert (data["rev"], data["branch"], data["total"], data["shown"]) == ("main", "main", 12, 12)
        assert data["commit"] == demo.branch_head("main")
        nodes = {node["id"]: node for node in data["nodes"]}
        assert nodes["the-vault-door"]["title"] == "The Vault Door"
        assert nodes["the-vault-door"]["words"] == len(demo.read_page("the-vault-door").body.split())
        edges = {(e["source"], e["target"], e["type"]) for e in data["edges"]}
        # Reading direction: the page that is followed comes first.
        for page in demo.read_story("main").pages.values():
            for earlier in page.follows:
                assert (earlier, page.id, "FOLLOWS") in edges
        alt = client.get("/view/data/map?rev=alt-ending").json()
        assert ("the-reckoning-alt", "the-reckoning", "ALTERNATE_OF") in {
            (e["source"], e["target"], e["type"]) for e in alt["edges"]
        }


def test_compare_marks_added_changed_and_removed_pages(demo: Repository) -> None:
    with TestClient(create_app(demo)) as client:
        data = client.get("/view/data/map?rev=alt-ending&base=main").json()
        status = {node["id"]: node["status"] for node in data["nodes"]}
        assert status["the-reckoning-alt"] == status["epilogue-alt"] == "added"
        assert status["the-vault-door"] == "same"
        # main revised the prologue after alt-ending forked: it differs.
        assert status["prologue"] == "changed"
        back = client.get("/view/data/map?rev=main&base=alt-ending").json()
        removed = {node["id"] for node in back["nodes"] if node["status"] == "removed"}
        assert removed == {"the-reckoning-alt", "epilogue-alt"}
        assert back["counts"]["removed"] == 2 and back["total"] == 12


def test_a_neighbourhood_and_a_limit(demo: Repository) -> None:
    with TestClient(create_app(demo)) as client:
        near = client.get("/view/data/map?around=the-reckoning&depth=1").json()
        ids = {node["id"] for node in near["nodes"]}
        graph_edges = client.get("/view/data/map").json()["edges"]
        expected = {"the-reckoning"}
        for edge in graph_edges:
            if "the-reckoning" in (edge["source"], edge["target"]):
                expected |= {edge["source"], edge["target"]}
        assert ids == expected and near["truncated"]
        few = client.get("/view/data/map?limit=3").json()
        assert few["shown"] == 3 and few["truncated"] and few["total"] == 12
        assert "prologue" in {node["id"] for node in few["nodes"]}  # from the first page on
        for query in ("rev=nope", "around=nope", "depth=9", "limit=0", "depth=x"):
            answer = client.get(f"/view/data/map?{query}")
            assert answer.status_code in (400, 404), query
            assert answer.json()["errors"][0]["extensions"]["code"] in ("BAD_INPUT", "NOT_FOUND")


def test_the_view_pages_and_files() -> None:
    need_assets()
    with TestClient(create_app(Repository.memory())) as client:
        page = client.get("/view/map", headers={"accept": "text/html"})
        assert page.status_code == 200 and "<title>gvcs — story map</title>" in page.text
        assert "unpkg" not in page.text and "jsdelivr" not in page.text
        assets = views.find_assets()
        assert assets is not None
        url = f"/view/assets/{assets.urls['cytoscape.js']}"
        assert f'src="{url}"' in page.text
        script = client.get(url)
        assert script.status_code == 200 and script.headers["cache-control"].endswith("immutable")
        assert client.get("/view/static/map.js").headers["cache-control"] == "no-cache"
        assert 'href="map"' in client.get("/view/").text
        for path in ("/view/assets/cytoscape@3.35.0/package.json", "/view/static/map.html", "/view/static/x"):
            assert client.get(path).status_code == 404, path


def test_the_data_needs_a_token_when_reads_do_but_the_page_does_not(demo: Repository) -> None:
    demo.access.set_setting(READS, "token")
    _, token = create_token(demo.access, "imogen", label="map")
    with TestClient(create_app(demo)) as client:
        assert client.get("/view/map", headers={"accept": "text/html"}).status_code in (200, 503)
        refused = client.get("/view/data/map", headers={"accept": "application/json"})
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        answer = client.get("/view/data/map", headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json()["total"] == 12


# --- in Chromium ------------------------------------------------------------------------------------


def test_the_map_in_chromium_shows_the_pages_and_a_click_shows_one(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    repo = open_repository(demo_dir)
    try:
        pages = repo.read_story("main").pages
    finally:
        repo.close()
    with serve(demo_dir) as server, open_map(browser, server) as view:
        assert view.node_ids() == sorted(pages)
        assert view.node("the-vault-door")["title"] == "The Vault Door"
        expect(view.tab.locator("#status")).to_contain_text("12 of 12 pages at main")
        expect(view.tab.locator("#details")).to_be_hidden()
        view.screenshot("story-map.png")
        view.click_node("the-vault-door")
        details = view.tab.locator("#details")
        expect(details).to_be_visible()
        expect(view.tab.locator("#page-title")).to_have_text("The Vault Door")
        expect(view.tab.locator("#page-id")).to_have_text("the-vault-door")
        expect(view.tab.locator("#page-words")).to_have_text(str(len(pages["the-vault-door"].body.split())))
        view.screenshot("story-map-page.png")
        read = view.tab.locator("#page-read")
        expect(read).to_have_attribute(
            "href", f"page?id=the-vault-door&rev={view.tab.evaluate('window.gvcsMap.data.commit')}"
        )
        # The page's link centres the map on it.
        view.tab.locator("#page-around").click()
        expect(view.tab).to_have_url(f"{server.base}/view/map?around=the-vault-door")
        expect(view.tab.locator("#status")).to_contain_text("within 2 of the-vault-door")
        assert "the-vault-door" in view.node_ids()


def test_the_map_in_chromium_compares_two_revisions(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    with serve(demo_dir) as server, open_map(browser, server, "?rev=alt-ending&base=main") as view:
        assert view.node("the-reckoning-alt")["status"] == "added"
        colour = view.tab.evaluate(
            "() => window.gvcsMap.cy.getElementById('the-reckoning-alt').style('background-color')"
        )
        assert colour == "rgb(22,163,74)"  # the legend's green
        assert view.node("the-vault-door")["status"] == "same"
        expect(view.tab.locator("#legend-compare")).to_be_visible()
        expect(view.tab.locator("#count-added")).to_have_text("(2)")
        view.screenshot("story-map-compare.png")


def test_a_commit_on_the_branch_shown_appears_on_the_map(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    with serve(demo_dir) as server, open_map(browser, server) as view:
        assert "coda" not in view.node_ids()
        wait_for_subscribers(server, 1)  # the map's event stream
        repo = open_repository(demo_dir)
        try:
            page = Page("coda", "Coda", "The last shelf closes.\n", follows=("epilogue",))
            repo.commit(
                "main",
                ChangeSet().upsert_page(page),
                actor="imogen",
                message="Add a coda",
                expected_head=repo.branch_head("main"),
            )
        finally:
            repo.close()
        expect(view.tab.locator("#status")).to_contain_text("Add a coda", timeout=TIMEOUT_MS)
        expect(view.tab.locator("#status")).to_contain_text("13 of 13 pages")
        assert "coda" in view.node_ids()
        assert view.node("coda")["title"] == "Coda"
        view.screenshot("story-map-live.png")


def test_a_page_graph_updated_by_the_pages_that_changed_is_the_graph_read_whole() -> None:
    repo = Repository.memory()
    gen = StoryGenerator(seed=5, pages=40)
    head = gen.populate(repo)
    maps = StoryMaps(repo)
    maps.graph(str(head))
    commits = [gen.apply(repo, edit, repo.branch_head("main")) for edit in gen.edits(30)]
    # Then a few pages go; pages that linked to them keep a missing target.
    for _ in range(6):
        gone = _unfollowed(repo, "main")
        actor = repo.list_actors()[0].id
        head = repo.commit(
            "main",
            ChangeSet().delete_page(gone),
            actor=actor,
            message="Drop",
            expected_head=repo.branch_head("main"),
        )
        commits.append(head)
    for commit in commits:
        updated = maps.graph(str(commit))
        whole = page_graph(repo, str(commit))
        assert dict(updated.nodes(data=True)) == dict(whole.nodes(data=True))
        assert sorted(updated.edges(data="type")) == sorted(whole.edges(data="type"))
    assert any(missing for _, missing in updated.nodes(data="missing"))


def _unfollowed(repo: Repository, rev: str) -> str:
    """A page no page follows or is an alternate of (some may link to it)."""
    pages = repo.read_story(rev).pages
    held = {target for page in pages.values() for target in (*page.follows, page.alternate_of)}
    return min(page for page in pages if page not in held)
