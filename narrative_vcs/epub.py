"""A story's reading order as an EPUB 3 book, written by ebooklib (imported only here, when asked for).

One chapter (XHTML document) per section of :func:`narrative_vcs.reading.reading_order`, after a title
page; ``[[links]]`` point at the page's anchor in its chapter, and the table of contents lists every
section and page. The book is built in memory and returned as bytes.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping

from .objects import Page
from .reading import (
    ReadingOrder,
    TitlePage,
    forks_html,
    page_html,
    section_note_html,
    title_lines,
    word_count,
)

__all__ = ["epub_bytes"]


def epub_bytes(order: ReadingOrder, pages: Mapping[str, Page], title: TitlePage) -> bytes:
    """The EPUB file of ``order``: identifier ``urn:gvcs:<commit>``, the authors as creators."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(f"urn:gvcs:{title.revision}")
    book.set_title(title.title)
    book.set_language("en")
    for i, author in enumerate(title.authors):
        book.add_author(author, uid=f"creator-{i}")
    where = {e.page: f"section-{i}.xhtml" for i, s in enumerate(order.sections) for e in s.entries}
    chapter_of = {s.label: f"section-{i}.xhtml" for i, s in enumerate(order.sections)}

    def href(pid: str) -> str | None:
        return f"{where[pid]}#{pid}" if pid in where else None

    def link(pid: str) -> str:
        return f'<a href="{href(pid)}">{html.escape(pages[pid].title)}</a>' if pid in where else pid

    cover = epub.EpubHtml(title=title.title, file_name="title.xhtml", lang="en")
    lines = "".join(f"<p>{html.escape(line)}</p>" for line in title_lines(title, order, pages))
    cover.content = f"<h1>{html.escape(title.title)}</h1>{lines}"
    book.add_item(cover)
    chapters = [cover]
    toc: list[object] = [epub.Link("title.xhtml", "Title page", "title")]
    for i, section in enumerate(order.sections):
        chapter = epub.EpubHtml(title=section.label, file_name=f"section-{i}.xhtml", lang="en")
        parts = [f"<h2>{html.escape(section.label)}</h2>", section_note_html(section, pages, link)]
        links = []
        for e in section.entries:
            page, words = pages[e.page], word_count(pages[e.page])
            mark = " (alternate take)" if e.alternate_of else ""
            parts.append(
                f'<section id="{e.page}"><h3>{e.position}. {html.escape(page.title)}{mark}</h3>'
                f"<p><em>{words:,} word{'' if words == 1 else 's'}</em></p>{page_html(page, href, pages)}"
                + (forks_html(e.forks_to, chapter_of.__getitem__) if e.forks_to else "")
                + "</section>"
            )
            links.append(epub.Link(f"section-{i}.xhtml#{e.page}", page.title, f"s{i}-{e.page}"))
        chapter.content = "".join(parts)
        book.add_item(chapter)
        chapters.append(chapter)
        toc.append((epub.Section(section.label, f"section-{i}.xhtml"), links))
    book.toc = toc
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()
