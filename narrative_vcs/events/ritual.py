"""``ritual.performed.v1``: a glyph turned to a rotation fires the opcode the glyph table gives it.

The glyph table is the ``glyphs`` list of story.yaml (see :mod:`.settings`). Opcodes:

- ``create_branch {name}``: a branch at the ritual's commit;
- ``tag_head {name}``: a tag on the ritual's commit (the branch's new head);
- ``emit {page?, title?, body, mode?, force?}``: a page change inside the ritual's commit itself (a ritual
  of version 2, every new one: mode append by default, replace only with ``force: true``);
- ``open_proposal {source?, into?, message?}``: a governance proposal to merge ``source`` into ``into``
  (default: the ritual's branch), or a hearing on ``into`` without ``source``.

Text arguments may use ``{n}`` (how many times this glyph has been turned to this rotation, this time
included), ``{actor}``, ``{glyph}``, ``{rotation}`` and ``{page}``. Every ritual commit counts itself in
``rituals.yaml`` (``counts: {<glyph>@<rotation>: n}``, merged as counters), so it always changes the tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, NotFound, Refused
from ..merge.contents import COUNTER_FILES, RITUALS_PATH
from ..refs import branch_ref, tag_ref
from .agent import page_change
from .model import Event
from .proposals import governance_available
from .settings import GlyphRule, glyph_table
from .state import FollowUp, Plan, Tip

if TYPE_CHECKING:
    from ..repository import ChangeSet

__all__ = ["OPCODES", "TOPIC", "plan"]

TOPIC = "ritual.performed.v1"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

#: An opcode: (tip, event, its arguments, the ritual's change set to add to) -> (follow-ups, what it did).
Opcode = Callable[[Tip, Event, dict[str, Any], "ChangeSet"], tuple[list[FollowUp], str]]


def plan(tip: Tip, event: Event) -> Plan:
    from ..repository import ChangeSet

    glyph, rotation, page = event.payload["glyph"], event.payload["rotation"], event.payload.get("page")
    rule = _rule(glyph_table(tip), glyph, rotation)
    if page is not None and not tip.exists(f"pages/{page}.md"):
        raise NotFound(f"{TOPIC}: payload.page: page {page!r} does not exist on {tip.branch}")
    counts = tip.counters(RITUALS_PATH)
    key = f"{glyph}@{rotation}"
    counts[key] = counts.get(key, 0) + 1
    values = {"n": str(counts[key]), "actor": event.actor, "glyph": glyph, "rotation": str(rotation)}
    values["page"] = page or ""
    args = {k: _fill(v, values, glyph, k) for k, v in rule.args.items()}
    changes = tip.put_yaml(
        ChangeSet(), RITUALS_PATH, {COUNTER_FILES[RITUALS_PATH]: dict(sorted(counts.items()))}
    )
    follow_ups, done = OPCODES[rule.opcode](tip, event, args, changes)
    return Plan(changes, f"Ritual {glyph} at {rotation}°: {done}", tuple(follow_ups))


def _rule(table: list[GlyphRule], glyph: str, rotation: int) -> GlyphRule:
    entries = [r for r in table if r.id == glyph]
    if not entries:
        known = sorted({r.id for r in table})
        shown = f"known: {', '.join(known[:10])}" if known else "story.yaml has no glyphs"
        raise Refused(f"{TOPIC}: glyph {glyph!r} is not in the glyph table ({shown})")
    for entry in entries:
        if entry.rotation == rotation:
            return entry
    turns = ", ".join(str(r) for r in sorted({e.rotation for e in entries}))
    raise Refused(f"{TOPIC}: glyph {glyph} does nothing at {rotation}°: its known rotations are {turns}")


def _fill(value: Any, values: dict[str, str], glyph: str, key: str) -> Any:
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            names = ", ".join("{" + n + "}" for n in values)
            raise BadInput(
                f"story.yaml: glyphs: {glyph} args.{key}: unknown placeholder {{{name}}} (use {names})"
            )
        return values[name]

    return _PLACEHOLDER.sub(one, value)


def _create_branch(
    tip: Tip, event: Event, args: dict[str, Any], changes: ChangeSet
) -> tuple[list[FollowUp], str]:
    name = args["name"]
    if not tip.verifying and tip.repo.refs.get(branch_ref(name)) is not None:
        raise Refused(f"{TOPIC}: branch {name} already exists: the ritual would create it")
    return [FollowUp("branch", {"name": name})], f"create branch {name}"


def _tag_head(tip: Tip, event: Event, args: dict[str, Any], changes: ChangeSet) -> tuple[list[FollowUp], str]:
    name = args["name"]
    if not tip.verifying and tip.repo.refs.get(tag_ref(name)) is not None:
        raise Refused(f"{TOPIC}: tag {name} already exists: the ritual would create it")
    return [FollowUp("tag", {"name": name})], f"tag {name}"


def _emit(tip: Tip, event: Event, args: dict[str, Any], changes: ChangeSet) -> tuple[list[FollowUp], str]:
    fields = dict(args)
    fields.pop("version", None)
    if event.payload.get("version") == 2:  # a glyph table gives no base: append, or replace with force
        fields["version"] = 2
    fields["page"] = args.get("page") or event.payload.get("page")
    if not fields["page"]:
        raise BadInput(
            f"{TOPIC}: the emit of glyph {event.payload['glyph']} needs a page (args.page or payload.page)"
        )
    page, verb = page_change(tip, TOPIC, fields, "glyph table args")
    changes.upsert_page(page)
    return [], f"{verb.lower()} {page.id}"


def _open_proposal(
    tip: Tip, event: Event, args: dict[str, Any], changes: ChangeSet
) -> tuple[list[FollowUp], str]:
    if not governance_available():
        raise Refused(
            f"{TOPIC}: opcode open_proposal needs governance, which this installation of gvcs lacks"
        )
    source, into = args.get("source"), args.get("into") or tip.branch
    for name in [source, into]:
        if tip.verifying or name is None or name == tip.branch:
            continue
        if tip.repo.refs.get(branch_ref(name)) is None:
            raise NotFound(f"{TOPIC}: open_proposal: branch {name!r} not found")
    glyph, rotation = event.payload["glyph"], event.payload["rotation"]
    message = args.get("message") or f"Ritual {glyph} at {rotation}° by {event.actor}"
    what = f"propose merging {source} into {into}" if source else f"open a hearing on {into}"
    return [FollowUp("propose", {"source": source, "into": into, "message": message})], what


OPCODES: dict[str, Opcode] = {
    "create_branch": _create_branch,
    "tag_head": _tag_head,
    "emit": _emit,
    "open_proposal": _open_proposal,
}
