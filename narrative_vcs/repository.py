"""The repository API: the one module the CLI, the GraphQL server and the workers call.

A :class:`Repository` is an :class:`~narrative_vcs.store.ObjectStore` and a
:class:`~narrative_vcs.refs.RefStore`, injected. It never imports a backend and reads no environment.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .access import AccessStore, MemoryAccessStore
from .errors import (
    BadInput,
    BranchMoved,
    CorruptObject,
    GvcsError,
    InvalidFile,
    MergeConflicts,
    NotFound,
    NothingToCommit,
    Refused,
)
from .history import CommitInfo, Commits
from .merge.text import split_paragraphs
from .objects import (
    Actor,
    Commit,
    Page,
    Signature,
    Story,
    Tree,
    event_trailer,
    format_message,
    hash_object,
    validate_id,
)
from .refs import HEADS, TAGS, MemoryRefStore, RefStore, branch_ref, tag_ref
from .snapshot import EMPTY_TREE, Snapshots, TreeDiff, check_path
from .store import MemoryObjectStore, ObjectStore
from .types import ObjectId, RefName

if TYPE_CHECKING:
    from .merge.base import CommitGraph
    from .merge.contents import Conflict
    from .merge.snapshot import SnapshotMerge
    from .semdiff import SemanticChange

__all__ = [
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
    "Repository",
    "Resolution",
    "StorySnapshot",
    "path_kind",
    "split_paragraphs",
]

HEAD = RefName("HEAD")
DEFAULT_BRANCH = "main"

# How one conflicted file of a merge is settled: a side (ours, theirs, base, union), the file's new
# content, or None (the file is removed). See Repository.merge_resolved.
Resolution = str | bytes | None


# --- values the API returns -----------------------------------------------------------------------


@dataclass
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class LogPage:
    """One page of a log: the commits and the cursor to pass as ``after`` for the next page."""

    commits: list[CommitInfo]
    next_cursor: str | None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class MergeOutcome:
    """What :meth:`Repository.merge` did: ``up-to-date``, ``fast-forward``, ``merged`` or ``conflicts``
    (then ``commit`` is None and nothing was written)."""

    status: str
    commit: ObjectId | None
    preview: MergePreview

    @property
    def conflicts(self) -> list[Conflict]:
        return self.preview.result.conflicts


@dataclass(frozen=True)
class PendingCommit:
    """One change set of a group commit (:meth:`Repository.commit_group`)."""

    changes: ChangeSet
    expected_head: ObjectId | None
    actor: str
    message: str
    kind: str = "edit"


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class GroupOutcome:
    """What became of one change set of a group: its commit and the head it was applied on (its
    parent), or the error that refused it."""

    commit: ObjectId | None
    parent: ObjectId | None
    rebased: bool
    error: GvcsError | None


@dataclass(frozen=True)
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


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StorySnapshot:
    """The whole story at one commit."""

    commit: ObjectId | None
    story: Story | None
    pages: dict[str, Page]
    actors: dict[str, Actor]
    files: dict[str, bytes]


# --- the repository -------------------------------------------------------------------------------


class Repository:
    """A story repository over an object store and a ref store."""

    def __init__(self, objects: ObjectStore, refs: RefStore, access: AccessStore | None = None) -> None:
        self.objects = objects
        self.refs = refs
        self.access: AccessStore = access if access is not None else MemoryAccessStore()
        self.snapshots = Snapshots(objects)
        self.commits = Commits(objects)
        self._actors: dict[ObjectId, Actor] = {}  # parsed actor records by blob id
        self._graph: CommitGraph | None = None  # the commit DAG, built on first use
        self._protected: dict[ObjectId, frozenset[str]] = {}  # protected branches by story.yaml blob

    @classmethod
    def memory(cls) -> Repository:
        """A scratch repository held in memory, with HEAD on ``main``."""
        repo = cls(MemoryObjectStore(), MemoryRefStore())
        repo.refs.set_symbolic(HEAD, branch_ref(DEFAULT_BRANCH))
        return repo

    def close(self) -> None:
        self.objects.close()
        self.refs.close()
        self.access.close()

    # --- refs -------------------------------------------------------------------------------------

    def head_branch(self) -> str | None:
        target = self.refs.get_symbolic(HEAD)
        return target[len(HEADS) :] if target and target.startswith(HEADS) else None

    def set_head_branch(self, name: str) -> None:
        self.refs.set_symbolic(HEAD, branch_ref(name))

    def refs_state(self) -> tuple[str | None, tuple[tuple[str, ObjectId], ...]]:
        """Every ref and where HEAD points: what a read depends on besides objects, which never change.
        Equal states mean equal answers to the same read."""
        return self.refs.get_symbolic(HEAD), tuple(sorted(self.refs.list("refs/").items()))

    def branches(self) -> dict[str, ObjectId]:
        return {k[len(HEADS) :]: v for k, v in self.refs.list(HEADS).items()}

    def tags(self) -> dict[str, ObjectId]:
        return {k[len(TAGS) :]: v for k, v in self.refs.list(TAGS).items()}

    def branch_head(self, name: str) -> ObjectId | None:
        return self.refs.get(branch_ref(name))

    def create_branch(self, name: str, start: str | None = None, *, who: str = "") -> ObjectId:
        oid = self.resolve(start or "HEAD")
        self._require_new(branch_ref(name), f"branch {name}")
        self.refs.add_if_new(
            branch_ref(name), oid, who=who, message=f"branch: created from {start or 'HEAD'}"
        )
        return oid

    def delete_branch(self, name: str, expected: ObjectId | None = None, *, who: str = "") -> ObjectId:
        ref = branch_ref(name)
        current = self.refs.get(ref)
        if current is None:
            raise NotFound(f"branch {name!r} not found")
        if self.head_branch() == name:
            raise BadInput(f"cannot delete branch {name!r}: it is the current branch")
        if name in self.protected_at(current):
            raise Refused(f"{name} is protected (story.yaml): it cannot be deleted")
        self.refs.remove_if_equals(ref, expected or current, who=who, message="branch: deleted")
        return current

    def create_tag(self, name: str, rev: str = "HEAD", *, who: str = "") -> ObjectId:
        oid = self.resolve(rev)
        self._require_new(tag_ref(name), f"tag {name}")
        self.refs.add_if_new(tag_ref(name), oid, who=who, message=f"tag: {rev}")
        return oid

    def delete_tag(self, name: str) -> None:
        ref = tag_ref(name)
        if self.refs.get(ref) is None:
            raise NotFound(f"tag {name!r} not found")
        self.refs.remove_if_equals(ref, None, message="tag: deleted")

    def _require_new(self, ref: RefName, what: str) -> None:
        if self.refs.get(ref) is not None:
            raise BadInput(f"{what} already exists")

    # --- revisions --------------------------------------------------------------------------------

    _REV = re.compile(r"^(?P<base>.*?)(?P<suffix>(?:~\d*|\^\d*)*)$")

    def resolve(self, rev: str) -> ObjectId:
        """A commit id from a revision: id, unique prefix, branch, tag or HEAD, with ``~N``/``^N``."""
        if not isinstance(rev, str) or not rev or len(rev) > 300 or any(ord(c) < 32 for c in rev):
            raise BadInput(f"invalid revision {rev!r}")
        match = self._REV.match(rev)
        assert match is not None
        oid = self._resolve_base(match.group("base") or "HEAD", rev)
        for step in re.findall(r"[~^]\d*", match.group("suffix")):
            oid = self._step(oid, step, rev)
        return oid

    def _resolve_base(self, base: str, rev: str) -> ObjectId:
        if base in ("HEAD", "@"):
            oid = self.refs.get(HEAD)
            if oid is None:
                raise NotFound(f"{rev}: the current branch {self.head_branch()!r} has no commits yet")
            return oid
        if len(base) == 40 and _FULL_ID.fullmatch(base):  # a full id wins over refs, as in git
            try:
                return self.commits.get(ObjectId(base.lower())).id
            except GvcsError:
                pass  # not a commit here: maybe a ref of that name
        for ref in (base, HEADS + base, TAGS + base, "refs/remotes/" + base):
            if ref.startswith("refs/") and not any(c in ref for c in " ~^:?*[\\") and ".." not in ref:
                oid = self.refs.get(RefName(ref))
                if oid is not None:
                    return oid
        if re.fullmatch(r"[0-9a-fA-F]{4,40}", base):
            found = self.objects.resolve_prefix(base.lower())
            commits = [oid for oid in found if self.objects.get(oid)[0] == "commit"]
            if len(commits) == 1:
                return commits[0]
            if len(commits) > 1:
                raise BadInput(f"{rev}: ambiguous commit prefix {base!r} (matches {len(commits)} commits)")
        raise NotFound(f"unknown revision {rev!r}: no branch, tag or commit of that name")

    def _step(self, oid: ObjectId, step: str, rev: str) -> ObjectId:
        count = int(step[1:]) if len(step) > 1 else 1
        if step[0] == "~":
            for _ in range(count):
                parents = self.commits.get(oid).parents
                if not parents:
                    raise NotFound(f"{rev}: history is not that long")
                oid = parents[0]
            return oid
        if count == 0:
            return oid
        parents = self.commits.get(oid).parents
        if len(parents) < count:
            raise NotFound(f"{rev}: commit {oid[:10]} has no parent {count}")
        return parents[count - 1]

    def commit_info(self, rev: str) -> CommitInfo:
        return self.commits.get(self.resolve(rev))

    # --- reading ----------------------------------------------------------------------------------

    def tree_of(self, rev: str | None) -> ObjectId:
        return EMPTY_TREE if rev is None else self.commit_info(rev).tree

    def at(self, rev: str = "HEAD", as_of: int | None = None) -> ObjectId:
        """The commit of ``rev``, or with ``as_of`` the newest one on its first-parent line by then."""
        oid = self.resolve(rev)
        return oid if as_of is None else self.commits.as_of(oid, as_of)

    def read_page(self, page_id: str, rev: str = "HEAD", *, as_of: int | None = None) -> Page:
        validate_id("page", page_id)
        commit = self.at(rev, as_of)
        data = self.snapshots.read(self.commits.get(commit).tree, f"pages/{page_id}.md")
        if data is None:
            raise NotFound(f"page {page_id!r} not found at {rev}")
        return Page.parse(page_id, data)

    def read_actor(self, actor_id: str, rev: str = "HEAD") -> Actor:
        validate_id("actor", actor_id)
        data = self.snapshots.read(self.tree_of(rev), f"actors/{actor_id}.yaml")
        if data is None:
            raise NotFound(f"actor {actor_id!r} not found at {rev}")
        return Actor.parse(actor_id, data)

    def actor_record(self, actor_id: str, blob: ObjectId) -> Actor:
        """The actor record stored in ``blob``, parsed once per repository (records never change)."""
        record = self._actors.get(blob)
        if record is None:
            if len(self._actors) >= 10_000:
                self._actors.clear()
            record = self._actors[blob] = Actor.parse(actor_id, self.read_blob(blob))
        return record

    def read_file(self, path: str, rev: str = "HEAD") -> bytes | None:
        return self.snapshots.read(self.tree_of(rev), check_path(path))

    def read_blob(self, oid: ObjectId) -> bytes:
        return self.objects.get(oid)[1]

    def read_story_record(self, rev: str = "HEAD") -> Story | None:
        data = self.read_file(Story.PATH, rev)
        return None if data is None else Story.parse(data)

    def list_pages(self, rev: str = "HEAD", *, as_of: int | None = None) -> list[str]:
        tree = self.commits.get(self.at(rev, as_of)).tree
        return [name[:-3] for name in self.snapshots.list_dir(tree, "pages") if name.endswith(".md")]

    def list_actors(self, rev: str = "HEAD") -> list[Actor]:
        tree = self.tree_of(rev)
        names = self.snapshots.list_dir(tree, "actors")
        return [Actor.parse(n[:-5], self.read_blob(oid)) for n, oid in names.items() if n.endswith(".yaml")]

    def read_story(self, rev: str = "HEAD", *, as_of: int | None = None) -> StorySnapshot:
        """Every page, actor and file of the story at a revision (or as of a time)."""
        commit = self.at(rev, as_of)
        pages: dict[str, Page] = {}
        actors: dict[str, Actor] = {}
        files: dict[str, bytes] = {}
        story = None
        for path, oid in self.snapshots.walk(self.commits.get(commit).tree):
            kind, item = path_kind(path)
            data = self.read_blob(oid)
            if kind == "page" and item:
                pages[item] = Page.parse(item, data)
            elif kind == "actor" and item:
                actors[item] = Actor.parse(item, data)
            elif kind == "story":
                story = Story.parse(data)
            else:
                files[path] = data
        return StorySnapshot(commit, story, dict(sorted(pages.items())), dict(sorted(actors.items())), files)

    # --- writing ----------------------------------------------------------------------------------

    def commit(
        self,
        branch: str,
        changes: ChangeSet,
        *,
        actor: str,
        message: str,
        expected_head: ObjectId | None,
        kind: str = "edit",
        extra_parents: Sequence[ObjectId] = (),
        trailers: Mapping[str, str] | None = None,
        event: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
        allow_empty: bool = False,
    ) -> ObjectId:
        """Commit ``changes`` on ``branch`` if the branch is still at ``expected_head``.

        ``expected_head`` None means the branch must not exist yet (the first commit). A stale head
        raises :class:`BranchMoved` and writes no ref; the objects already written are unreachable
        and harmless.
        """
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        self._guard(branch, current, kind)
        base_tree = self.commits.get(current).tree if current else None
        paths = changes.paths()
        self._check_changes(base_tree, changes)
        author = self._author(base_tree, changes, actor)
        # The blobs, trees and commit are written together (one pack on disk) when the batch ends,
        # and only then is the ref moved: it never points at objects that are not all in place.
        # An error inside the batch writes nothing.
        with self.objects.batch():
            new_tree = self.snapshots.write(base_tree, paths) if paths else (base_tree or EMPTY_TREE)
            if new_tree == (base_tree or EMPTY_TREE) and not allow_empty and not extra_parents:
                raise NothingToCommit("nothing to commit: the change set changes nothing")
            facts = {"Gvcs-Actor": actor, "Gvcs-Kind": _check_kind(kind)}
            if event_id is not None:
                facts["Gvcs-Event-Id"] = event_id
            if event is not None:
                facts["Gvcs-Event"] = event_trailer(event)
            facts.update(trailers or {})
            parents = ((current,) if current else ()) + tuple(extra_parents)
            commit = self._commit_object(new_tree, parents, author, message, facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
        self._move(ref, current, oid, author, commit)
        return oid

    def commit_group(self, branch: str, items: Sequence[PendingCommit]) -> list[GroupOutcome]:
        """Commit several change sets on ``branch`` one after the other, with one ref update.

        Each item is applied in order on the tip so far: directly when its ``expected_head`` is that
        tip, else when nothing between its ``expected_head`` and the tip touches a file it writes (it
        is then ``rebased``), else it fails with :class:`BranchMoved` naming the files. An item that
        fails (a conflict, bad input, an unknown actor) gets its error and the others go on. The
        objects of all are written as one batch, then the branch moves once, by compare-and-swap,
        from where it was to the last commit; if another writer moved it meanwhile, the whole group
        is worked out again on the new head. This is a group commit: many writers of one branch cost
        one ref update and one pack, and each still gets a commit of its own.
        """
        ref = branch_ref(branch)
        for _ in range(100):
            start = self.refs.get(ref)
            tip, tip_tree = start, (self.commits.get(start).tree if start else None)
            outcomes: list[GroupOutcome] = []
            last: tuple[Actor, Commit] | None = None
            with self.objects.batch():
                for item in items:
                    try:
                        self._guard(branch, tip, item.kind)
                        rebased = item.expected_head != tip
                        if rebased:
                            self._check_independent(ref, item, tip, tip_tree)
                        oid, tree, author, commit = self._build_commit(
                            tip, tip_tree, item.changes, item.actor, item.message, item.kind
                        )
                    except GvcsError as exc:
                        outcomes.append(GroupOutcome(None, None, False, exc))
                        continue
                    outcomes.append(GroupOutcome(oid, tip, rebased, None))
                    tip, tip_tree, last = oid, tree, (author, commit)
            if last is None or tip is None:
                return outcomes
            if not self._publish_group(ref, start, tip, last, outcomes):
                continue  # another writer moved the branch: work the group out again on its head
            return outcomes
        raise BranchMoved(ref, None, self.refs.get(ref))

    def _publish_group(
        self,
        ref: RefName,
        old: ObjectId | None,
        tip: ObjectId,
        last: tuple[Actor, Commit],
        outcomes: Sequence[GroupOutcome],
    ) -> bool:
        """Move ``ref`` from ``old`` to a group's last commit (one reflog entry for the group); False if
        another writer moved it first."""
        author, commit = last
        count = sum(o.commit is not None for o in outcomes)
        message = f"commit: {commit.subject}" if count == 1 else f"commit ({count} commits): {commit.subject}"
        try:
            self.refs.set_if_equals(ref, old, tip, who=f"{author.name} <{author.email}>", message=message)
        except BranchMoved:
            return False
        self.objects.maintain()
        return True

    def commit_built(
        self,
        branch: str,
        builders: Sequence[CommitBuilder],
        *,
        start: ObjectId | None = None,
        before: Callable[[ObjectId | None], None] | None = None,
    ) -> list[GroupOutcome]:
        """Commit what each builder works out on the tip it goes on, in order, with one ref update.

        A group commit (as :meth:`commit_group`) for changes that depend on the state they are applied
        to, such as a balance: each builder is called with the running tip (the branch head, then the
        commit of the builder before it) and computes its change set from that tip, so changes of
        different writers never conflict. A builder that returns None is left out; one that raises a
        :class:`GvcsError` is refused alone. A branch that does not exist yet starts at ``start`` (None:
        a root commit) and is created by the same compare-and-swap. If another writer moved the branch
        meanwhile, every builder is called again on the new head, so builders must not write anything
        themselves. ``before`` is called with the head (or ``start``) before each attempt.
        """
        ref = branch_ref(branch)
        for _ in range(100):
            head = self.refs.get(ref)
            base = head if head is not None else start
            if before is not None:
                before(base)
            tip, tip_tree = base, (self.commits.get(base).tree if base else None)
            outcomes: list[GroupOutcome] = []
            last: tuple[Actor, Commit] | None = None
            with self.objects.batch():
                for build in builders:
                    try:
                        built = build(tip, tip_tree)
                        if built is None:
                            outcomes.append(GroupOutcome(None, None, False, None))
                            continue
                        self._guard(branch, tip, built.kind)
                        oid, tree, author, commit = self._build_commit(
                            tip, tip_tree, built.changes, built.actor, built.message, built.kind,
                            facts=built.facts(), timestamp=built.timestamp,
                        )  # fmt: skip
                    except GvcsError as exc:
                        outcomes.append(GroupOutcome(None, None, False, exc))
                        continue
                    outcomes.append(GroupOutcome(oid, tip, False, None))
                    tip, tip_tree, last = oid, tree, (author, commit)
            if last is None or tip is None:
                return outcomes
            if not self._publish_group(ref, head, tip, last, outcomes):
                continue  # another writer moved the branch: work every change out again on its head
            return outcomes
        raise BranchMoved(ref, None, self.refs.get(ref))

    def _check_independent(
        self, ref: RefName, item: PendingCommit, tip: ObjectId | None, tip_tree: ObjectId | None
    ) -> None:
        if tip is None or item.expected_head is None or tip_tree is None:
            raise BranchMoved(ref, item.expected_head, tip)
        overlap = self._moved(item.expected_head, tip_tree, item.changes)
        if overlap:
            raise BranchMoved(ref, item.expected_head, tip, overlap)

    def _moved(self, expected: ObjectId, tip_tree: ObjectId, changes: ChangeSet) -> list[str]:
        """The files ``changes`` writes that differ between ``expected`` and ``tip_tree``: only those
        matter for whether the change set commutes with what moved (not whole-tree diffs)."""
        old_tree = self.commits.get(expected).tree
        return sorted(
            path
            for path in changes.paths()
            if self.snapshots.entry(old_tree, path) != self.snapshots.entry(tip_tree, path)
        )

    def _build_commit(
        self,
        current: ObjectId | None,
        base_tree: ObjectId | None,
        changes: ChangeSet,
        actor: str,
        message: str,
        kind: str,
        *,
        facts: Mapping[str, str] | None = None,
        timestamp: int | None = None,
    ) -> tuple[ObjectId, ObjectId, Actor, Commit]:
        """Write (inside the caller's batch) the trees and commit of ``changes`` on ``current``;
        ``facts``: trailers after ``Gvcs-Actor`` and ``Gvcs-Kind``."""
        validate_id("actor", actor)
        paths = changes.paths()
        self._check_changes(base_tree, changes)
        author = self._author(base_tree, changes, actor)
        new_tree = self.snapshots.write(base_tree, paths) if paths else (base_tree or EMPTY_TREE)
        if new_tree == (base_tree or EMPTY_TREE):
            raise NothingToCommit("nothing to commit: the change set changes nothing")
        all_facts = {"Gvcs-Actor": actor, "Gvcs-Kind": _check_kind(kind), **(facts or {})}
        parents = (current,) if current else ()
        commit = self._commit_object(new_tree, parents, author, message, all_facts, timestamp)
        return self.objects.put("commit", commit.serialise()), new_tree, author, commit

    def _commit_object(
        self,
        tree: ObjectId,
        parents: tuple[ObjectId, ...],
        author: Actor,
        message: str,
        facts: Mapping[str, str],
        timestamp: int | None,
    ) -> Commit:
        when = int(time.time()) if timestamp is None else int(timestamp)
        signature = Signature(author.name, author.email, when, 0)
        return Commit(tree, parents, signature, signature, format_message(message, facts))

    def _move(
        self, ref: RefName, current: ObjectId | None, oid: ObjectId, author: Actor, commit: Commit
    ) -> None:
        who = f"{author.name} <{author.email}>"
        self.refs.set_if_equals(ref, current, oid, who=who, message=f"commit: {commit.subject}")
        self.objects.maintain()

    def merge(
        self,
        branch: str,
        source: str,
        *,
        actor: str,
        expected_head: ObjectId,
        message: str | None = None,
        strategy: str | None = None,
        no_ff: bool = False,
        timestamp: int | None = None,
        proposal: int | None = None,
    ) -> MergeOutcome:
        """Merge ``source`` into ``branch`` if the branch is still at ``expected_head``.

        Up to date: nothing happens. A fast-forward moves the branch unless ``no_ff``. A clean merge
        (or one a ``strategy`` settles) is committed with two parents and kind ``merge``. With
        conflicts nothing is written: the outcome carries the merged snapshot and the conflicts.
        A protected branch refuses the merge, except the one a passed governance ``proposal`` makes
        (only :mod:`narrative_vcs.governance` passes it; the commit gets ``Gvcs-Proposal: <n>``).
        """
        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        if proposal is None:
            self._guard(branch, current, "merge")
        preview = self.merge_preview(current, source, strategy=strategy)
        if preview.up_to_date:
            return MergeOutcome("up-to-date", current, preview)
        if preview.fast_forward and not no_ff:
            self.refs.set_if_equals(ref, current, preview.theirs, message=f"merge {source}: fast-forward")
            return MergeOutcome("fast-forward", preview.theirs, preview)
        if not preview.clean:
            return MergeOutcome("conflicts", None, preview)
        author = self._author(preview.result.tree, ChangeSet(), actor)
        facts = _merge_facts(actor, proposal)
        text = message or f"Merge {source} into {branch}"
        with self.objects.batch():
            commit = self._commit_object(
                preview.result.tree, (current, preview.theirs), author, text, facts, timestamp
            )
            oid = self.objects.put("commit", commit.serialise())
        self._move(ref, current, oid, author, commit)
        return MergeOutcome("merged", oid, preview)

    def merge_resolved(
        self,
        branch: str,
        source: str,
        resolutions: Mapping[str, Resolution],
        *,
        actor: str,
        expected_head: ObjectId,
        message: str | None = None,
        timestamp: int | None = None,
        proposal: int | None = None,
    ) -> MergeOutcome:
        """Merge ``source`` into ``branch`` with every conflict settled by ``resolutions``.

        ``resolutions`` maps each conflicted path to a side (``ours``, ``theirs``, ``base``, ``union``),
        to the file's new content (bytes) or to None (the file is removed). A conflict without a
        resolution raises :class:`MergeConflicts` naming it; a path without a conflict, a page that does
        not parse or a stale ``expected_head`` raise too, and nothing is written. A merge that needs no
        resolution is refused: use :meth:`merge`. Protected branches: as :meth:`merge`.
        """
        from .merge.contents import merge_file

        ref = branch_ref(branch)
        validate_id("actor", actor)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        if proposal is None:
            self._guard(branch, current, "merge")
        preview = self.merge_preview(current, source)
        if preview.clean:
            raise Refused(f"merging {source} into {branch} has no conflicts: merge it without resolutions")
        conflicted = {c.path for c in preview.result.conflicts}
        unknown = sorted(set(resolutions) - conflicted)
        if unknown:
            raise BadInput(f"{unknown[0]} has no conflict in merging {source} into {branch}")
        missing = [c for c in preview.result.conflicts if c.path not in resolutions]
        if missing:
            raise MergeConflicts(f"merging {source} into {branch}: unresolved", missing)
        ours_tree = self.commits.get(current).tree
        theirs_tree = self.commits.get(preview.theirs).tree
        files: dict[str, bytes | None] = {}
        pages: list[Page] = []
        for path, resolution in sorted(resolutions.items()):
            if isinstance(resolution, str):
                ours = self.snapshots.read(ours_tree, path)
                theirs = self.snapshots.read(theirs_tree, path)
                base = self.snapshots.read(preview.base_tree, path) if preview.base_tree else None
                sides = {"ours": ours, "theirs": theirs, "base": base}
                if resolution in sides:
                    data = sides[resolution]
                elif resolution == "union":
                    data = merge_file(path, base, ours, theirs, "union")[0]
                else:
                    raise BadInput(f"{path}: unknown side {resolution!r}: use ours, theirs, base or union")
            else:
                data = resolution
            kind, item = path_kind(path)
            if data is not None and kind == "page" and item:
                pages.append(Page.parse(item, data, path))
            elif data is not None and kind == "actor" and item:
                Actor.parse(item, data, path)
            files[path] = data
        for page in pages:
            for target in (*page.follows, *([page.alternate_of] if page.alternate_of else [])):
                path = f"pages/{target}.md"
                there = (
                    files[path] is not None
                    if path in files
                    else self.snapshots.blob_id(preview.result.tree, path) is not None
                )
                if not there:
                    raise BadInput(f"page {page.id} links to {target!r}, which the merge does not have")
        author = self._author(preview.result.tree, ChangeSet(), actor)
        facts = _merge_facts(actor, proposal)
        text = message or f"Merge {source} into {branch}"
        with self.objects.batch():
            tree = self.snapshots.write(preview.result.tree, files)
            commit = self._commit_object(tree, (current, preview.theirs), author, text, facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
        self._move(ref, current, oid, author, commit)
        return MergeOutcome("merged", oid, preview)

    def protected_at(self, tip: ObjectId | None) -> frozenset[str]:
        """The branches story.yaml protects (``protected: [...]``) in the snapshot of commit ``tip``."""
        blob = self.snapshots.blob_id(self.commits.get(tip).tree, Story.PATH) if tip else None
        if blob is None:
            return frozenset()
        found = self._protected.get(blob)
        if found is None:
            from .governance.rules import protected_branches

            found = self._protected[blob] = protected_branches(Story.parse(self.read_blob(blob)))
        return found

    def _guard(self, branch: str, tip: ObjectId | None, kind: str) -> None:
        """Refuse a commit of ``kind`` on a protected branch: story changes (edits, merges, reverts,
        agents' contributions) go through a governance proposal; events of other kinds are let through."""
        if kind in _GUARDED_KINDS and branch in self.protected_at(tip):
            from .governance.rules import ProtectedBranch

            raise ProtectedBranch(branch)

    def _author(self, base_tree: ObjectId | None, changes: ChangeSet, actor: str) -> Actor:
        if actor in changes.actors:
            record = changes.actors[actor]
            if record is None:
                raise BadInput(f"actor {actor!r} cannot delete their own record in their own commit")
            return record
        oid = self.snapshots.blob_id(base_tree, f"actors/{actor}.yaml") if base_tree else None
        if oid is None:
            raise NotFound(f"unknown actor {actor!r}: add it first (gvcs actor add {actor} --name ...)")
        return self.actor_record(actor, oid)

    def _check_changes(self, base_tree: ObjectId | None, changes: ChangeSet) -> None:
        """Refuse deletes of missing items and links to pages that will not exist."""

        def exists(path: str) -> bool:
            return base_tree is not None and self.snapshots.blob_id(base_tree, path) is not None

        for pid, page in changes.pages.items():
            if page is None and not exists(f"pages/{pid}.md"):
                raise NotFound(f"cannot delete page {pid!r}: it does not exist")
        for aid, actor in changes.actors.items():
            if actor is None and not exists(f"actors/{aid}.yaml"):
                raise NotFound(f"cannot delete actor {aid!r}: it does not exist")
        for path, data in changes.files.items():
            if data is None and not exists(path):
                raise NotFound(f"cannot delete {path}: it does not exist")
            if path == Story.PATH and data is not None:
                from .governance.rules import check_story_settings

                check_story_settings(Story.parse(data))
        for page in changes.pages.values():
            if page is None:
                continue
            for target in (*page.follows, *([page.alternate_of] if page.alternate_of else [])):
                if target in changes.pages:
                    if changes.pages[target] is None:
                        raise BadInput(f"page {page.id} links to {target}, which this commit deletes")
                elif not exists(f"pages/{target}.md"):
                    raise BadInput(f"page {page.id} links to {target!r}, which does not exist")

    # --- history ----------------------------------------------------------------------------------

    def walk(self, revs: Sequence[str] = ("HEAD",), *, first_parent: bool = False) -> Iterator[CommitInfo]:
        """Commits reachable from ``revs``, newest first."""
        return self.commits.walk([self.resolve(r) for r in revs], first_parent=first_parent)

    def log(
        self,
        revs: Sequence[str] = ("HEAD",),
        *,
        actor: str | None = None,
        kind: str | None = None,
        page: str | None = None,
        since: int | None = None,
        until: int | None = None,
        first: int | None = None,
        after: str | None = None,
        first_parent: bool = False,
    ) -> LogPage:
        """A page of history with filters. ``after`` is the cursor of the previous page.

        A cursor pins the heads the walk started from, so later commits never shift the pages.
        """
        if first is not None and first < 0:
            raise BadInput("first must not be negative")
        if page is not None:
            validate_id("page", page)
        if after is not None:
            starts, last = _decode_cursor(after)
            if not all(self.objects.has(oid) for oid in [*starts, last]):
                raise BadInput("cursor does not belong to this history")
        else:
            starts, last = [self.resolve(r) for r in revs], None
        matches = self._filtered(starts, actor, kind, page, since, until, first_parent)
        if last is not None:
            for info in matches:
                if info.id == last:
                    break
            else:
                raise BadInput("cursor does not belong to this history")
        out: list[CommitInfo] = []
        for info in matches:
            if first is not None and len(out) == first:
                return LogPage(out, _encode_cursor(starts, out[-1].id) if out else None)
            out.append(info)
        return LogPage(out, None)

    def _filtered(
        self,
        starts: list[ObjectId],
        actor: str | None,
        kind: str | None,
        page: str | None,
        since: int | None,
        until: int | None,
        first_parent: bool,
    ) -> Iterator[CommitInfo]:
        path = f"pages/{page}.md" if page else None
        for info in self.commits.walk(starts, first_parent=first_parent):
            if actor is not None and info.actor != actor:
                continue
            if kind is not None and info.kind != kind:
                continue
            if until is not None and info.time > until:
                continue
            if since is not None and info.time < since:
                continue
            if path is not None and not self._touches(info, path):
                continue
            yield info

    def _touches(self, info: CommitInfo, path: str) -> bool:
        mine = self.snapshots.blob_id(info.tree, path)
        if not info.parents:
            return mine is not None
        return all(self.snapshots.blob_id(self.commits.get(p).tree, path) != mine for p in info.parents)

    def changes(self, rev: str) -> list[FileChange]:
        """What a commit changed against its first parent (everything, for a root commit)."""
        info = self.commit_info(rev)
        parent = self.commits.get(info.parents[0]).tree if info.parents else None
        return [FileChange.from_diff(d) for d in self.snapshots.diff(parent, info.tree)]

    def diff(self, old: str | None, new: str) -> list[FileChange]:
        """Files that differ between two revisions (``old`` None: the empty story)."""
        old_tree = self.tree_of(old) if old is not None else None
        return [FileChange.from_diff(d) for d in self.snapshots.diff(old_tree, self.tree_of(new))]

    def diff_trees(self, old: ObjectId | None, new: ObjectId | None) -> list[FileChange]:
        return [FileChange.from_diff(d) for d in self.snapshots.diff(old, new)]

    def line_diff(self, change: FileChange, context: int = 3) -> list[str]:
        """A unified line diff of one changed file."""

        def lines(oid: ObjectId | None) -> list[str]:
            if oid is None:
                return []
            return self.read_blob(oid).decode("utf-8", errors="replace").splitlines(keepends=True)

        a = "/dev/null" if change.old is None else f"a/{change.path}"
        b = "/dev/null" if change.new is None else f"b/{change.path}"
        import difflib

        return list(difflib.unified_diff(lines(change.old), lines(change.new), a, b, n=context))

    # --- merge bases ------------------------------------------------------------------------------

    def merge_bases(self, a: str, b: str) -> list[ObjectId]:
        """The best common ancestors of two revisions (several in a criss-cross history), sorted."""
        return self._commit_graph().merge_bases(self.resolve(a), self.resolve(b))

    def _commit_graph(self) -> CommitGraph:
        if self._graph is None:
            from .merge.base import CommitGraph

            self._graph = CommitGraph(self.commits)
        return self._graph

    def merge_preview(self, ours: str, theirs: str, *, strategy: str | None = None) -> MergePreview:
        """What merging ``theirs`` into ``ours`` gives, without changing anything.

        Several merge bases (a criss-cross history) are first merged into a virtual base, as git's
        recursive strategy does.
        """
        from .merge.snapshot import merge_trees
        from .merge.text import STRATEGIES

        ours_id, theirs_id = self.resolve(ours), self.resolve(theirs)
        bases = self.merge_bases(ours_id, theirs_id)
        up_to_date = theirs_id in bases
        fast_forward = not up_to_date and ours_id in bases
        base_tree = self._virtual_base(bases)
        if strategy is not None and strategy not in STRATEGIES:
            raise BadInput(f"unknown merge strategy {strategy!r}: use ours, theirs or union")
        ours_tree, theirs_tree = self.commits.get(ours_id).tree, self.commits.get(theirs_id).tree
        result = merge_trees(self.snapshots, base_tree, ours_tree, theirs_tree, strategy)
        return MergePreview(ours_id, theirs_id, bases, up_to_date, fast_forward, result, base_tree)

    # --- replaying commits: cherry-pick, revert, rebase, independent change sets ---------------------

    def cherry_pick(
        self, branch: str, rev: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> ObjectId:
        """Apply the change a commit made (against its first parent) on top of ``branch``."""
        info = self.commit_info(rev)
        parent_tree = self.commits.get(info.parents[0]).tree if info.parents else None
        facts = {"Gvcs-Cherry-Picked-From": info.id}
        return self._replay(
            branch, parent_tree, info.tree, actor, expected_head, info.message, info.kind, facts, timestamp
        )

    def revert(
        self, branch: str, rev: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> ObjectId:
        """Undo the change a commit made, on top of ``branch`` (kind ``revert``)."""
        info = self.commit_info(rev)
        parent_tree = self.commits.get(info.parents[0]).tree if info.parents else EMPTY_TREE
        message = f'Revert "{info.subject}"\n\nThis reverts commit {info.id}.'
        facts = {"Gvcs-Reverts": info.id}
        return self._replay(
            branch, info.tree, parent_tree, actor, expected_head, message, "revert", facts, timestamp
        )

    def rebase(
        self, branch: str, onto: str, *, actor: str, expected_head: ObjectId, timestamp: int | None = None
    ) -> list[ObjectId]:
        """Replay the commits of ``branch`` that ``onto`` lacks on top of ``onto``, oldest first.

        All or nothing: if one commit does not apply cleanly, :class:`MergeConflicts` is raised and the
        branch stays where it was. Commits that touch pages ``onto`` did not change commute and never
        conflict. Merge commits on the branch are left out, as ``git rebase`` does. Returns the new ids.
        """
        ref = branch_ref(branch)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        self._guard(branch, current, "edit")
        target = self.resolve(onto)
        behind = self._commit_graph().ancestors(target)
        todo: list[CommitInfo] = []
        for info in self.commits.walk([current], first_parent=True):
            if info.id in behind:
                break
            if len(info.parents) == 1:
                todo.append(info)
        head, new = target, []
        for info in reversed(todo):
            parent_tree = self.commits.get(info.parents[0]).tree
            tree = self._replayed_tree(parent_tree, info.tree, self.commits.get(head).tree, info.id)
            author = self._author(tree, ChangeSet(), info.actor)
            facts = dict(info.trailers)
            with self.objects.batch():
                commit = self._commit_object(tree, (head,), author, info.message, facts, timestamp)
                head = self.objects.put("commit", commit.serialise())
            new.append(head)
        if new or head != current:
            self.refs.set_if_equals(ref, current, head, message=f"rebase onto {onto}")
        return new

    def commit_independent(
        self, branch: str, changes: ChangeSet, *, expected_head: ObjectId | None, **kwargs: Any
    ) -> tuple[ObjectId, bool]:
        """Commit ``changes`` with ``expected_head``; if the branch moved, commit on the new head when
        nothing that moved touches a file the change set writes (the changes commute).

        Returns the new commit and whether it was applied on a newer head. Raises
        :class:`BranchMoved` naming the overlapping files otherwise.
        """
        ref = branch_ref(branch)
        for _ in range(100):  # other writers may keep moving the branch; each retry re-checks
            current = self.refs.get(ref)
            if current == expected_head:
                try:
                    return self.commit(branch, changes, expected_head=expected_head, **kwargs), False
                except BranchMoved:
                    continue
            if current is None or expected_head is None:
                raise BranchMoved(ref, expected_head, current)
            overlap = self._moved(expected_head, self.commits.get(current).tree, changes)
            if overlap:
                raise BranchMoved(ref, expected_head, current, overlap)
            try:
                return self.commit(branch, changes, expected_head=current, **kwargs), True
            except BranchMoved:
                continue
        raise BranchMoved(ref, expected_head, self.refs.get(ref))

    def _replay(
        self,
        branch: str,
        base_tree: ObjectId | None,
        new_tree: ObjectId,
        actor: str,
        expected_head: ObjectId,
        message: str,
        kind: str,
        facts: Mapping[str, str],
        timestamp: int | None,
    ) -> ObjectId:
        ref = branch_ref(branch)
        current = self.refs.get(ref)
        if current != expected_head:
            raise BranchMoved(ref, expected_head, current)
        self._guard(branch, current, "revert" if kind == "revert" else "edit")  # replays change the story
        head_tree = self.commits.get(current).tree
        tree = self._replayed_tree(base_tree, new_tree, head_tree, message.split("\n", 1)[0])
        if tree == head_tree:
            raise NothingToCommit("nothing to commit: the change is already there")
        author = self._author(tree, ChangeSet(), actor)
        all_facts = {"Gvcs-Actor": actor, "Gvcs-Kind": _check_kind(kind), **facts}
        with self.objects.batch():
            commit = self._commit_object(tree, (current,), author, message, all_facts, timestamp)
            oid = self.objects.put("commit", commit.serialise())
        self._move(ref, current, oid, author, commit)
        return oid

    def _replayed_tree(
        self, base_tree: ObjectId | None, new_tree: ObjectId, onto_tree: ObjectId, what: str
    ) -> ObjectId:
        from .merge.snapshot import merge_trees

        result = merge_trees(self.snapshots, base_tree, onto_tree, new_tree)
        if not result.clean:
            raise MergeConflicts(what, result.conflicts)
        return result.tree

    def _virtual_base(self, bases: Sequence[ObjectId]) -> ObjectId | None:
        from .merge.snapshot import merge_trees

        if not bases:
            return None
        tree = self.commits.get(bases[0]).tree
        for other in bases[1:]:
            inner = self._virtual_base(self.merge_bases(bases[0], other))
            tree = merge_trees(self.snapshots, inner, tree, self.commits.get(other).tree).tree
        return tree

    # --- blame ------------------------------------------------------------------------------------

    def blame(self, page_id: str, rev: str = "HEAD") -> list[BlameEntry]:
        """For each paragraph of a page, the commit (and so the actor) that last changed it."""
        start = self.resolve(rev)
        page = self.read_page(page_id, start)
        path = f"pages/{page_id}.md"
        paragraphs = split_paragraphs(page.body)
        owners: list[CommitInfo | None] = [None] * len(paragraphs)
        # (commit, {paragraph index in that commit's version: index in `paragraphs`})
        pending: list[tuple[ObjectId, dict[int, int]]] = [(start, {i: i for i in range(len(paragraphs))})]
        texts: dict[ObjectId, list[str]] = {}
        while pending:
            oid, mapping = pending.pop()
            info = self.commits.get(oid)
            mine = self._paragraphs_at(info.tree, path, texts)
            remaining = dict(mapping)
            for parent in info.parents:
                if not remaining:
                    break
                theirs = self._paragraphs_at(self.commits.get(parent).tree, path, texts)
                matched = _match_paragraphs(mine, theirs, remaining)
                passed = {theirs_index: remaining.pop(m) for m, theirs_index in matched.items()}
                if passed:
                    pending.append((parent, passed))
            for original in remaining.values():
                owners[original] = info
        return [
            BlameEntry(i, text, owner)
            for i, (text, owner) in enumerate(zip(paragraphs, owners, strict=True))
            if owner
        ]

    def _paragraphs_at(self, tree: ObjectId, path: str, cache: dict[ObjectId, list[str]]) -> list[str]:
        oid = self.snapshots.blob_id(tree, path)
        if oid is None:
            return []
        if oid not in cache:
            cache[oid] = split_paragraphs(Page.parse(path[6:-3], self.read_blob(oid)).body)
        return cache[oid]

    # --- integrity --------------------------------------------------------------------------------

    def fsck(self) -> FsckReport:
        """Check that every object parses and hashes to its id, and every ref points at a commit."""
        report = FsckReport()
        kinds: dict[ObjectId, str] = {}
        for oid in self.objects:
            report.objects += 1
            problem = self._check_object(oid, kinds)
            if problem:
                report.problems.append(problem)
        for name, oid in self.refs.list("refs/").items():
            report.refs += 1
            if kinds.get(oid) != "commit":
                what = "a missing object" if oid not in kinds else f"a {kinds[oid]}"
                report.problems.append(f"ref {name} points at {what} ({oid})")
        report.problems.extend(self._check_reachable(kinds))
        return report

    def _check_object(self, oid: ObjectId, kinds: dict[ObjectId, str]) -> str | None:
        try:
            obj_type, data = self.objects.get(oid)
        except GvcsError as exc:
            return f"object {oid}: {exc}"
        if hash_object(obj_type, data) != oid:
            return f"object {oid}: content hashes to {hash_object(obj_type, data)}"
        kinds[oid] = obj_type
        try:
            if obj_type == "commit":
                Commit.parse(data)
            elif obj_type == "tree":
                Tree.parse(data)
        except CorruptObject as exc:
            return f"object {oid}: {exc}"
        return None

    def _check_reachable(self, kinds: dict[ObjectId, str]) -> list[str]:
        problems: list[str] = []
        heads = [oid for oid in self.refs.list("refs/").values() if kinds.get(oid) == "commit"]
        checked: set[ObjectId] = set()
        # The objects themselves, not the commit cache: fsck checks what is stored.
        commits = Commits(self.objects, persistent=False)
        for info in commits.walk(heads) if heads else ():
            for parent in info.parents:
                if parent not in kinds:
                    problems.append(f"commit {info.id}: missing parent {parent}")
            problems.extend(self._check_tree(info.tree, "", kinds, checked))
        return problems

    def _check_tree(
        self, oid: ObjectId, prefix: str, kinds: dict[ObjectId, str], checked: set[ObjectId]
    ) -> list[str]:
        if oid in checked:
            return []
        checked.add(oid)
        if kinds.get(oid) != "tree":
            return [f"tree {prefix or '/'} ({oid}) is missing or not a tree"]
        problems: list[str] = []
        for entry in self.snapshots.tree(oid).entries.values():
            path = prefix + entry.name
            if entry.is_tree:
                problems.extend(self._check_tree(entry.oid, path + "/", kinds, checked))
            elif entry.oid not in checked:
                checked.add(entry.oid)
                problems.extend(self._check_blob(entry.oid, path, kinds))
        return problems

    def _check_blob(self, oid: ObjectId, store_path_: str, kinds: dict[ObjectId, str]) -> list[str]:
        from .snapshot import logical_path

        path = logical_path(store_path_)
        if kinds.get(oid) != "blob":
            return [f"{path}: blob {oid} is missing"]
        kind, item = path_kind(path)
        try:
            if kind == "page" and item:
                Page.parse(item, self.read_blob(oid), path)
            elif kind == "actor" and item:
                Actor.parse(item, self.read_blob(oid), path)
            elif kind == "story":
                Story.parse(self.read_blob(oid), path)
        except (InvalidFile, BadInput) as exc:
            return [f"{exc}"]
        return []

    # --- additions for the CLI ----------------------------------------------------------------------

    def iter_log(
        self,
        revs: Sequence[str] = ("HEAD",),
        *,
        actor: str | None = None,
        kind: str | None = None,
        page: str | None = None,
        since: int | None = None,
        until: int | None = None,
        first_parent: bool = False,
    ) -> Iterator[CommitInfo]:
        """Like :meth:`log` without paging: the matching commits, newest first, produced lazily."""
        if page is not None:
            validate_id("page", page)
        starts = [self.resolve(r) for r in revs]
        return self._filtered(starts, actor, kind, page, since, until, first_parent)

    # --- the semantic diff ----------------------------------------------------------------------

    def semantic_diff(self, old: str | None, new: str) -> list[SemanticChange]:
        """What differs between two revisions, page by page (``old`` None: the empty story).

        See :mod:`narrative_vcs.semdiff`: fields, links and paragraphs per page, keys per actor.
        """
        return self._semantic(self.diff(old, new))

    def semantic_changes(self, rev: str) -> list[SemanticChange]:
        """What a commit changed against its first parent, page by page."""
        return self._semantic(self.changes(rev))

    def _semantic(self, changes: Iterable[FileChange]) -> list[SemanticChange]:
        from .semdiff import diff_file

        def blob(oid: ObjectId | None) -> bytes | None:
            return None if oid is None else self.read_blob(oid)

        return [diff_file(c.path, blob(c.old), blob(c.new), old_blob=c.old, new_blob=c.new) for c in changes]


# --- helpers --------------------------------------------------------------------------------------


_FULL_ID = re.compile(r"[0-9a-fA-F]{40}")
_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# Kinds a protected branch refuses (see narrative_vcs.governance.rules.GUARDED_KINDS, which a test keeps
# equal to this; repeated here so that reading a repository imports no governance code).
_GUARDED_KINDS = frozenset({"edit", "merge", "revert", "agent.emit.v1"})


def _merge_facts(actor: str, proposal: int | None) -> dict[str, str]:
    facts = {"Gvcs-Actor": actor, "Gvcs-Kind": "merge"}
    if proposal is not None:
        facts["Gvcs-Proposal"] = str(int(proposal))
    return facts


def _check_kind(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise BadInput(f"invalid commit kind {kind!r}")
    return kind


def _encode_cursor(starts: Iterable[ObjectId], last: ObjectId) -> str:
    raw = ",".join(starts) + ":" + last
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[list[ObjectId], ObjectId]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        heads, last = raw.split(":")
        starts = [ObjectId(h) for h in heads.split(",")]
        if not all(re.fullmatch(r"[0-9a-f]{40}", x) for x in [*starts, last]):
            raise ValueError
        return starts, ObjectId(last)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput(f"invalid cursor {cursor[:40]!r}") from None


def _match_paragraphs(mine: list[str], theirs: list[str], wanted: Mapping[int, int]) -> dict[int, int]:
    """For paragraphs of ``mine`` (indexes in ``wanted``) also in ``theirs``: mine index -> theirs index."""
    if mine == theirs:
        return {i: i for i in wanted}
    import difflib

    matcher = difflib.SequenceMatcher(a=mine, b=theirs, autojunk=False)
    return {
        a0 + k: b0 + k
        for a0, b0, size in matcher.get_matching_blocks()
        for k in range(size)
        if a0 + k in wanted
    }
