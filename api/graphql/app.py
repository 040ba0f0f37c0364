"""The Starlette application: GraphQL (and GraphiQL in a browser) at ``/graphql``, subscriptions over
``graphql-transport-ws`` on the same path, server-sent events at ``/events``, events taken in at
``POST /events/{topic}`` (api/graphql/post_events.py), ``/health``.

Every request passes the body limit and the token check first (:mod:`api.graphql.auth`). The repository
is opened by the caller (``gvcs serve``) and closed when the application shuts down.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from narrative_vcs.access import reads_need_token
from narrative_vcs.errors import Unauthenticated
from narrative_vcs.repository import Repository

from . import explorer
from .auth import ACTOR_KEY, MAX_BODY, AccessGate, BodyLimit, actor_from, bearer, connection_token
from .cache import ReadCache
from .fanout import RedisFanout
from .feed import CommitFeed
from .post_events import events_intake
from .queued_intake import QueuedIntake
from .schema import Context, create_schema
from .sse import events_endpoint
from .writer import BranchWriter

__all__ = ["create_app", "store_kind"]


def store_kind(repo: Repository) -> str:
    """``memory``, ``git``, ``neo4j``: the kind of store, from its class name (MemoryObjectStore ...)."""
    name = type(repo.objects).__name__
    return name.removesuffix("ObjectStore").lower() or name


class _GraphQL(GraphQL[Context, None]):
    def __init__(
        self, repo: Repository, feed: CommitFeed, cache_reads: bool, intake: QueuedIntake | None = None
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

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        actor = request.scope.get(ACTOR_KEY)  # left there by the AccessGate (HTTP requests)
        context = Context.for_request(self.repo, actor, self.feed, self.read_cache, self.writer)
        context.intake = self.intake
        if isinstance(request, WebSocket):  # checked on connection_init (on_ws_connect)
            context.upgrade_token = bearer(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Check the token of a websocket: ``connection_init`` payload, else the upgrade's header."""
        token = connection_token(context.connection_params)
        if token is None:
            token = context.upgrade_token
        try:
            context.actor = actor_from(self.repo, token)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": str(exc), "code": exc.code}) from None
        if context.actor is None and reads_need_token(self.repo.access):
            raise ConnectionRejectionError(
                {"message": "this story needs a token to read", "code": "UNAUTHENTICATED"}
            )
        return cast(UnsetType, UNSET)

    async def render_graphql_ide(self, request: Request) -> Response:
        return explorer.page(request, fallback=self.graphql_ide_html)


def create_app(
    repo: Repository,
    *,
    close_on_shutdown: bool = True,
    max_body: int = MAX_BODY,
    feed_interval: float = 0.25,
    cache_reads: bool = True,
    fanout: RedisFanout | None = None,
    intake: QueuedIntake | None = None,
) -> Starlette:
    """The application serving ``repo``; with ``close_on_shutdown`` the repository is closed on exit.

    ``max_body``: the largest request body in bytes; ``feed_interval``: how often (seconds) the branch
    heads are looked at for subscribers, when no mutation of this server says they moved;
    ``cache_reads``: answer a query again from memory while the refs have not moved (api/graphql/cache.py);
    ``fanout``: Redis pub/sub shared with the other processes of the story (api/graphql/fanout.py), so
    that commits and narrative messages from any of them reach this server's subscribers at once;
    ``intake``: events go through Redis to the workers (api/graphql/queued_intake.py), not committed here.
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
        try:
            yield
        finally:
            if fanout is not None:
                await fanout.stop()
            await feed.stop()
            if close_on_shutdown:
                repo.close()

    graphql = _GraphQL(repo, feed, cache_reads, intake)
    routes = [
        explorer.assets_route(),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/events", events_endpoint(repo, feed), methods=["GET"]),
        Route("/events/{topic}", events_intake(repo, feed, intake), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    middleware = [Middleware(BodyLimit, limit=max_body), Middleware(AccessGate, repo=repo)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.feed = feed  # app.state.feed.narrative({...}) publishes a narrative.change.v1 message
    app.state.intake = intake
    return app
