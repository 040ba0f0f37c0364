"""``gvcs import twee|twine|vault`` and ``gvcs export twee`` through real subprocesses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from narrative_vcs.twine import parse_twee
from tests.fixtures.stories import ARCHIVE, twee_story, write_vault

from .conftest import Gvcs, ok, one_line_error


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".gvcs" not in p.parts
    }


def test_twee_import_commit_export_round_trip(gvcs: Gvcs, story: Path) -> None:
    (story / "story.twee").write_text(twee_story(), encoding="utf-8")
    result = ok(gvcs("import", "twee", "story.twee", cwd=story))
    assert "added:     Room 2 -> pages/room-2.md" in result.out
    assert (
        "Imported story.twee: 50 added, 0 updated, 0 unchanged, story.yaml (title: The Lighthouse Keeper)"
        in result.out
    )
    assert "Room 2" in (story / "pages" / "room-2.md").read_text()
    ok(gvcs("commit", "-m", "Import the lighthouse", cwd=story, actor="mara"))
    again = ok(gvcs("import", "twee", "story.twee", "--json", cwd=story))
    report = json.loads(again.out)
    assert {p["status"] for p in report["pages"]} == {"unchanged"} and len(report["pages"]) == 50
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")
    ok(gvcs("export", "twee", "-o", "out.twee", cwd=story))
    original = parse_twee(twee_story(), "story.twee")
    back = parse_twee((story / "out.twee").read_text(encoding="utf-8"), "out.twee")
    assert back.title == original.title and back.data == original.data
    imported = {p.name: (p.tags, p.links(), p.metadata) for p in original.passages}
    exported = {p.name: (p.tags, p.links(), p.metadata) for p in back.passages}
    assert {k: v for k, v in exported.items() if k in imported} == imported
    assert set(exported) - set(imported) == {"Opening", "Second"}  # the story's own pages


def test_export_prints_twee_and_json(gvcs: Gvcs, story: Path) -> None:
    text = ok(gvcs("export", "twee", "HEAD", cwd=story)).out
    assert ":: StoryTitle\nNight Shift\n" in text and ":: Second\n" in text
    report = json.loads(ok(gvcs("export", "twee", "--json", cwd=story)).out)
    assert report["format"] == "twee" and report["text"] == text and report["passages"] == 2
    written = json.loads(ok(gvcs("export", "twee", "-o", "s.twee", "--json", cwd=story)).out)
    assert written["output"] == "s.twee" and "text" not in written
    assert (story / "s.twee").read_text(encoding="utf-8") == text


def test_bad_twee_changes_nothing(gvcs: Gvcs, story: Path) -> None:
    lines = twee_story().splitlines()
    lines[40] = ":: Broken [unclosed"
    (story / "story.twee").write_text("\n".join(lines), encoding="utf-8")
    before = _tree(story)
    line = one_line_error(gvcs("import", "twee", "story.twee", cwd=story), 2)
    assert line.startswith("gvcs: error: story.twee:41: passage 'Broken'")
    assert _tree(story) == before
    assert one_line_error(gvcs("import", "twee", "missing.twee", cwd=story), 2).endswith(
        "missing.twee: no such file"
    )


def test_twine_archive_import(gvcs: Gvcs, story: Path) -> None:
    shutil.copy(ARCHIVE, story / "harbour.html")
    result = ok(gvcs("import", "twine", "harbour.html", cwd=story))
    assert "added:     Harbour Master's Office -> pages/harbour-master-s-office.md" in result.out
    ok(gvcs("commit", "-m", "Harbour", cwd=story, actor="mara"))
    page = ok(gvcs("page", "show", "the-boat", cwd=story)).out
    assert "[Go back][[the-quay]]" in page
    assert (
        'twine: {name: The Boat, pid: "3", position: "500,100", size: "100,100", source: harbour.html}'
        in page
    )
    exported = parse_twee(ok(gvcs("export", "twee", cwd=story)).out, "out.twee")
    assert exported.title == "Harbour Lights" and exported.data["start"] == "Opening"
    boat = next(p for p in exported.passages if p.name == "The Boat")
    assert boat.links() == [("Go back", "The Quay")] and boat.metadata == {
        "position": "500,100",
        "size": "100,100",
    }


def test_vault_import_and_update(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    vault = tmp_path / "My Vault"
    write_vault(vault)
    result = ok(gvcs("import", "vault", str(vault), "--json", cwd=story))
    mapping = {p["name"]: p["id"] for p in json.loads(result.out)["pages"]}
    assert mapping == {
        "Chapters/Chapter One.md": "chapter-one",
        "Chapters/Chapter Two.md": "chapter-two",
        "Characters/Mara Ink.md": "mara-ink",
        "Home.md": "home",
        "Notes/Deep/Café Plans.md": "cafe-plans",
        "Notes/Mara Ink.md": "mara-ink-2",
    }
    home = (story / "pages" / "home.md").read_text()
    assert "title: Welcome Home" in home and "Start with [[chapter-one]], then [Mara][[mara-ink]]." in home
    ok(gvcs("commit", "-m", "Vault", cwd=story, actor="mara"))
    (vault / "Home.md").write_text("Changed, see [[Mara Ink]].\n", encoding="utf-8")
    again = ok(gvcs("import", "vault", str(vault), cwd=story))
    assert "Imported" in again.out and "0 added, 1 updated, 5 unchanged" in again.out
    assert "Commit with: gvcs commit" in again.out
    unchanged = ok(gvcs("import", "vault", str(vault), cwd=story))
    assert "0 added, 0 updated, 6 unchanged" in unchanged.out and "Commit with" not in unchanged.out
    # of two notes named Mara Ink, the shorter path (Notes/) is the one a bare name means
    assert (story / "pages" / "home.md").read_text().endswith("Changed, see [[mara-ink-2]].\n")


def test_bad_vault_note_changes_nothing(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    write_vault(vault)
    (vault / "Chapters" / "Bad Note.md").write_text("---\ntitle: [unclosed\n---\ntext\n", encoding="utf-8")
    before = _tree(story)
    line = one_line_error(gvcs("import", "vault", str(vault), cwd=story), 2)
    assert line.startswith("gvcs: error: Chapters/Bad Note.md:2: ")
    assert _tree(story) == before


def test_import_commit(gvcs: Gvcs, story: Path) -> None:
    (story / "story.twee").write_text(twee_story(5), encoding="utf-8")
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nChanged.\n", encoding="utf-8")
    before = _tree(story)
    refused = one_line_error(gvcs("import", "twee", "story.twee", "--commit", cwd=story, actor="mara"), 1)
    assert "cannot import --commit: 1 uncommitted change(s) (pages/opening.md)" in refused
    assert _tree(story) == before
    ok(gvcs("restore", "pages/opening.md", cwd=story))
    result = ok(
        gvcs("import", "twee", "story.twee", "--commit", "-m", "Five rooms", "--json", cwd=story, actor="bot")
    )
    commit = json.loads(result.out)["commit"]
    log = ok(gvcs("log", "-n", "1", "--json", cwd=story)).out
    assert commit in log and '"actor": "bot"' in log and "Five rooms" in log
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")
    again = ok(gvcs("import", "twee", "story.twee", "--commit", cwd=story, actor="bot"))
    assert "0 added, 0 updated, 5 unchanged" in again.out and "committed" not in again.out
    assert "-m goes with --commit" in one_line_error(
        gvcs("import", "twee", "story.twee", "-m", "x", cwd=story), 2
    )


def test_bad_archive_changes_nothing(gvcs: Gvcs, story: Path) -> None:
    text = ARCHIVE.read_text(encoding="utf-8").replace('pid="3" name="The Boat"', 'pid="3" name="The Quay"')
    (story / "bad.html").write_text(text, encoding="utf-8")
    before = _tree(story)
    line = one_line_error(gvcs("import", "twine", "bad.html", "--json", cwd=story), 2)
    assert line.startswith("gvcs: error: bad.html:10: passage 'The Quay' is already defined at line 8")
    assert _tree(story) == before


def _without(text: str, name: str) -> str:
    """Twee ``text`` without the passage ``name``."""
    chunks = text.split("\n:: ")
    return "\n:: ".join(c for c in chunks if not (c.startswith(f"{name} ") or c.startswith(f"{name}\n")))


def test_a_reimport_reports_passages_that_left_the_source_and_prune_removes_them(
    gvcs: Gvcs, story: Path
) -> None:
    (story / "story.twee").write_text(twee_story(6), encoding="utf-8")
    (story / "other.twee").write_text(":: Lonely Shore\nWaves.\n", encoding="utf-8")
    ok(gvcs("import", "twee", "story.twee", "--commit", cwd=story, actor="mara"))
    ok(gvcs("import", "twee", "other.twee", "--commit", cwd=story, actor="mara"))
    assert "source: story.twee}" in (story / "pages" / "room-3.md").read_text()
    (story / "story.twee").write_text(_without(twee_story(6), "Room 3"), encoding="utf-8")
    before = _tree(story)
    kept = ok(gvcs("import", "twee", "story.twee", cwd=story))
    assert "  gone:      Room 3 -> pages/room-3.md (kept; its passage is no longer in story.twee)" in kept.out
    assert ", 1 gone (kept)" in kept.out and "--prune" in kept.out
    assert (story / "pages" / "room-3.md").read_bytes() == before["pages/room-3.md"]
    report = json.loads(ok(gvcs("import", "twee", "story.twee", "--json", cwd=story)).out)
    assert report["gone"] == [{"name": "Room 3", "id": "room-3"}] and report["pruned"] is False
    ok(gvcs("restore", ".", cwd=story))
    pruned = json.loads(
        ok(gvcs("import", "twee", "story.twee", "--prune", "--commit", "--json", cwd=story, actor="mara")).out
    )
    assert pruned["gone"] == [{"name": "Room 3", "id": "room-3"}] and pruned["pruned"] is True
    assert pruned["commit"] is not None
    assert not (story / "pages" / "room-3.md").exists()
    # The hand-written pages and the other file's page are not the source's: never gone, never removed.
    for page in ("opening", "second", "lonely-shore"):
        assert (story / "pages" / f"{page}.md").exists()
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")
    again = ok(gvcs("import", "twee", "story.twee", "--prune", cwd=story))
    assert "gone" not in again.out


def test_prune_is_refused_when_a_page_that_stays_follows_a_gone_one(gvcs: Gvcs, story: Path) -> None:
    (story / "story.twee").write_text(twee_story(5), encoding="utf-8")
    ok(gvcs("import", "twee", "story.twee", "--commit", cwd=story, actor="mara"))
    (story / "pages" / "mine.md").write_text("---\ntitle: Mine\nfollows: [room-2]\n---\nMy own.\n")
    ok(gvcs("commit", "-m", "Mine", cwd=story, actor="mara"))
    (story / "story.twee").write_text(_without(twee_story(5), "Room 2"), encoding="utf-8")
    before = _tree(story)
    line = one_line_error(gvcs("import", "twee", "story.twee", "--prune", cwd=story), 1)
    assert "cannot prune room-2: page mine follows it" in line
    assert _tree(story) == before


def test_a_vault_reimport_reports_notes_that_left_it(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    vault = tmp_path / "My Vault"
    write_vault(vault)
    ok(gvcs("import", "vault", str(vault), "--commit", cwd=story, actor="mara"))
    (vault / "Notes" / "Mara Ink.md").unlink()
    report = json.loads(ok(gvcs("import", "vault", str(vault) + "/", "--json", cwd=story)).out)
    assert report["gone"] == [{"name": "Notes/Mara Ink.md", "id": "mara-ink-2"}]
    out = ok(gvcs("import", "vault", str(vault), "--prune", cwd=story)).out
    assert (
        f"  gone:      Notes/Mara Ink.md -> pages/mara-ink-2.md (removed; its note is no longer in {vault})"
        in out
    )
    assert ", 1 gone (removed)" in out and not (story / "pages" / "mara-ink-2.md").exists()
    # Another vault with a note of the same path is another source: its import reports nothing gone.
    other = tmp_path / "Elsewhere"
    (other / "Chapters").mkdir(parents=True)
    (other / "Chapters" / "Chapter Nine.md").write_text("Nine.\n", encoding="utf-8")
    assert json.loads(ok(gvcs("import", "vault", str(other), "--json", cwd=story)).out)["gone"] == []


def test_import_shows_its_progress_on_a_terminal_only(gvcs: Gvcs, story: Path) -> None:
    from .test_pager import on_terminal

    (story / "story.twee").write_text(twee_story(300), encoding="utf-8")
    code, shown = on_terminal(story, "import", "twee", "story.twee", stderr=True)
    assert code == 0 and "Imported story.twee: 300 added" in shown, shown
    assert re.search(r"\rWriting pages: 100% \(301/301\), [\d,]+ pages/s, done in \d+ s", shown), shown
    ok(gvcs("restore", ".", cwd=story))
    for page in story.glob("pages/room-*.md"):
        page.unlink()
    plain = ok(gvcs("import", "twee", "story.twee", cwd=story))
    assert "Writing" not in plain.err and "Writing" not in plain.out
    code, shown = on_terminal(story, "import", "twee", "story.twee", "--json", stderr=True)
    assert code == 0 and "Writing" not in shown
