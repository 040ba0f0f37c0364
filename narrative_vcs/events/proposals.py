"""Opening governance proposals for events (a ritual's ``open_proposal``, a phoenix hearing).

Governance (:mod:`narrative_vcs.governance`) is imported only when a proposal is to be opened, and may be
absent: a ritual that needs it is then refused, and an incident is recorded without a hearing.
``propose(..., event_id=...)`` returns the proposal an earlier call with the same event id opened, so
opening the proposal of a re-sent event again is harmless.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["governance_available", "open_proposal", "propose_function"]


def propose_function() -> Callable[..., int] | None:
    """``narrative_vcs.governance.propose``, or None when governance is not there."""
    try:
        module = importlib.import_module("narrative_vcs.governance")
    except ImportError:
        return None
    found: Any = getattr(module, "propose", None)
    return found if callable(found) else None


def governance_available() -> bool:
    return propose_function() is not None


def open_proposal(
    repo: Repository,
    *,
    source: str | None,
    into: str,
    actor: str,
    message: str,
    event_id: str,
    now: int | None,
) -> int | None:
    """Open (or find, by ``event_id``) the proposal; None when governance is not there."""
    propose = propose_function()
    if propose is None:
        return None
    return propose(repo, source, into, actor=actor, message=message, event_id=event_id, now=now)
