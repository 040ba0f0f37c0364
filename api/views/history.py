"""The data of the history view (``/view/data/history``): the commits of every branch and tag, newest
first, a page at a time, each with its parents and the branches, tags and proposal that mark it.

The lanes are drawn in the browser (``history.js``), which keeps them going from one page to the next.
The pages come from :meth:`Repository.log` over every head, so a page's cursor pins the heads the walk
started from: commits made meanwhile do not shift the later pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from narrative_vcs.errors import BadInput
from narrative_vcs.history import CommitInfo
from narrative_vcs.repository import Repository

__all__ = ["DEFAULT_FIRST", "MAX_FIRST", "HistoryRequest", "history_page"]

DEFAULT_FIRST = 50
MAX_FIRST = 500


@dataclass(frozen=True)
class HistoryRequest:
    """What the browser asks for: ``first`` commits after the cursor ``after`` (None: from the heads)."""

    first: int = DEFAULT_FIRST
    after: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> HistoryRequest:
        raw = query.get("first") or str(DEFAULT_FIRST)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_FIRST:
            raise BadInput(f"first must be a whole number from 1 to {MAX_FIRST}, not {raw!r}")
        return cls(int(raw), query.get("after") or None)


def history_page(repo: Repository, wanted: HistoryRequest) -> dict[str, Any]:
    """One page of the history of every branch and tag, as JSON (docs/views.md)."""
    branches, tags = repo.branches(), repo.tags()
    starts = sorted(set(branches.values()) | set(tags.values()))
    if not starts:
        return {"head": repo.head_branch(), "commits": [], "next": None, "branches": {}, "tags": {}}
    page = repo.log(starts, first=wanted.first, after=wanted.after)
    heads: dict[str, list[str]] = {}
    for name, oid in sorted(branches.items()):
        heads.setdefault(oid, []).append(name)
    marks: dict[str, list[str]] = {}
    for name, oid in sorted(tags.items()):
        marks.setdefault(oid, []).append(name)
    return {
        "head": repo.head_branch(),
        "commits": [_commit(info, heads.get(info.id, []), marks.get(info.id, [])) for info in page.commits],
        "next": page.next_cursor,
        "branches": dict(sorted(branches.items())),
        "tags": dict(sorted(tags.items())),
    }


def _commit(info: CommitInfo, branches: list[str], tags: list[str]) -> dict[str, Any]:
    proposal = info.trailers.get("Gvcs-Proposal", "")
    return {
        "id": info.id,
        "shortId": info.short_id,
        "parents": list(info.parents),
        "subject": info.subject,
        "actor": info.actor,
        "actorName": info.actor_name,
        "kind": info.kind,
        "time": info.time,
        "branches": branches,
        "tags": tags,
        "proposal": int(proposal) if proposal.isdigit() else None,
    }
