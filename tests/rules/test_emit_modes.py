"""What an agent's emit does to a page that exists: append by default, a revision merged with what the page
became since the version the agent read, a whole replacement only when asked for; and commits made with the
first semantics (replace by default) still verify. The story is under the rules gate, which replays every
event commit as it lands (docs/rules.md)."""

from __future__ import annotations

from typing import Any

import pytest

from narrative_vcs.errors import BadInput, Conflict
from narrative_vcs.events import Event, ingest
from narrative_vcs.gate import RuleBroken
from narrative_vcs.objects import Page
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move

DOOR = "The door.\n\nIt is locked.\n\nA key hangs beside it.\n"


def emit(repo: Repository, payload: dict[str, Any]) -> ObjectId:
    result = ingest(repo, Event.new("agent.emit.v1", "bot", {"page": "door", **payload}, branch="main"))
    assert result.commit is not None and result.error is None, result.error
    return result.commit


def door(repo: Repository) -> str:
    return repo.read_page("door", "main").body


@pytest.fixture
def read(story: Repository, writer: Writer) -> ObjectId:
    """The commit the agent read the door at (three paragraphs)."""
    return writer.page("door", DOOR, title="Door", follows=("prologue",))


def test_an_emit_without_a_mode_appends_and_records_version_2(story: Repository, read: ObjectId) -> None:
    commit = emit(story, {"body": "Someone knocks."})
    assert door(story) == DOOR + "\nSomeone knocks.\n"
    assert story.commits.get(commit).event == {"body": "Someone knocks.", "page": "door", "version": 2}
    assert story.commits.get(commit).subject == "Append to door"


def test_a_revision_is_merged_with_what_the_page_became_since_its_base(
    story: Repository, writer: Writer, read: ObjectId
) -> None:
    writer.page("door", DOOR.replace("It is locked.", "It is bolted."), title="Door", follows=("prologue",))
    emit(story, {"mode": "revise", "base": read, "body": DOOR.replace("A key hangs", "A brass key hangs")})
    assert door(story) == "The door.\n\nIt is bolted.\n\nA brass key hangs beside it.\n"


def test_a_revision_that_overlaps_is_a_conflict_and_commits_nothing(
    story: Repository, writer: Writer, read: ObjectId
) -> None:
    edited = writer.page(
        "door", DOOR.replace("It is locked.", "It is bolted."), title="Door", follows=("prologue",)
    )
    event = Event.new(
        "agent.emit.v1",
        "bot",
        {
            "page": "door",
            "mode": "revise",
            "base": read,
            "body": DOOR.replace("It is locked.", "It is open."),
        },
        branch="main",
    )
    with pytest.raises(Conflict) as refused:
        ingest(story, event)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("agent.emit.v1: page door changed on main since")
    assert "'It is bolted.'" in message
    assert head(story) == edited


def test_a_replacement_needs_the_current_base_or_force(
    story: Repository, writer: Writer, read: ObjectId
) -> None:
    with pytest.raises(BadInput, match=r"payload\.base: mode replace needs base, .* \(or force: true\)$"):
        ingest(story, Event.new("agent.emit.v1", "bot", {"page": "door", "body": "Gone.", "mode": "replace"}))
    emit(story, {"mode": "replace", "base": read, "body": "A new door."})  # nothing changed since: replaced
    assert door(story) == "A new door.\n"
    stale = Event.new(
        "agent.emit.v1",
        "bot",
        {"page": "door", "body": "Older.", "mode": "replace", "base": read},
        branch="main",
    )
    before = head(story)
    with pytest.raises(Conflict, match="send mode revise to merge, or force: true"):
        ingest(story, stale)
    assert head(story) == before
    emit(story, {"mode": "replace", "force": True, "body": "Forced."})
    assert door(story) == "Forced.\n"


def test_a_base_can_be_the_page_version_and_bad_fields_are_refused(story: Repository, read: ObjectId) -> None:
    blob = story.snapshots.blob_id(story.commits.get(read).tree, "pages/door.md")
    assert blob is not None
    emit(story, {"mode": "revise", "base": blob, "body": DOOR + "\nA draught.\n"})
    assert door(story).endswith("beside it.\n\nA draught.\n")
    cases = [
        ({"base": read}, "base and force go with mode revise or replace"),
        ({"mode": "revise"}, "mode revise needs base"),
        ({"mode": "revise", "base": "0" * 40}, "is not a commit or page version of this story"),
        ({"mode": "revise", "base": "abc"}, "is not a commit or page version id"),
        ({"mode": "revise", "base": read, "force": True}, "only 'force: true' with mode replace"),
        ({"mode": "replace", "force": False}, "force"),
    ]
    for fields, reason in cases:
        with pytest.raises(BadInput, match=reason):
            ingest(story, Event.new("agent.emit.v1", "bot", {"page": "door", "body": "x", **fields}))
    tree = story.commits.get(read).tree  # an object of the story that is no page version
    with pytest.raises(BadInput, match="is neither a commit nor a version of page door"):
        ingest(
            story,
            Event.new("agent.emit.v1", "bot", {"page": "door", "body": "x", "mode": "revise", "base": tree}),
        )


def test_old_commits_replaced_by_default_and_still_verify(story: Repository, read: ObjectId) -> None:
    """A commit of the first semantics (no version: replace) verifies; the same change claimed under
    version 2 (an append) does not."""
    page = Page("door", "Door", "Replaced.", ("prologue",)).serialise()
    old = {"page": "door", "body": "Replaced."}
    forged = forge(
        story, read, {"pages/door.md": page}, author="bot", kind="agent.emit.v1", event=old, event_id="old-1"
    )
    move(story, "main", forged)
    assert door(story) == "Replaced.\n"
    claimed = forge(
        story,
        forged,
        {"pages/door.md": Page("door", "Door", "Again.", ("prologue",)).serialise()},
        author="bot",
        kind="agent.emit.v1",
        event={**old, "body": "Again.", "version": 2},
        event_id="new-1",
    )
    with pytest.raises(
        RuleBroken, match=r"changes pages/door\.md otherwise than its agent\.emit\.v1 event new-1 does"
    ):
        move(story, "main", claimed)
    assert head(story) == forged
