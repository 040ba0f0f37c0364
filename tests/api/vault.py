"""The vault: a story on disk with a protected ``main``, several actors with tokens and branches to
attack it from (tests/api/test_rules_attacks.py, tests/api/git/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from narrative_vcs.access import create_token
from narrative_vcs.graph.factory import init_repository
from narrative_vcs.objects import Actor, Page, Story
from narrative_vcs.repository import ChangeSet
from narrative_vcs.worktree import WorkTree
from tests.conftest import ADA, BOT, CAL, Writer

__all__ = ["BOB", "DOOR", "Built", "build_vault"]

BOB = Actor("bob", "Bob Builder", "human")
DOOR = "The fox waited.\n\nThe door was shut.\n\nNobody came."


@dataclass
class Built:
    """A story on disk: its first commit, its heads when built, and a token per actor."""

    root: Path
    first: str
    heads: dict[str, str]
    tokens: dict[str, str]


def build_vault(tmp_path: Path, store: str | None = None) -> Built:
    """Actors ada, bob, cal (humans) and bot (an agent); pages door and hall; ada holds 5 tokens; zed
    has a token but no record yet.

    - ``clash``: from the first commit, door's second paragraph reads "was green";
    - ``main``: door reads "was brown", ada's mint, then story.yaml ``protected: [main]``;
    - ``side``: from main, a shorter hall (merges cleanly into main);
    - ``draft``: at main, unprotected, for plain commits (clash conflicts with it on door).

    The work tree is a checkout of main, so the CLI can work next to the server.
    """
    root = tmp_path / "story"
    repo = init_repository(root, store=store)
    try:
        WorkTree(root, repo).save_state()  # a checkout of nothing yet: main is checked out at the end
        writer = Writer(repo)
        pages = [Page("door", "Door", DOOR), Page("hall", "Hall", "A long hall.")]
        first = writer.setup(ADA, BOB, CAL, BOT, pages=pages)
        repo.create_branch("clash", first)
        writer.page("door", DOOR.replace("was shut", "was green"), branch="clash", title="Door")
        writer.page("door", DOOR.replace("was shut", "was brown"), title="Door")
        writer.mint({"ada": 5})
        story = Story("The Vault", (("protected", ["main"]),))
        main = writer.commit(ChangeSet().set_story(story), message="Protect main")
        repo.create_branch("side", main)
        repo.create_branch("draft", main)
        writer.page("hall", "A short hall.", branch="side", title="Hall")
        WorkTree(root, repo).checkout("main", main)
        tokens = {actor: create_token(repo.access, actor)[1] for actor in ("ada", "bob", "cal", "bot", "zed")}
        return Built(root, first, dict(repo.branches()), tokens)
    finally:
        repo.close()
