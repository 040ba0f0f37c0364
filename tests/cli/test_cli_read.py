"""``gvcs read`` and ``gvcs stats`` on the demo story, through real ``gvcs`` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ebooklib import ITEM_DOCUMENT, epub

from .conftest import REPO_ROOT, Gvcs, ok, one_line_error, run_gvcs


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo story, built once: main, alt-ending (alternate takes), agent-drafts."""
    root = tmp_path_factory.mktemp("read") / "demo"
    ok(run_gvcs(root.parent, "demo", str(root)))
    return root


def headings(text: str) -> list[str]:
    """The numbered page headings of the text output."""
    return [line for line in text.splitlines() if line[:1].isdigit() and ". " in line]


def test_read_prints_the_main_line_then_the_path_that_forks(demo: Path, gvcs: Gvcs) -> None:
    text = ok(gvcs("read", cwd=demo)).out
    head = text.split("=" * 72)[0]
    assert head.startswith("The Library of Pages\n")
    assert "Revision: 332416f051 (main)" in head and "Date: 2026-11-21 10:38 UTC" in head
    assert "Authors: Cop-E-Right (agent), Imogen Vale (human), London Fox (agent)" in head
    assert "12 pages, 1,013 words" in head
    assert headings(text) == [
        "1. The Library of Pages",
        "2. The Catalogue That Reads Back",
        "3. Cop-E-Right Wakes",
        "4. The Vault Door",
        "5. Ninety Degrees of Meaning",
        "6. The Heist of Chapter Nine",
        "7. The Phoenix Watchdog",
        "8. Ashes and Checksums",
        "9. The Reckoning",
        "10. Epilogue: Shelved",
        "11. The London Fox",
        "12. Interlude in the Stacks",
    ]
    assert "(The story forks here: Path B goes another way.)" in text
    assert "Forks after “The Catalogue That Reads Back”. Leads on to “The Heist of Chapter Nine”." in text
    assert "The story starts in The Catalogue That Reads Back." in text  # [[the-catalogue]]
    assert "[[" not in text


def test_read_a_branch_puts_alternate_takes_after_their_originals(demo: Path, gvcs: Gvcs) -> None:
    text = ok(gvcs("read", "alt-ending", cwd=demo)).out
    assert "Revision: 2ad747bdee (alt-ending)" in text
    assert headings(text)[8:12] == [
        "9. The Reckoning",
        "10. The Reckoning (as the Fox Tells It) (alternate take of “The Reckoning”)",
        "11. Epilogue: Shelved",
        "12. Epilogue: Unshelved (alternate take of “Epilogue: Shelved”)",
    ]


def test_read_from_a_page_then_the_other_pages(demo: Path, gvcs: Gvcs) -> None:
    text = ok(gvcs("read", "--from", "ashes", cwd=demo)).out
    assert "From: Ashes and Checksums" in text
    assert headings(text)[:3] == ["1. Ashes and Checksums", "2. The Reckoning", "3. Epilogue: Shelved"]
    assert "\nOther pages\n" in text and len(headings(text)) == 12


def test_markdown_and_html_link_pages_by_anchor(demo: Path, gvcs: Gvcs) -> None:
    md = ok(gvcs("read", "--format", "markdown", cwd=demo)).out
    assert md.startswith("# The Library of Pages\n")
    assert "The story starts in [The Catalogue That Reads Back](#the-catalogue)." in md
    page = ok(gvcs("read", "--format", "html", cwd=demo)).out
    assert page.startswith("<!DOCTYPE html>")
    assert '<article id="the-catalogue" class="page">' in page
    assert '<a href="#the-catalogue">The Catalogue That Reads Back</a>' in page


def test_read_writes_a_file_and_an_epub(demo: Path, gvcs: Gvcs) -> None:
    ok(gvcs("read", "-o", "story.txt", cwd=demo))
    assert (demo / "story.txt").read_text() == ok(gvcs("read", cwd=demo)).out
    result = ok(gvcs("read", "alt-ending", "--format", "epub", "-o", "story.epub", cwd=demo))
    assert result.out == ""
    book = epub.read_epub(str(demo / "story.epub"))
    assert book.get_metadata("DC", "title")[0][0] == "The Library of Pages"
    text = "".join(i.get_content().decode() for i in book.get_items_of_type(ITEM_DOCUMENT))
    assert "Epilogue: Unshelved (alternate take)" in text
    assert [p.name for p in demo.iterdir() if p.name.startswith(".story")] == []  # no temporary left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("read", "nope", "-o", "story.md"), "unknown revision 'nope'"),
        (("read", "--from", "nowhere"), "page 'nowhere' not found at HEAD"),
        (("read", "--format", "pdf"), "unknown format 'pdf': use one of text, markdown, html, epub"),
        (("read", "--format", "epub"), "--format epub writes a file: give -o FILE"),
        (("read", "-o", "no-such-dir/story.txt"), "cannot write no-such-dir/story.txt"),
        (("read", "-o", "pages"), "cannot write pages: it is a directory"),
        (("stats", "nope"), "unknown revision 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    demo: Path, gvcs: Gvcs, args: tuple[str, ...], message: str
) -> None:
    before = sorted(os.listdir(demo))
    result = gvcs(*args, cwd=demo)
    assert message in one_line_error(result, 2)
    assert result.out == ""
    assert sorted(os.listdir(demo)) == before


def test_an_existing_file_is_kept_when_reading_fails(demo: Path, gvcs: Gvcs) -> None:
    (demo / "kept.txt").write_text("old\n")
    one_line_error(gvcs("read", "nope", "-o", "kept.txt", cwd=demo), 2)
    assert (demo / "kept.txt").read_text() == "old\n"
    (demo / "kept.txt").unlink()


def test_stats_counts_every_branch_or_one_revision(demo: Path, gvcs: Gvcs) -> None:
    text = ok(gvcs("stats", cwd=demo)).out
    assert "main (332416f051): 12 pages, 1,013 words" in text
    assert "alt-ending (2ad747bdee): 14 pages, 1,104 words" in text
    assert "agent-drafts (27275bbc56): 10 pages, 800 words" in text
    data = json.loads(ok(gvcs("stats", "main", "--json", cwd=demo)).out)
    assert [d["rev"] for d in data] == ["main"]
    main = data[0]
    assert (main["commit"][:10], main["pages"], main["words"]) == ("332416f051", 12, 1013)
    assert sum(a["words"] for a in main["actors"].values()) == 1013
    assert sum(a["pages"] for a in main["actors"].values()) == 12
    assert set(main["actors"]) == {"imogen", "cop-e-right", "london-fox"}
    assert main["tags"]["act-1"] == {"pages": 6, "words": 592}


def test_read_json_is_the_layout_with_titles_and_counts(demo: Path, gvcs: Gvcs) -> None:
    data = json.loads(ok(gvcs("read", "alt-ending", "--json", cwd=demo)).out)
    assert (data["rev"], data["commit"][:10]) == ("alt-ending", "2ad747bdee")
    main, path = data["sections"]
    assert (main["label"], main["kind"], main["depth"]) == ("Main line", "main", 0)
    assert [p["page"] for p in main["pages"]][8:10] == ["the-reckoning", "the-reckoning-alt"]
    assert main["pages"][9]["alternate_of"] == "the-reckoning"
    assert main["pages"][1] | {"words": 0} == {
        "page": "the-catalogue",
        "title": "The Catalogue That Reads Back",
        "position": 2,
        "words": 0,
        "alternate_of": None,
        "forks_to": ["Path B"],
    }
    assert (path["label"], path["forks_from"], path["rejoins"]) == ("Path B", "the-catalogue", "the-heist")
    assert sum(p["words"] for s in data["sections"] for p in s["pages"]) == 1104
    message = one_line_error(gvcs("read", "--json", "--format", "html", cwd=demo), 2)
    assert "--json cannot be combined with --format or -o" in message


def test_a_file_read_over_keeps_its_mode(demo: Path, gvcs: Gvcs) -> None:
    target = demo / "shared.html"
    target.write_text("old\n")
    target.chmod(0o640)
    ok(gvcs("read", "--format", "html", "-o", "shared.html", cwd=demo))
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert target.stat().st_mode & 0o777 == 0o640
    target.unlink()


def imported(cwd: Path, *args: str) -> set[str]:
    """The modules ``gvcs args`` imports (from ``python -X importtime``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")} | {"PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_only_an_epub_imports_ebooklib(demo: Path) -> None:
    assert "ebooklib" not in imported(demo, "log", "-n", "1")
    assert "narrative_vcs.reading" not in imported(demo, "log", "-n", "1")
    assert "ebooklib" not in imported(demo, "read", "--format", "html", "-o", "lazy.html")
    assert "ebooklib" in imported(demo, "read", "--format", "epub", "-o", "lazy.epub")
    (demo / "lazy.html").unlink()
    (demo / "lazy.epub").unlink()
