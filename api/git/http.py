"""``/git``: the story over git's smart HTTP protocol, so that the stock git client clones and fetches it.

dulwich speaks the protocol (``dulwich.web``, a WSGI application run by a2wsgi); the objects and refs
come from the repository's own stores (:mod:`narrative_vcs.gitwire`), so the embedded store and Neo4j
are served alike. The URL of the story is ``http://HOST:PORT/git`` (any path under it names the same
story: ``/git/story.git`` works too).

Authentication is HTTP Basic with an API token as the password (the user name is not used), so git's
credential helpers work; ``Authorization: Bearer <token>`` works too. Reads follow ``gvcs access``: an
open story is read without a token, a closed one answers 401 and git asks for credentials.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from starlette.types import Receive, Scope, Send

from narrative_vcs.errors import Unauthenticated
from narrative_vcs.gitwire import receive_pack_handler, story_backend, upload_pack_handler
from narrative_vcs.repository import Repository

from ..graphql.auth import AccessDamaged, ServerAccess, bearer, drain_body

__all__ = ["GitEndpoint", "basic_token"]

READ_NEEDS_TOKEN = (
    "this story needs a token to read: give an API token as the password (git's credential helpers "
    "work), or in the URL: http://ACTOR:TOKEN@HOST:PORT/git (gvcs token create ACTOR)"
)
PUSH_NEEDS_TOKEN = "pushing needs an API token as the password: its actor is the author of what is pushed"

#: Bytes of a response gathered before they are handed to the event loop.
WRITE_BUFFER = 256 * 1024
#: The largest request body to ``/git`` (a push's pack), in bytes; ``gvcs serve --max-push``.
MAX_PUSH = 256 << 20
#: Bytes of a request body kept in memory while it arrives; the rest waits in a temporary file.
SPOOL_MEMORY = 1 << 20
#: Bytes of the body handed to dulwich at a time.
REPLAY_CHUNK = 256 * 1024


def basic_token(value: str | None) -> str | None:
    """The token of an ``Authorization`` value: the password of ``Basic``, or a ``Bearer`` token; ''
    if malformed, None if absent."""
    if value is None:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return bearer(value)
    try:
        decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    _user, colon, password = decoded.partition(":")
    return password if colon and password else ""


class GitEndpoint:
    """The ASGI application mounted at ``/git``."""

    def __init__(self, repo: Repository, access: ServerAccess, max_push: int = MAX_PUSH) -> None:
        self.repo = repo
        self.access = access
        self.max_push = max_push

    def _wsgi(self, pusher: str | None, refuse_pack: str | None = None) -> Any:
        """The protocol for one request: its pushes are ``pusher``'s (None: reads only); ``refuse_pack``:
        why its pack is not taken."""
        from a2wsgi import WSGIMiddleware
        from dulwich.errors import GitProtocolError
        from dulwich.web import make_wsgi_chain

        handlers = {b"git-upload-pack": upload_pack_handler(), b"git-receive-pack": receive_pack_handler()}
        chain = make_wsgi_chain(story_backend(self.repo, pusher, refuse_pack), handlers=handlers)
        # dulwich also fails on some malformed input with AssertionError or ValueError (an empty
        # pkt-line, a length that is not hex): the client's doing, not a fault here.
        return WSGIMiddleware(cast(Any, _Coalesced(chain, (GitProtocolError, AssertionError, ValueError))))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        token = basic_token(headers.get("authorization"))
        query = scope.get("query_string", b"").decode("latin-1")
        pushing = scope["path"].endswith("/git-receive-pack") or "service=git-receive-pack" in query
        try:
            caller = await asyncio.to_thread(self.access.caller, token)
        except Unauthenticated as exc:
            message = READ_NEEDS_TOKEN if token is None else str(exc)
            await _plain(send, 401, message, [(b"www-authenticate", b'Basic realm="gvcs story"')])
            return
        except AccessDamaged as exc:
            await _plain(send, 503, str(exc))
            return
        if pushing and caller.damaged:
            await _plain(send, 503, str(AccessDamaged()))
            return
        if pushing and caller.actor is None:  # git asks for credentials, then sends them
            await _plain(send, 401, PUSH_NEEDS_TOKEN, [(b"www-authenticate", b'Basic realm="gvcs story"')])
            return
        pusher = caller.actor if pushing else None
        if scope.get("method") != "POST":
            await self._wsgi(pusher)(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as body:
            size = await self._spool(receive, body, headers)
            if size is None:
                return  # the client went away
            if size <= self.max_push:
                await self._wsgi(pusher)(_whole(scope, size), _replay(body), send)
            elif pushing and body.tell() > 0:
                # A push over the limit: git is told why for each of its refs, from the commands it
                # sent first; the pack is not read.
                kept = body.tell()
                body.seek(0)
                app = self._wsgi(pusher, refuse_pack=self._too_large())
                await app(_whole(scope, kept), _replay(body), send)
            else:
                await _plain(send, 413, self._too_large(), close=True)

    def _too_large(self) -> str:
        return (
            f"the push is larger than this server takes ({self.max_push >> 20} MiB, gvcs serve "
            "--max-push): push the history in parts (git push origin COMMIT:refs/heads/BRANCH)"
        )

    async def _spool(self, receive: Receive, body: Any, headers: dict[str, str]) -> int | None:
        """The request body, read whole into ``body`` (a file: memory, then disk) before dulwich sees it;
        its size. Reading stops past :attr:`max_push` (the size returned is then over it). None if the
        client disconnected."""
        declared = headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_push:
            if "100-continue" not in headers.get("expect", "").lower():
                await drain_body(receive, 0)  # so that the client reads the answer
            return int(declared)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_push:
                # Only what fits is kept (the commands a push sends before its pack are in it).
                body.write(chunk[: max(0, self.max_push - (size - len(chunk)))])
                if message.get("more_body", False):
                    await drain_body(receive, size)
                return size
            if chunk:
                await asyncio.to_thread(body.write, chunk) if size > SPOOL_MEMORY else body.write(chunk)
            if not message.get("more_body", False):
                body.seek(0)
                return size


class _Coalesced:
    """A WSGI application whose ``write`` calls are gathered into large blocks. dulwich writes a pack
    one pkt-line per object, and each write from the WSGI thread waits for the event loop to send it:
    thousands of round trips between threads for a clone. Gathered, they are a few hundred.

    A request that breaks git's protocol (``protocol_errors``: bytes that are not pkt-lines, a client
    that hangs up) ends its answer with git's ``ERR`` line, which git shows as ``remote error: ...``;
    the answer has begun (200) by then, so no other status can be given."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], protocol_errors: tuple[type[BaseException], ...] = ()
    ) -> None:
        self.app = app
        self.protocol_errors = protocol_errors

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        pending = bytearray()
        sink: list[Callable[[bytes], Any]] = []

        def flush() -> None:
            if pending and sink:
                sink[0](bytes(pending))
                pending.clear()

        def write(data: bytes) -> None:
            pending.extend(data)
            if len(pending) >= WRITE_BUFFER:
                flush()

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            sink[:] = [start_response(status, headers, exc_info)]
            return write

        body = self.app(environ, start)
        try:
            try:
                for block in body:
                    flush()
                    if block:
                        yield block
            except self.protocol_errors as exc:
                if not sink:
                    raise
                pending.clear()  # what was gathered is cut short: git is told why instead
                reason = " ".join(str(exc).split())[:500] or type(exc).__name__
                line = f"ERR not git's protocol: {reason}".encode()
                sink[0](b"%04x" % (len(line) + 4) + line)
                return
            flush()
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def _whole(scope: Scope, size: int) -> Scope:
    """``scope`` for a body now read whole: its length given, no transfer encoding (dulwich would
    otherwise read chunk marks the server already took off)."""
    kept = [
        (k, v)
        for k, v in scope.get("headers", [])
        if k.lower() not in (b"content-length", b"transfer-encoding")
    ]
    return {**scope, "headers": [*kept, (b"content-length", str(size).encode())]}


def _replay(body: Any) -> Receive:
    """An ASGI ``receive`` that hands out ``body`` (a file read from its start) in chunks."""
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            await asyncio.Event().wait()  # as a server does: nothing more until the client goes
        chunk = await asyncio.to_thread(body.read, REPLAY_CHUNK)
        more = len(chunk) == REPLAY_CHUNK
        done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return cast(Receive, receive)


async def _plain(
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    close: bool = False,
) -> None:
    body = (message + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if close:  # the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
