"""The GraphQL explorer (GraphiQL at /graphql) from local files, and in a real headless Chromium.

The browser tests need Debian's chromium (``/usr/bin/chromium``, installed by ``scripts/system-packages``),
the ``playwright`` package (dev extra; its own browsers are not used) and GraphiQL's files (``npm ci``,
run by make). Without one of them they are skipped, and under ``CI=true`` they fail. They run a real
``gvcs serve`` and save screenshots to ``build/artifacts/``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from api.graphql import explorer
from api.graphql.app import create_app
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.repository import Repository
from tests.conftest import Writer
from tests.services import need

from .serving import Served, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"
TIMEOUT_MS = 30_000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def need_assets() -> explorer.Assets:
    assets = explorer.find_assets()
    need("GraphiQL's files", None if assets else f"nothing in {explorer.NODE_MODULES}: run make (npm ci)")
    assert assets is not None
    return assets


@pytest.fixture
def story_dir(tmp_path: Path) -> Path:
    repo = init_repository(tmp_path / "story")
    writer = Writer(repo)
    writer.setup()
    writer.page("intro", "Once.")
    repo.close()
    return tmp_path / "story"


def need_chromium() -> None:
    """Debian's Chromium and playwright (skip without them; under CI=true, fail)."""
    need("Chromium", None if CHROMIUM.is_file() else f"no {CHROMIUM} (scripts/system-packages)")
    playwright_missing = importlib.util.find_spec("playwright") is None
    need("playwright", "pip install -e '.[dev]'" if playwright_missing else None)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


def watch(tab: Page, requests: list[str], errors: list[str]) -> None:
    """Record what ``tab`` requests (websockets included) and the errors it reports (console errors and
    uncaught exceptions); its actions wait up to TIMEOUT_MS."""

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location})")

    tab.set_default_timeout(TIMEOUT_MS)
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("websocket", lambda socket: requests.append(socket.url))
    tab.on("console", console)
    tab.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))


@pytest.fixture
def browser() -> Iterator[Browser]:
    need_assets()
    need_chromium()
    with chromium() as launched:
        yield launched


@dataclass
class Explorer:
    """The explorer open in a browser tab, with what the tab requested and the errors it reported."""

    page: Page
    requests: list[str] = field(default_factory=list)  # URLs, websockets included
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions

    @property
    def query_editor(self) -> Locator:
        return self.page.locator(".graphiql-query-editor .CodeMirror")

    @property
    def result(self) -> Locator:
        return self.page.locator(".graphiql-response")

    def type_query(self, query: str) -> None:
        """Replace the editor's text with ``query``, typed key by key (brackets close themselves).

        On a loaded machine the editor's hints can swallow a key while it is typed; then the text is
        put in through CodeMirror itself, so what runs is ``query`` whatever the timing."""
        self.query_editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.type(query)
        self.page.keyboard.press("Escape")  # close a hint left open
        typed = self.query_editor.evaluate("(node) => node.CodeMirror.getValue()")
        if " ".join(str(typed).split()) != " ".join(query.split()):
            self.query_editor.evaluate("(node, text) => node.CodeMirror.setValue(text)", query)

    def run(self) -> None:
        self.page.locator(".graphiql-execute-button").click()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / name)


@contextmanager
def open_explorer(browser: Browser, server: Served) -> Iterator[Explorer]:
    """A fresh browser context on ``/graphql``; on exit, no errors and no request off loopback."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        view = Explorer(context.new_page())
        watch(view.page, view.requests, view.errors)
        view.page.goto(f"{server.base}/graphql")
        expect(view.page).to_have_title("gvcs — GraphQL explorer", timeout=TIMEOUT_MS)
        expect(view.query_editor).to_contain_text("headBranch", timeout=TIMEOUT_MS)  # the default query
        yield view
    finally:
        context.close()
    assert view.errors == []
    assert any(urlsplit(url).path.startswith("/graphql/assets/graphiql@") for url in view.requests)
    foreign = [url for url in view.requests if url.split(":")[0] not in ("data", "blob")]
    assert [url for url in foreign if urlsplit(url).hostname not in LOOPBACK] == []


def test_the_page_loads_local_files_only() -> None:
    assets = need_assets()
    with TestClient(create_app(Repository.memory())) as client:
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "<title>gvcs — GraphQL explorer</title>" in page.text
        assert "unpkg" not in page.text and "jsdelivr" not in page.text
        for url in assets.urls.values():
            assert f'"/graphql/assets/{url}"' in page.text
            response = client.get(f"/graphql/assets/{url}")
            assert response.status_code == 200, url
            assert response.headers["cache-control"] == explorer.CACHE_CONTROL
        assert client.get(f"/graphql/assets/{assets.urls['react.js']}").text.startswith("/**")
        graphiql = assets.urls["graphiql.js"].split("/")[0]  # graphiql@3.8.3
        for path in (f"{graphiql}/package.json", f"{graphiql}/../react/package.json", "", "x"):
            assert client.get(f"/graphql/assets/{path}").status_code == 404, path


def test_without_the_files_the_page_uses_a_cdn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(explorer, "NODE_MODULES", tmp_path / "node_modules")
    with TestClient(create_app(Repository.memory())) as client, caplog.at_level(logging.WARNING):
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "https://unpkg.com/graphiql@" in page.text
        assert client.get("/graphql/assets/graphiql@3.8.3/graphiql.min.js").status_code == 404
    assert "loads them from a CDN" in caplog.text


def test_a_query_typed_and_run_in_chromium(story_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    with serve(story_dir) as server, open_explorer(browser, server) as view:
        # A header typed into the Headers tab is sent with the query.
        view.page.get_by_role("button", name="Headers", exact=True).click()
        view.page.locator(".graphiql-editor-tool .CodeMirror").filter(visible=True).click()
        view.page.keyboard.type('{"x-explorer-test": "yes"}')

        view.type_query('{ page(id: "intro") { title body } }')
        expect(view.query_editor).to_contain_text('page(id: "intro")', timeout=TIMEOUT_MS)
        expect(view.query_editor).not_to_contain_text("headBranch", timeout=TIMEOUT_MS)
        with view.page.expect_request(
            lambda r: r.method == "POST" and "intro" in (r.post_data or "")
        ) as sent:
            view.run()
        assert sent.value.headers.get("x-explorer-test") == "yes"
        expect(view.result).to_contain_text('"title": "Intro"', timeout=TIMEOUT_MS)
        expect(view.result).to_contain_text('"body": "Once.\\n"', timeout=TIMEOUT_MS)
        view.screenshot("explorer.png")


def test_a_subscription_in_chromium(story_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    with serve(story_dir) as server, open_explorer(browser, server) as view:
        view.type_query('subscription { commitAdded(branch: "main") { branch commit { subject } } }')
        view.run()
        # Commits until one shows up: the first ones may come before the subscription started.
        repo = open_repository(story_dir)
        try:
            writer = Writer(repo, start_time=1_800_000_000)
            for attempt in range(30):
                writer.page("door", f"Knock {attempt}.")
                try:
                    expect(view.result).to_contain_text('"subject": "Write door"', timeout=1000)
                    break
                except AssertionError:
                    continue
            else:
                pytest.fail(f"no commit reached the explorer; it shows {view.result.inner_text()}")
        finally:
            repo.close()
        assert f"ws://127.0.0.1:{server.port}/graphql" in view.requests
        view.screenshot("explorer-subscription.png")
