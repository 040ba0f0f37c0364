"""The Starlette application: GraphQL (and GraphiQL in a browser) at ``/graphql``, ``/health``.

The repository is opened by the caller (``gvcs serve``) and closed when the application shuts down.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from narrative_vcs.repository import Repository

from .schema import Context, create_schema

__all__ = ["create_app", "store_kind"]


def store_kind(repo: Repository) -> str:
    """``memory``, ``git``, ``neo4j``: the kind of store, from its class name (MemoryObjectStore ...)."""
    name = type(repo.objects).__name__
    return name.removesuffix("ObjectStore").lower() or name


class _GraphQL(GraphQL[Context, None]):
    def __init__(self, repo: Repository) -> None:
        super().__init__(create_schema(), graphql_ide="graphiql", allow_queries_via_get=False)
        self.repo = repo

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context.for_request(self.repo)


def create_app(repo: Repository, *, close_on_shutdown: bool = True) -> Starlette:
    """The application serving ``repo``; with ``close_on_shutdown`` the repository is closed on exit."""

    async def health(request: Request) -> JSONResponse:
        body: dict[str, Any] = {"ok": True, "store": store_kind(repo), "branches": len(repo.branches())}
        return JSONResponse(body)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_on_shutdown:
                repo.close()

    graphql = _GraphQL(repo)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
