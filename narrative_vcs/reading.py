"""Reading a story as one text: its pages laid out in reading order, and that layout as text, markdown or
HTML. Pure functions of a snapshot's pages; no I/O.

The layout (:func:`reading_order`) follows FOLLOWS. The **main line** is the longest reading path from a
start page (a page that follows no page). Where a page is followed by several pages the story forks: the
main line goes on along the longest way, and each other way is a **path** of its own (Path B, Path C, ...),
laid out the same way after the line it forks from, with the page it forks after and the page where it
comes back to what was read before (if it does). An alternate take (ALTERNATE_OF) comes right after the
page it is an alternate of, marked as such, and a page that follows an alternate follows its original.
Pages that no start page reaches (with ``start``: that page does not reach) end the text in **Other
pages**, in reading order where there is one, else by id. Ties are broken by page id, so the layout is
the same on every run.

Words are counted as ``gvcs graph`` counts them: the body's whitespace-separated words.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from .errors import NotFound
from .objects import Page
from .records import field, record

__all__ = [
    "Entry",
    "ReadingOrder",
    "Section",
    "TitlePage",
    "forks_html",
    "section_note_html",
    "render",
    "render_html",
    "render_markdown",
    "render_text",
    "page_html",
    "reading_order",
    "title_lines",
    "word_count",
]

FORMATS = ("text", "markdown", "html")
#: A link in a page's text: ``[[id]]``, or ``[label][[id]]`` (a label kept by ``gvcs import``), shown as
#: the label when there is one, else as the page's title. Groups: the label (or None), the id.
LINK = re.compile(r"(?:\[([^\[\]\n]{1,200})\])?\[\[([a-z0-9][a-z0-9._-]{0,99})\]\]")


def word_count(page: Page) -> int:
    """The words of a page's body (whitespace-separated, as ``gvcs graph`` counts them)."""
    return len(page.body.split())


@record
class Entry:
    """One page in the reading order."""

    page: str
    position: int  # 1-based, over the whole text
    section: str  # the label of its section
    depth: int  # how many forks deep its section is (0: the main line, other openings, other pages)
    alternate_of: str | None = None  # set for an alternate take, printed after its original
    forks_to: tuple[str, ...] = ()  # labels of the paths that fork after this page


@record(frozen=False)
class Section:
    """A run of pages read one after the other: the main line, a path, or the other pages."""

    label: str  # "Main line", "Path B", ..., "Other pages"
    kind: str  # "main", "path" or "other"
    depth: int
    forks_from: str | None = None  # the page this path forks after (None: an opening of its own)
    rejoins: str | None = None  # the page already read that this path leads to, if any
    entries: list[Entry] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "section-" + self.label.lower().replace(" ", "-")


@record(frozen=False)
class ReadingOrder:
    """The layout of a story: its sections in the order they are read."""

    sections: list[Section]

    def entries(self) -> list[Entry]:
        return [e for s in self.sections for e in s.entries]

    def section_of(self, label: str) -> Section:
        return next(s for s in self.sections if s.label == label)


@record
class TitlePage:
    """What the title page shows."""

    title: str
    revision: str  # the commit id
    branch: str | None  # the branch read, if the revision is one
    date: str  # the commit's date, as the caller formats it
    authors: tuple[str, ...] = ()  # "Name (kind)" per actor
    start: str | None = None  # the --from page


# --- the layout -------------------------------------------------------------------------------------


class _Graph:
    """The reading graph: pages that are not alternates, FOLLOWS edges among them (an edge from an
    alternate counts from its original), and each page's alternates."""

    def __init__(self, pages: Mapping[str, Page]) -> None:
        self.pages = pages
        self.original = {pid: self._root(pid) for pid in pages}
        self.nodes = sorted(pid for pid in pages if self.original[pid] == pid)
        self.succ: dict[str, list[str]] = {pid: [] for pid in self.nodes}
        self.preds: dict[str, set[str]] = {pid: set() for pid in self.nodes}
        self.alternates: dict[str, list[str]] = {}
        for pid in sorted(pages):
            if self.original[pid] != pid:
                self.alternates.setdefault(self.original[pid], []).append(pid)
                continue
            for before in pages[pid].follows:
                if before in pages and self.original[before] != pid:
                    self.preds[pid].add(self.original[before])
        for pid in self.nodes:
            for before in sorted(self.preds[pid]):
                self.succ[before].append(pid)
        self.topo = self._topological()
        self.longest = self._longest()

    def _root(self, pid: str) -> str:
        """The page ``pid`` is (through alternates of alternates) an alternate take of; a page in a loop
        of alternates is its own."""
        seen = [pid]
        page = self.pages[pid]
        while page.alternate_of is not None and page.alternate_of in self.pages:
            if page.alternate_of in seen:
                return pid
            seen.append(page.alternate_of)
            page = self.pages[page.alternate_of]
        return seen[-1]

    def _topological(self) -> list[str]:
        """Kahn's order, smallest id first; pages on a loop of FOLLOWS (refused by the rules) are left out."""
        import heapq

        waiting = {pid: len(self.preds[pid]) for pid in self.nodes}
        ready = [pid for pid, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            pid = heapq.heappop(ready)
            order.append(pid)
            for after in self.succ[pid]:
                waiting[after] -= 1
                if waiting[after] == 0:
                    heapq.heappush(ready, after)
        return order

    def _longest(self) -> dict[str, int]:
        """For each page, the number of pages on the longest path that starts there."""
        longest = {pid: 1 for pid in self.nodes}
        for pid in reversed(self.topo):
            for after in self.succ[pid]:
                longest[pid] = max(longest[pid], longest[after] + 1)
        return longest

    def by_length(self, pids: Iterable[str]) -> list[str]:
        return sorted(pids, key=lambda p: (-self.longest[p], p))


class _Layout:
    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.placed: set[str] = set()
        self.sections: list[Section] = []
        self.paths = 0

    def line(self, start: str, depth: int, forks_from: str | None, label: str) -> list[tuple[str, str]]:
        """Lay out a line from ``start`` as a section; the (fork page, first page) of its side paths."""
        kind = "main" if label == "Main line" else "path"
        section = Section(label, kind, depth, forks_from)
        self.sections.append(section)
        forks: list[tuple[str, str]] = []
        page: str | None = start
        while page is not None:
            self.place(section, page)
            ahead = self.graph.by_length(p for p in self.graph.succ[page] if p not in self.placed)
            forks += [(page, other) for other in ahead[1:]]
            if kind == "path" and section.rejoins is None:
                section.rejoins = next((p for p in self.graph.succ[page] if p in self.placed), None)
            page = ahead[0] if ahead else None
        return forks

    def place(self, section: Section, pid: str) -> None:
        self.placed.add(pid)
        section.entries.append(Entry(pid, 0, section.label, section.depth))
        for alternate in self.graph.alternates.get(pid, ()):
            direct = self.graph.pages[alternate].alternate_of
            section.entries.append(Entry(alternate, 0, section.label, section.depth, direct))

    def next_label(self) -> str:
        self.paths += 1
        return f"Path {_letters(self.paths)}"

    def tree(self, start: str, label: str | None, depth: int, forks_from: str | None) -> None:
        """The line from ``start`` and, depth first, every path that forks from it (a path whose first
        page an earlier path took is no path; labels are given in reading order)."""
        stack: list[tuple[str, str | None, int, str | None]] = [(start, label, depth, forks_from)]
        while stack:
            first, name, level, origin = stack.pop()
            if first in self.placed:
                continue
            forks = self.line(first, level, origin, name or self.next_label())
            stack.extend(reversed([(other, None, level + 1, page) for page, other in forks]))


def _letters(n: int) -> str:
    """1 -> A ... 26 -> Z, 27 -> AA (paths start at B: the main line is A)."""
    n += 1
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


def reading_order(pages: Mapping[str, Page], start: str | None = None) -> ReadingOrder:
    """The reading layout of ``pages`` (from ``start``, else from every page that follows no page)."""
    if start is not None and start not in pages:
        raise NotFound(f"page {start!r} not found")
    graph = _Graph(pages)
    layout = _Layout(graph)
    if start is not None:
        starts = [graph.original[start]]
    else:
        starts = graph.by_length(p for p in graph.nodes if not graph.preds[p])
    for index, first in enumerate(starts):
        if first not in layout.placed:
            layout.tree(first, "Main line" if index == 0 else None, 0, None)
    rank = {pid: i for i, pid in enumerate(graph.topo)}
    rest = sorted(
        (p for p in graph.nodes if p not in layout.placed), key=lambda p: (rank.get(p, len(rank)), p)
    )
    if rest:
        other = Section("Other pages", "other", 0)
        layout.sections.append(other)
        for pid in rest:
            layout.place(other, pid)
    return _numbered(layout.sections)


def _numbered(sections: list[Section]) -> ReadingOrder:
    """Positions, and on each fork page the labels of the paths that fork after it."""
    forks: dict[str, list[str]] = {}
    for section in sections:
        if section.forks_from is not None:
            forks.setdefault(section.forks_from, []).append(section.label)
    position = 0
    for section in sections:
        numbered = []
        for e in section.entries:
            position += 1
            paths = tuple(forks.get(e.page, ())) if e.alternate_of is None else ()
            numbered.append(Entry(e.page, position, e.section, e.depth, e.alternate_of, paths))
        section.entries = numbered
    return ReadingOrder(sections)


# --- rendering ----------------------------------------------------------------------------------------


def _title(pages: Mapping[str, Page], pid: str | None) -> str:
    return "" if pid is None else pages[pid].title if pid in pages else pid


def _total(order: ReadingOrder, pages: Mapping[str, Page]) -> int:
    return sum(word_count(pages[e.page]) for e in order.entries())


def _section_note(section: Section, pages: Mapping[str, Page]) -> str:
    if section.kind == "other":
        return "Pages the reading order does not reach from the start."
    if section.forks_from is None:
        return "" if section.kind == "main" else "Another opening of the story."
    note = f"Forks after “{_title(pages, section.forks_from)}”."
    if section.rejoins is not None:
        note += f" Leads on to “{_title(pages, section.rejoins)}”."
    return note


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def title_lines(title: TitlePage, order: ReadingOrder, pages: Mapping[str, Page]) -> list[str]:
    """The title page's facts, one per line (the same in every format)."""
    at = title.revision[:10] + (f" ({title.branch})" if title.branch else "")
    lines = [f"Revision: {at}", f"Date: {title.date}"]
    if title.start is not None:
        lines.append(f"From: {_title(pages, title.start)}")
    if title.authors:
        lines.append("Authors: " + ", ".join(title.authors))
    lines.append(f"{_count(len(order.entries()), 'page')}, {_count(_total(order, pages), 'word')}")
    return lines


def render_text(order: ReadingOrder, pages: Mapping[str, Page], title: TitlePage) -> str:
    """Plain text: links as the titles of the pages they name."""

    def body(page: Page) -> str:
        return LINK.sub(lambda m: m.group(1) or _title(pages, m.group(2)), page.body).strip()

    rule = "=" * 72
    out = [title.title, "", *title_lines(title, order, pages), ""]
    for section in order.sections:
        out += [rule, section.label, rule]
        note = _section_note(section, pages)
        out += [note, ""] if note else [""]
        for e in section.entries:
            page = pages[e.page]
            mark = f" (alternate take of “{_title(pages, e.alternate_of)}”)" if e.alternate_of else ""
            heading = f"{e.position}. {page.title}{mark}"
            out += [heading, "-" * len(heading), f"[{_count(word_count(page), 'word')}]", "", body(page), ""]
            if e.forks_to:
                out += [f"(The story forks here: {_forks(e.forks_to)}.)", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_markdown(order: ReadingOrder, pages: Mapping[str, Page], title: TitlePage) -> str:
    """Markdown: each page a heading with an anchor (its id), links as ``[Title](#id)``."""

    def link(pid: str, label: str | None = None) -> str:
        return f"[{label or _title(pages, pid)}](#{pid})" if pid in pages else (label or pid)

    def body(page: Page) -> str:
        return LINK.sub(lambda m: link(m.group(2), m.group(1)), page.body).strip()

    out = [f"# {title.title}", "", *(f"{line}  " for line in title_lines(title, order, pages)), ""]
    for section in order.sections:
        out += [f'<a id="{section.anchor}"></a>', "", f"## {section.label}", ""]
        note = _section_note(section, pages)
        if section.forks_from is not None:
            note = note.replace(f"“{_title(pages, section.forks_from)}”", link(section.forks_from))
        if section.rejoins is not None:
            note = note.replace(f"“{_title(pages, section.rejoins)}”", link(section.rejoins))
        out += [note, ""] if note else []
        for e in section.entries:
            page = pages[e.page]
            mark = f" *(alternate take of {link(e.alternate_of)})*" if e.alternate_of else ""
            out += [f'<a id="{e.page}"></a>', "", f"### {e.position}. {page.title}{mark}", ""]
            out += [f"*{_count(word_count(page), 'word')}*", "", body(page), ""]
            if e.forks_to:
                paths = _forks([f"[{label}](#{_anchor(label)})" for label in e.forks_to])
                out += [f"*The story forks here: {paths}.*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _forks(labels: Sequence[str]) -> str:
    """ "Path B goes another way", "Path B and Path C go other ways"."""
    if len(labels) == 1:
        return f"{labels[0]} goes another way"
    return f"{', '.join(labels[:-1])} and {labels[-1]} go other ways"


def _anchor(label: str) -> str:
    return "section-" + label.lower().replace(" ", "-")


_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM = re.compile(r"(?<![*\w])\*(?=\S)(.+?)(?<=\S)\*(?![*\w])")
_HEADING = re.compile(r"(#{1,6})\s+(.*)")


def page_html(page: Page, href: Callable[[str], str | None], titles: Mapping[str, Page]) -> str:
    """A page's body as HTML: paragraphs, ``#`` headings and ``*``/``**`` emphasis of markdown (other
    markdown shows as written), HTML escaped, ``[[id]]`` as a link to ``href(id)`` (None: plain title)."""

    def inline(text: str) -> str:
        text = html.escape(text, quote=False)
        text = _STRONG.sub(r"<strong>\1</strong>", text)
        text = _EM.sub(r"<em>\1</em>", text)

        def link(m: re.Match[str]) -> str:
            # The text is escaped already, the label with it; a title is escaped here.
            name = m.group(1) or html.escape(_title(titles, m.group(2)), quote=False)
            target = href(m.group(2))
            return name if target is None else f'<a href="{html.escape(target)}">{name}</a>'

        return LINK.sub(link, text)

    blocks = []
    for block in re.split(r"\n\s*\n", page.body.strip()):
        if not block.strip():
            continue
        heading = _HEADING.fullmatch(block.strip())
        if heading:
            level = min(6, len(heading.group(1)) + 3)  # below the page's own heading
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        else:
            blocks.append(f"<p>{inline(' '.join(block.split()))}</p>")
    return "\n".join(blocks)


def render_html(order: ReadingOrder, pages: Mapping[str, Page], title: TitlePage) -> str:
    """One HTML5 document: a title page, then each section and page with anchors (``id`` = page id)."""

    def href(pid: str) -> str | None:
        return f"#{pid}" if pid in pages else None

    def link(pid: str) -> str:
        return f'<a href="#{html.escape(pid)}">{html.escape(_title(pages, pid))}</a>'

    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{esc(title.title)}</title></head>',
        "<body>",
        f'<header class="title-page"><h1>{esc(title.title)}</h1>',
        *(f"<p>{esc(line)}</p>" for line in title_lines(title, order, pages)),
        "</header>",
    ]
    for section in order.sections:
        out.append(f'<section id="{section.anchor}" class="{section.kind}"><h2>{esc(section.label)}</h2>')
        out.append(section_note_html(section, pages, link))
        for e in section.entries:
            out.append(_html_entry(e, pages, href, link))
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def section_note_html(section: Section, pages: Mapping[str, Page], link: Callable[[str], str]) -> str:
    """``<p class="note">`` saying where a path forks and where it leads, pages as ``link(id)``; or ""."""
    note = html.escape(_section_note(section, pages), quote=False)
    if not note:
        return ""
    for pid in (section.forks_from, section.rejoins):
        if pid is not None:
            note = note.replace(f"“{html.escape(_title(pages, pid), quote=False)}”", link(pid))
    return f'<p class="note">{note}</p>'


def forks_html(labels: Sequence[str], href: Callable[[str], str]) -> str:
    """``<p class="fork">`` naming the paths that fork after a page, each a link to ``href(label)``."""
    paths = _forks([f'<a href="{html.escape(href(label))}">{html.escape(label)}</a>' for label in labels])
    return f'<p class="fork">The story forks here: {paths}.</p>'


def _html_entry(
    e: Entry, pages: Mapping[str, Page], href: Callable[[str], str | None], link: Callable[[str], str]
) -> str:
    page = pages[e.page]
    mark = (
        f' <span class="alternate">(alternate take of {link(e.alternate_of)})</span>'
        if e.alternate_of
        else ""
    )
    parts = [
        f'<article id="{html.escape(e.page)}" class="page">',
        f"<h3>{e.position}. {html.escape(page.title)}{mark}</h3>",
        f'<p class="words">{_count(word_count(page), "word")}</p>',
        page_html(page, href, pages),
    ]
    if e.forks_to:
        parts.append(forks_html(e.forks_to, lambda label: "#" + _anchor(label)))
    parts.append("</article>")
    return "\n".join(parts)


def render(fmt: str, order: ReadingOrder, pages: Mapping[str, Page], title: TitlePage) -> str:
    """``text``, ``markdown`` or ``html``."""
    renderers = {"text": render_text, "markdown": render_markdown, "html": render_html}
    return renderers[fmt](order, pages, title)
