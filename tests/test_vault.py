"""Markdown vaults in: notes read with their front matter, names made ids, links resolved as Obsidian
resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from narrative_vcs.errors import InvalidFile
from narrative_vcs.importing import assign_ids, slug
from narrative_vcs.objects import Page
from narrative_vcs.vault import parse_note, parse_vault, plan_import
from tests.fixtures.stories import write_vault


def _vault(tmp_path: Path) -> dict[str, bytes]:
    write_vault(tmp_path)
    return {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in tmp_path.rglob("*.md")
        if not p.relative_to(tmp_path).as_posix().startswith(".")
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("My Note", "my-note"),
        ("Café Plans", "cafe-plans"),
        ("Harbour Master's Office", "harbour-master-s-office"),
        ("..hidden..name..", "hidden.name"),
        ("v1.2_final", "v1.2_final"),
        ("日本語", "page"),
        ("x" * 150, "x" * 100),
    ],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_ids_are_numbered_in_order_and_kept_ids_win() -> None:
    assert assign_ids(["A b", "a-b", "A B"], {}, {"a-b-2"}) == {"A b": "a-b", "a-b": "a-b-3", "A B": "a-b-4"}
    assert assign_ids(["A b", "New"], {"A b": "older"}, set()) == {"A b": "older", "New": "new"}
    long = assign_ids(["y" * 120, "y" * 130], {}, set())
    assert long["y" * 130] == "y" * 98 + "-2"


def test_notes_with_nested_folders_spaces_and_capitals(tmp_path: Path) -> None:
    plan = plan_import(parse_vault(_vault(tmp_path)), {}, None)
    pages = {p.id: p for p in plan.pages}
    assert plan.mapping["Notes/Deep/Café Plans.md"] == "cafe-plans"
    assert (
        plan.mapping["Characters/Mara Ink.md"] == "mara-ink"
        and plan.mapping["Notes/Mara Ink.md"] == "mara-ink-2"
    )
    home = pages["home"]
    assert home.title == "Welcome Home" and home.tags == ("index", "start")
    assert home.body == (
        "Start with [[chapter-one]], then [Mara][[mara-ink]].\nSee also [[Ideas]] (not written).\n"
    )
    assert dict(home.extra)["vault"] == {"path": "Home.md", "meta": {"aliases": ["home"]}}
    assert pages["chapter-one"].tags == ("draft",) and pages["chapter-one"].title == "Chapter One"
    assert pages["chapter-one"].body == "The storm came in. [[chapter-two]]\n"  # the heading is dropped
    assert pages["chapter-two"].body == "# Two\n\nAfter the storm. Back to [[chapter-one]]. ![[Home]]\n"
    assert pages["mara-ink"].body == "Mara keeps the lamp. [her notes][[mara-ink-2]]\n"
    assert all(p.follows == () for p in plan.pages)


def test_second_import_finds_its_pages_by_path(tmp_path: Path) -> None:
    files = _vault(tmp_path)
    first = plan_import(parse_vault(files), {}, None)
    existing = {p.id: p for p in first.pages}
    existing["mine"] = Page("mine", "Mine", follows=("home",))
    files["Home.md"] = b"New words.\n"
    files["Zed.md"] = b"[[Home]]\n"
    again = plan_import(parse_vault(files), existing, None)
    assert again.updated == ["home"] and again.added == ["zed"] and len(again.unchanged) == 5
    assert {p.id: p.body for p in again.pages}["zed"] == "[[home]]\n"


def test_a_page_kept_by_follows_keeps_them() -> None:
    existing = {
        "a": Page("a", "A"),
        "note": Page("note", "Note", follows=("a",), extra=(("vault", {"path": "Note.md"}),)),
    }
    plan = plan_import([parse_note("Note.md", b"text\n")], existing, None)
    assert plan.pages[0].follows == ("a",) and plan.pages[0].body == "text\n"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"---\ntitle: [x\n---\n", "Bad.md:2: "),
        (b"---\ntitle: x\n", "Bad.md:3: front matter is not closed"),
        (b"---\n- a list\n---\n", "Bad.md:2: front matter must be a mapping"),
        (b"ok\n\xff\n", "Bad.md:2: not UTF-8"),
        (b"---\ntags: {a: 1}\n---\n", "Bad.md:2: tags must be a list"),
    ],
)
def test_bad_notes_name_file_and_line(data: bytes, where: str) -> None:
    with pytest.raises(InvalidFile) as caught:
        parse_note("Bad.md", data)
    assert str(caught.value).startswith(where)
