"""Three-way merge of prose: diff3 regions over paragraphs, refined to sentences inside a paragraph.

::

            base
           /    \\
        ours    theirs      ->   merged text, or the regions both sides changed differently

A line merge of prose conflicts whenever both sides touch neighbouring lines. Here the sequence is a
story's paragraphs: changes to different paragraphs never conflict, even next to each other, and two
changes to one paragraph are merged sentence by sentence before a conflict is declared. Conflicts are
values (:class:`TextConflict`), never exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..records import record

__all__ = ["STRATEGIES", "TextConflict", "TextMerge", "merge_text", "split_paragraphs", "split_sentences"]

#: How conflicts can be settled automatically (``gvcs merge --strategy``).
STRATEGIES = ("ours", "theirs", "union")

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A sentence ends at . ! ? or … , possibly followed by a closing quote or bracket, then whitespace.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"'\u201d\u2019)\]]))\s+")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs (separated by blank lines), each without surrounding blank lines."""
    return [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def split_sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences, each with its inner whitespace collapsed to single spaces, so that a
    reflowed paragraph (line breaks moved) has the same sentences as before."""
    return [" ".join(s.split()) for s in _SENTENCE_END.split(paragraph) if s.strip()]


@record
class TextConflict:
    """Paragraphs that both sides changed, differently: the three versions of the region."""

    base: str
    ours: str
    theirs: str


@record
class TextMerge:
    """The merged paragraphs, with a :class:`TextConflict` where the sides disagree."""

    parts: tuple[str | TextConflict, ...]
    #: The exact text when one side's text is the result as it stands (no paragraph re-joining).
    whole: str | None = None

    @property
    def conflicts(self) -> list[TextConflict]:
        return [p for p in self.parts if isinstance(p, TextConflict)]

    @property
    def clean(self) -> bool:
        return not self.conflicts

    @property
    def text(self) -> str:
        """The merged text; only for a clean merge."""
        if not self.clean:
            raise ValueError("the merge has conflicts")
        if self.whole is not None:
            return self.whole
        return _join([p for p in self.parts if isinstance(p, str)])

    def resolved(self, strategy: str) -> str:
        """The text with every conflict settled by ``strategy``: ours, theirs, or union (both)."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        if self.whole is not None:
            return self.whole
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif strategy == "union":
                out.extend(p for p in (part.ours, part.theirs) if p)
            else:
                out.append(part.ours if strategy == "ours" else part.theirs)
        return _join(out)

    def with_markers(self, ours: str = "ours", theirs: str = "theirs") -> str:
        """The text with git-style conflict markers around each conflict."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                block = [f"<<<<<<< {ours}", part.ours, "||||||| base", part.base, "=======", part.theirs]
                out.append("\n".join(line for line in [*block, f">>>>>>> {theirs}"] if line != ""))
        return _join(out)


def _join(paragraphs: Sequence[str]) -> str:
    body = "\n\n".join(p for p in paragraphs if p)
    return body + "\n" if body else ""


def _merge3(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> Any:
    # Patience diff (Breezy's, with a compiled core) instead of difflib: paragraphs and sentences are
    # nearly all unique, where it is linear-ish; difflib took seconds on a 5,000-paragraph page.
    import merge3
    from patiencediff import PatienceSequenceMatcher

    return merge3.Merge3(base, ours, theirs, sequence_matcher=PatienceSequenceMatcher)  # type: ignore[arg-type]


def merge_text(base: str, ours: str, theirs: str) -> TextMerge:
    """Merge two edits of ``base``. Equal sides, or a side that did not change, give the other as is."""
    if ours == theirs or theirs == base:
        return TextMerge(tuple(split_paragraphs(ours)), whole=ours)
    if ours == base:
        return TextMerge(tuple(split_paragraphs(theirs)), whole=theirs)
    b, o, t = split_paragraphs(base), split_paragraphs(ours), split_paragraphs(theirs)
    parts: list[str | TextConflict] = []
    for region in _merge3(b, o, t).merge_regions():
        kind = region[0]
        if kind in ("unchanged", "same", "a"):
            source = b if kind == "unchanged" else o
            parts.extend(source[region[1] : region[2]])
        elif kind == "b":
            parts.extend(t[region[1] : region[2]])
        else:
            _, z0, z1, a0, a1, b0, b1 = region  # type: ignore[misc]  # merge3 types regions loosely
            parts.extend(_merge_region(b[z0:z1], o[a0:a1], t[b0:b1]))
    return TextMerge(tuple(parts))


def _merge_region(base: list[str], ours: list[str], theirs: list[str]) -> list[str | TextConflict]:
    """A region both sides changed: paragraph by paragraph when it lines up, else by sentences."""
    if len(base) == len(ours) == len(theirs):
        return [_merge_paragraph(b, o, t) for b, o, t in zip(base, ours, theirs, strict=True)]
    disjoint = _merge_disjoint(base, ours, theirs)
    if disjoint is not None:
        return list[str | TextConflict](disjoint)
    # Sentence by sentence only while both sides still hold text here: a side that deleted the
    # paragraphs the other side edited is a conflict, not a merge of what is left.
    merged = _merge_tokens(_tokens(base), _tokens(ours), _tokens(theirs)) if ours and theirs else None
    if merged is not None:
        return list[str | TextConflict](split_paragraphs(_untokens(merged)))
    return [TextConflict(_join(base).rstrip("\n"), _join(ours).rstrip("\n"), _join(theirs).rstrip("\n"))]


def _merge_paragraph(base: str, ours: str, theirs: str) -> str | TextConflict:
    if ours == theirs or theirs == base:
        return ours
    if ours == base:
        return theirs
    merged = _merge_tokens(split_sentences(base), split_sentences(ours), split_sentences(theirs))
    return " ".join(merged) if merged is not None else TextConflict(base, ours, theirs)


_BREAK = "\n\n"


def _tokens(paragraphs: list[str]) -> list[str]:
    out: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        if i:
            out.append(_BREAK)
        out.extend(split_sentences(paragraph))
    return out


def _untokens(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if token == _BREAK or text.endswith(_BREAK) or not text:
            text += token
        else:
            text += " " + token
    return text


def _merge_tokens(base: list[str], ours: list[str], theirs: list[str]) -> list[str] | None:
    """A sentence-level three-way merge; None if both sides changed the same sentences differently."""
    out: list[str] = []
    for region in _merge3(base, ours, theirs).merge_regions():
        kind = region[0]
        if kind == "unchanged":
            out.extend(base[region[1] : region[2]])
        elif kind in ("same", "a"):
            out.extend(ours[region[1] : region[2]])
        elif kind == "b":
            out.extend(theirs[region[1] : region[2]])
        else:
            _, z0, z1, a0, a1, b0, b1 = region  # type: ignore[misc]
            merged = _merge_disjoint(base[z0:z1], ours[a0:a1], theirs[b0:b1])
            if merged is None:
                return None
            out.extend(merged)
    return out


Hunk = tuple[int, int, tuple[str, ...]]


def _hunks(base: Sequence[str], side: Sequence[str]) -> list[Hunk]:
    """The changes of ``side`` against ``base``: (start, end) in base and the tokens put there."""
    from patiencediff import PatienceSequenceMatcher

    matcher = PatienceSequenceMatcher(None, base, side)
    return [(i1, i2, tuple(side[j1:j2])) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _clash(a: Hunk, b: Hunk) -> bool:
    """Whether two changes touch the same tokens (or insert at the same place) differently."""
    if a == b:
        return False
    (a1, a2, _), (b1, b2, _) = a, b
    if a1 < b2 and b1 < a2:  # their base ranges overlap
        return True
    if a1 == a2 == b1 == b2:  # both insert at one place
        return True
    return (a1 == a2 and b1 < a1 < b2) or (b1 == b2 and a1 < b1 < a2)


def _merge_disjoint(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> list[str] | None:
    """Both sides' changes applied when they touch different tokens, even next to each other (where
    diff3 declares a conflict); None when they clash."""
    mine, other = _hunks(base, ours), _hunks(base, theirs)
    if any(_clash(a, b) for a in mine for b in other):
        return None
    out: list[str] = []
    at = 0
    for start, end, tokens in sorted(set(mine) | set(other)):
        out.extend(base[at:start])
        out.extend(tokens)
        at = max(at, end)
    out.extend(base[at:])
    return out
