"""The EPUB book of a reading order, read back with ebooklib (and checked by epubcheck where it is)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ebooklib import ITEM_DOCUMENT, epub

from narrative_vcs.epub import epub_bytes
from narrative_vcs.objects import Page
from narrative_vcs.reading import TitlePage, reading_order

from .services import need

PAGES = {
    "door": Page("door", "The <Iron> Door", "It was *shut*. See [[key]] and [[ghost]]."),
    "key": Page("key", "The Key", "A brass key.", follows=("door",)),
    "lock": Page("lock", "The Lock", "It clicked.", follows=("door",)),
    "key-alt": Page("key-alt", "The Other Key", "An iron key.", follows=("door",), alternate_of="key"),
}
TITLE = TitlePage(
    "Night Shift", "b" * 40, "main", "2026-11-21 09:00 UTC", ("Mara Ink (human)", "Bot (agent)")
)


def epubcheck_command() -> list[str] | None:
    """How to run epubcheck: Debian's jar by java (/usr/bin/epubcheck needs binfmt), else the command."""
    jar = Path("/usr/share/java/epubcheck.jar")
    java = shutil.which("java")
    if jar.is_file() and java:
        return [java, "-jar", str(jar)]
    found = shutil.which("epubcheck")
    return [found] if found else None


def write_book(tmp_path: Path) -> Path:
    path = tmp_path / "story.epub"
    path.write_bytes(epub_bytes(reading_order(PAGES), PAGES, TITLE))
    return path


def test_the_book_reads_back_with_its_metadata_chapters_and_links(tmp_path: Path) -> None:
    book = epub.read_epub(str(write_book(tmp_path)))
    assert book.get_metadata("DC", "title")[0][0] == "Night Shift"
    assert book.get_metadata("DC", "identifier")[0][0] == "urn:gvcs:" + "b" * 40
    assert [c[0] for c in book.get_metadata("DC", "creator")] == ["Mara Ink (human)", "Bot (agent)"]
    docs = {item.get_name(): item.get_content().decode() for item in book.get_items_of_type(ITEM_DOCUMENT)}
    assert {"title.xhtml", "section-0.xhtml", "section-1.xhtml", "nav.xhtml"} <= set(docs)
    assert "4 pages, 15 words" in docs["title.xhtml"]
    main, path = docs["section-0.xhtml"], docs["section-1.xhtml"]
    assert '<a href="section-0.xhtml#key">The Key</a>' in main  # [[key]] points at its anchor
    assert 'id="key-alt"' in main and "The Other Key (alternate take)" in main
    assert "The &lt;Iron&gt; Door" in main and "and ghost." in main
    assert "Path B" in path and 'id="lock"' in path
    assert 'The story forks here: <a href="section-1.xhtml">Path B</a> goes another way.' in main
    assert 'Forks after <a href="section-0.xhtml#door">The &lt;Iron&gt; Door</a>.' in path
    assert "The Lock" in docs["nav.xhtml"]


def test_epubcheck_finds_nothing_wrong(tmp_path: Path) -> None:
    command = epubcheck_command()
    need("epubcheck (scripts/system-packages installs it)", None if command else "no epubcheck")
    assert command is not None
    proc = subprocess.run([*command, str(write_book(tmp_path))], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No errors or warnings detected" in proc.stdout + proc.stderr
