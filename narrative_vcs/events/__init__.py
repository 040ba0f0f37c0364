"""Events as commits: each accepted event becomes exactly one commit on a branch.

Topics (each with a JSON Schema in ``schemas/``): ``agent.emit.v1`` (page text), ``gift.txn.v1`` (gift
tokens in ``ledger.yaml``), ``ritual.performed.v1`` (a glyph's opcode), ``infra.spore.v1`` and
``mycelium.decay.v1`` (``infra/`` on the mycelium branch); ``narrative.change.v1`` is published by gvcs,
never ingested. See docs/events.md.

- :mod:`.model`: :class:`Event`, :class:`Ingested`, :func:`validate`;
- :mod:`.ingestion`: :func:`ingest`, :func:`ingest_many` (idempotent by event id, one commit per event);
- :mod:`.agent`, :mod:`.gift`, :mod:`.ritual`, :mod:`.infra`: each topic's change, computed on a tip;
- :mod:`.index`: which commits carry an event id; :mod:`.settings`: what story.yaml says.

This package is core: it reads no environment and imports no service client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gift import balances
    from .infra import MYCELIUM, spores
    from .ingestion import default_branch, ingest, ingest_many, preview, target_branch
    from .model import EVENT_ID, INGESTED, PUBLISHED, TOPICS, Event, Ingested, check_event_id, validate

# Each name is imported from its module on first use (the rules read little of this package).
_HOME = {
    "balances": "gift",
    **dict.fromkeys(("MYCELIUM", "spores"), "infra"),
    **dict.fromkeys(("default_branch", "ingest", "ingest_many", "preview", "target_branch"), "ingestion"),
    **dict.fromkeys(
        ("EVENT_ID", "INGESTED", "PUBLISHED", "TOPICS", "Event", "Ingested", "check_event_id", "validate"),
        "model",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "EVENT_ID",
    "INGESTED",
    "MYCELIUM",
    "PUBLISHED",
    "TOPICS",
    "Event",
    "Ingested",
    "balances",
    "check_event_id",
    "default_branch",
    "ingest",
    "ingest_many",
    "preview",
    "spores",
    "target_branch",
    "validate",
]
