"""Three-way merge of prose: scenarios named for what they show, and the merge laws as properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.merge.text import TextConflict, merge_text, split_paragraphs, split_sentences

BASE = "The vault was dark.\n\nThe fox waited.\n\nCop-E-Right counted the pages.\n"


def test_edits_to_neighbouring_paragraphs_merge_cleanly() -> None:
    ours = BASE.replace("The vault was dark.", "The vault was very dark.")
    theirs = BASE.replace("The fox waited.", "The fox waited, patient as a clock.")
    result = merge_text(BASE, ours, theirs)
    assert result.clean
    assert result.text == (
        "The vault was very dark.\n\nThe fox waited, patient as a clock.\n\nCop-E-Right counted the pages.\n"
    )


def test_different_sentences_of_one_paragraph_merge_cleanly() -> None:
    base = "One. Two. Three.\n"
    result = merge_text(base, "One! Two. Three.\n", "One. Two. Three?\n")
    assert result.clean and result.text == "One! Two. Three?\n"


def test_the_same_sentence_changed_two_ways_is_a_conflict_with_markers() -> None:
    result = merge_text(BASE, BASE.replace("waited", "slept"), BASE.replace("waited", "ran"))
    assert not result.clean
    assert result.conflicts == [TextConflict("The fox waited.", "The fox slept.", "The fox ran.")]
    marked = result.with_markers("main", "alt")
    assert (
        "<<<<<<< main\nThe fox slept.\n||||||| base\nThe fox waited.\n=======\nThe fox ran.\n>>>>>>> alt"
        in marked
    )
    assert marked.startswith("The vault was dark.\n\n") and marked.endswith(
        "Cop-E-Right counted the pages.\n"
    )


def test_paragraphs_added_at_different_places_are_both_kept() -> None:
    ours = "Prologue.\n\n" + BASE
    theirs = BASE + "\nEpilogue.\n"
    result = merge_text(BASE, ours, theirs)
    assert result.clean
    assert split_paragraphs(result.text) == ["Prologue.", *split_paragraphs(BASE), "Epilogue."]


def test_a_reflowed_paragraph_next_to_an_edit_is_clean() -> None:
    base = "A long sentence here. Another one.\n\nSecond paragraph.\n"
    ours = "A long sentence here.\nAnother one.\n\nSecond paragraph.\n"  # reflowed
    theirs = "A long sentence here. Another one.\n\nSecond paragraph, edited.\n"
    result = merge_text(base, ours, theirs)
    assert result.clean and "Second paragraph, edited." in result.text


# --- laws -------------------------------------------------------------------------------------------

words = st.sampled_from(["fox", "vault", "glyph", "page", "ink", "door", "key", "night"])
sentences = st.lists(words, min_size=1, max_size=4).map(lambda w: " ".join(w).capitalize() + ".")
paragraphs = st.lists(sentences, min_size=1, max_size=3).map(" ".join)
texts = st.lists(paragraphs, min_size=0, max_size=5).map(lambda ps: "\n\n".join(ps) + ("\n" if ps else ""))


@settings(max_examples=200, deadline=None)
@given(base=texts, x=texts)
def test_merging_a_change_with_itself_or_with_nothing_gives_the_change(base: str, x: str) -> None:
    assert merge_text(base, x, x).text == x
    assert merge_text(base, base, x).text == x
    assert merge_text(base, x, base).text == x


@settings(max_examples=200, deadline=None)
@given(base=texts, a=texts, b=texts)
def test_merge_is_symmetric(base: str, a: str, b: str) -> None:
    ab, ba = merge_text(base, a, b), merge_text(base, b, a)
    assert ab.clean == ba.clean
    if ab.clean:
        assert ab.text == ba.text
    else:
        swapped = [TextConflict(c.base, c.theirs, c.ours) for c in ba.conflicts]
        assert ab.conflicts == swapped


@settings(max_examples=200, deadline=None)
@given(base=texts, a=texts, b=texts)
def test_nothing_added_on_either_side_disappears(base: str, a: str, b: str) -> None:
    """Every sentence a side added (one the base does not have) is in the result or in a conflict."""
    result = merge_text(base, a, b)
    kept = " ".join(p if isinstance(p, str) else f"{p.ours} {p.theirs}" for p in result.parts)
    in_base = {s for p in split_paragraphs(base) for s in split_sentences(p)}
    for side in (a, b):
        for paragraph in split_paragraphs(side):
            for sentence in split_sentences(paragraph):
                if sentence not in in_base:
                    assert sentence in kept
