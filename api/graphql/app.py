"""The Starlette application: GraphQL (and GraphiQL in a browser) at ``/graphql``, subscriptions over
``graphql-transport-ws`` on the same path, server-sent events at ``/events``, events taken in at
``POST /events/{topic}`` (api/graphql/post_events.py), ``/health``, the story views below ``/view/``
(api/views/).

Every request passes the body limit and the token check first (:mod:`api.graphql.auth`). A request the
API cannot take (not JSON, a body that is not a GraphQL request, an unknown path or method) is answered
with one error in the shape of GraphQL's, never a stack trace (:mod:`api.graphql.bodies`). The repository
is opened by the caller (``gvcs serve``) and closed when the application shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, StarletteRequestAdapter
from cross_web import HTTPException as ViewError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from narrative_vcs.errors import BadInput, GvcsError
from narrative_vcs.repository import Repository

from ..git.http import MAX_PUSH, GitEndpoint
from ..views import routes as views
from . import explorer
from .auth import (
    ACTOR_KEY,
    DAMAGED_KEY,
    MAX_BODY,
    AccessGate,
    BodyLimit,
    ServerAccess,
    bearer,
    connection_token,
)
from .bodies import JSON_ONLY, error_response, is_json, read_json
from .cache import ReadCache
from .fanout import RedisFanout
from .feed import CommitFeed
from .post_events import events_intake
from .queued_intake import QueuedIntake
from .schema import Context, create_schema
from .sse import events_endpoint
from .writer import BranchWriter

__all__ = ["create_app", "store_kind"]

log = logging.getLogger(__name__)


def _preload(repo: Repository) -> None:
    try:
        repo.preload()
    except Exception:  # an empty story, a HEAD on no branch, a store gone: requests read as they go
        log.debug("the trees of HEAD were not read ahead", exc_info=True)


def store_kind(repo: Repository) -> str:
    """``memory``, ``git``, ``neo4j``: the kind of store, from its class name (MemoryObjectStore ...)."""
    name = type(repo.objects).__name__
    return name.removesuffix("ObjectStore").lower() or name


class _JsonRequest(StarletteRequestAdapter):
    """A request whose JSON content type strawberry knows however it is spelled (``Application/JSON``)."""

    @property
    def content_type(self) -> str | None:
        given = super().content_type
        return "application/json" if is_json(given) else given


class _GraphQL(GraphQL[Context, None]):
    """strawberry's view, with the tokens of :mod:`api.graphql.auth` and the bodies of
    :mod:`api.graphql.bodies`: what it refuses itself is answered as a GraphQL error."""

    request_adapter_class = _JsonRequest

    def __init__(
        self,
        repo: Repository,
        feed: CommitFeed,
        cache_reads: bool,
        intake: QueuedIntake | None = None,
        access: ServerAccess | None = None,
    ) -> None:
        super().__init__(
            create_schema(),
            graphql_ide="graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.repo = repo
        self.feed = feed
        self.read_cache = ReadCache.store() if cache_reads else None
        self.writer = BranchWriter(repo)
        self.intake = intake
        self.access = access if access is not None else ServerAccess(repo.access)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive=receive))
        except ViewError as exc:  # strawberry's refusals: no query, batching, GET queries ...
            code = "NOT_FOUND" if exc.status_code == 404 else "BAD_INPUT"
            response = error_response(exc.status_code, code, exc.reason)
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        if request.method == "POST" and not is_json(request.content_type):
            raise ViewError(415, JSON_ONLY)
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        """A request's JSON: an object (a list is a batch, which strawberry refuses); else 400."""
        try:
            value = read_json(data.encode() if isinstance(data, str) else data)
        except BadInput as exc:
            raise ViewError(400, str(exc)) from None
        if not isinstance(value, dict | list):
            raise ViewError(400, 'the body must be a JSON object: {"query", "variables", "operationName"}')
        return value

    def decode_json(self, data: str | bytes) -> object:
        """A websocket message's JSON (what is not JSON closes the socket with 4400)."""
        try:
            return read_json(data.encode() if isinstance(data, str) else data, "the message")
        except BadInput as exc:
            raise json.JSONDecodeError(str(exc), "", 0) from None

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        actor = request.scope.get(ACTOR_KEY)  # left there by the AccessGate (HTTP requests)
        context = Context.for_request(self.repo, actor, self.feed, self.read_cache, self.writer)
        context.intake = self.intake
        context.access_damaged = bool(request.scope.get(DAMAGED_KEY, False))
        if isinstance(request, WebSocket):  # checked on connection_init (on_ws_connect)
            context.upgrade_token = bearer(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Check the token of a websocket: ``connection_init`` payload, else the upgrade's header."""
        token = connection_token(context.connection_params)
        if token is None:
            token = context.upgrade_token
        try:
            caller = self.access.caller(token)
        except GvcsError as exc:  # Unauthenticated, AccessDamaged
            raise ConnectionRejectionError({"message": str(exc), "code": exc.code}) from None
        context.actor = caller.actor
        context.access_damaged = caller.damaged
        return cast(UnsetType, UNSET)

    async def render_graphql_ide(self, request: Request) -> Response:
        return explorer.page(request, fallback=self.graphql_ide_html)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method a route does not take) in the API's shape."""
    assert isinstance(exc, HTTPException)
    code = "NOT_FOUND" if exc.status_code == 404 else "BAD_INPUT"
    return error_response(exc.status_code, code, exc.detail, headers=exc.headers)


def create_app(
    repo: Repository,
    *,
    close_on_shutdown: bool = True,
    max_body: int = MAX_BODY,
    max_push: int = MAX_PUSH,
    feed_interval: float = 0.25,
    cache_reads: bool = True,
    fanout: RedisFanout | None = None,
    intake: QueuedIntake | None = None,
    preload: bool = True,
) -> Starlette:
    """The application serving ``repo``; with ``close_on_shutdown`` the repository is closed on exit.

    ``max_body``: the largest request body in bytes (``max_push``: of a request to ``/git``, a push);
    ``feed_interval``: how often (seconds) the branch
    heads are looked at for subscribers, when no mutation of this server says they moved;
    ``cache_reads``: answer a query again from memory while the refs have not moved (api/graphql/cache.py);
    ``fanout``: Redis pub/sub shared with the other processes of the story (api/graphql/fanout.py), so
    that commits and narrative messages from any of them reach this server's subscribers at once;
    ``intake``: events go through Redis to the workers (api/graphql/queued_intake.py), not committed here;
    ``preload``: read the trees of HEAD ahead, in the background, when the server starts.
    """

    feed = CommitFeed(repo, interval=feed_interval)

    async def health(request: Request) -> JSONResponse:
        body: dict[str, Any] = {
            "ok": True,
            "store": store_kind(repo),
            "branches": len(repo.branches()),
            "subscribers": feed.subscribers,
        }
        if fanout is not None:  # whether this server hears the other processes of the story
            body["pubsub"] = fanout.connected.is_set()
        return JSONResponse(body)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        feed.start()
        if fanout is not None:
            fanout.start(feed)
        # The trees of HEAD read ahead, in the background: the first requests find them in memory.
        preloading = asyncio.get_running_loop().run_in_executor(None, _preload, repo) if preload else None
        try:
            yield
        finally:
            if preloading is not None:
                await preloading
            if fanout is not None:
                await fanout.stop()
            await feed.stop()
            if close_on_shutdown:
                repo.close()

    access = ServerAccess(repo.access)
    graphql = _GraphQL(repo, feed, cache_reads, intake, access)
    routes = [
        explorer.assets_route(),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/events", events_endpoint(repo, feed), methods=["GET"]),
        Route("/events/{topic}", events_intake(repo, feed, intake), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Mount("/git", app=GitEndpoint(repo, access, max_push=max_push)),
        *views.routes(repo),
    ]
    middleware = [
        Middleware(BodyLimit, limit=max_body, exempt=("/git",)),
        Middleware(AccessGate, repo=repo, access=access, paths=("/graphql", "/events", "/view/data")),
    ]
    handlers = {HTTPException: _http_error}
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=handlers)
    app.state.feed = feed  # app.state.feed.narrative({...}) publishes a narrative.change.v1 message
    app.state.intake = intake
    return app
