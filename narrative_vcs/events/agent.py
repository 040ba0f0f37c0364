"""``agent.emit.v1``: an actor writes a page or revises one.

Any actor of the story may emit (agents are who it is for; a person's emit is accepted too). The page's
glyphs and other front-matter keys are kept; ``follows``, ``alternate_of`` and ``tags`` are replaced only
when the payload gives them.

What the body does to an existing page depends on the payload's ``version`` (intake stamps the current
one, :data:`VERSION`, on every new event; a commit keeps its payload, so a replay means what it meant):

version 2 (every event from now on), ``mode``:
    ``append`` (the default)  the body is added as new paragraphs after the page's text
    ``revise``                the body is the page as the agent rewrote it from the version ``base`` (a
                              commit id, or the page's blob id): merged paragraph by paragraph with what
                              the page became since (the story's three-way merge); an overlap is a
                              :class:`~narrative_vcs.errors.Conflict` and nothing is committed
    ``replace``               the body replaces the page, only with ``base`` naming the page's current
                              text (else a Conflict), or with ``force: true``
no version (commits made before version 2): ``mode`` ``replace`` (the default) or ``append``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadInput, Conflict, GvcsError, NothingToCommit
from ..objects import Page
from .model import Event
from .state import Plan, Tip

__all__ = ["TOPIC", "VERSION", "page_change", "plan"]

TOPIC = "agent.emit.v1"
#: The semantics of the payloads intake accepts now (see the module's docstring).
VERSION = 2


def plan(tip: Tip, event: Event) -> Plan:
    from ..repository import ChangeSet

    page, verb = page_change(tip, TOPIC, event.payload)
    return Plan(ChangeSet().upsert_page(page), event.payload.get("message") or f"{verb} {page.id}")


def page_change(tip: Tip, topic: str, fields: Mapping[str, Any], where: str = "payload") -> tuple[Page, str]:
    """The page as ``fields`` (page, title?, body, follows?, alternate_of?, tags?, mode?) leave it on the
    tip, and a verb for the commit message (Write, Revise, Append to)."""
    page_id = fields["page"]
    old = tip.page(page_id)
    if old is None and "title" not in fields:
        raise BadInput(
            f"{topic}: {where}.title: page {page_id!r} is new on {tip.branch}, so it needs a title"
        )
    for target in [
        *fields.get("follows", []),
        *([fields["alternate_of"]] if fields.get("alternate_of") else []),
    ]:
        if target != page_id and not tip.exists(f"pages/{target}.md"):
            raise BadInput(f"{topic}: {where}: page {target!r} is linked but does not exist on {tip.branch}")
    body = fields["body"]
    if fields.get("version") == VERSION:
        mode = fields.get("mode", "append")
        body = _body(tip, topic, where, fields, old)
    else:  # a payload of the first semantics, kept by a commit made with them
        mode = fields.get("mode", "replace")
        if old is not None and mode == "append":
            body = _appended(old.body, body)
    append = mode == "append"
    try:
        page = Page(
            page_id,
            fields.get("title", old.title if old else ""),
            body,
            tuple(fields["follows"]) if "follows" in fields else (old.follows if old else ()),
            fields.get("alternate_of", old.alternate_of if old else None),
            tuple(fields["tags"]) if "tags" in fields else (old.tags if old else ()),
            old.glyphs if old else (),
            old.extra if old else (),
        )
    except BadInput as exc:
        raise BadInput(f"{topic}: {where}: {exc}") from None
    if page == old:
        raise NothingToCommit(f"{topic}: page {page_id} already reads so on {tip.branch}: nothing to commit")
    verb = "Write" if old is None else ("Append to" if append else "Revise")
    return page, verb


def _appended(text: str, body: str) -> str:
    return "\n\n".join(p for p in (text.strip("\n"), body.strip("\n")) if p)


def _body(tip: Tip, topic: str, where: str, fields: Mapping[str, Any], old: Page | None) -> str:
    """The page's new body under version 2 (see the module's docstring)."""
    mode, body, base = fields.get("mode", "append"), fields["body"], fields.get("base")
    if mode == "append":
        if base is not None or "force" in fields:
            raise BadInput(f"{topic}: {where}: base and force go with mode revise or replace, not append")
        return body if old is None else _appended(old.body, body)
    if "force" in fields and (mode != "replace" or fields["force"] is not True):
        raise BadInput(f"{topic}: {where}.force: only 'force: true' with mode replace")
    if mode == "replace" and fields.get("force") is True:
        return str(body)
    if base is None:
        raise BadInput(
            f"{topic}: {where}.base: mode {mode} needs base, the commit (or page version) the text was "
            "written against" + (" (or force: true)" if mode == "replace" else "")
        )
    ours = old.body if old is not None else ""
    theirs_base = _base_text(tip, topic, where, fields["page"], str(base))
    if mode == "replace":
        if ours != theirs_base:
            raise Conflict(
                f"{topic}: page {fields['page']} changed on {tip.branch} since {str(base)[:10]}: "
                "send mode revise to merge, or force: true to replace"
            )
        return str(body)
    from ..merge.text import merge_text

    merged = merge_text(theirs_base, ours, body)
    if not merged.clean:
        first = merged.conflicts[0].ours.strip().splitlines()
        near = f" near {first[0][:60]!r}" if first else ""
        raise Conflict(
            f"{topic}: page {fields['page']} changed on {tip.branch} since {str(base)[:10]} where this "
            f"revision changes it too ({len(merged.conflicts)} conflicting region(s){near})"
        )
    return merged.text


def _base_text(tip: Tip, topic: str, where: str, page_id: str, base: str) -> str:
    """The page's body in ``base``: a commit (the page as it was there; empty if it was not there) or
    the page's own blob."""
    from ..types import ObjectId

    repo = tip.repo
    oid = ObjectId(base)
    if not repo.objects.has(oid):
        raise BadInput(f"{topic}: {where}.base: {base} is not a commit or page version of this story")
    kind, _data = repo.objects.get(oid)
    if kind == "commit":
        tree = repo.commits.get(oid).tree
        blob = repo.snapshots.blob_id(tree, f"pages/{page_id}.md")
        return "" if blob is None else repo.page_record(page_id, blob).body
    if kind == "blob":
        try:
            return repo.page_record(page_id, oid).body
        except GvcsError:
            pass
    raise BadInput(f"{topic}: {where}.base: {base} is neither a commit nor a version of page {page_id}")
