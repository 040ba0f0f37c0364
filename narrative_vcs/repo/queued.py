"""Change sets and their outcomes as bytes, for group commits that cross processes
(:class:`~narrative_vcs.refs.GroupQueue`): another process builds a queued change set and sends back
what became of it. JSON, with file contents in base64; no code is ever loaded from what is read (an
error comes back as its class, looked up among gvcs's own errors, its message and plain attributes).
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from ..errors import BadInput, GvcsError, Refused
from ..objects import Actor, Page
from ..types import ObjectId
from .values import ChangeSet, GroupOutcome, PendingCommit

__all__ = ["decode_outcome", "decode_pending", "encode_outcome", "encode_pending"]


def encode_pending(item: PendingCommit) -> bytes:
    changes = item.changes
    return json.dumps(
        {
            "pages": {k: _b64(None if v is None else v.serialise()) for k, v in changes.pages.items()},
            "actors": {k: _b64(None if v is None else v.serialise()) for k, v in changes.actors.items()},
            "files": {k: _b64(v) for k, v in changes.files.items()},
            "expected_head": item.expected_head,
            "actor": item.actor,
            "message": item.message,
            "kind": item.kind,
        },
        separators=(",", ":"),
    ).encode()


def decode_pending(data: bytes) -> PendingCommit:
    """The change set queued as ``data``; :class:`BadInput` if it is not one."""
    try:
        raw = json.loads(data)
        changes = ChangeSet()
        for page_id, text in raw["pages"].items():
            content = _unb64(text)
            changes.pages[page_id] = None if content is None else Page.parse(page_id, content)
        for actor_id, text in raw["actors"].items():
            content = _unb64(text)
            changes.actors[actor_id] = None if content is None else Actor.parse(actor_id, content)
        for path, text in raw["files"].items():
            content = _unb64(text)
            if content is None:
                changes.delete_file(str(path))
            else:
                changes.put_file(str(path), content)
        head = raw["expected_head"]
        return PendingCommit(
            changes,
            None if head is None else ObjectId(str(head)),
            str(raw["actor"]),
            str(raw["message"]),
            str(raw["kind"]),
        )
    except GvcsError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise BadInput(f"a queued change set does not parse: {exc}") from None


def encode_outcome(outcome: GroupOutcome) -> bytes:
    error = outcome.error
    return json.dumps(
        {
            "commit": outcome.commit,
            "parent": outcome.parent,
            "rebased": outcome.rebased,
            "error": None if error is None else _error_fields(error),
        },
        separators=(",", ":"),
    ).encode()


def decode_outcome(data: bytes) -> GroupOutcome:
    try:
        raw = json.loads(data)
        error = raw["error"]
        return GroupOutcome(
            None if raw["commit"] is None else ObjectId(raw["commit"]),
            None if raw["parent"] is None else ObjectId(raw["parent"]),
            bool(raw["rebased"]),
            None if error is None else _error_from(error),
        )
    except (ValueError, KeyError, TypeError) as exc:
        refused = Refused(f"the outcome of a queued change set does not parse: {exc}")
        return GroupOutcome(None, None, False, refused)


def _b64(data: bytes | None) -> str | None:
    import base64

    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes | None:
    import base64

    return None if text is None else base64.b64decode(str(text), validate=True)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    return isinstance(value, list) and all(isinstance(v, (str, int)) for v in value)


def _error_fields(error: GvcsError) -> dict[str, Any]:
    cls = type(error)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(error),
        "attrs": {k: v for k, v in vars(error).items() if _plain(v)},
    }


def _error_classes() -> dict[str, type[GvcsError]]:
    found: dict[str, type[GvcsError]] = {}
    todo: list[type[GvcsError]] = [GvcsError]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


def _error_from(fields: dict[str, Any]) -> GvcsError:
    """The error another process sent: the same class (one of gvcs's), message and plain attributes."""
    message = str(fields["message"])
    cls = _error_classes().get(str(fields["class"]))
    if cls is None:
        return Refused(message)
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    attrs = fields.get("attrs") or {}
    if isinstance(attrs, dict):
        for key, value in attrs.items():
            if isinstance(key, str) and not key.startswith("__") and _plain(value):
                setattr(error, key, value)
    return error
