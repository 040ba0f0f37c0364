"""Who is asking: API tokens on HTTP, websocket and SSE requests, and the request body limit.

A token travels as ``Authorization: Bearer <token>`` (HTTP), in the ``connection_init`` payload of a
websocket (``{"Authorization": "Bearer <token>"}``), or as ``?access_token=`` on ``/events`` (an
``EventSource`` cannot set headers). A token that is present but unknown, revoked or malformed is refused
at once with ``UNAUTHENTICATED``, whatever the request; a missing token is refused only where the story
needs one (mutations always, reads when ``gvcs access token`` is set).

When the store's tokens and settings cannot be read (a damaged ``gvcs-access.json``), see
:class:`ServerAccess`: writes are refused with ``CORRUPT`` (503), reads go on under the read policy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from narrative_vcs.access import AccessStore, authenticate, reads_need_token, token_digest
from narrative_vcs.errors import CorruptObject, Forbidden, Unauthenticated
from narrative_vcs.repository import Repository

__all__ = [
    "ACTOR_KEY",
    "DAMAGED_KEY",
    "AccessDamaged",
    "AccessGate",
    "BodyLimit",
    "Caller",
    "MAX_BODY",
    "ServerAccess",
    "actor_from",
    "bearer",
    "drain_body",
    "require_actor",
]

log = logging.getLogger("gvcs.api")

ACTOR_KEY = "gvcs.actor"  # where the gate leaves the token's actor in the ASGI scope
DAMAGED_KEY = "gvcs.access_damaged"  # ... and whether the access store could not be read
MAX_BODY = 1 << 20  # bytes of a request body
#: A body over the limit is still read (and dropped) up to this many bytes, or for this many seconds,
#: before the 413 is sent: a client that sends its whole body before it reads the answer then gets it,
#: rather than a connection reset.
DRAIN_BYTES = 64 << 20
DRAIN_SECONDS = 10.0


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization`` value (``Bearer <token>``), '' if malformed, None if absent."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def actor_from(repo: Repository, token: str | None) -> str | None:
    """The actor a token acts as; None without a token. Raises for a token that is not valid."""
    return None if token is None else _token_actor(repo.access, token)


class AccessDamaged(CorruptObject):
    """The server cannot read its tokens and access settings: writes wait until the file is repaired."""

    def __init__(self) -> None:
        super().__init__(
            "the server cannot read its access file (tokens and settings): writes are refused until "
            "it is repaired"
        )


def require_actor(actor: str | None, requested: str | None = None, *, damaged: bool = False) -> str:
    """The acting actor of a write: the token's; refuses a request without one or for another actor,
    and every write while the access store is ``damaged``."""
    if damaged:
        raise AccessDamaged()
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


async def _error(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="gvcs"'))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_READS_NEED_TOKEN = (
    "this story needs a token to read: send Authorization: Bearer <token> (gvcs token create ACTOR)"
)


@dataclass(frozen=True)
class Caller:
    """Who asks: the token's actor (None without a token), and whether the access store was damaged."""

    actor: str | None
    damaged: bool = False


class ServerAccess:
    """The tokens and read policy of a story as its server reads them, a damaged store included.

    When the store cannot be read (a damaged ``gvcs-access.json``: garbage, cut short, the wrong shape)
    no token can be checked: every write is refused (:class:`AccessDamaged`, ``CORRUPT``), and reads go
    on without a token's actor under the read policy this server last read (open stories stay open,
    the others refuse every read); if it never read one, the policy is taken to be ``token``: a damaged
    file opens the story to no one. The damage is logged once, one line, and again only after a repair.
    """

    #: Seconds between reads of the policy by requests that bring a valid token (requests without one
    #: read it each time), so that what is remembered for a damage is recent.
    policy_refresh = 5.0
    #: When a check is a round trip (a Neo4j store), a valid token is taken as checked while the
    #: store's access generation (:meth:`AccessStore.generation`, moved by every change of tokens or
    #: settings) stays the same, and the generation is read at most once per this many seconds, one
    #: query for every token: a token revoked meanwhile is refused by every server at the latest this
    #: long after. A local store (the access file) is read for every request: revocation and damage
    #: count at once.
    token_ttl = 1.0
    #: How many checked tokens are remembered (the oldest half is forgotten past it).
    token_cache = 10_000

    def __init__(self, store: AccessStore) -> None:
        self.store = store
        self._tokens: dict[str, tuple[str, int]] = {}  # token digest -> (actor, generation checked in)
        self._generation = (0, -1.0)  # the store's access generation, and when it was read
        self._reads_need_token: bool | None = None  # the policy last read ...
        self._read_at = 0.0  # ... and when (time.monotonic())
        self._damaged = False
        self.reads_need_token()  # the policy as it is at start, in case the file is damaged later

    def caller(self, token: str | None, *, page: bool = False) -> Caller:
        """Who sends ``token`` (None: no token); ``page``: the explorer page, which holds no data.

        Raises ``Unauthenticated`` for a token that is not valid or a read that needs one, and
        :class:`AccessDamaged` for a read that needs a token while no token can be checked.
        """
        actor = None
        if token is not None:
            try:
                actor = self._checked(token)
            except _DAMAGE as exc:
                self._damage(exc)
        if actor is None and not page and self.reads_need_token():
            raise AccessDamaged() if self._damaged else Unauthenticated(_READS_NEED_TOKEN)
        if actor is not None and time.monotonic() - self._read_at > self.policy_refresh:
            self.reads_need_token()
        elif actor is not None and self._damaged:
            self._check_repair()  # a token was checked: the file may have been repaired
        return Caller(actor, self._damaged)

    def _checked(self, token: str) -> str:
        """The actor of a valid token, from a check under the store's access generation as it was at
        most :attr:`token_ttl` seconds ago."""
        if not self.store.remote:
            return _token_actor(self.store, token)
        digest = token_digest(token)
        generation = self._current_generation()
        known = self._tokens.get(digest)
        if known is not None and known[1] == generation and not self._damaged:
            return known[0]
        actor = _token_actor(self.store, token)
        if len(self._tokens) >= self.token_cache:
            for old in list(self._tokens)[: self.token_cache // 2]:
                del self._tokens[old]
        self._tokens[digest] = (actor, generation)
        return actor

    def _current_generation(self) -> int:
        generation, read_at = self._generation
        now = time.monotonic()
        if read_at < 0 or now - read_at >= self.token_ttl:
            generation = self.store.generation()
            self._generation = (generation, now)
        return generation

    def forget_tokens(self) -> None:
        """Check every token again at its next request (after a revocation through this process)."""
        self._tokens.clear()
        self._generation = (0, -1.0)

    def reads_need_token(self) -> bool:
        """Whether reading needs a token (see the class for a damaged store)."""
        try:
            need = reads_need_token(self.store)
        except _DAMAGE as exc:
            self._damage(exc)
            return True if self._reads_need_token is None else self._reads_need_token
        self._reads_need_token, self._read_at = need, time.monotonic()
        if self._damaged:
            self._check_repair()
        return need

    def _damage(self, exc: Exception) -> None:
        if not self._damaged:
            self._damaged = True
            policy = {None: "token (never read)", True: "token", False: "open"}[self._reads_need_token]
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.error("gvcs: cannot read the access file (%s): writes are refused, reads: %s", detail, policy)

    def _check_repair(self) -> None:
        """After a damage, whether all of the store reads again: then writes are accepted again."""
        try:
            self.store.list_tokens()
            reads_need_token(self.store)
        except _DAMAGE:
            return
        self._damaged = False
        log.warning("gvcs: the access file can be read again: writes are accepted")


# What a damaged access store raises: CorruptObject for a file that is not one, KeyError or TypeError
# for records of the wrong shape in a file that parses.
_DAMAGE = (CorruptObject, KeyError, TypeError)


def _token_actor(store: AccessStore, token: str) -> str:
    """The actor a token acts as ('' is a malformed token); raises Unauthenticated if it is not valid."""
    record = authenticate(store, token) if token else None
    if record is None:
        raise Unauthenticated("invalid or revoked API token")
    return record.actor


class AccessGate:
    """ASGI middleware: checks the token of every request to ``paths`` and leaves its actor in the scope
    (and whether the access store could not be read: writes are then refused, see :class:`ServerAccess`).

    The explorer page (a browser's ``GET /graphql`` for HTML) is always served: it holds no data.
    Websockets are checked by the GraphQL view on ``connection_init`` (see :class:`ServerAccess`).
    """

    def __init__(
        self,
        app: ASGIApp,
        repo: Repository,
        paths: tuple[str, ...] = ("/graphql", "/events"),
        access: ServerAccess | None = None,
        open_paths: tuple[str, ...] = ("/graphql/assets",),
    ) -> None:
        self.app = app
        self.repo = repo
        self.paths = paths
        self.open_paths = open_paths  # under a guarded path, yet holding no story data (the explorer's files)
        self.access = access if access is not None else ServerAccess(repo.access)

    def guards(self, path: str) -> bool:
        """Whether requests to ``path`` are checked: the paths and what is under them (/events/<topic>),
        except the open paths (the explorer's own script and style files, which a browser loads before
        anyone can give a token)."""
        if any(path == p or path.startswith(p + "/") for p in self.open_paths):
            return False
        return any(path == p or path.startswith(p + "/") for p in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = bearer(headers.get("authorization"))
        if token is None and scope["path"] == "/events":
            token = _query_param(scope, "access_token")
        page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
        try:
            # The token's record may be a database read away (Neo4j): never wait for it on the event loop.
            caller = await asyncio.to_thread(self.access.caller, token, page=page)
        except Unauthenticated as exc:
            await _error(send, 401, exc.code, str(exc))
            return
        except AccessDamaged as exc:
            await _error(send, 503, exc.code, str(exc))
            return
        scope[ACTOR_KEY] = caller.actor
        scope[DAMAGED_KEY] = caller.damaged
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes gets 413 and never reaches the app.

    The whole body (at most the limit) is read before the app sees any of it, so a chunked body that
    grows past the limit is refused before anything was done with it. A refused body is read on and
    dropped (up to :data:`DRAIN_BYTES` or :data:`DRAIN_SECONDS`) before the 413 goes out with
    ``Connection: close``: a client that sends its whole body before it reads gets the answer instead of
    a reset connection. A client that asked ``Expect: 100-continue`` has sent nothing yet: it is answered
    at once. A ``Content-Length`` that is not a number is a 400.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt  # paths (and what is under them) that limit their bodies themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or any(path == p or path.startswith(p + "/") for p in self.exempt):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        declared = headers.get("content-length")
        if declared is not None and not (declared.strip().isascii() and declared.strip().isdigit()):
            await _error(send, 400, "BAD_INPUT", "Content-Length must be a number of bytes", close=True)
            return
        if declared is not None and int(declared) > self.limit:
            if "100-continue" not in headers.get("expect", "").lower():
                await drain_body(receive, 0)
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.limit:
                if more:
                    await drain_body(receive, size)
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not more:
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
        message = f"request body too large: at most {self.limit} bytes"
        await _error(send, 413, "BAD_INPUT", message, close=True)


async def drain_body(receive: Receive, size: int) -> None:
    """Read and drop the rest of a request body, within :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS`."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while size <= DRAIN_BYTES:
                message = await receive()
                size += len(message.get("body", b""))
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
    except TimeoutError:
        return


def connection_token(params: Mapping[str, Any] | None) -> str | None:
    """The token of a websocket's ``connection_init`` payload."""
    if not isinstance(params, Mapping):
        return None
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer(value)
    return None
