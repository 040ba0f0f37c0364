"""The Neo4j Browser that scripts/neo4j serves at http://127.0.0.1:7474/browser/, in a real Chromium.

The Browser connects to the test server over Bolt without authentication (the server has none), runs a
Cypher query and shows its answer; the page is saved to ``build/artifacts/neo4j-browser.png``. Needs
Debian's chromium (``/usr/bin/chromium``) and the ``playwright`` package (dev extra), as the explorer's
tests do (tests/api/test_explorer.py); the Browser's HTTP port is ``GVCS_NEO4J_HTTP_PORT`` (7474), as
for scripts/neo4j.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from narrative_vcs.repository import Repository
from tests.api.test_explorer import ARTIFACTS, TIMEOUT_MS, need_chromium
from tests.api.test_explorer import chromium as launch_chromium  # launched as there
from tests.conftest import Writer
from tests.services import need, parse_neo4j_uri

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.neo4j

QUERY = "MATCH (c:Commit) RETURN count(c) AS commits"


def browser_url(neo4j_uri: str) -> tuple[str, str]:
    """The Browser's URL on the server of ``neo4j_uri`` and the Bolt URL it connects to."""
    address = parse_neo4j_uri(neo4j_uri)
    need("the loopback server of scripts/neo4j", None if address.host == "127.0.0.1" else address.uri)
    http = os.environ.get("GVCS_NEO4J_HTTP_PORT") or "7474"
    return f"http://127.0.0.1:{http}/browser/", f"bolt://127.0.0.1:{address.port}"


def served(url: str) -> str | None:
    """Why ``url`` does not serve the Browser's page, or None if it does."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode("utf-8", errors="replace")
    except (OSError, urllib.error.URLError) as error:
        return f"{url}: {error} (restart the server: scripts/neo4j stop; scripts/neo4j start)"
    return None if "<title>Neo4j Browser</title>" in page else f"{url} is not the Neo4j Browser"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    need_chromium()
    with launch_chromium() as launched:
        yield launched


def test_browser_connects_and_runs_a_query(neo: Repository, neo4j_uri: str, chromium: Browser) -> None:
    url, bolt = browser_url(neo4j_uri)
    need("the Neo4j Browser", served(url))
    writer = Writer(neo)
    writer.setup()
    writer.page("opening", "It began.\n")
    writer.page("second", "It went on.\n", follows=("opening",))
    commits = len(list(neo.walk([neo.resolve("main")])))
    assert commits == 3

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{url}?dbms={bolt}")
        page.get_by_label("Authentication type").select_option(label="No authentication")
        page.get_by_test_id("connect").click()
        page.get_by_text("You have a working connection").wait_for()

        page.get_by_test_id("activeEditor").locator("[role=code]").click()
        page.keyboard.type(QUERY)
        page.keyboard.press("Enter")
        frame = page.get_by_test_id("frame").filter(
            has=page.get_by_test_id("frameCommand").filter(has_text=QUERY)
        )
        frame.get_by_test_id("frameStatusbar").filter(has_text="Started streaming 1 records").wait_for()
        frame.get_by_test_id("cypherFrameSidebarAscii").click()  # the answer as a text table
        text = frame.get_by_test_id("frameContents").inner_text()
        assert re.search(r"│\s*commits\s*│", text), text
        assert re.search(rf"│\s*{commits}\s*│", text), text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        frame.get_by_test_id("cypherFrameSidebarTable").click()
        page.screenshot(path=ARTIFACTS / "neo4j-browser.png")
    finally:
        page.close()
