"""Twine in and out: the Twee 3 parser and writer, Twine 2 archives, passages made pages and back."""

from __future__ import annotations

import re

import pytest

from narrative_vcs.errors import InvalidFile, Refused
from narrative_vcs.objects import Page, Story
from narrative_vcs.twine import (
    Passage,
    TwineStory,
    export_twee,
    parse_html,
    parse_link,
    parse_twee,
    plan_import,
    write_twee,
)
from tests.fixtures.stories import ARCHIVE, twee_story


def _structure(
    story: TwineStory,
) -> dict[str, tuple[str, tuple[str, ...], tuple[tuple[str | None, str], ...]]]:
    """Each passage's text (its links written one way), tags and links: what a round trip keeps."""
    return {p.name: (_one_link_form(p.text), p.tags, tuple(p.links())) for p in story.passages}


def _one_link_form(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        label, target = parse_link(match.group(1))
        return f"[[{target}]]" if label is None else f"[[{label}->{target}]]"

    return re.sub(r"\[\[([^\]\n]+)\]\]", one, text)


def _pages(plan_pages: list[Page]) -> dict[str, Page]:
    return {p.id: p for p in plan_pages}


def test_link_forms() -> None:
    assert parse_link("B") == (None, "B")
    assert parse_link("go|B") == ("go", "B")
    assert parse_link("go->B") == ("go", "B")
    assert parse_link("a->b->B") == ("a->b", "B")
    assert parse_link("B<-go") == ("go", "B")
    assert parse_link("B|B") == (None, "B")


def test_header_with_tags_metadata_and_escapes() -> None:
    story = parse_twee(':: A \\[1\\] \\{x\\} \\\\ [t1 t\\]2] {"position":"1,2"}\nText\n\n', "s.twee")
    (passage,) = story.passages
    assert passage.name == "A [1] {x} \\"
    assert passage.tags == ("t1", "t]2")
    assert passage.metadata == {"position": "1,2"}
    assert passage.text == "Text"
    assert parse_twee(write_twee(story), "again.twee") == TwineStory(
        None, {}, (Passage(passage.name, "Text", passage.tags, passage.metadata, 1),)
    )


def test_text_lines_that_look_like_headers_are_escaped() -> None:
    text = ":: Not a header\n\\:: escaped once\nplain"
    written = write_twee(TwineStory(None, {}, (Passage("A", text),)))
    assert "\n\\:: Not a header\n\\\\:: escaped once\n" in written
    (passage,) = parse_twee(written, "a.twee").passages
    assert passage.text == text


def test_special_passages_are_story_data_not_passages() -> None:
    story = parse_twee(twee_story(), "story.twee")
    assert story.title == "The Lighthouse Keeper"
    assert story.data["ifid"] == "6B2E4F3A-8C1D-4E5F-9A7B-1C2D3E4F5A6B"
    assert story.data["start"] == "Arrival"
    assert len(story.passages) == 50
    assert "StoryTitle" not in {p.name for p in story.passages}
    assert story.passages[-1].name == "The End {final}"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (":: A\nx\n:: A\ny\n", 3, "already defined at line 1"),
        (":: A\nx\n\n:: B [t\n", 4, "tags' '[' is not closed"),
        (':: A {"position": \n', 1, "metadata is not a JSON object"),
        (":: [t]\n", 1, "needs a name"),
        (':: StoryData\n{\n  "ifid": 1,\n  oops\n}\n', 4, "StoryData is not JSON"),
    ],
)
def test_bad_twee_names_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(InvalidFile) as caught:
        parse_twee(text, "story.twee")
    assert str(caught.value).startswith(f"story.twee:{line}: ")
    assert problem in str(caught.value)


def test_import_maps_names_links_follows_and_metadata() -> None:
    story = parse_twee(twee_story(), "story.twee")
    plan = plan_import(story, {}, None)
    pages = _pages(plan.pages)
    assert len(pages) == 50 and plan.added == list(plan.mapping.values())
    assert plan.mapping["Arrival"] == "arrival" and plan.mapping["The End {final}"] == "the-end-final"
    room2 = pages["room-2"]
    assert (
        room2.body
        == "Passage 2 of the lighthouse.\n\nThe lamp turns. [Walk on][[room-3]] or [skip ahead][[room-4]]\n"
    )
    assert room2.extra == (("twine", {"name": "Room 2", "position": "100,0", "size": "100,100"}),)
    assert pages["room-4"].follows == ("room-2", "room-3")  # both earlier passages that link to it
    assert pages["arrival"].follows == ()  # links back to the start are loops: LINKS_TO only
    assert "arrival" in pages["room-4"].links()
    assert pages["arrival"].tags == ("act-1", "lit")
    assert plan.story is not None and plan.story.title == "The Lighthouse Keeper"
    assert plan.story.get("twine")["format"] == "SugarCube"


def test_second_import_updates_the_same_pages() -> None:
    text = twee_story()
    first = plan_import(parse_twee(text, "s.twee"), {}, None)
    existing = _pages(first.pages)
    again = plan_import(parse_twee(text, "s.twee"), existing, first.story)
    assert again.pages == [] and again.story is None and len(again.unchanged) == 50
    changed = text.replace("Passage 7 of", "Passage seven of")
    third = plan_import(parse_twee(changed, "s.twee"), existing, first.story)
    assert third.updated == ["room-7"] and third.added == []


def test_a_reimport_names_the_pages_whose_passage_left_that_source() -> None:
    first = plan_import(parse_twee(twee_story(5), "s.twee"), {}, None, "s.twee")
    other = plan_import(parse_twee(":: Elsewhere\nAway.\n", "o.twee"), {}, None, "o.twee")
    mine = Page("mine", "Room 4")  # made by hand: no twine mapping
    old = Page("old", "Old", extra=(("twine", {"name": "Room 4"}),))  # imported before sources were kept
    existing = _pages(first.pages + other.pages) | {"mine": mine, "old": old}
    assert dict(existing["room-4"].extra)["twine"]["source"] == "s.twee"
    shorter = "\n:: ".join(c for c in twee_story(5).split("\n:: ") if not c.startswith("Room 4 "))
    again = plan_import(parse_twee(shorter, "s.twee"), existing, first.story, "s.twee")
    assert again.gone == {"Room 4": "room-4"}
    assert again.prune(existing) == {"pages/room-4.md": None}
    assert plan_import(parse_twee(shorter, "s.twee"), existing, first.story).gone == {}  # no source given
    # The source is no passage metadata: an export leaves it out.
    exported = parse_twee(export_twee(first.story, _pages(first.pages)), "out.twee")
    assert all("source" not in p.metadata for p in exported.passages)


def test_a_page_of_the_same_slug_is_not_overwritten() -> None:
    mine = Page("arrival", "My own arrival")
    plan = plan_import(parse_twee(":: Arrival\nHello\n", "s.twee"), {"arrival": mine}, None)
    assert plan.mapping == {"Arrival": "arrival-2"} and plan.added == ["arrival-2"]


def test_round_trip_twee_pages_twee() -> None:
    original = parse_twee(twee_story(), "story.twee")
    plan = plan_import(original, {}, None)
    assert plan.story is not None
    back = parse_twee(export_twee(plan.story, _pages(plan.pages)), "export.twee")
    assert back.title == original.title and back.data == original.data
    assert _structure(back) == _structure(original)
    assert {p.name: p.metadata for p in back.passages} == {p.name: p.metadata for p in original.passages}


def test_export_of_pages_never_imported() -> None:
    pages = {
        "a": Page("a", "Start"),
        "b": Page("b", "Start", body="Go [[a]] or [[c]]\n", follows=("a",), tags=("x",)),
    }
    story = parse_twee(export_twee(Story("Mine"), pages), "out.twee")
    assert [p.name for p in story.passages] == ["Start", "b"]
    assert story.passages[1].links() == [(None, "Start"), (None, "c")]
    assert story.data["start"] == "Start" and len(story.data["ifid"]) == 36
    assert export_twee(Story("Mine"), pages) == export_twee(Story("Mine"), pages)


def test_twine_2_archive() -> None:
    story = parse_html(ARCHIVE.read_text(encoding="utf-8"), "archive.html")
    assert story.title == "Harbour Lights"
    assert story.data == {
        "ifid": "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
        "format": "Harlowe",
        "format-version": "3.3.7",
        "start": "Opening",
        "tag-colors": {"night": "blue"},
        "zoom": 1.0,
    }
    by_name = {p.name: p for p in story.passages}
    assert (
        by_name["Opening"].text == 'The "lights" are <on> & the tide is in.\n\n[[Walk to the quay|The Quay]]'
    )
    assert by_name["The Boat"].tags == ("night", "ending")
    assert by_name["The Quay"].metadata == {"pid": "1", "position": "300,100", "size": "100,100"}
    assert by_name["Story Stylesheet"].tags == ("stylesheet",)
    assert by_name["Story JavaScript"].text == "window.harbour = true;"
    plan = plan_import(story, {}, None)
    pages = _pages(plan.pages)
    assert plan.mapping["Harbour Master's Office"] == "harbour-master-s-office"
    assert pages["the-quay"].follows == ("opening",)
    assert pages["the-boat"].follows == ("the-quay",)  # the office comes after the boat: a loop
    assert pages["harbour-master-s-office"].follows == ("the-quay",)
    assert pages["the-boat"].body == "Cast off. [Go back][[the-quay]]\n"


def test_html_without_a_story_is_refused() -> None:
    with pytest.raises(InvalidFile, match=r"^page\.html: no <tw-storydata>"):
        parse_html("<html><body><p>hi</p></body></html>", "page.html")
    with pytest.raises(InvalidFile, match=r"^s\.html:2: a <tw-passagedata> needs a name of one line"):
        parse_html(
            '<tw-storydata name="S">\n<tw-passagedata pid="1">x</tw-passagedata></tw-storydata>', "s.html"
        )


def test_another_twine_story_is_not_mixed_in() -> None:
    first = plan_import(parse_twee(twee_story(3), "a.twee"), {}, None)
    other = parse_twee(twee_story(3).replace("6B2E4F3A", "0000AAAA"), "b.twee")
    with pytest.raises(Refused, match=r"imported from the Twine story 6B2E4F3A-.*not 0000AAAA-"):
        plan_import(other, {p.id: p for p in first.pages}, first.story)
    same = parse_twee(twee_story(3).replace("6B2E4F3A", "6b2e4f3a"), "a.twee")
    assert plan_import(same, {p.id: p for p in first.pages}, first.story).added == []


def test_export_order_puts_every_page_after_those_it_follows() -> None:
    pages = {
        "z": Page("z", "Z"),
        "a": Page("a", "A", follows=("z", "m")),
        "m": Page("m", "M", follows=("z",)),
        "b": Page("b", "B"),
    }
    names = [p.name for p in parse_twee(export_twee(Story("S"), pages), "o.twee").passages]
    assert names == ["B", "Z", "M", "A"]


def test_an_update_keeps_what_only_gvcs_knows() -> None:
    first = plan_import(parse_twee(twee_story(4), "s.twee"), {}, None)
    existing = {p.id: p for p in first.pages}
    take = existing["room-3"]
    existing["room-3"] = Page(
        take.id, take.title, take.body, take.follows, "room-2", extra=(*take.extra, ("mood", "grey"))
    )
    again = plan_import(
        parse_twee(twee_story(4).replace("Passage 3 of", "Passage three of"), "s.twee"), existing, None
    )
    (page,) = again.pages
    assert page.alternate_of == "room-2" and dict(page.extra)["mood"] == "grey" and "three" in page.body
