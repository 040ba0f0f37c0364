"""Which commits are events: the topics one may list and the branches a listing walks.

``gvcs event list`` and the GraphQL ``events`` field both list the event commits of a topic, newest
first, on one branch or on every branch; this module is what they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BadInput, NotFound
from ..refs import branch_ref
from .model import TOPICS

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["check_topic", "event_branches"]


def check_topic(topic: str) -> str:
    """``topic`` if it is an event topic; BadInput naming the topics otherwise."""
    if topic not in TOPICS:
        raise BadInput(f"unknown event topic {topic!r}: use one of {', '.join(TOPICS)}")
    return topic


def event_branches(repo: Repository, branch: str | None) -> list[str]:
    """The branches a listing walks: ``branch`` (which must exist), else every branch, sorted."""
    if branch is None:
        return sorted(repo.branches())
    branch_ref(branch)  # BadInput for an invalid name
    if repo.branch_head(branch) is None:
        raise NotFound(f"branch {branch!r} not found")
    return [branch]
