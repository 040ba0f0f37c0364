"""What the browser tests of the story views share: the demo story on disk, Debian's headless Chromium
through playwright, and a view opened in a fresh tab that must report no errors and request nothing
off the machine.

They need what the explorer's tests need (tests/api/test_explorer.py: Debian's chromium, playwright,
the npm files installed by make) and are skipped without them, failed under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import pytest

from api.views import routes as views
from narrative_vcs.demo import build_demo
from narrative_vcs.graph.factory import init_repository
from tests.services import need

from .serving import Served
from .test_explorer import ARTIFACTS, LOOPBACK, TIMEOUT_MS, chromium, need_chromium, watch

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import Page as Tab

__all__ = ["ViewTab", "browser", "demo_dir", "need_assets", "need_browser", "open_view"]


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """The demo story (gvcs demo) in a git repository on disk, for a real ``gvcs serve``."""
    repo = init_repository(tmp_path / "demo")
    try:
        build_demo(repo)
    finally:
        repo.close()
    return tmp_path / "demo"


def need_assets() -> None:
    missing = views.find_assets() is None
    need("the views' npm files", "run make (npm ci)" if missing else None)


def need_browser() -> None:
    """The views' files, Chromium and playwright (skip without them; under CI=true, fail)."""
    need_assets()
    need_chromium()


@pytest.fixture
def browser() -> Iterator[Browser]:
    need_browser()
    with chromium() as launched:
        yield launched


@dataclass
class ViewTab:
    """A view open in a browser tab, with what the tab requested and the errors it reported."""

    tab: Tab
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.tab.screenshot(path=ARTIFACTS / name)


View = TypeVar("View", bound=ViewTab)


@contextmanager
def open_view(
    browser: Browser, server: Served, path: str, kind: type[View], token: str | None = None
) -> Iterator[View]:
    """A fresh browser context on ``path`` (``/view/...``), once the view says it is ready (its body's
    ``data-state``); with ``token``, kept in local storage first. On exit: no errors reported and no
    request off loopback."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if token is not None:
        context.add_init_script(f"window.localStorage.setItem('gvcs-token', {token!r})")
    try:
        view = kind(context.new_page())
        watch(view.tab, view.requests, view.errors)
        view.tab.goto(f"{server.base}{path}")
        expect(view.tab.locator("body")).to_have_attribute("data-state", "ready", timeout=TIMEOUT_MS)
        yield view
    finally:
        context.close()
    assert view.errors == []
    foreign = [url for url in view.requests if url.split(":")[0] not in ("data", "blob")]
    assert [url for url in foreign if urlsplit(url).hostname not in LOOPBACK] == []
