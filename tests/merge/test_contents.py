"""Mergeable contents: pages field by field, actor and story records per key, the ledger as counters."""

from __future__ import annotations

import yaml

from narrative_vcs.merge.contents import merge_file
from narrative_vcs.objects import Actor, Page, Story

BODY = "The vault was dark.\n\nThe fox waited.\n"


def page(**fields: object) -> bytes:
    values: dict[str, object] = {"id": "door", "title": "The Door", "body": BODY}
    values.update(fields)
    return Page(**values).serialise()  # type: ignore[arg-type]


def merged_page(base: bytes, ours: bytes, theirs: bytes) -> Page:
    data, conflict = merge_file("pages/door.md", base, ours, theirs)
    assert conflict is None and data is not None
    return Page.parse("door", data)


def test_a_title_change_and_a_tag_change_are_clean() -> None:
    result = merged_page(page(), page(title="The Iron Door"), page(tags=("act-1",)))
    assert result.title == "The Iron Door" and result.tags == ("act-1",)


def test_links_added_on_both_sides_are_both_kept() -> None:
    result = merged_page(page(follows=("a",)), page(follows=("a", "b")), page(follows=("a", "c")))
    assert result.follows == ("a", "b", "c")


def test_body_edits_in_different_paragraphs_with_front_matter_edits_are_clean() -> None:
    ours = page(title="New Title", body=BODY.replace("dark", "very dark"))
    theirs = page(tags=("x",), body=BODY.replace("waited", "slept"))
    result = merged_page(page(), ours, theirs)
    assert result.body == "The vault was very dark.\n\nThe fox slept.\n" and result.title == "New Title"


def test_two_different_titles_are_a_field_conflict() -> None:
    data, conflict = merge_file("pages/door.md", page(), page(title="A"), page(title="B"))
    assert conflict is not None and conflict.kind == "field" and conflict.fields == ("title",)
    assert conflict.page == "door" and data is not None


def test_the_same_sentence_changed_twice_is_a_content_conflict_with_markers() -> None:
    data, conflict = merge_file(
        "pages/door.md",
        page(),
        page(body=BODY.replace("waited", "ran")),
        page(body=BODY.replace("waited", "hid")),
    )
    assert conflict is not None and conflict.kind == "content" and len(conflict.regions) == 1
    assert data is not None and b"<<<<<<< ours" in data and b">>>>>>> theirs" in data


def test_delete_against_edit_is_a_modify_delete_conflict() -> None:
    data, conflict = merge_file("pages/door.md", page(), None, page(title="Edited"))
    assert conflict is not None and conflict.kind == "modify/delete" and data is None


def test_add_add_with_different_content_conflicts_and_equal_adds_do_not() -> None:
    _data, conflict = merge_file("pages/door.md", None, page(body="One.\n"), page(body="Two.\n"))
    assert conflict is not None and conflict.kind == "add/add"
    assert merge_file("pages/door.md", None, page(), page()) == (page(), None)


def test_actor_records_merge_per_key() -> None:
    base = Actor("fox", "London Fox", "agent").serialise()
    ours = Actor("fox", "The London Fox", "agent").serialise()
    theirs = Actor("fox", "London Fox", "agent", archetype="trickster").serialise()
    data, conflict = merge_file("actors/fox.yaml", base, ours, theirs)
    assert conflict is None and data is not None
    assert Actor.parse("fox", data) == Actor("fox", "The London Fox", "agent", archetype="trickster")


def test_story_settings_merge_per_key() -> None:
    base = Story("Vault").serialise()
    ours = Story("Vault", (("protected", ["main"]),)).serialise()
    theirs = Story("Vault", (("quorum", 3),)).serialise()
    data, conflict = merge_file("story.yaml", base, ours, theirs)
    assert conflict is None and data is not None
    assert Story.parse(data).get("protected") == ["main"] and Story.parse(data).get("quorum") == 3


def ledger(**balances: int) -> bytes:
    return yaml.safe_dump({"balances": balances}).encode()


def test_ledger_balances_merge_as_counters() -> None:
    data, conflict = merge_file(
        "ledger.yaml", ledger(ada=10, fox=5), ledger(ada=7, fox=8), ledger(ada=12, fox=5)
    )
    assert conflict is None and data is not None
    assert yaml.safe_load(data)["balances"] == {"ada": 9, "fox": 8}


def test_a_ledger_merge_that_would_go_negative_conflicts() -> None:
    _data, conflict = merge_file("ledger.yaml", ledger(ada=10), ledger(ada=2), ledger(ada=1))
    assert conflict is not None and conflict.fields == ("ada",)


def test_strategies_settle_conflicts() -> None:
    ran, hid = page(body=BODY.replace("waited", "ran")), page(body=BODY.replace("waited", "hid"))
    for strategy, expected in (("ours", "The fox ran."), ("theirs", "The fox hid.")):
        data, conflict = merge_file("pages/door.md", page(), ran, hid, strategy)
        assert conflict is None and data is not None and expected in Page.parse("door", data).body
    data, conflict = merge_file("pages/door.md", page(), ran, hid, "union")
    assert conflict is None and data is not None
    assert Page.parse("door", data).body == "The vault was dark.\n\nThe fox ran.\n\nThe fox hid.\n"
    assert merge_file("pages/door.md", page(), None, ran, "union") == (ran, None)
    assert merge_file("pages/door.md", page(), None, ran, "ours") == (None, None)
