"""The GraphQL explorer: GraphiQL at ``GET /graphql`` (``Accept: text/html``), from local files only.

The browser builds of GraphiQL, its explorer plugin and React are npm packages pinned in
``api/graphql/graphiql/package.json`` and its lockfile; ``make`` installs them with ``npm ci`` into
``api/graphql/graphiql/node_modules`` (not committed). :func:`page` renders ``explorer.html`` with their
URLs and :func:`assets_route` serves those few files below ``/graphql/assets/``; each URL names the
package's version, so browsers may cache them for good. Without the files (npm missing, ``npm ci`` not
run), :func:`page` returns strawberry's own GraphiQL page, which loads them from a CDN.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["ASSETS_PATH", "FILES", "NODE_MODULES", "Assets", "assets_route", "find_assets", "page"]

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "graphiql" / "node_modules"
TEMPLATE = HERE / "explorer.html"
ASSETS_PATH = "/graphql/assets"

# The files that explorer.html loads: {its placeholder: (npm package, file in the package)}.
FILES: dict[str, tuple[str, str]] = {
    "react.js": ("react", "umd/react.production.min.js"),
    "react-dom.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.js": ("graphiql", "graphiql.min.js"),
    "graphiql.css": ("graphiql", "graphiql.min.css"),
    "explorer.js": ("@graphiql/plugin-explorer", "dist/index.umd.js"),
    "explorer.css": ("@graphiql/plugin-explorer", "dist/style.css"),
}
# Served as well, for the browser's developer tools.
SOURCE_MAPS = [("graphiql", "graphiql.min.js.map"), ("graphiql", "graphiql.min.css.map")]
CACHE_CONTROL = "public, max-age=31536000, immutable"

log = logging.getLogger("gvcs.api")


@dataclass(frozen=True)
class Assets:
    """The installed files: ``urls`` by placeholder, ``files`` by URL below ``ASSETS_PATH``."""

    urls: dict[str, str]  # "graphiql.js" -> "graphiql@3.8.3/graphiql.min.js"
    files: dict[str, Path]  # "graphiql@3.8.3/graphiql.min.js" -> the file in node_modules


def find_assets(
    node_modules: Path | None = None,
    files: dict[str, tuple[str, str]] | None = None,
    source_maps: list[tuple[str, str]] | None = None,
) -> Assets | None:
    """The files in ``node_modules`` (default: ``NODE_MODULES``), or None if one of ``files`` (default:
    ``FILES``, with ``SOURCE_MAPS``) is missing. The story views (api/views/) name their own files."""
    root = NODE_MODULES if node_modules is None else node_modules
    if files is None:
        files, source_maps = FILES, SOURCE_MAPS
    versions: dict[str, str] = {}
    for package, _ in files.values():
        if package not in versions:
            try:
                version = json.loads((root / package / "package.json").read_text(encoding="utf-8"))["version"]
            except (OSError, ValueError, KeyError, TypeError):
                return None
            versions[package] = str(version)
    urls = {name: f"{package}@{versions[package]}/{file}" for name, (package, file) in files.items()}
    found = {
        f"{package}@{versions[package]}/{file}": root / package / file for package, file in source_maps or []
    }
    for name, (package, file) in files.items():
        path = root / package / file
        if not path.is_file():
            return None
        found[urls[name]] = path
    return Assets(urls, found)


@functools.cache
def _warn_missing(node_modules: Path) -> None:
    log.warning(
        "GraphiQL's files are not installed in %s (make, or npm ci in its parent directory); "
        "the explorer at /graphql loads them from a CDN",
        node_modules,
    )


def page(request: Request, fallback: str) -> HTMLResponse:
    """The explorer's page, or the HTML ``fallback`` (strawberry's CDN page) without the local files."""
    assets = find_assets()
    if assets is None:
        _warn_missing(NODE_MODULES)
        return HTMLResponse(fallback)
    base = request.scope.get("root_path", "") + ASSETS_PATH + "/"

    def url(match: re.Match[str]) -> str:
        return html.escape(base + assets.urls[match[1]])

    return HTMLResponse(re.sub(r"\{\{([\w.-]+)\}\}", url, TEMPLATE.read_text(encoding="utf-8")))


async def _asset(request: Request) -> Response:
    assets = find_assets()
    path = None if assets is None else assets.files.get(request.path_params["path"])
    if path is None or not path.is_file():
        return PlainTextResponse("Not Found", status_code=404)
    media_type = "application/json" if path.suffix == ".map" else None
    return FileResponse(path, media_type=media_type, headers={"cache-control": CACHE_CONTROL})


def assets_route() -> Route:
    """``GET /graphql/assets/<package>@<version>/<file>``: the files of ``FILES`` (and source maps)."""
    return Route(ASSETS_PATH + "/{path:path}", _asset, methods=["GET"], name="graphql-assets")
