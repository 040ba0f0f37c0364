"""``narrative.change.v1``: the announcement that a change landed on a protected branch.

Every commit that lands on a protected branch (one protected by story.yaml at the branch's head before
it) is a change of the story's canon: a proposal's merge, or an event the rules let through. Each is one
:class:`NarrativeChange`, identified by ``<branch>:<commit>``. They are derived from history
(:mod:`.narrative`), so they are kept as long as the history is: a server streams the ones it sees the
heads gain, whoever moved them, and replays missed ones to a client that reconnects; ``gvcs event
list --topic narrative.change.v1`` lists them.

The process that moves a protected branch also calls the hooks of :data:`on_narrative_change` (the
workers publish on Redis with them). A hook that raises is logged and the others still run: the change
has landed and nothing undoes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import field, record
from ..types import ObjectId

__all__ = ["NARRATIVE_CHANGE", "NarrativeChange", "on_narrative_change", "publish"]

NARRATIVE_CHANGE = "narrative.change.v1"


@record
class NarrativeChange:
    """A commit that landed on a protected branch."""

    branch: str
    commit: ObjectId
    previous: ObjectId | None  # the branch's head before it (the commit's first parent)
    actor: str
    kind: str  # the commit's kind: merge (a proposal's), or an event
    proposal: int | None
    source: str | None
    time: int
    summary: str = ""  # the commit's subject
    pages: tuple[str, ...] = field(default=())  # the pages it changed

    @property
    def id(self) -> str:
        return f"{self.branch}:{self.commit}"

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": NARRATIVE_CHANGE,
            "type": NARRATIVE_CHANGE,
            "id": self.id,
            "branch": self.branch,
            "commit": self.commit,
            "previous": self.previous,
            "actor": self.actor,
            "kind": self.kind,
            "proposal": self.proposal,
            "source": self.source,
            "time": self.time,
            "summary": self.summary,
            "pages": list(self.pages),
        }


#: Called with each :class:`NarrativeChange`, in order, in the process that moved the branch.
on_narrative_change: list[Callable[[NarrativeChange], None]] = []


def publish(change: NarrativeChange) -> None:
    for hook in list(on_narrative_change):
        try:
            hook(change)
        except Exception:
            import logging  # only on this rare path: logging costs a cold command milliseconds

            logging.getLogger("gvcs.governance").exception(
                "a narrative.change.v1 hook failed for %s", change.commit
            )
