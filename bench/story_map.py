"""Issue 14: the story map (``/view/map``) of a 10,000-page story in Chromium: the time to first render.

The story is made by :func:`bench.generate.build_history` (``StoryGenerator(seed, pages=10_000)``) and
served by a real ``gvcs serve``. Debian's Chromium (``/usr/bin/chromium``, driven by Playwright with the
browser tests' arguments) opens the map in a fresh context each run (so cytoscape.js is fetched each
time) and the figure is the page's own clock when the map is first drawn (``window.gvcsMap.firstRender``:
milliseconds from the start of navigation to two frames after the layout). The first run, whose server
reads the 10,000 pages once, is reported on its own; the runs after it find the page graph in memory.
Also measured: a neighbourhood (``?around=PAGE&depth=2``) and the data request alone. Goal: under 2 s.

    python -m bench.story_map [--pages N] [--commits N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from .api_load import gvcs_server, server
from .generate import StoryGenerator, build_history
from .util import median, quick, time_call, write_result

GOAL_SECONDS = 2.0
CHROMIUM = Path("/usr/bin/chromium")
# As tests/api/test_explorer.py launches it.
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


def first_render_seconds(browser: Any, url: str) -> tuple[float, int]:
    """The time from navigation to the first drawn map at ``url``, and how many pages it shows."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(url)
        tab.wait_for_function("() => window.gvcsMap && window.gvcsMap.firstRender !== null", timeout=120_000)
        shown = tab.evaluate("() => window.gvcsMap.cy.nodes().length")
        return float(tab.evaluate("() => window.gvcsMap.firstRender")) / 1000, int(shown)
    finally:
        context.close()


def fetch_seconds(url: str) -> float:
    def get() -> None:
        with urllib.request.urlopen(url, timeout=120) as response:
            json.load(response)

    return time_call(get)


def run(pages: int, commits: int, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="gvcs-bench-") as tmp:
        root = Path(tmp) / "story"
        build = time_call(lambda: build_history(root, StoryGenerator(seed=14, pages=pages), commits))
        argv, port = gvcs_server(root)
        with server(argv, port), sync_playwright() as playwright:
            base = f"http://127.0.0.1:{port}"
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                first, shown = first_render_seconds(browser, f"{base}/view/map")
                warm = [first_render_seconds(browser, f"{base}/view/map")[0] for _ in range(runs)]
                with urllib.request.urlopen(f"{base}/view/data/map?limit=1", timeout=120) as response:
                    page = json.load(response)["nodes"][0]["id"]
                around_url = f"{base}/view/map?around={page}&depth=2"
                around = [first_render_seconds(browser, around_url) for _ in range(runs)]
                data = [fetch_seconds(f"{base}/view/data/map") for _ in range(runs)]
            finally:
                browser.close()
    return {
        "pages": pages,
        "commits": commits,
        "runs": runs,
        "build_seconds": build,
        "first_run_seconds": first,
        "shown_pages": shown,
        "first_render_seconds": warm,
        "median_first_render_seconds": median(warm),
        "around_depth_2_seconds": [seconds for seconds, _ in around],
        "median_around_depth_2_seconds": median([seconds for seconds, _ in around]),
        "around_depth_2_pages": around[0][1],
        "data_request_seconds": data,
        "median_data_request_seconds": median(data),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": max(first, median(warm)) < GOAL_SECONDS,
    }


def default_sizes() -> tuple[int, int, int]:
    return (1_000, 2, 2) if quick() else (10_000, 10, 5)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    pages, commits, runs = default_sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--commits", type=int, default=commits)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args(argv)
    result = run(args.pages, args.commits, args.runs)
    path = write_result("story_map", result)
    print(
        f"story map, {args.pages} pages: first render {result['median_first_render_seconds']:.3f}s "
        f"({result['shown_pages']} pages shown; first run, reading the story: "
        f"{result['first_run_seconds']:.3f}s), around a page (depth 2, "
        f"{result['around_depth_2_pages']} pages): {result['median_around_depth_2_seconds']:.3f}s, "
        f"data alone {result['median_data_request_seconds']:.3f}s (goal < {GOAL_SECONDS:.0f}s)  -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
