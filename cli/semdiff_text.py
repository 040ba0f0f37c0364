"""The semantic diff as text for a terminal: one block per changed file.

::

    modified pages/the-vault-door.md
    title: "The Door" -> "The Vault Door"
    tags: +act-1 -draft
    follows: +prologue
    links: +[[epilogue]]
    ~ ¶2
        - The door was shut.
        + The vault door was shut.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .pager import paint

if TYPE_CHECKING:
    from narrative_vcs.semdiff import FieldChange, LinkChanges, ParagraphChange, SemanticChange

__all__ = ["semantic_lines"]

INDENT = "    "
NONE = "(none)"


def semantic_lines(changes: Iterable[SemanticChange], *, word_diff: bool = False) -> Iterator[str]:
    """Text lines for the semantic changes, a blank line between files."""
    first = True
    for change in changes:
        if not first:
            yield ""
        first = False
        yield from _file_lines(change, word_diff)


def _file_lines(change: SemanticChange, word_diff: bool) -> Iterator[str]:
    from narrative_vcs.semdiff import FileDiff, PageDiff

    yield paint("bold", f"{change.status} {change.path}")
    if isinstance(change, FileDiff) and change.problem:
        yield f"(not compared: {change.problem})"
    if isinstance(change, PageDiff) and change.title is not None:
        old, new = change.title
        yield f"title: {_value(new)}" if old is None else f"title: {_value(old)} -> {_value(new)}"
    for field in change.fields:
        yield _field_line(field)
    if isinstance(change, PageDiff):
        yield from _link_lines(change.links)
        for paragraph in change.paragraphs:
            yield from _paragraph_lines(paragraph, word_diff)


def _value(value: Any) -> str:
    return NONE if value is None else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _item(value: Any) -> str:
    # List items read best bare ("+act-1"), structured ones as compact JSON.
    return value if isinstance(value, str) else _value(value)


def _field_line(field: FieldChange) -> str:
    if field.is_list:
        marks = [f"+{_item(v)}" for v in field.added] + [f"-{_item(v)}" for v in field.removed]
        if marks:
            return f"{field.key}: {' '.join(marks)}"
    return f"{field.key}: {_value(field.old)} -> {_value(field.new)}"


def _link_lines(links: LinkChanges) -> Iterator[str]:
    follows = [f"+{p}" for p in links.follows_added] + [f"-{p}" for p in links.follows_removed]
    if follows:
        yield "follows: " + " ".join(follows)
    if links.alternate_of is not None:
        old, new = links.alternate_of
        yield f"alternate_of: {old or NONE} -> {new or NONE}"
    refs = [f"+[[{p}]]" for p in links.references_added] + [f"-[[{p}]]" for p in links.references_removed]
    if refs:
        yield "links: " + " ".join(refs)


def _paragraph_lines(change: ParagraphChange, word_diff: bool) -> Iterator[str]:
    if change.op == "inserted":
        yield paint("green", f"+ ¶{change.new_index}")
        yield from _indented(change.new or "", colour="green")
    elif change.op == "deleted":
        yield paint("red", f"- ¶{change.old_index}")
        yield from _indented(change.old or "", colour="red")
    else:
        moved = f" (was ¶{change.old_index})" if change.old_index != change.new_index else ""
        yield paint("cyan", f"~ ¶{change.new_index}{moved}")
        if word_diff:
            yield from _indented(change.word_markup())
        else:
            yield from _indented(change.old or "", "- ", colour="red")
            yield from _indented(change.new or "", "+ ", colour="green")


def _indented(text: str, mark: str = "", *, colour: str | None = None) -> Iterator[str]:
    for line in text.split("\n"):
        plain = f"{INDENT}{mark}{line}".rstrip()
        yield paint(colour, plain) if colour else plain
