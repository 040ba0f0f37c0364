"""Request bodies as the API takes them: JSON only, read with limits, and errors in one shape.

A POST to ``/graphql`` or ``/events/{topic}`` must say ``Content-Type: application/json`` (a charset, if
given, is UTF-8), else 415. Its body is read by :func:`narrative_vcs.limits.load_json`: text that is not
UTF-8, not JSON, or nested deeper than 64 levels is ``BAD_INPUT`` (400) with one line saying which,
never a RecursionError. Every error the API answers itself has the shape GraphQL errors have:
``{"data": null, "errors": [{"message": "...", "extensions": {"code": "..."}}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from narrative_vcs.limits import MAX_DEPTH, load_json

__all__ = ["JSON_ONLY", "MAX_BODY_DEPTH", "error_body", "error_response", "is_json", "read_json"]

JSON_ONLY = "the body must be JSON: send Content-Type: application/json"
#: Deep enough for any value the story takes (an event's payload nests at most 64 levels, and says so
#: itself) inside the request around it; far below the depth at which Python's JSON reader gives up.
MAX_BODY_DEPTH = 4 * MAX_DEPTH
_MAX_JSON = 64 << 20  # the body limit (auth.BodyLimit) comes first; this only bounds direct callers


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header says JSON: ``application/json``, with a UTF-8 charset if any."""
    if content_type is None:
        return False
    media, *params = (part.strip() for part in content_type.split(";"))
    if media.lower() != "application/json":
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def read_json(body: bytes, what: str = "the request body") -> Any:
    """The JSON value of a body; BadInput (one line naming ``what``) for anything else."""
    return load_json(body, what, max_bytes=_MAX_JSON, max_depth=MAX_BODY_DEPTH)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The error shape of the API, with the first line of ``message``."""
    line = message.splitlines()[0] if message else "error"
    return {"data": None, "errors": [{"message": line, "extensions": {"code": code}}]}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error answered by the API itself (not by a resolver)."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)
