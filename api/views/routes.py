"""The routes of the story views: ``/view/`` (an index), ``/view/map`` (the story map), its data at
``/view/data/map``, ``/view/history`` (the commit graph, data at ``/view/data/history``), ``/view/page``
and ``/view/proposal`` (their data is GraphQL's), the views' own files at ``/view/static/`` and the
pinned npm files they load at ``/view/assets/<package>@<version>/<file>``.

The pages hold no data, so they are served to anyone, as the explorer is; their data comes from
``/view/data/...``, which the access gate checks as it checks ``/graphql`` (api/graphql/app.py). The npm
files (cytoscape.js) come from the lockfile of ``api/graphql/graphiql`` (one ``npm ci`` for every browser
file); without them the pages say how to install them rather than load anything from a CDN.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from narrative_vcs.errors import GvcsError
from narrative_vcs.repository import Repository

from ..graphql import explorer
from ..graphql.bodies import error_response
from .history import HistoryRequest, history_page
from .story_map import MapRequest, StoryMaps

__all__ = ["ASSETS_PATH", "FILES", "STATIC", "find_assets", "routes"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
ASSETS_PATH = "/view/assets"
# The npm files the views load: {placeholder: (npm package, file in the package)}.
FILES: dict[str, tuple[str, str]] = {"cytoscape.js": ("cytoscape", "dist/cytoscape.min.js")}
# Our own files change with the code: the browser asks again each time (and gets 304 while unchanged).
OWN_FILES = {"map.js", "map.css", "views.css", "views.js", "history.js", "page.js", "proposal.js"}
PAGES = {
    "/view/": "index.html",
    "/view/map": "map.html",
    "/view/history": "history.html",
    "/view/page": "page.html",
    "/view/proposal": "proposal.html",
}
STATUS = {"BAD_INPUT": 400, "NOT_FOUND": 404}


def find_assets() -> explorer.Assets | None:
    """The views' npm files in ``api/graphql/graphiql/node_modules``, or None if one is missing."""
    return explorer.find_assets(explorer.NODE_MODULES, FILES, [])


def _page(request: Request, name: str) -> Response:
    assets = find_assets()
    if assets is None:
        message = f"The views' browser files are not installed in {explorer.NODE_MODULES}: run make (npm ci)."
        return HTMLResponse(
            f"<!doctype html><title>gvcs</title><p>{html.escape(message)}</p>", status_code=503
        )
    root = request.scope.get("root_path", "")

    def url(match: re.Match[str]) -> str:
        key = match[1]
        path = f"{ASSETS_PATH}/{assets.urls[key]}" if key in assets.urls else f"/view/static/{key}"
        return html.escape(root + path)

    return HTMLResponse(re.sub(r"\{\{([\w.-]+)\}\}", url, (STATIC / name).read_text(encoding="utf-8")))


async def _asset(request: Request) -> Response:
    assets = find_assets()
    path = None if assets is None else assets.files.get(request.path_params["path"])
    if path is None or not path.is_file():
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(path, headers={"cache-control": explorer.CACHE_CONTROL})


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in OWN_FILES:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(STATIC / name, headers={"cache-control": "no-cache"})


def _page_endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        return _page(request, name)

    return page


def routes(repo: Repository) -> list[Route]:
    """The routes of the views for ``repo``; ``/view/data`` is to be checked by the access gate."""
    maps = StoryMaps(repo)

    async def map_data(request: Request) -> Response:
        try:
            wanted = MapRequest.from_query(dict(request.query_params))
            # Reading a large story takes a while: not on the event loop.
            return JSONResponse(await asyncio.to_thread(maps.view, wanted))
        except GvcsError as exc:
            return error_response(STATUS.get(exc.code, 400), exc.code, str(exc))

    async def history_data(request: Request) -> Response:
        try:
            wanted = HistoryRequest.from_query(dict(request.query_params))
            return JSONResponse(await asyncio.to_thread(history_page, repo, wanted))
        except GvcsError as exc:
            return error_response(STATUS.get(exc.code, 400), exc.code, str(exc))

    return [
        *(Route(path, _page_endpoint(name), methods=["GET"]) for path, name in PAGES.items()),
        Route("/view/data/map", map_data, methods=["GET"], name="view-data-map"),
        Route("/view/data/history", history_data, methods=["GET"], name="view-data-history"),
        Route("/view/static/{name:str}", _static, methods=["GET"], name="view-static"),
        Route(ASSETS_PATH + "/{path:path}", _asset, methods=["GET"], name="view-assets"),
    ]
