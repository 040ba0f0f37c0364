"""Mergeable contents: the three-way merge of each kind of file in a story.

- a page: title and ``alternate_of`` as scalars, ``follows``/``tags``/``glyphs`` as three-way sets, other
  front-matter keys per key, the body with :func:`~narrative_vcs.merge.text.merge_text`;
- an actor record and ``story.yaml``: per key;
- ``ledger.yaml`` (balances) and ``rituals.yaml`` (ritual counts): counters (base + Δours + Δtheirs);
- any other file: whole, as a scalar.

Each returns the merged bytes or a :class:`Conflict` value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BadInput
from ..objects import Actor, Glyph, Page, Story, _yaml_dump, load_yaml
from ..records import field, record
from .text import TextConflict, TextMerge, merge_text
from .values import MISSING, Conflicted, Outcome, counter, mapping, scalar, set3

__all__ = [
    "Conflict",
    "CONFLICT_KINDS",
    "COUNTER_FILES",
    "merge_page",
    "merge_file",
    "LEDGER_PATH",
    "RITUALS_PATH",
    "counters_bytes",
    "counters_in",
    "read_counters",
]

CONFLICT_KINDS = ("content", "modify/delete", "add/add", "field", "structure")
LEDGER_PATH = "ledger.yaml"
RITUALS_PATH = "rituals.yaml"
#: Files of whole-number counters, merged as counters, and the key that holds the counters.
COUNTER_FILES = {LEDGER_PATH: "balances", RITUALS_PATH: "counts"}


@record
class Conflict:
    """Something the two sides changed incompatibly. ``path`` is the logical path of the file."""

    kind: str
    path: str
    message: str
    base: str | None = None
    ours: str | None = None
    theirs: str | None = None
    regions: tuple[TextConflict, ...] = ()
    fields: tuple[str, ...] = field(default=())

    @property
    def page(self) -> str | None:
        if self.path.startswith("pages/") and self.path.endswith(".md"):
            return self.path[6:-3]
        return None

    def swapped(self) -> Conflict:
        """The same conflict seen from the other side (ours and theirs exchanged)."""
        regions = tuple(TextConflict(r.base, r.theirs, r.ours) for r in self.regions)
        return Conflict(
            self.kind, self.path, self.message, self.base, self.theirs, self.ours, regions, self.fields
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "page": self.page,
            "message": self.message,
            "base": self.base,
            "ours": self.ours,
            "theirs": self.theirs,
            "fields": list(self.fields),
            "regions": [{"base": r.base, "ours": r.ours, "theirs": r.theirs} for r in self.regions],
        }


#: A merged file: its new bytes (None: deleted) or a conflict.
FileOutcome = tuple[bytes | None, Conflict | None]


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def merge_file(
    path: str, base: bytes | None, ours: bytes | None, theirs: bytes | None, strategy: str | None = None
) -> FileOutcome:
    """Merge one file changed on both sides. ``strategy`` (ours, theirs, union) settles what would
    conflict, except structure breaks and ledger overdrafts, which no side can settle alone."""
    outcome = _merge_file(path, base, ours, theirs, strategy)
    data, conflict = outcome
    if conflict is None or strategy is None or conflict.kind == "structure" or path in COUNTER_FILES:
        return outcome
    if conflict.kind == "modify/delete":
        if strategy == "union":  # keep the edit rather than the deletion
            return (ours if ours is not None else theirs), None
        return (ours if strategy == "ours" else theirs), None
    if path.startswith("pages/"):
        return data, None  # merge_page settled the conflicting fields and regions by the strategy
    return (theirs if strategy == "theirs" else ours), None


def _merge_file(
    path: str, base: bytes | None, ours: bytes | None, theirs: bytes | None, strategy: str | None
) -> FileOutcome:
    if ours == theirs or theirs == base:
        return ours, None
    if ours == base:
        return theirs, None
    if ours is None or theirs is None:
        if base is None:  # cannot happen: an absent file on both sides is equal
            return ours, None
        side = "ours" if ours is None else "theirs"
        message = f"{path}: deleted on {side}, changed on the other side"
        return ours, Conflict("modify/delete", path, message, _text(base), _text(ours), _text(theirs))
    try:
        return _merge_present(path, base, ours, theirs, strategy)
    except BadInput as exc:  # a side's file does not parse: merge it whole
        message = f"{path}: cannot merge by content ({exc})"
        return ours, Conflict("content", path, message, _text(base), _text(ours), _text(theirs))


def _merge_present(
    path: str, base: bytes | None, ours: bytes, theirs: bytes, strategy: str | None
) -> FileOutcome:
    if path.startswith("pages/") and path.endswith(".md") and path.count("/") == 1:
        base_page, ours_page, theirs_page = Page.parse_versions(path[6:-3], (base, ours, theirs))
        assert ours_page is not None and theirs_page is not None
        return merge_page(path, base_page, ours_page, theirs_page, strategy)
    if path.startswith("actors/") and path.endswith(".yaml") and path.count("/") == 1:
        actor_id = path[7:-5]
        return _merge_records(
            path, base, ours, theirs, lambda d: _actor_fields(actor_id, d), _actor_bytes(actor_id)
        )
    if path == Story.PATH:
        return _merge_records(path, base, ours, theirs, _story_fields, _story_bytes)
    if path in COUNTER_FILES:
        return _merge_counters(path, base, ours, theirs)
    kind = "content" if base is not None else "add/add"
    message = f"{path}: changed differently on both sides"
    return ours, Conflict(kind, path, message, _text(base), _text(ours), _text(theirs))


# --- pages ----------------------------------------------------------------------------------------


def merge_page(
    path: str, base: Page | None, ours: Page, theirs: Page, strategy: str | None = None
) -> FileOutcome:
    """Merge a page field by field; ``base`` None: both sides added it (add/add). With a ``strategy``
    the conflicting fields and regions are settled by it and no conflict is reported."""
    start = base or Page(ours.id, ours.title, "")
    conflicts: list[str] = []

    def pick(name: str, outcome: Outcome[Any]) -> Any:
        if isinstance(outcome, Conflicted):
            conflicts.append(name)
            return outcome.theirs if strategy == "theirs" else outcome.ours
        return outcome.value

    title = pick("title", scalar(start.title, ours.title, theirs.title))
    alternate_of = pick("alternate_of", scalar(start.alternate_of, ours.alternate_of, theirs.alternate_of))
    extra, extra_conflicts = mapping(dict(start.extra), dict(ours.extra), dict(theirs.extra), scalar)
    conflicts.extend(extra_conflicts)
    body = merge_text(start.body, ours.body, theirs.body)
    merged = Page(
        id=ours.id,
        title=title,
        body=body.text if body.clean else _unsettled(body, strategy),
        follows=tuple(set3(start.follows, ours.follows, theirs.follows)),
        alternate_of=alternate_of,
        tags=tuple(set3(start.tags, ours.tags, theirs.tags)),
        glyphs=_merge_glyphs(start.glyphs, ours.glyphs, theirs.glyphs, pick),
        extra=tuple(sorted(extra.items())),
    )
    if (not conflicts and body.clean) or strategy is not None:
        return merged.serialise(), None
    kind = "add/add" if base is None else ("content" if not body.clean else "field")
    what = ", ".join(conflicts + ([] if body.clean else ["body"]))
    message = f"{path}: both sides changed {what} differently"
    return merged.serialise(), Conflict(
        kind,
        path,
        message,
        None if base is None else base.serialise().decode(),
        ours.serialise().decode(),
        theirs.serialise().decode(),
        tuple(body.conflicts),
        tuple(conflicts),
    )


def _merge_glyphs(
    base: tuple[Glyph, ...],
    ours: tuple[Glyph, ...],
    theirs: tuple[Glyph, ...],
    pick: Callable[[str, Outcome[Any]], Any],
) -> tuple[Glyph, ...]:
    """Glyphs keyed by id: placed or removed like a set, each one's rotation a scalar."""
    ids = set3([g.id for g in base], [g.id for g in ours], [g.id for g in theirs])
    rotation = {
        side: {g.id: g.rotation for g in glyphs} for side, glyphs in (("b", base), ("o", ours), ("t", theirs))
    }
    out = []
    for glyph_id in ids:
        b, o, t = (rotation[side].get(glyph_id, MISSING) for side in "bot")
        turned = pick(f"glyphs.{glyph_id}", scalar(b, o, t))
        out.append(Glyph(glyph_id, o if turned is MISSING else (t if turned is MISSING else turned)))
    return tuple(out)


def _unsettled(body: TextMerge, strategy: str | None) -> str:
    return body.with_markers("ours", "theirs") if strategy is None else body.resolved(strategy)


# --- records (actors, story.yaml) and the ledger --------------------------------------------------


def _load(data: bytes, path: str) -> dict[str, Any]:
    try:
        value = load_yaml(data.decode("utf-8"), path)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text ({exc.reason})") from None
    if not isinstance(value, dict):
        raise BadInput(f"{path} is not a mapping")
    return value


def _actor_fields(actor_id: str, data: bytes) -> dict[str, Any]:
    Actor.parse(actor_id, data)  # refuses what is not an actor record
    return _load(data, f"actors/{actor_id}.yaml")


def _actor_bytes(actor_id: str) -> Callable[[dict[str, Any]], bytes]:
    def encode(fields: dict[str, Any]) -> bytes:
        known = {k: fields[k] for k in Actor.KNOWN_KEYS if k in fields}
        extra = tuple(sorted((k, v) for k, v in fields.items() if k not in Actor.KNOWN_KEYS))
        return Actor(actor_id, extra=extra, **known).serialise()

    return encode


def _story_fields(data: bytes) -> dict[str, Any]:
    Story.parse(data)
    return _load(data, Story.PATH)


def _story_bytes(fields: dict[str, Any]) -> bytes:
    return Story(
        fields["title"], tuple(sorted((k, v) for k, v in fields.items() if k != "title"))
    ).serialise()


def _merge_records(
    path: str,
    base: bytes | None,
    ours: bytes,
    theirs: bytes,
    load: Callable[[bytes], dict[str, Any]],
    dump: Callable[[dict[str, Any]], bytes],
) -> FileOutcome:
    b = load(base) if base is not None else {}
    merged, conflicts = mapping(b, load(ours), load(theirs), scalar)
    if not conflicts:
        return dump(merged), None
    kind = "add/add" if base is None else "field"
    keys = tuple(conflicts)
    message = f"{path}: both sides changed {', '.join(keys)} differently"
    for key, c in conflicts.items():
        if c.ours is not MISSING:
            merged[key] = c.ours
    return dump(merged), Conflict(kind, path, message, _text(base), _text(ours), _text(theirs), fields=keys)


def read_counters(path: str, data: bytes | None) -> dict[str, int]:
    """The counters of a counter file (``ledger.yaml``: ``balances``; ``rituals.yaml``: ``counts``)."""
    return {} if data is None else counters_in(path, _load(data, path))


def counters_in(path: str, document: dict[str, Any]) -> dict[str, int]:
    """The counters of a counter file's parsed YAML mapping."""
    key = COUNTER_FILES[path]
    counts = document.get(key, document)
    if not isinstance(counts, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in counts.values()
    ):
        raise BadInput(f"{path}: {key} must map names to whole numbers")
    return {str(k): int(v) for k, v in counts.items()}


def counters_bytes(path: str, counts: dict[str, int]) -> bytes:
    """A counter file in canonical form, names sorted."""
    return _yaml_dump({COUNTER_FILES[path]: dict(sorted(counts.items()))}).encode()


def _balances(data: bytes | None) -> dict[str, int]:
    return read_counters(LEDGER_PATH, data)


def _merge_counters(path: str, base: bytes | None, ours: bytes, theirs: bytes) -> FileOutcome:
    b, o, t = (read_counters(path, side) for side in (base, ours, theirs))
    merged = {k: counter(b.get(k, 0), o.get(k, 0), t.get(k, 0)) for k in dict.fromkeys([*o, *t, *b])}
    negative = sorted(k for k, v in merged.items() if v < 0)
    data = counters_bytes(path, merged)
    if negative:
        message = f"{path}: merged {COUNTER_FILES[path]} would be negative for {', '.join(negative)}"
        return data, Conflict(
            "content", path, message, _text(base), _text(ours), _text(theirs), fields=tuple(negative)
        )
    return data, None
