"""A story under the rules, in memory: the rules are the same on every backend (the shared suite and the
CLI, API and push tests run them on git and Neo4j too)."""

from __future__ import annotations

import pytest

from narrative_vcs.objects import Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.rules import story_rules
from narrative_vcs.types import ObjectId
from tests.conftest import Writer

GLYPHS = [
    {"id": "key", "rotation": 90, "opcode": "create_branch", "args": {"name": "vault-{n}"}},
    {
        "id": "ink",
        "rotation": 180,
        "opcode": "emit",
        "args": {"page": "door", "body": "Ink by {actor}.", "mode": "append"},
    },
]
STORY = Story("The Vault", (("glyphs", GLYPHS), ("gift", {"minters": ["ada"]})))


@pytest.fixture
def story() -> Repository:
    """ada (human, the minter), bot (agent), cal (human); pages prologue and door (door follows
    prologue); the glyph table; main unprotected."""
    repo = Repository.memory(rules=story_rules())
    writer = Writer(repo)
    writer.setup(
        pages=[Page("prologue", "Prologue", "It begins."), Page("door", "Door", "The door.", ("prologue",))]
    )
    writer.commit(ChangeSet().set_story(STORY), message="Settings")
    return repo


@pytest.fixture
def writer(story: Repository) -> Writer:
    w = Writer(story)
    w.time = story.commits.get(story.branch_head("main")).time  # type: ignore[arg-type]
    return w


def head(repo: Repository, branch: str = "main") -> ObjectId:
    found = repo.branch_head(branch)
    assert found is not None
    return found
