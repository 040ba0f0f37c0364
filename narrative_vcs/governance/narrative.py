"""The ``narrative.change.v1`` changes of a history: what landed on protected branches, and decisions.

A commit is a change of the story when it is on a branch's first-parent line and either story.yaml at
its first parent (the branch's head before it) protects the branch, or it is a proposal's merge (a
decision lands wherever it was proposed into). Nothing is stored besides the history: the changes are
read off it, so every copy of the story has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import BadInput, GvcsError
from ..history import CommitInfo
from ..objects import Story
from ..types import ObjectId
from .hooks import NarrativeChange
from .rules import protected_branches

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["changes_between", "history_changes", "is_protected_at", "lands"]

_PROTECTED: dict[ObjectId, frozenset[str]] = {}  # by story.yaml blob


def is_protected_at(repo: Repository, branch: str, commit: ObjectId | None) -> bool:
    """Whether story.yaml at ``commit`` protects ``branch`` (never for None: a branch being created)."""
    if commit is None:
        return False
    blob = repo.snapshots.blob_id(repo.commits.get(commit).tree, Story.PATH)
    if blob is None:
        return False
    found = _PROTECTED.get(blob)
    if found is None:
        try:
            found = protected_branches(Story.parse(repo.read_blob(blob)))
        except BadInput:
            found = frozenset()
        if len(_PROTECTED) > 1000:
            _PROTECTED.clear()
        _PROTECTED[blob] = found
    return branch in found


def change_of(repo: Repository, branch: str, info: CommitInfo) -> NarrativeChange:
    """The narrative change of ``info`` landing on ``branch``."""
    previous = info.parents[0] if info.parents else None
    raw = info.trailers.get("Gvcs-Proposal")
    proposal = int(raw) if raw is not None and raw.isdigit() else None
    source = None
    if proposal is not None and len(info.parents) > 1:
        source = _proposal_source(repo, proposal)
    parent_tree = repo.commits.get(previous).tree if previous else None
    pages = tuple(
        d.path[6:-3] for d in repo.snapshots.diff(parent_tree, info.tree) if d.path.startswith("pages/")
    )
    return NarrativeChange(
        branch=branch,
        commit=info.id,
        previous=previous,
        actor=info.actor,
        kind=info.kind,
        proposal=proposal,
        source=source,
        time=info.time,
        summary=info.subject,
        pages=pages,
    )


def changes_between(
    repo: Repository, branch: str, old: ObjectId | None, new: ObjectId, *, limit: int = 1000
) -> list[NarrativeChange]:
    """The changes that landed on ``branch`` when it moved from ``old`` to ``new``, oldest first: its
    first-parent line after ``old``, each commit whose parent protected the branch (at most ``limit``,
    the newest; none when ``old`` is not on that line)."""
    line: list[CommitInfo] = []
    for info in repo.commits.walk([new], first_parent=True):
        if info.id == old:
            break
        if len(line) >= limit:
            break
        line.append(info)
    else:
        if old is not None:
            return []
    return [change_of(repo, branch, info) for info in reversed(line) if lands(repo, branch, info)]


def history_changes(repo: Repository, branch: str, head: ObjectId) -> Iterator[NarrativeChange]:
    """Every change that landed on ``branch`` in the history of ``head``, newest first."""
    for info in repo.commits.walk([head], first_parent=True):
        if lands(repo, branch, info):
            yield change_of(repo, branch, info)


def lands(repo: Repository, branch: str, info: CommitInfo) -> bool:
    """Whether ``info``, on ``branch``'s first-parent line, is a change of the story."""
    if not info.parents:
        return False
    return is_protected_at(repo, branch, info.parents[0]) or (
        len(info.parents) > 1 and "Gvcs-Proposal" in info.trailers
    )


def _proposal_source(repo: Repository, number: int) -> str | None:
    from .lifecycle import show

    try:
        return show(repo, number).source
    except GvcsError:  # a proposal the governance branch does not have (a copied branch): no source
        return None
