"""narrative_vcs/rules/actors.py: who may commit, and whose records a commit may change."""

from __future__ import annotations

import pytest

from narrative_vcs.gate import RuleBroken
from narrative_vcs.objects import Actor, Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.rules import story_rules
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move

ZED = Actor("zed", "Zed Newcomer", "agent")
HALL = Page("hall", "Hall", "A hall.").serialise()


def test_a_newcomer_introduces_itself_and_nobody_else(story: Repository, writer: Writer) -> None:
    before = head(story)
    with pytest.raises(
        RuleBroken, match=r"zed is not an actor here: add actors/zed.yaml in their first commit"
    ):
        move(story, "main", forge(story, before, {"pages/hall.md": HALL}, author="zed"))
    other = {"actors/zed.yaml": ZED.serialise(), "actors/yan.yaml": Actor("yan", "Yan").serialise()}
    with pytest.raises(RuleBroken, match=r"zed joins in this commit and cannot also write actors/yan\.yaml"):
        move(story, "main", forge(story, before, other, author="zed"))
    assert head(story) == before
    writer.commit(ChangeSet().upsert_actor(ZED).upsert_page(Page("hall", "Hall", "Zed's hall.")), actor="zed")
    writer.commit(ChangeSet().upsert_actor(Actor("yan", "Yan")), actor="zed")  # an actor now: adds others


def test_a_story_may_close_the_door(story: Repository, writer: Writer) -> None:
    record = story.read_story_record()
    assert record is not None
    writer.commit(
        ChangeSet().set_story(Story(record.title, (*record.settings, ("actors", {"join": "closed"}))))
    )
    closed = r"zed is not an actor here and story\.yaml says actors\.join: closed"
    with pytest.raises(RuleBroken, match=closed):
        writer.commit(ChangeSet().upsert_actor(ZED), actor="zed")
    writer.commit(ChangeSet().upsert_actor(ZED), actor="ada")  # an existing actor still adds one


def test_only_an_actor_changes_their_own_record(story: Repository, writer: Writer) -> None:
    hijack = ChangeSet().upsert_actor(Actor("bot", "Bot Hijacked", "agent"))
    with pytest.raises(RuleBroken, match=r"ada cannot change bot's record \(actors/bot.yaml\): only bot can"):
        writer.commit(hijack, actor="ada")
    with pytest.raises(RuleBroken, match=r"ada cannot remove cal's record"):
        writer.commit(ChangeSet().delete_actor("cal"), actor="ada")
    writer.commit(ChangeSet().upsert_actor(Actor("bot", "Loom Bot, renamed", "agent")), actor="bot")
    writer.commit(ChangeSet().delete_actor("cal"), actor="cal")  # leaving the story
    assert story.read_actor("bot").name == "Loom Bot, renamed"


def test_a_merge_brings_a_record_as_its_owner_changed_it(story: Repository, writer: Writer) -> None:
    story.create_branch("side")
    writer.commit(
        ChangeSet().upsert_actor(Actor("bot", "Bot on the side", "agent")), actor="bot", branch="side"
    )
    writer.page("hall", "A hall.")
    outcome = story.merge("main", "side", actor="ada", expected_head=head(story))
    assert outcome.status == "merged" and story.read_actor("bot").name == "Bot on the side"
    base = head(story)
    forged = forge(story, base, {"actors/bot.yaml": Actor("bot", "Bot, says ada", "agent").serialise()})
    with pytest.raises(RuleBroken, match="ada cannot change bot's record"):
        move(story, "main", forged)


def test_the_first_commit_holds_its_author(story: Repository) -> None:
    repo = Repository.memory(rules=story_rules())
    with pytest.raises(RuleBroken, match=r"the first commit of a story holds its author's record"):
        move(repo, "main", forge(repo, None, {"pages/hall.md": HALL}))
    Writer(repo).setup()
