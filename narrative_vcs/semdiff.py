"""The semantic diff: what changed in a story, in the story's own terms.

A line diff of a page says "line 7 changed". This module says which front-matter fields changed,
which reading-order (``follows``), alternate-take (``alternate_of``) and ``[[reference]]`` links were
added or removed, and which paragraphs were inserted, deleted or rewritten (with a word diff of a
rewritten paragraph on demand). Files that are not pages are reported as file changes, with per-key
changes for actor files and ``story.yaml``.

Everything here is pure: values in, values out. The caller reads the blobs (from the store or the
work tree) and hands over their bytes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidFile
from .merge.text import split_paragraphs
from .objects import Page, Story, load_yaml
from .records import record

__all__ = [
    "FieldChange",
    "FileDiff",
    "LinkChanges",
    "PageDiff",
    "ParagraphChange",
    "SemanticChange",
    "WordSegment",
    "diff_file",
    "diff_pages",
    "diff_paragraphs",
    "word_diff",
]

# Page keys reported on their own (title) or as links (follows, alternate_of), not as plain fields.
_PAGE_SPECIAL_KEYS = ("title", "follows", "alternate_of")
_TOKEN = re.compile(r"\S+|\s+")


def _status(old: object, new: object) -> str:
    return "added" if old is None else "removed" if new is None else "modified"


def _blank(value: Any) -> bool:
    # An absent key and an empty one mean the same to a reader: no change to report.
    return value is None or value == [] or value == {} or value == ""


# --- values ------------------------------------------------------------------------------------------


@record
class FieldChange:
    """One front-matter (or YAML) key whose value changed; None on a side where it is absent."""

    key: str
    old: Any
    new: Any

    @property
    def added(self) -> list[Any]:
        """For list values: the items only the new side has."""
        old, new = _as_list(self.old), _as_list(self.new)
        return [v for v in new if v not in old]

    @property
    def removed(self) -> list[Any]:
        """For list values: the items only the old side has."""
        old, new = _as_list(self.old), _as_list(self.new)
        return [v for v in old if v not in new]

    @property
    def is_list(self) -> bool:
        """Both sides are lists (or absent), so the change reads as items added and removed."""
        return all(v is None or isinstance(v, list) for v in (self.old, self.new))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@record
class LinkChanges:
    """Story-graph links a page gained or lost."""

    follows_added: tuple[str, ...] = ()
    follows_removed: tuple[str, ...] = ()
    #: ``(old, new)`` when ``alternate_of`` changed, else None.
    alternate_of: tuple[str | None, str | None] | None = None
    references_added: tuple[str, ...] = ()
    references_removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.follows_added
            or self.follows_removed
            or self.alternate_of
            or self.references_added
            or self.references_removed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "follows": {"added": list(self.follows_added), "removed": list(self.follows_removed)},
            "alternate_of": (
                None
                if self.alternate_of is None
                else {"old": self.alternate_of[0], "new": self.alternate_of[1]}
            ),
            "references": {"added": list(self.references_added), "removed": list(self.references_removed)},
        }


@record
class WordSegment:
    """A run of a word diff: ``equal``, ``deleted`` or ``inserted`` text (whitespace included)."""

    op: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}


@record
class ParagraphChange:
    """A paragraph ``inserted``, ``deleted`` or ``changed``; indexes count from 1, None if absent."""

    op: str
    old_index: int | None
    new_index: int | None
    old: str | None
    new: str | None

    def words(self) -> tuple[WordSegment, ...]:
        """The word diff of a changed paragraph (an inserted/deleted one is a single segment)."""
        return word_diff(self.old or "", self.new or "")

    def word_markup(self) -> str:
        """The word diff written like ``git diff --word-diff``: ``[-old-]{+new+}``."""
        marks = {"equal": "{}", "deleted": "[-{}-]", "inserted": "{{+{}+}}"}
        return "".join(marks[s.op].format(s.text) for s in self.words())

    def to_json(self) -> dict[str, Any]:
        words = [s.to_json() for s in self.words()] if self.op == "changed" else None
        return {
            "op": self.op,
            "old_index": self.old_index,
            "new_index": self.new_index,
            "old": self.old,
            "new": self.new,
            "words": words,
        }


@record
class PageDiff:
    """What changed in one page between two versions."""

    path: str
    id: str
    status: str  # added | removed | modified
    old_blob: str | None
    new_blob: str | None
    #: ``(old, new)`` when the title changed (None on the side where the page is absent).
    title: tuple[str | None, str | None] | None
    fields: tuple[FieldChange, ...]
    links: LinkChanges
    paragraphs: tuple[ParagraphChange, ...]

    kind = "page"

    def to_json(self) -> dict[str, Any]:
        return {
            **_common_json(self),
            "title": None if self.title is None else {"old": self.title[0], "new": self.title[1]},
            "fields": [f.to_json() for f in self.fields],
            "links": self.links.to_json(),
            "paragraphs": [p.to_json() for p in self.paragraphs],
            "problem": None,
        }


@record
class FileDiff:
    """A changed file that is not (or does not parse as) a page: an actor, story.yaml, anything else."""

    path: str
    kind: str  # actor | story | file | page (a page that does not parse)
    id: str | None
    status: str
    old_blob: str | None
    new_blob: str | None
    fields: tuple[FieldChange, ...] = ()
    #: Why the file could not be compared semantically (a page or YAML file that does not parse).
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **_common_json(self),
            "title": None,
            "fields": [f.to_json() for f in self.fields],
            "links": None,
            "paragraphs": [],
            "problem": self.problem,
        }


SemanticChange = PageDiff | FileDiff


def _common_json(change: SemanticChange) -> dict[str, Any]:
    return {
        "path": change.path,
        "kind": change.kind,
        "id": change.id,
        "status": change.status,
        "old": change.old_blob,
        "new": change.new_blob,
    }


# --- computing a diff ---------------------------------------------------------------------------------


def diff_file(
    path: str,
    old: bytes | None,
    new: bytes | None,
    *,
    old_blob: str | None = None,
    new_blob: str | None = None,
) -> SemanticChange:
    """The semantic change of one file from its two contents (None: absent on that side)."""
    kind, item = _path_kind(path)
    if kind == "page" and item is not None:
        try:
            old_page = None if old is None else Page.parse(item, old, path)
            new_page = None if new is None else Page.parse(item, new, path)
        except InvalidFile as exc:
            return FileDiff(path, kind, item, _status(old, new), old_blob, new_blob, problem=str(exc))
        return diff_pages(old_page, new_page, old_blob=old_blob, new_blob=new_blob)
    fields: tuple[FieldChange, ...] = ()
    problem = None
    if kind in ("actor", "story"):
        try:
            fields = diff_fields(_yaml_mapping(old, path), _yaml_mapping(new, path))
        except InvalidFile as exc:
            problem = str(exc)
    return FileDiff(path, kind, item, _status(old, new), old_blob, new_blob, fields, problem)


def _path_kind(path: str) -> tuple[str, str | None]:
    # The same rule as repository.path_kind, kept here so this module stays below the repository.
    head, _, name = path.partition("/")
    if head == "pages" and name.endswith(".md") and "/" not in name:
        return "page", name[:-3]
    if head == "actors" and name.endswith(".yaml") and "/" not in name:
        return "actor", name[:-5]
    return ("story", None) if path == Story.PATH else ("file", None)


def _yaml_mapping(data: bytes | None, path: str) -> dict[str, Any]:
    if data is None:
        return {}
    loaded = load_yaml(data.decode("utf-8", errors="replace"), path)
    return {str(k): v for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def diff_pages(
    old: Page | None, new: Page | None, *, old_blob: str | None = None, new_blob: str | None = None
) -> PageDiff:
    """The semantic diff of two versions of a page (None: the page is absent on that side)."""
    page = new or old
    if page is None:
        raise ValueError("diff_pages needs at least one page")
    old_meta = {} if old is None else old.front_matter()
    new_meta = {} if new is None else new.front_matter()
    old_title = None if old is None else old.title
    new_title = None if new is None else new.title
    plain = {k: v for k, v in old_meta.items() if k not in _PAGE_SPECIAL_KEYS}
    plain_new = {k: v for k, v in new_meta.items() if k not in _PAGE_SPECIAL_KEYS}
    return PageDiff(
        path=page.path,
        id=page.id,
        status=_status(old, new),
        old_blob=old_blob,
        new_blob=new_blob,
        title=None if old_title == new_title else (old_title, new_title),
        fields=diff_fields(plain, plain_new),
        links=_link_changes(old, new),
        paragraphs=diff_paragraphs(old.body if old else "", new.body if new else ""),
    )


def diff_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Per-key changes between two mappings, in the old side's key order, then new keys."""
    keys = list(old) + [k for k in new if k not in old]
    return tuple(
        FieldChange(k, old.get(k), new.get(k))
        for k in keys
        if old.get(k) != new.get(k) and not (_blank(old.get(k)) and _blank(new.get(k)))
    )


def _link_changes(old: Page | None, new: Page | None) -> LinkChanges:
    old_follows = old.follows if old else ()
    new_follows = new.follows if new else ()
    old_refs = old.links() if old else ()
    new_refs = new.links() if new else ()
    old_alt = old.alternate_of if old else None
    new_alt = new.alternate_of if new else None
    return LinkChanges(
        follows_added=_minus(new_follows, old_follows),
        follows_removed=_minus(old_follows, new_follows),
        alternate_of=None if old_alt == new_alt else (old_alt, new_alt),
        references_added=_minus(new_refs, old_refs),
        references_removed=_minus(old_refs, new_refs),
    )


def _minus(items: Sequence[str], other: Sequence[str]) -> tuple[str, ...]:
    return tuple(i for i in items if i not in other)


def diff_paragraphs(old: str, new: str) -> tuple[ParagraphChange, ...]:
    """Paragraph changes between two bodies, aligned with difflib over their paragraphs."""
    a, b = split_paragraphs(old), split_paragraphs(new)
    changes: list[ParagraphChange] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changes += _pair_run(a, b, range(i1, i2), range(j1, j2))
    return tuple(changes)


#: How alike two paragraphs must be (difflib ratio over characters) to count as one paragraph rewritten.
REWRITE_RATIO = 0.5


def _pair_run(a: list[str], b: list[str], old: range, new: range) -> list[ParagraphChange]:
    """A replaced run: each old paragraph pairs, in order, with the next new one that resembles it.

    Pairing by position alone would call a deleted paragraph "rewritten" as its unrelated neighbour.
    """
    changes: list[ParagraphChange] = []
    j = new.start
    for i in old:
        match = next((k for k in range(j, new.stop) if _similar(a[i], b[k])), None)
        if match is None:
            changes.append(ParagraphChange("deleted", i + 1, None, a[i], None))
            continue
        changes += [ParagraphChange("inserted", None, k + 1, None, b[k]) for k in range(j, match)]
        changes.append(ParagraphChange("changed", i + 1, match + 1, a[i], b[match]))
        j = match + 1
    changes += [ParagraphChange("inserted", None, k + 1, None, b[k]) for k in range(j, new.stop)]
    return changes


def _similar(old: str, new: str) -> bool:
    # Characters, not words: a short paragraph with one word changed is still that paragraph.
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return matcher.real_quick_ratio() >= REWRITE_RATIO and matcher.ratio() >= REWRITE_RATIO


def word_diff(old: str, new: str) -> tuple[WordSegment, ...]:
    """A word-level diff: runs of equal, deleted and inserted text (words and whitespace)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    segments: list[WordSegment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, "equal", "".join(a[i1:i2]))
            continue
        _append(segments, "deleted", "".join(a[i1:i2]))
        _append(segments, "inserted", "".join(b[j1:j2]))
    return tuple(segments)


def _append(segments: list[WordSegment], op: str, text: str) -> None:
    # Merge neighbouring runs of one kind so the markup reads "[-two words-]", not "[-two-][- -]".
    if not text:
        return
    if segments and segments[-1].op == op:
        segments[-1] = WordSegment(op, segments[-1].text + text)
    else:
        segments.append(WordSegment(op, text))
