"""Who is asking: API tokens on HTTP, websocket and SSE requests, and the request body limit.

A token travels as ``Authorization: Bearer <token>`` (HTTP), in the ``connection_init`` payload of a
websocket (``{"Authorization": "Bearer <token>"}``), or as ``?access_token=`` on ``/events`` (an
``EventSource`` cannot set headers). A token that is present but unknown, revoked or malformed is refused
at once with ``UNAUTHENTICATED``, whatever the request; a missing token is refused only where the story
needs one (mutations always, reads when ``gvcs access token`` is set).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from narrative_vcs.access import authenticate, reads_need_token
from narrative_vcs.errors import Forbidden, Unauthenticated
from narrative_vcs.repository import Repository

__all__ = [
    "ACTOR_KEY",
    "AccessGate",
    "BodyLimit",
    "MAX_BODY",
    "actor_from",
    "bearer",
    "require_actor",
]

ACTOR_KEY = "gvcs.actor"  # where the gate leaves the token's actor in the ASGI scope
MAX_BODY = 1 << 20  # bytes of a request body


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization`` value (``Bearer <token>``), '' if malformed, None if absent."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def actor_from(repo: Repository, token: str | None) -> str | None:
    """The actor a token acts as; None without a token. Raises for a token that is not valid."""
    if token is None:
        return None
    record = authenticate(repo.access, token) if token else None
    if record is None:
        raise Unauthenticated("invalid or revoked API token")
    return record.actor


def require_actor(actor: str | None, requested: str | None = None) -> str:
    """The acting actor of a write: the token's; refuses a request without one or for another actor."""
    if actor is None:
        raise Unauthenticated(
            "this needs an API token: send Authorization: Bearer <token> (gvcs token create ACTOR)"
        )
    if requested is not None and requested != actor:
        raise Forbidden(f"this token acts as {actor}, not as {requested}")
    return actor


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _query_param(scope: Scope, name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]})
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="gvcs"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


class AccessGate:
    """ASGI middleware: checks the token of every request to ``paths`` and leaves its actor in the scope.

    The explorer page (a browser's ``GET /graphql`` for HTML) is always served: it holds no data.
    Websockets are checked by the GraphQL view on ``connection_init`` (see :func:`actor_from`).
    """

    def __init__(
        self, app: ASGIApp, repo: Repository, paths: tuple[str, ...] = ("/graphql", "/events")
    ) -> None:
        self.app = app
        self.repo = repo
        self.paths = paths

    def guards(self, path: str) -> bool:
        """Whether requests to ``path`` are checked: the paths and what is under them (/events/<topic>)."""
        return any(path == p or path.startswith(p + "/") for p in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = bearer(headers.get("authorization"))
        if token is None and scope["path"] == "/events":
            token = _query_param(scope, "access_token")
        try:
            actor = actor_from(self.repo, token)
        except Unauthenticated as exc:
            await _error(send, 401, exc.code, str(exc))
            return
        page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
        if actor is None and not page and reads_need_token(self.repo.access):
            await _error(
                send,
                401,
                "UNAUTHENTICATED",
                "this story needs a token to read: send Authorization: Bearer <token> "
                "(gvcs token create ACTOR)",
            )
            return
        scope[ACTOR_KEY] = actor
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes gets 413 and never reaches the app."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _headers(scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        # Read the whole body (at most the limit) before the app sees any of it: a chunked body that
        # grows past the limit is refused before anything was done with it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _error(send, 413, "BAD_INPUT", f"request body too large: at most {self.limit} bytes")


def connection_token(params: Mapping[str, Any] | None) -> str | None:
    """The token of a websocket's ``connection_init`` payload."""
    if not isinstance(params, Mapping):
        return None
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer(value)
    return None
