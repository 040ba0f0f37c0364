"""``GET /events``: the commits added to branches as server-sent events (``text/event-stream``).

For clients that cannot use websockets. Each commit is one event::

    id: main:5f0c...
    event: commit
    data: {"branch": "main", "id": "5f0c...", "kind": "gift", "actor": "ada", ...}

Narrative messages (:meth:`api.graphql.feed.CommitFeed.narrative`; with Redis, from any process of the
story) come as ``event: narrative.change.v1`` with the message as ``data`` and no ``id``.

Query parameters: ``branch`` (default: every branch), ``kind`` (only commits of that kind; with
``kind=narrative.change.v1`` only the narrative messages) and ``page`` (only the commits that change that
page, against their first parent, each once: a commit that reaches several branches comes with the first
branch it was seen on; no narrative messages). A client
that reconnects with ``Last-Event-ID`` first gets the commits it missed on that branch (its first-parent
line, up to 1000). A comment line every 15 seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from narrative_vcs.errors import GvcsError
from narrative_vcs.history import CommitInfo
from narrative_vcs.objects import validate_id
from narrative_vcs.refs import validate_ref_name
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

from .feed import (
    NARRATIVE_CHANGE,
    BranchCommit,
    CommitFeed,
    NarrativeMessage,
    changes_page,
    commits_since,
    narrative_since,
)

__all__ = ["KEEPALIVE", "event_data", "events_endpoint"]

KEEPALIVE = 15.0


def event_data(branch: str, info: CommitInfo) -> dict[str, Any]:
    return {
        "branch": branch,
        "id": info.id,
        "shortId": info.short_id,
        "kind": info.kind,
        "actor": info.actor,
        "subject": info.subject,
        "time": info.time,
        "parents": list(info.parents),
        "eventId": info.event_id,
        "event": info.event,
    }


def _format(item: BranchCommit) -> str:
    data = json.dumps(event_data(item.branch, item.commit), separators=(",", ":"))
    return f"id: {item.branch}:{item.commit.id}\nevent: commit\ndata: {data}\n\n"


def _format_narrative(item: NarrativeMessage) -> str:
    data = json.dumps(item.data, separators=(",", ":"), ensure_ascii=False)
    branch, commit = item.data.get("branch"), item.data.get("commit")
    # A change that landed on a branch comes right after its commit's event, as ``<branch>:<commit>:
    # narrative``: a client reconnecting with either id is sent what it has not had yet.
    key = f"id: {branch}:{commit}:narrative\n" if isinstance(branch, str) and isinstance(commit, str) else ""
    return f"{key}event: {NARRATIVE_CHANGE}\ndata: {data}\n\n"


def _bad(message: str) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": "BAD_INPUT"}}]}
    return JSONResponse(body, status_code=400)


def _missed(
    repo: Repository, branch: str | None, last_event_id: str | None
) -> list[BranchCommit | NarrativeMessage]:
    """What came after ``Last-Event-ID`` on its branch, oldest first: after a commit's event
    (``branch:commit``), its own ``narrative.change.v1`` message if it has one; then each later commit,
    followed by its message when it landed on a protected branch (after ``branch:commit:narrative``,
    the later ones only)."""
    if not last_event_id or ":" not in last_event_id:
        return []
    parts = last_event_id.split(":")
    told = len(parts) == 3 and parts[2] == "narrative"  # the commit's change was sent too
    if len(parts) != 2 and not told:
        return []
    name, oid = parts[0], parts[1]
    if branch is not None and name != branch:
        return []
    head = repo.branch_head(name)
    if head is None or len(oid) != 40 or not all(c in "0123456789abcdef" for c in oid):
        return []
    if not repo.objects.has(ObjectId(oid)):
        return []
    gained = commits_since(repo, ObjectId(oid), head)
    if (
        gained == [repo.commits.get(head)]
        and head != oid
        and not repo.commits.is_ancestor(ObjectId(oid), head)
    ):
        return []  # the branch moved elsewhere: nothing to replay
    out: list[BranchCommit | NarrativeMessage] = []
    last = repo.commits.get(ObjectId(oid))
    if not told and last.parents:
        out.extend(narrative_since(repo, name, last.parents[0], last.id))  # its own change, not yet sent
    changes = {m.data["commit"]: m for m in narrative_since(repo, name, ObjectId(oid), head)}
    for info in gained:
        out.append(BranchCommit(name, info))
        if info.id in changes:
            out.append(changes[info.id])
    return out


def events_endpoint(repo: Repository, feed: CommitFeed) -> Any:
    async def events(request: Request) -> Response:
        branch = request.query_params.get("branch") or None
        kind = request.query_params.get("kind") or None
        page = request.query_params.get("page") or None
        try:
            if branch is not None:
                validate_ref_name("branch", branch)
            if page is not None:
                validate_id("page", page)
        except GvcsError as exc:
            return _bad(str(exc))
        last = request.headers.get("last-event-id")
        narrative = page is None and (kind is None or kind == NARRATIVE_CHANGE)
        sub = await feed.open(branch, narrative=narrative)
        sent: set[str] = set()  # with page: the commits already sent (once, whatever the branch)

        async def wanted(item: BranchCommit) -> bool:
            if kind is not None and item.commit.kind != kind:
                return False
            if page is None:
                return True
            if item.commit.id in sent or not await asyncio.to_thread(changes_page, repo, item.commit, page):
                return False
            sent.add(item.commit.id)
            return True

        try:
            missed = await asyncio.to_thread(_missed, repo, branch, last)
        except GvcsError:
            missed = []
        except BaseException:
            sub.close()
            raise
        replayed = {(m.branch, m.commit.id) for m in missed if isinstance(m, BranchCommit)}
        replayed_changes = {m.data.get("id") for m in missed if isinstance(m, NarrativeMessage)}

        async def body() -> AsyncIterator[str]:
            try:
                yield ": gvcs commit stream\n\n"
                for item in missed:
                    if isinstance(item, NarrativeMessage):
                        if narrative:
                            yield _format_narrative(item)
                    elif await wanted(item):
                        yield _format(item)
                while True:
                    try:
                        live = await sub.get(KEEPALIVE)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if live is None:
                        return
                    if isinstance(live, NarrativeMessage):
                        if live.data.get("id") not in replayed_changes:
                            yield _format_narrative(live)
                        continue
                    if (live.branch, live.commit.id) in replayed:
                        continue
                    if await wanted(live):
                        yield _format(live)
            finally:
                sub.close()

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    return events
