"""``narrative.change.v1``: what governance announces when a proposal's merge lands on its target.

The core only calls the hooks; whoever publishes (the Redis feed, a test) appends a callable to
:data:`on_narrative_change`. A hook that raises is logged and the others still run: the merge is already
committed and nothing undoes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..types import ObjectId

__all__ = ["NARRATIVE_CHANGE", "NarrativeChange", "on_narrative_change", "publish"]

NARRATIVE_CHANGE = "narrative.change.v1"

log = logging.getLogger("gvcs.governance")


@dataclass(frozen=True)
class NarrativeChange:
    """A branch of the story moved to a new commit because a proposal passed."""

    branch: str
    commit: ObjectId
    previous: ObjectId | None
    actor: str
    kind: str  # the commit's kind: merge
    proposal: int
    source: str | None
    time: int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": NARRATIVE_CHANGE,
            "branch": self.branch,
            "commit": self.commit,
            "previous": self.previous,
            "actor": self.actor,
            "kind": self.kind,
            "proposal": self.proposal,
            "source": self.source,
            "time": self.time,
        }


#: Called with each :class:`NarrativeChange`, in order, in the process that executed the merge.
on_narrative_change: list[Callable[[NarrativeChange], None]] = []


def publish(change: NarrativeChange) -> None:
    for hook in list(on_narrative_change):
        try:
            hook(change)
        except Exception:
            log.exception("a narrative.change.v1 hook failed for %s", change.commit)
