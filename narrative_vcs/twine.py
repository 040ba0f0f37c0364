"""Twine stories in and out: Twee 3 text and Twine 2 HTML archives read into passages, passages made
pages (and back), a story written out as Twee 3.

No maintained Twee 3 or Twine 2 parser is published on PyPI, so the Twee parser here follows the Twee 3
specification (``:: Name [tags] {metadata}`` headers, ``\\`` escapes in names and tags), and the HTML is
read with the standard library's ``html.parser`` (lxml is not a dependency of gvcs, and an archive is a
flat list of ``<tw-passagedata>`` elements that needs no more).

How a story maps (docs/cli.md, "Importing and exporting"):

- each passage is a page; its name is the page's title and ``twine.name`` in the front matter, with its
  other metadata (``pid``, ``position``, ``size``) beside it, so an export restores them and a second
  import of the same source finds the page again (the map survives clones: it is committed); the
  source's file name is kept too (``twine.source``), so a passage removed from that file since is
  reported (``gone``) and, if asked, its page removed;
- ``StoryTitle`` is story.yaml's ``title``; ``StoryData`` (and an archive's ``<tw-storydata>``) is
  story.yaml's ``twine`` (``ifid``, ``format``, ``format-version``, ``start`` as a passage name, ...);
- every link ``[[B]]``, ``[[label|B]]``, ``[[label->B]]``, ``[[B<-label]]`` to a passage of the story
  becomes ``[[b]]`` (LINKS_TO), with its label kept before it as ``[label][[b]]``; a link to no passage
  is left as written;
- FOLLOWS: passages are put in reading order breadth first from the start passage, following links in
  the order they are written (passages no link reaches come after, in file order); a page follows
  every passage earlier in that order that links to it. Links back to an earlier passage (loops)
  stay LINKS_TO only, so reading order never has a cycle.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import re
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

from .errors import InvalidFile, Refused
from .importing import ImportPlan, assign_ids, gone_pages, kept_names
from .objects import Page, Story
from .records import field, record

__all__ = [
    "Passage",
    "TwineStory",
    "export_twee",
    "parse_html",
    "parse_link",
    "parse_twee",
    "plan_import",
    "write_twee",
]

#: Passages that hold the story's own data, not pages.
SPECIAL = ("StoryTitle", "StoryData")

_LINK = re.compile(r"\[\[([^\]\n]+)\]\]")
_ESCAPED_HEADER = re.compile(r"\\+::")
_PAGE_LINK = re.compile(r"(?:\[([^\[\]\n]+)\])?\[\[([a-z0-9][a-z0-9._-]{0,99})\]\]")


@record
class Passage:
    """One Twine passage: its name, tags, metadata (``position``, ``size``, ``pid``) and text."""

    name: str
    text: str = ""
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def links(self) -> list[tuple[str | None, str]]:
        """``(label, target)`` of every link in the text, in order (label None for ``[[B]]``)."""
        return [parse_link(m.group(1)) for m in _LINK.finditer(self.text)]


@record
class TwineStory:
    """A story as Twine has it: its title, its StoryData, its passages in file order."""

    title: str | None
    data: dict[str, Any]
    passages: tuple[Passage, ...]


def parse_link(inner: str) -> tuple[str | None, str]:
    """The label and target of a link's inside: ``A->B`` (the rightmost arrow), ``B<-A`` (the
    leftmost), ``A|B`` (the rightmost bar), ``B``. The label is None when it is the target."""
    if "->" in inner:
        label, target = inner.rsplit("->", 1)
    elif "<-" in inner:
        target, label = inner.split("<-", 1)
    elif "|" in inner:
        label, target = inner.rsplit("|", 1)
    else:
        return None, inner
    return (None if label == target else label), target


# --- Twee 3 ---------------------------------------------------------------------------------------


def parse_twee(text: str, source: str) -> TwineStory:
    """Parse Twee 3 ``text``; a bad header or duplicate name raises InvalidFile naming ``source``
    and the line."""
    passages: list[Passage] = []
    header: tuple[str, tuple[str, ...], dict[str, Any], int] | None = None
    body: list[str] = []

    def close() -> None:
        if header is not None:
            name, tags, meta, line = header
            passages.append(Passage(name, "\n".join(body).rstrip(), tags, meta, line))

    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if line.startswith("::"):
            close()
            header, body = (*_parse_header(line[2:], source, number), number), []
        elif header is not None:
            # A text line that starts with '::' is written '\::' so it is not a header (and '\::' as
            # '\\::'): one backslash less on the way in, one more on the way out.
            body.append(line[1:] if _ESCAPED_HEADER.match(line) else line)
    close()
    return _story_of(passages, source)


def _parse_header(rest: str, source: str, line: int) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    name, i = _unescape_until(rest, 0, "[{", source, line)
    name = name.strip()
    if not name:
        raise InvalidFile(source, line, "a passage header needs a name (:: Name [tags] {metadata})")
    tags: tuple[str, ...] = ()
    if i < len(rest) and rest[i] == "[":
        inside, i = _unescape_until(rest, i + 1, "]", source, line)
        if i >= len(rest):
            raise InvalidFile(source, line, f"passage {name!r}: its tags' '[' is not closed")
        tags, i = tuple(inside.split()), i + 1
    meta: dict[str, Any] = {}
    tail = rest[i:].strip()
    if tail:
        try:
            value = json.loads(tail)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise InvalidFile(source, line, f"passage {name!r}: its metadata is not a JSON object: {tail}")
        meta = value
    return name, tags, meta


def _unescape_until(text: str, i: int, stops: str, source: str, line: int) -> tuple[str, int]:
    out: list[str] = []
    while i < len(text) and text[i] not in stops:
        if text[i] == "\\":
            if i + 1 >= len(text):
                raise InvalidFile(source, line, "a '\\' ends the header: escape a backslash as '\\\\'")
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i


def _story_of(passages: Iterable[Passage], source: str) -> TwineStory:
    title: str | None = None
    data: dict[str, Any] = {}
    kept: list[Passage] = []
    seen: dict[str, int] = {}
    for passage in passages:
        if passage.name in seen:
            raise InvalidFile(
                source,
                passage.line,
                f"passage {passage.name!r} is already defined at line {seen[passage.name]}",
            )
        seen[passage.name] = passage.line
        if passage.name == "StoryTitle":
            title = passage.text.strip() or None
            if title is not None and "\n" in title:
                raise InvalidFile(source, passage.line, "StoryTitle must be one line")
        elif passage.name == "StoryData":
            try:
                value = json.loads(passage.text or "{}")
            except json.JSONDecodeError as exc:
                raise InvalidFile(
                    source, passage.line + exc.lineno, f"StoryData is not JSON: {exc.msg}"
                ) from None
            if not isinstance(value, dict):
                raise InvalidFile(source, passage.line + 1, "StoryData must be a JSON object")
            data = value
        else:
            kept.append(passage)
    return TwineStory(title, data, tuple(kept))


def write_twee(story: TwineStory) -> str:
    """``story`` as Twee 3 text: StoryTitle, StoryData, then each passage."""
    chunks: list[str] = []
    if story.title:
        chunks.append(f":: StoryTitle\n{story.title}\n")
    if story.data:
        chunks.append(f":: StoryData\n{json.dumps(story.data, indent=2, ensure_ascii=False)}\n")
    for passage in story.passages:
        head = f":: {_escape(passage.name)}"
        if passage.tags:
            head += " [" + " ".join(_escape(t) for t in passage.tags) + "]"
        if passage.metadata:
            head += " " + json.dumps(passage.metadata, ensure_ascii=False, separators=(",", ":"))
        text = re.sub(r"^(\\*::)", r"\\\1", passage.text, flags=re.MULTILINE)
        chunks.append(f"{head}\n{text}\n")
    return "\n".join(chunks)


def _escape(text: str) -> str:
    return re.sub(r"([\\\[\]{}])", r"\\\1", text)


# --- Twine 2 HTML ---------------------------------------------------------------------------------


class _ArchiveReader(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.story: dict[str, str] | None = None
        self.tag_colors: dict[str, str] = {}
        self.passages: list[Passage] = []
        self.current: tuple[dict[str, str], int] | None = None
        self.text: list[str] = []
        self.special: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        line = self.getpos()[0]
        if tag == "tw-storydata" and self.story is None:
            self.story = values
        elif tag == "tw-tag" and self.story is not None and "name" in values:
            self.tag_colors[values["name"]] = values.get("color", "")
        elif tag == "tw-passagedata" and self.story is not None:
            if not values.get("name", "").strip() or "\n" in values["name"]:
                raise InvalidFile(self.source, line, "a <tw-passagedata> needs a name of one line")
            self.current, self.text = (values, line), []
        elif (
            tag in ("style", "script")
            and self.story is not None
            and values.get("role") in ("stylesheet", "script")
        ):
            self.special, self.text = values["role"], []

    def handle_data(self, data: str) -> None:
        if self.current is not None or self.special is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tw-passagedata" and self.current is not None:
            values, line = self.current
            meta = {k: values[k] for k in ("pid", "position", "size") if values.get(k)}
            tags = tuple(values.get("tags", "").split())
            self.passages.append(Passage(values["name"], "".join(self.text).rstrip(), tags, meta, line))
            self.current = None
        elif tag in ("style", "script") and self.special is not None:
            text = "".join(self.text).strip()
            if text:
                name = "Story Stylesheet" if self.special == "stylesheet" else "Story JavaScript"
                self.passages.append(Passage(name, text, (self.special,), {}, self.getpos()[0]))
            self.special = None


def parse_html(text: str, source: str) -> TwineStory:
    """Read a Twine 2 archive or published story (``<tw-storydata>`` and its ``<tw-passagedata>``)."""
    reader = _ArchiveReader(source)
    reader.feed(text)
    reader.close()
    if reader.story is None:
        raise InvalidFile(source, None, "no <tw-storydata> element: not a Twine 2 story or archive")
    attrs = reader.story
    pids = {p.metadata.get("pid"): p.name for p in reader.passages if p.metadata.get("pid")}
    data: dict[str, Any] = {}
    for key in ("ifid", "format", "format-version"):
        if attrs.get(key):
            data[key] = attrs[key]
    start = pids.get(attrs.get("startnode"))
    if start:
        data["start"] = start
    if reader.tag_colors:
        data["tag-colors"] = reader.tag_colors
    if attrs.get("zoom"):
        with contextlib.suppress(ValueError):
            data["zoom"] = float(attrs["zoom"])
    story = _story_of(reader.passages, source)
    return TwineStory(attrs.get("name") or story.title, data or story.data, story.passages)


# --- passages to pages ----------------------------------------------------------------------------


def plan_import(
    story: TwineStory, existing: Mapping[str, Page], record: Story | None, source: str | None = None
) -> ImportPlan:
    """The pages (and story.yaml) that importing ``story`` writes into a work tree holding ``existing``
    pages and ``record``: a passage an earlier import brought (``twine.name``) keeps its page.
    ``source``: the file's name, kept as ``twine.source``; the pages an earlier import of that file
    brought whose passage it no longer has are the plan's ``gone``."""
    kept_ifid = (record.get("twine") or {}).get("ifid") if record else None
    if kept_ifid and story.data.get("ifid") and str(story.data["ifid"]).upper() != str(kept_ifid).upper():
        raise Refused(
            f"this story was imported from the Twine story {kept_ifid}, not {story.data['ifid']} "
            "(its IFID): import another story into a story of its own (gvcs init)"
        )
    names = [p.name for p in story.passages]
    ids = assign_ids(names, kept_names(existing, "twine", "name"), existing)
    follows = _follows(story)
    pages = []
    for passage in story.passages:
        page_id = ids[passage.name]
        old = existing.get(page_id)
        twine = {"name": passage.name} | {k: passage.metadata[k] for k in sorted(passage.metadata)}
        if source is not None:
            twine["source"] = source
        extra = dict(old.extra) if old else {}
        extra["twine"] = twine
        pages.append(
            Page(
                page_id,
                passage.name,
                body=_rewrite_links(passage.text, ids) + "\n" if passage.text else "",
                follows=tuple(ids[n] for n in follows[passage.name]),
                alternate_of=old.alternate_of if old else None,
                tags=passage.tags,
                glyphs=old.glyphs if old else (),
                extra=tuple(extra.items()),
            )
        )
    gone = gone_pages(existing, "twine", "name", source, names) if source is not None else {}
    return ImportPlan.of(ids, pages, existing, _story_record(story, record), gone)


def _follows(story: TwineStory) -> dict[str, list[str]]:
    """Each passage's FOLLOWS: the passages before it in reading order that link to it."""
    known = {p.name: p for p in story.passages}
    start = story.data.get("start")
    roots = ([start] if start in known else []) + list(known)
    order: dict[str, int] = {}
    for root in roots:
        queue = deque([root])
        while queue:
            name = queue.popleft()
            if name in order:
                continue
            order[name] = len(order)
            queue.extend(t for _label, t in known[name].links() if t in known and t not in order)
    follows: dict[str, list[str]] = {name: [] for name in known}
    for name in sorted(known, key=order.__getitem__):
        for _label, target in known[name].links():
            if target in known and order[name] < order[target] and name not in follows[target]:
                follows[target].append(name)
    return follows


def _rewrite_links(text: str, ids: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        label, target = parse_link(match.group(1))
        if target not in ids:
            return match.group(0)
        return f"[[{ids[target]}]]" if label is None else f"[{label}][[{ids[target]}]]"

    return _LINK.sub(one, text)


def _story_record(story: TwineStory, record: Story | None) -> Story | None:
    title = story.title or (record.title if record else None)
    if title is None:
        return None
    settings = dict(record.settings) if record else {}
    if story.data:
        settings["twine"] = dict(story.data)
    new = Story(title, tuple(settings.items()))
    return None if record is not None and new.serialise() == record.serialise() else new


# --- pages to Twee ----------------------------------------------------------------------------------


def export_twee(record: Story | None, pages: Mapping[str, Page]) -> str:
    """The story as Twee 3: a page's passage name is its ``twine.name`` (else its title, else its id
    when two titles clash), its kept metadata restored, ``[[id]]`` links written with names."""
    names = _passage_names(pages)
    kept = dict(record.get("twine") or {}) if record else {}
    title = record.title if record else "Untitled"
    data: dict[str, Any] = {"ifid": kept.get("ifid") or _ifid(title)} | kept
    order = _reading_order(pages)
    start = data.get("start")
    if start not in names.values() and order:
        data["start"] = names[order[0]]
    passages = [
        Passage(
            names[page_id],
            _restore_links(pages[page_id].body.rstrip("\n"), names),
            pages[page_id].tags,
            {k: v for k, v in _twine_of(pages[page_id]).items() if k not in ("name", "pid", "source")},
        )
        for page_id in order
    ]
    return write_twee(TwineStory(title, data, tuple(passages)))


def _twine_of(page: Page) -> dict[str, Any]:
    value = dict(page.extra).get("twine")
    return value if isinstance(value, dict) else {}


def _passage_names(pages: Mapping[str, Page]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for page_id, page in pages.items():
        kept = _twine_of(page).get("name")
        if isinstance(kept, str) and kept and kept not in used:
            names[page_id] = kept
            used.add(kept)
    for page_id, page in pages.items():
        if page_id not in names:
            name = page.title if page.title not in used and page.title not in SPECIAL else page_id
            names[page_id] = name
            used.add(name)
    return names


def _reading_order(pages: Mapping[str, Page]) -> list[str]:
    """Page ids with every page after those it follows; ties by id."""
    waiting = {i: len({f for f in p.follows if f in pages}) for i, p in pages.items()}
    after: dict[str, list[str]] = {}
    for page_id, page in pages.items():
        for before in set(page.follows) & pages.keys():
            after.setdefault(before, []).append(page_id)
    ready = [i for i, n in waiting.items() if not n]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        page_id = heapq.heappop(ready)
        order.append(page_id)
        for other in after.get(page_id, ()):
            waiting[other] -= 1
            if not waiting[other]:
                heapq.heappush(ready, other)
    return order + sorted(set(pages) - set(order))


def _restore_links(body: str, names: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        label, page_id = match.group(1), match.group(2)
        if page_id not in names:
            return match.group(0)
        return f"[[{names[page_id]}]]" if label is None else f"[[{label}->{names[page_id]}]]"

    return _PAGE_LINK.sub(one, body)


def _ifid(title: str) -> str:
    """An IFID for a story that has none yet: a version 4 UUID made from its title, so that exporting
    twice gives the same one."""
    digest = hashlib.sha256(title.encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4)).upper()
