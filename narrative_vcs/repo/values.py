"""The values the repository API takes and returns: change sets, file changes, merge outcomes, log pages.

Plain data, no I/O: the repository layers (:mod:`narrative_vcs.repo`) build and read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, GvcsError
from ..history import CommitInfo
from ..objects import Actor, Page, Story, event_trailer, validate_id
from ..records import field, record
from ..snapshot import TreeDiff, check_path
from ..types import ObjectId, RefName

if TYPE_CHECKING:
    from ..gate import Problem
    from ..merge.contents import Conflict
    from ..merge.snapshot import SnapshotMerge

__all__ = [
    "DEFAULT_BRANCH",
    "HEAD",
    "BlameEntry",
    "BuiltCommit",
    "ChangeSet",
    "CommitBuilder",
    "FileChange",
    "FsckReport",
    "GroupOutcome",
    "LogPage",
    "MergeOutcome",
    "MergePreview",
    "PendingCommit",
    "Resolution",
    "RulesReport",
    "StorySnapshot",
    "path_kind",
]


HEAD = RefName("HEAD")
DEFAULT_BRANCH = "main"

# How one conflicted file of a merge is settled: a side (ours, theirs, base, union), the file's new
# content, or None (the file is removed). See Repository.merge_resolved.
Resolution = str | bytes | None


# --- values the API returns -----------------------------------------------------------------------


@record(frozen=False)
class ChangeSet:
    """Pages, actors and other files to write (a value) or delete (None) in one commit."""

    pages: dict[str, Page | None] = field(default_factory=dict)
    actors: dict[str, Actor | None] = field(default_factory=dict)
    files: dict[str, bytes | None] = field(default_factory=dict)

    def upsert_page(self, page: Page) -> ChangeSet:
        self.pages[page.id] = page
        return self

    def delete_page(self, page_id: str) -> ChangeSet:
        self.pages[validate_id("page", page_id)] = None
        return self

    def upsert_actor(self, actor: Actor) -> ChangeSet:
        self.actors[actor.id] = actor
        return self

    def delete_actor(self, actor_id: str) -> ChangeSet:
        self.actors[validate_id("actor", actor_id)] = None
        return self

    def put_file(self, path: str, data: bytes) -> ChangeSet:
        self.files[_check_plain_path(path)] = data
        return self

    def delete_file(self, path: str) -> ChangeSet:
        self.files[_check_plain_path(path)] = None
        return self

    def set_story(self, story: Story) -> ChangeSet:
        return self.put_file(Story.PATH, story.serialise())

    def is_empty(self) -> bool:
        return not (self.pages or self.actors or self.files)

    def paths(self) -> dict[str, bytes | None]:
        """The change set as logical paths and serialised contents."""
        out: dict[str, bytes | None] = {}
        for pid, page in self.pages.items():
            out[f"pages/{pid}.md"] = None if page is None else page.serialise()
        for aid, actor in self.actors.items():
            out[f"actors/{aid}.yaml"] = None if actor is None else actor.serialise()
        out.update(self.files)
        return out


def _check_plain_path(path: str) -> str:
    check_path(path)
    if path.startswith(("pages/", "actors/")):
        raise BadInput(f"{path}: write pages and actors as pages and actors, not as files")
    if path == Story.PATH:
        return path
    return path


@record
class FileChange:
    """A file that differs between two revisions."""

    path: str
    status: str  # added | removed | modified
    old: ObjectId | None
    new: ObjectId | None

    @property
    def kind(self) -> str:
        return path_kind(self.path)[0]

    @property
    def item_id(self) -> str | None:
        return path_kind(self.path)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "id": self.item_id,
            "status": self.status,
            "old": self.old,
            "new": self.new,
        }

    @classmethod
    def from_diff(cls, d: TreeDiff) -> FileChange:
        status = "added" if d.old is None else "removed" if d.new is None else "modified"
        return cls(d.path, status, d.old, d.new)


def path_kind(path: str) -> tuple[str, str | None]:
    """What a logical path holds: ("page", id), ("actor", id), ("story", None) or ("file", None)."""
    if path.startswith("pages/") and path.endswith(".md") and path.count("/") == 1:
        return "page", path[6:-3]
    if path.startswith("actors/") and path.endswith(".yaml") and path.count("/") == 1:
        return "actor", path[7:-5]
    if path == Story.PATH:
        return "story", None
    return "file", None


@record
class LogPage:
    """One page of a log: the commits and the cursor to pass as ``after`` for the next page."""

    commits: list[CommitInfo]
    next_cursor: str | None


@record
class MergePreview:
    """A merge worked out but not committed: its bases, whether it is a no-op or a fast-forward, and
    the merged snapshot with its conflicts."""

    ours: ObjectId
    theirs: ObjectId
    bases: list[ObjectId]
    up_to_date: bool
    fast_forward: bool
    result: SnapshotMerge
    base_tree: ObjectId | None = None  # the merge base's tree (a virtual one for several bases)

    @property
    def clean(self) -> bool:
        return self.result.clean


@record
class MergeOutcome:
    """What :meth:`Repository.merge` did: ``up-to-date``, ``fast-forward``, ``merged`` or ``conflicts``
    (then ``commit`` is None and nothing was written)."""

    status: str
    commit: ObjectId | None
    preview: MergePreview

    @property
    def conflicts(self) -> list[Conflict]:
        return self.preview.result.conflicts


@record
class PendingCommit:
    """One change set of a group commit (:meth:`Repository.commit_group`)."""

    changes: ChangeSet
    expected_head: ObjectId | None
    actor: str
    message: str
    kind: str = "edit"


@record
class BuiltCommit:
    """A commit worked out against the tip it goes on (see :meth:`Repository.commit_built`)."""

    changes: ChangeSet
    actor: str
    message: str
    kind: str = "edit"
    event: Mapping[str, Any] | None = None
    event_id: str | None = None
    trailers: Mapping[str, str] = field(default_factory=dict)
    timestamp: int | None = None

    def facts(self) -> dict[str, str]:
        """The trailers after ``Gvcs-Actor`` and ``Gvcs-Kind``, as :meth:`Repository.commit` writes them."""
        facts: dict[str, str] = {}
        if self.event_id is not None:
            facts["Gvcs-Event-Id"] = self.event_id
        if self.event is not None:
            facts["Gvcs-Event"] = event_trailer(self.event)
        facts.update(self.trailers)
        return facts


#: Works out a commit from the tip it goes on (its id and tree; None on a branch without commits):
#: a :class:`BuiltCommit`, None to leave it out, or a :class:`GvcsError` that refuses it alone.
CommitBuilder = Callable[[ObjectId | None, ObjectId | None], BuiltCommit | None]


@record
class GroupOutcome:
    """What became of one change set of a group: its commit and the head it was applied on (its
    parent), or the error that refused it."""

    commit: ObjectId | None
    parent: ObjectId | None
    rebased: bool
    error: GvcsError | None


@record
class BlameEntry:
    """A paragraph of a page and the commit that last changed it."""

    index: int
    text: str
    commit: CommitInfo

    def to_json(self) -> dict[str, Any]:
        return {
            "paragraph": self.index,
            "text": self.text,
            "commit": self.commit.id,
            "actor": self.commit.actor,
            "time": self.commit.time,
            "subject": self.commit.subject,
        }


@record(frozen=False)
class FsckReport:
    objects: int = 0
    refs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@record(frozen=False)
class RulesReport:
    """What :meth:`Repository.fsck_rules` found: how much it checked and every rule broken."""

    commits: int = 0
    refs: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "commits": self.commits,
            "refs": self.refs,
            "problems": [
                {"commit": p.commit, "ref": p.ref, "rule": p.error.rule, "message": str(p)}
                for p in self.problems
            ],
        }


@record
class StorySnapshot:
    """The whole story at one commit."""

    commit: ObjectId | None
    story: Story | None
    pages: dict[str, Page]
    actors: dict[str, Actor]
    files: dict[str, bytes]
