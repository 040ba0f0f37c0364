"""Which refs a story has, and how tags move.

A story's refs are branches (``refs/heads/``), tags (``refs/tags/``), remote-tracking refs
(``refs/remotes/``, where fetched history waits, unverified, until it is merged or fast-forwarded into
a branch) and stashes (``refs/stash/<n>``, uncommitted work put aside, unverified: checked if it is ever
committed). A tag is made once and may be deleted; it never moves to another commit.
"""

from __future__ import annotations

from ..gate import MoveCheck, Rule
from ..refs import HEADS, STASHES, TAGS, validate_ref_name

__all__ = ["StoryRefs"]

REMOTES = "refs/remotes/"


class StoryRefs(Rule):
    name = "refs"

    def check_move(self, check: MoveCheck) -> None:
        move = check.move
        if move.ref.startswith(HEADS):
            validate_ref_name("branch", move.ref[len(HEADS) :])
        elif move.ref.startswith(TAGS):
            validate_ref_name("tag", move.ref[len(TAGS) :])
            if move.old is not None and move.new is not None:
                check.fail(
                    self.name, f"tag {move.ref[len(TAGS) :]} does not move: delete it and make it again"
                )
        elif move.ref.startswith(STASHES):
            number = move.ref[len(STASHES) :]
            if not number.isdigit() or len(number) > 9:
                check.fail(self.name, f"{move.ref}: a stash is refs/stash/<number>")
        elif move.ref.startswith(REMOTES):
            validate_ref_name("remote-tracking ref", move.ref[len(REMOTES) :])
        else:
            check.fail(
                self.name, f"{move.ref}: a story has branches, tags, remote-tracking refs and stashes only"
            )
