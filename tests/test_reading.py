"""The reading layout (main line, paths at forks, alternates, other pages) and its text, markdown and HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import NotFound
from narrative_vcs.objects import Page
from narrative_vcs.reading import (
    ReadingOrder,
    TitlePage,
    reading_order,
    render_html,
    render_markdown,
    render_text,
    word_count,
)

TITLE = TitlePage("Night Shift", "a" * 40, "main", "2026-11-21 09:00 UTC", ("Mara Ink (human)",))


def story(*specs: tuple[str, tuple[str, ...], str | None], body: str = "") -> dict[str, Page]:
    """Pages from (id, follows, alternate_of); each body says its id, plus ``body``."""
    return {
        pid: Page(pid, pid.title(), f"Words of {pid}. {body}", follows, alt) for pid, follows, alt in specs
    }


def layout(order: ReadingOrder) -> list[tuple[str, list[str]]]:
    return [(s.label, [e.page for e in s.entries]) for s in order.sections]


def test_a_chain_is_one_main_line_in_order() -> None:
    pages = story(("c", ("b",), None), ("a", (), None), ("b", ("a",), None))
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["a", "b", "c"])]
    assert [e.position for e in order.entries()] == [1, 2, 3]


def test_a_fork_goes_on_along_the_longest_way_and_the_other_is_a_path() -> None:
    #   start -> short (dead end)
    #   start -> long1 -> long2 -> end
    pages = story(
        ("start", (), None),
        ("short", ("start",), None),
        ("long1", ("start",), None),
        ("long2", ("long1",), None),
        ("end", ("long2",), None),
    )
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["start", "long1", "long2", "end"]), ("Path B", ["short"])]
    path = order.section_of("Path B")
    assert (path.kind, path.depth, path.forks_from, path.rejoins) == ("path", 1, "start", None)
    assert order.entries()[0].forks_to == ("Path B",)


def test_a_path_that_comes_back_names_the_page_it_leads_to() -> None:
    # a diamond: top -> left -> bottom, top -> right -> bottom (ties go by id)
    pages = story(
        ("top", (), None),
        ("right", ("top",), None),
        ("left", ("top",), None),
        ("bottom", ("left", "right"), None),
    )
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["top", "left", "bottom"]), ("Path B", ["right"])]
    assert order.section_of("Path B").rejoins == "bottom"


def test_nested_forks_are_paths_of_paths_in_reading_order() -> None:
    pages = story(
        ("a", (), None),
        ("b", ("a",), None),
        ("c", ("b",), None),
        ("d", ("c",), None),
        ("x", ("a",), None),
        ("x2", ("x",), None),
        ("y", ("x",), None),
        ("z", ("c",), None),
    )
    order = reading_order(pages)
    assert layout(order) == [
        ("Main line", ["a", "b", "c", "d"]),
        ("Path B", ["x", "x2"]),
        ("Path C", ["y"]),
        ("Path D", ["z"]),
    ]
    assert [s.depth for s in order.sections] == [0, 1, 2, 1]
    assert order.section_of("Path C").forks_from == "x"


def test_an_alternate_comes_right_after_its_original_and_its_followers_follow_the_original() -> None:
    pages = story(
        ("one", (), None),
        ("two", ("one",), None),
        ("two-alt", ("one",), "two"),
        ("two-alt-alt", (), "two-alt"),
        ("three", ("two-alt",), None),
    )
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["one", "two", "two-alt", "two-alt-alt", "three"])]
    marks = {e.page: e.alternate_of for e in order.entries()}
    assert marks == {"one": None, "two": None, "two-alt": "two", "two-alt-alt": "two-alt", "three": None}


def test_several_openings_the_longest_first() -> None:
    pages = story(("solo", (), None), ("first", (), None), ("second", ("first",), None))
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["first", "second"]), ("Path B", ["solo"])]
    assert order.section_of("Path B").forks_from is None


def test_from_a_page_the_pages_it_does_not_reach_are_other_pages_in_reading_order() -> None:
    pages = story(("a", (), None), ("b", ("a",), None), ("c", ("b",), None), ("c-alt", ("b",), "c"))
    order = reading_order(pages, "b")
    assert layout(order) == [("Main line", ["b", "c", "c-alt"]), ("Other pages", ["a"])]
    assert layout(reading_order(pages, "c-alt"))[0] == ("Main line", ["c", "c-alt"])  # from its original
    with pytest.raises(NotFound):
        reading_order(pages, "nowhere")


def test_pages_on_a_loop_still_appear_among_other_pages_by_id() -> None:
    # The rules refuse loops in FOLLOWS; a snapshot that has one is still read whole.
    pages = story(("start", (), None), ("p", ("q",), None), ("q", ("p",), None), ("r", ("q",), None))
    order = reading_order(pages)
    assert layout(order) == [("Main line", ["start"]), ("Other pages", ["p", "q", "r"])]


def test_a_follows_link_to_a_missing_page_makes_a_start() -> None:
    pages = story(("a", ("gone",), None), ("b", ("a",), None))
    assert layout(reading_order(pages)) == [("Main line", ["a", "b"])]


pages_strategy = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.lists(st.integers(0, n - 1), max_size=3), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), st.integers(0, n - 1)), min_size=n, max_size=n),
        st.one_of(st.none(), st.integers(0, n - 1)),
    )
)


@settings(max_examples=150, deadline=None)
@given(pages_strategy)
def test_every_page_appears_once_and_a_line_never_puts_a_page_before_what_it_follows(
    drawn: tuple[int, list[list[int]], list[int | None], int | None],
) -> None:
    n, befores, alternates, start = drawn
    ids = [f"p{i:02d}" for i in range(n)]
    # follows only earlier pages: no loops, as the rules require
    pages = {
        pid: Page(
            pid,
            pid,
            "",
            tuple(sorted({ids[j] for j in befores[i] if j < i})),
            ids[alternates[i]] if alternates[i] is not None and alternates[i] != i else None,  # type: ignore[index]
        )
        for i, pid in enumerate(ids)
    }
    order = reading_order(pages, None if start is None else ids[start])
    seen = [e.page for e in order.entries()]
    assert sorted(seen) == ids
    assert [e.position for e in order.entries()] == list(range(1, n + 1))
    assert reading_order(pages, None if start is None else ids[start]) == order  # the same on every run
    if any(alt is not None and alt > i for i, alt in enumerate(alternates)):
        return  # an alternate of a later page can put a loop in the reading order: no more to check
    if start is None:
        assert all(s.kind != "other" for s in order.sections)
    for section in order.sections:
        plain = [e.page for e in section.entries if e.alternate_of is None]
        for later, page in enumerate(plain):
            assert not set(plain[later + 1 :]) & set(pages[page].follows)


# --- rendering ----------------------------------------------------------------------------------------

PAGES = {
    "door": Page("door", "The <Iron> Door", "It was *shut*. See [[key]] and [[ghost]].\n\n# Inside\n\nDark."),
    "key": Page("key", "The Key", "A **brass** key, two words.", follows=("door",)),
    "lock": Page("lock", "The Lock", "It clicked.", follows=("door",)),
    "key-alt": Page("key-alt", "The Other Key", "An iron key.", follows=("door",), alternate_of="key"),
}


def test_word_count_is_the_bodys_whitespace_separated_words() -> None:
    assert word_count(PAGES["key"]) == 5
    assert word_count(Page("empty", "Empty")) == 0


def test_text_has_a_title_page_counts_marks_and_links_as_titles() -> None:
    text = render_text(reading_order(PAGES), PAGES, TITLE)
    head = text.split("=" * 72)[0]
    assert head.splitlines()[:2] == ["Night Shift", ""]
    assert "Revision: aaaaaaaaaa (main)" in head and "Date: 2026-11-21 09:00 UTC" in head
    assert "Authors: Mara Ink (human)" in head
    assert "4 pages, 20 words" in head
    assert "See The Key and ghost." in text  # a link to a missing page shows its id
    assert "[[" not in text
    assert "3. The Other Key (alternate take of “The Key”)" in text
    assert "(The story forks here: Path B goes another way.)" in text
    assert "Forks after “The <Iron> Door”." in text
    assert "[5 words]" in text and "[10 words]" in text


def test_markdown_links_are_anchors_to_the_pages() -> None:
    md = render_markdown(reading_order(PAGES), PAGES, TITLE)
    assert md.startswith("# Night Shift\n")
    assert '<a id="key"></a>' in md and "See [The Key](#key) and ghost." in md
    assert "*(alternate take of [The Key](#key))*" in md
    assert "*The story forks here: [Path B](#section-path-b) goes another way.*" in md
    assert '<a id="section-path-b"></a>' in md


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag not in ("meta",):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()


def test_html_is_well_formed_escaped_and_every_link_has_its_anchor() -> None:
    doc = render_html(reading_order(PAGES), PAGES, TITLE)
    parser = _Anchors()
    parser.feed(doc.removeprefix("<!DOCTYPE html>\n"))
    assert parser.open == []
    assert {"door", "key", "key-alt", "lock", "section-main-line", "section-path-b"} <= parser.ids
    assert parser.hrefs and all(h.removeprefix("#") in parser.ids for h in parser.hrefs)
    assert "The &lt;Iron&gt; Door" in doc and "<Iron>" not in doc
    assert '<p>It was <em>shut</em>. See <a href="#key">The Key</a> and ghost.</p>' in doc
    assert "<h4>Inside</h4>" in doc and "<strong>brass</strong>" in doc
    assert re.search(r"<h3>\d\. The Other Key <span class=\"alternate\">", doc)


def test_a_labelled_link_shows_its_label_in_every_format() -> None:
    """``[label][[id]]`` (how gvcs import keeps a Twine or vault link's label) reads as the label."""
    pages = {
        "door": Page("door", "The Door", "Take [the brass <key>][[key]], or [[key]], or [a ghost][[ghost]]."),
        "key": Page("key", "The Key", "Cold.", ("door",)),
    }
    order = reading_order(pages)
    text = render_text(order, pages, TITLE)
    assert "Take the brass <key>, or The Key, or a ghost." in text and "[[" not in text
    md = render_markdown(order, pages, TITLE)
    assert "Take [the brass <key>](#key), or [The Key](#key), or a ghost." in md
    doc = render_html(order, pages, TITLE)
    assert 'Take <a href="#key">the brass &lt;key&gt;</a>, or <a href="#key">The Key</a>, or a ghost.' in doc
    assert "<key>" not in doc
