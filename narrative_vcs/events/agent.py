"""``agent.emit.v1``: an actor writes a page or revises one.

Any actor of the story may emit (agents are who it is for; a person's emit is accepted too). The page's
glyphs and other front-matter keys are kept; ``follows``, ``alternate_of`` and ``tags`` are replaced only
when the payload gives them. ``mode: append`` adds the body as new paragraphs after the page's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadInput, NothingToCommit
from ..objects import Page
from .model import Event
from .state import Plan, Tip

__all__ = ["TOPIC", "page_change", "plan"]

TOPIC = "agent.emit.v1"


def plan(tip: Tip, event: Event) -> Plan:
    from ..repository import ChangeSet

    page, verb = page_change(tip, TOPIC, event.payload)
    return Plan(ChangeSet().upsert_page(page), event.payload.get("message") or f"{verb} {page.id}")


def page_change(tip: Tip, topic: str, fields: Mapping[str, Any], where: str = "payload") -> tuple[Page, str]:
    """The page as ``fields`` (page, title?, body, follows?, alternate_of?, tags?, mode?) leave it on the
    tip, and a verb for the commit message (Write, Revise, Append to)."""
    page_id = fields["page"]
    old = tip.page(page_id)
    append = fields.get("mode", "replace") == "append"
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
    if old is not None and append:
        body = "\n\n".join(p for p in (old.body.strip("\n"), body.strip("\n")) if p)
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
