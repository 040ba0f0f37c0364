"""``POST /events/{topic}``, and :func:`_submit`: the one place the API hands an event over (the
``emitEvent`` mutation of api/graphql/events.py submits through it too).

``POST /events/{topic}`` takes as its JSON body either the payload itself, or an envelope
``{"payload": {...}, "id": "...", "branch": "...", "time": ...}`` (an object whose keys are among
``payload``, ``id``, ``branch`` and ``time`` and include ``payload``), and acts as the token's actor. It
answers 201 with ``{"eventId", "branch", "commit", "duplicate": false}``, 200 with ``"duplicate": true``
when the same event is already on the branch (409 CONFLICT: its id, for another event), and errors as
``{"errors": [{"message", "extensions": {"code"}}]}`` with 400 (BAD_INPUT), 401 (UNAUTHENTICATED), 403
(FORBIDDEN), 404 (NOT_FOUND), 409 (CONFLICT, REFUSED), 415 (BAD_INPUT: the body is not
``application/json``) or 503 (CORRUPT: the server cannot read its access file).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from narrative_vcs.errors import BadInput, GvcsError
from narrative_vcs.events import Event, Ingested, validate
from narrative_vcs.repository import Repository

from .auth import ACTOR_KEY, DAMAGED_KEY, require_actor
from .bodies import JSON_ONLY, error_response, is_json, read_json
from .feed import CommitFeed
from .queued_intake import QueuedIntake

__all__ = ["events_intake", "http_status", "make_event"]

_ENVELOPE = frozenset({"payload", "id", "branch", "time"})
_STATUS = {
    "BAD_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "REFUSED": 409,
    "CORRUPT": 503,  # a damaged access file: writes wait for its repair
    "QUEUED": 202,  # no worker committed it in time: it stays queued and will be
}


async def _submit(repo: Repository, event: Event, intake: QueuedIntake | None = None) -> Ingested:
    """The one place the API hands an event over: with ``intake`` (``gvcs serve --redis``) queued for
    the workers and waited for; without, committed now in a worker thread (inline intake).

    Raises the error that refused the event, or that failed its follow-up (the event is then committed:
    sending it again retries the follow-up).
    """
    if intake is not None:
        result = await intake.submit(event)
        if result.error is not None:
            raise result.error
        return result
    from narrative_vcs.events import ingest

    result = await asyncio.to_thread(ingest, repo, event)
    if result.error is not None:
        raise result.error
    return result


def make_event(
    topic: str, actor: str, payload: object, event_id: Any = None, branch: Any = None, time: Any = None
) -> Event:
    """The event a client sent, as ``actor``; BadInput for anything that does not fit."""
    if not isinstance(payload, Mapping):
        raise BadInput(f"{topic}: payload must be a JSON object")
    validate(topic, payload)  # first: a published topic's refusal says why, before its schema
    return Event.new(topic, actor, payload, branch=branch, id=event_id, time=time)


def http_status(error: GvcsError) -> int:
    return _STATUS.get(error.code, 500)


def _error(error: GvcsError) -> Response:
    message = str(error).splitlines()[0] if str(error) else "error"
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": error.code}}]}
    headers = {"www-authenticate": 'Bearer realm="gvcs"'} if error.code == "UNAUTHENTICATED" else None
    return JSONResponse(body, status_code=http_status(error), headers=headers)


def _from_body(topic: str, actor: str, body: bytes) -> Event:
    data: Any = read_json(body)
    if isinstance(data, dict) and "payload" in data and set(data) <= _ENVELOPE:
        return make_event(topic, actor, data["payload"], data.get("id"), data.get("branch"), data.get("time"))
    return make_event(topic, actor, data)


def events_intake(
    repo: Repository, feed: CommitFeed, intake: QueuedIntake | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of ``POST /events/{topic}``."""

    async def post_event(request: Request) -> Response:
        if not is_json(request.headers.get("content-type")):
            return error_response(415, "BAD_INPUT", JSON_ONLY)
        try:
            actor = require_actor(request.scope.get(ACTOR_KEY), damaged=request.scope.get(DAMAGED_KEY, False))
            event = _from_body(request.path_params["topic"], actor, await request.body())
            result = await _submit(repo, event, intake)
        except GvcsError as exc:
            return _error(exc)
        feed.poke()
        body = {
            "eventId": event.id,
            "branch": result.branch,
            "commit": result.commit,
            "duplicate": result.duplicate,
        }
        return JSONResponse(body, status_code=200 if result.duplicate else 201)

    return post_event
