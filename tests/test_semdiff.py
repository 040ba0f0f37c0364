"""The semantic diff: fields, links, paragraphs and words of pages; keys of actors and story.yaml."""

from __future__ import annotations

from typing import Any

from narrative_vcs.objects import Actor, Glyph, Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.semdiff import (
    FieldChange,
    FileDiff,
    PageDiff,
    ParagraphChange,
    diff_file,
    diff_pages,
    diff_paragraphs,
    word_diff,
)

from .conftest import Writer


def page(body: str = "", **fields: Any) -> Page:
    return Page("door", fields.pop("title", "The Door"), body, **fields)


def test_unchanged_page_has_no_changes() -> None:
    d = diff_pages(page("One.", tags=("a",)), page("One.", tags=("a",)))
    assert (d.status, d.title, d.fields, bool(d.links), d.paragraphs) == ("modified", None, (), False, ())


def test_title_and_front_matter_fields() -> None:
    old = page(tags=("draft", "act-1"), glyphs=(Glyph("moon"),), extra=(("mood", "grim"),))
    new = page(title="The Vault Door", tags=("act-1", "act-2"), glyphs=(Glyph("moon", 90),))
    d = diff_pages(old, new)
    assert d.title == ("The Door", "The Vault Door")
    fields = {f.key: f for f in d.fields}
    assert set(fields) == {"tags", "glyphs", "mood"}
    assert (fields["tags"].added, fields["tags"].removed) == (["act-2"], ["draft"])
    assert fields["glyphs"].new == [{"id": "moon", "rotation": 90}]
    assert fields["mood"] == FieldChange("mood", "grim", None)


def test_follows_alternate_of_and_references() -> None:
    old = page("See [[hall]] and [[stairs]].", follows=("prologue", "hall"), alternate_of="gate")
    new = page("See [[stairs]] and [[vault]].", follows=("hall", "stairs"), alternate_of=None)
    links = diff_pages(old, new).links
    assert (links.follows_added, links.follows_removed) == (("stairs",), ("prologue",))
    assert links.alternate_of == ("gate", None)
    assert (links.references_added, links.references_removed) == (("vault",), ("hall",))
    assert diff_pages(old, new).to_json()["links"] == {
        "follows": {"added": ["stairs"], "removed": ["prologue"]},
        "alternate_of": {"old": "gate", "new": None},
        "references": {"added": ["vault"], "removed": ["hall"]},
    }


def test_paragraph_insert_delete_and_change() -> None:
    old = "One.\n\nTwo.\n\nThree is here."
    new = "Zero.\n\nOne.\n\nThree is there."
    assert diff_paragraphs(old, new) == (
        ParagraphChange("inserted", None, 1, None, "Zero."),
        ParagraphChange("deleted", 2, None, "Two.", None),
        ParagraphChange("changed", 3, 3, "Three is here.", "Three is there."),
    )


def test_an_unrelated_replacement_is_a_delete_and_an_insert() -> None:
    assert diff_paragraphs("A.\n\nThe cat sat on the mat.", "A.\n\nRain fell all night long.") == (
        ParagraphChange("deleted", 2, None, "The cat sat on the mat.", None),
        ParagraphChange("inserted", None, 2, None, "Rain fell all night long."),
    )


def test_a_rewritten_paragraph_is_changed_with_its_neighbours_untouched() -> None:
    changes = diff_paragraphs("A.\n\nThe cat sat.\n\nC.", "A.\n\nThe dog sat.\n\nC.")
    assert changes == (ParagraphChange("changed", 2, 2, "The cat sat.", "The dog sat."),)
    assert changes[0].word_markup() == "The [-cat-]{+dog+} sat."
    assert changes[0].to_json()["words"] == [
        {"op": "equal", "text": "The "},
        {"op": "deleted", "text": "cat"},
        {"op": "inserted", "text": "dog"},
        {"op": "equal", "text": " sat."},
    ]


def test_word_diff_merges_runs_and_keeps_whitespace() -> None:
    segments = word_diff("never write, and never throw.", "never write.")
    assert "".join(s.text for s in segments if s.op != "inserted") == "never write, and never throw."
    assert "".join(s.text for s in segments if s.op != "deleted") == "never write."
    assert [s.op for s in segments] == ["equal", "deleted", "inserted"]


def test_added_and_removed_pages() -> None:
    new = page("Hello [[hall]].", follows=("prologue",), alternate_of="gate", tags=("x",))
    added = diff_pages(None, new)
    assert (added.status, added.title) == ("added", (None, "The Door"))
    assert [(f.key, f.old, f.new) for f in added.fields] == [("tags", None, ["x"])]
    assert added.links.follows_added == ("prologue",) and added.links.alternate_of == (None, "gate")
    assert added.links.references_added == ("hall",)
    assert added.paragraphs == (ParagraphChange("inserted", None, 1, None, "Hello [[hall]]."),)
    removed = diff_pages(new, None)
    assert (removed.status, removed.title) == ("removed", ("The Door", None))
    assert removed.paragraphs[0].op == "deleted" and removed.links.follows_removed == ("prologue",)


def test_diff_file_parses_pages_and_reports_yaml_keys() -> None:
    old, new = page("The cat sat."), page("The dog sat.")
    d = diff_file("pages/door.md", old.serialise(), new.serialise(), old_blob="a" * 40, new_blob="b" * 40)
    assert isinstance(d, PageDiff) and d.paragraphs[0].op == "changed"
    assert (d.to_json()["old"], d.to_json()["new"]) == ("a" * 40, "b" * 40)
    actor = diff_file(
        "actors/fox.yaml",
        Actor("fox", "Fox").serialise(),
        Actor("fox", "London Fox", "agent", "trickster").serialise(),
    )
    assert isinstance(actor, FileDiff) and (actor.kind, actor.id) == ("actor", "fox")
    assert [(f.key, f.old, f.new) for f in actor.fields] == [
        ("name", "Fox", "London Fox"),
        ("kind", "human", "agent"),
        ("archetype", None, "trickster"),
    ]
    story = diff_file(
        "story.yaml", Story("Night").serialise(), Story("Day", (("protected", ["main"]),)).serialise()
    )
    assert story.kind == "story" and [f.key for f in story.fields] == ["title", "protected"]
    other = diff_file("ledger.yaml", None, b"fox: 3\n")
    assert (other.kind, other.status, other.fields) == ("file", "added", ())


def test_a_page_that_does_not_parse_is_a_file_change_with_a_problem() -> None:
    d = diff_file("pages/door.md", page("One.").serialise(), b"no front matter\n")
    assert isinstance(d, FileDiff) and d.kind == "page" and d.problem and "front matter" in d.problem
    assert d.to_json()["problem"] == d.problem


def test_json_has_the_documented_keys() -> None:
    keys = {"path", "kind", "id", "status", "old", "new", "title", "fields", "links", "paragraphs", "problem"}
    assert set(diff_pages(page("A."), page("B.", tags=("t",))).to_json()) == keys
    assert set(diff_file("story.yaml", None, b"title: T\n").to_json()) == keys


def test_repository_semantic_diff_and_changes(repo: Repository, writer: Writer) -> None:
    first = writer.setup(pages=[page("One.\n\nTwo.")])
    second = writer.commit(ChangeSet().upsert_page(page("One.\n\nTwo!\n\nThree.", tags=("new",))))
    [change] = repo.semantic_changes(second)
    assert isinstance(change, PageDiff) and [p.op for p in change.paragraphs] == ["changed", "inserted"]
    assert repo.semantic_diff(first, second) == [change]
    everything = repo.semantic_diff(None, first)
    assert {c.path for c in everything} >= {"pages/door.md", "actors/ada.yaml"}
    assert all(c.status == "added" for c in everything)
    assert {c.path for c in repo.semantic_changes(first)} == {c.path for c in everything}
