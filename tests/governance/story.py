"""A story for the governance tests on every backend: main (protected unless told otherwise) with the
actors ada, bot, cal and dot, the page ``door`` and ``hall``; branch ``side`` edits door's second
paragraph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from narrative_vcs.objects import Actor, Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId
from tests.conftest import ADA, BOT, CAL, Writer

DOT = Actor("dot", "Dot Voter", "human")
T0 = 1_700_100_000  # governance times: after every commit the writer makes

DOOR = "The fox waited.\n\nThe door was shut.\n\nNobody came."
HALL = "A long hall."


@dataclass
class Fork:
    main: ObjectId  # main's head when the side branch was made
    side: ObjectId


def set_story(writer: Writer, *, protected: bool = True, actor: str = "ada", **rules: Any) -> ObjectId:
    """Commit story.yaml with ``protected: [main]`` (unless not ``protected``) and ``rules``."""
    settings: list[tuple[str, Any]] = []
    if protected:
        settings.append(("protected", ["main"]))
    if rules:
        settings.append(("governance", rules))
    return writer.commit(ChangeSet().set_story(Story("The Vault", tuple(settings))), actor=actor)


def make_story(
    writer: Writer, *, protected: bool = True, ledger: dict[str, int] | None = None, **rules: Any
) -> Fork:
    writer.setup(ADA, BOT, CAL, DOT, pages=[Page("door", "Door", DOOR), Page("hall", "Hall", HALL)])
    if ledger is not None:
        writer.mint(ledger)  # gift.txn.v1 mints by ada (a human: every human may mint by default)
    main = set_story(writer, protected=protected, **rules)
    writer.repo.create_branch("side", main)
    side = writer.page("door", DOOR.replace("was shut", "stood open"), branch="side", title="Door")
    return Fork(main, side)


def edit_main(writer: Writer, page: str, body: str) -> ObjectId:
    """Move main by a plain commit (the story must leave main unprotected)."""
    return writer.page(page, body, title=page.title())


def ledger_of(repo: Repository, branch: str = "main") -> dict[str, int]:
    import yaml

    data = repo.read_file("ledger.yaml", branch)
    assert data is not None
    balances: dict[str, int] = yaml.safe_load(data)["balances"]
    return balances
