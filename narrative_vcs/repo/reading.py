"""Reading the story at a revision (pages, actors, files) and its history (log, diffs)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..errors import BadInput, NotFound
from ..history import CommitInfo
from ..objects import Actor, Page, Story, front_key, validate_id
from ..snapshot import EMPTY_TREE, check_path
from ..types import ObjectId
from .branches import Branches
from .values import FileChange, LogPage, StorySnapshot, path_kind

if TYPE_CHECKING:
    from ..semdiff import SemanticChange

__all__ = ["Reading"]


class Reading(Branches):
    # --- reading ----------------------------------------------------------------------------------

    def tree_of(self, rev: str | None) -> ObjectId:
        return EMPTY_TREE if rev is None else self.commit_info(rev).tree

    def at(self, rev: str = "HEAD", as_of: int | None = None) -> ObjectId:
        """The commit of ``rev``, or with ``as_of`` the newest one on its first-parent line by then."""
        oid = self.resolve(rev)
        return oid if as_of is None else self.commits.as_of(oid, as_of)

    def preload(self, rev: str = "HEAD") -> int:
        """Read the trees of ``rev`` ahead of use (a server at start: its first requests then find the
        story's structure in memory); how many trees were read."""
        return self.snapshots.preload(self.tree_of(rev))

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

    #: Parsed pages kept per repository (a page's blob never changes).
    PAGES_KEPT = 50_000

    def page_record(self, page_id: str, blob: ObjectId, data: bytes | None = None) -> Page:
        """The page ``page_id`` stored in ``blob`` (whose bytes are ``data`` when the caller has read
        them), parsed once per repository, or as this process wrote it there."""
        key = (page_id, blob)
        page = self._pages.get(key)
        if page is None:
            page = Page.parse(page_id, data if data is not None else self.read_blob(blob))
            self.remember_page(blob, page)
        return page

    def remember_page(self, blob: ObjectId, page: Page) -> None:
        """``page`` is what ``blob`` holds (it was serialised into it: pages round-trip exactly)."""
        pages = self._pages
        pages[(page.id, blob)] = page
        if len(pages) > self.PAGES_KEPT:
            with contextlib.suppress(KeyError):  # another thread may have taken the oldest first
                pages.popitem(last=False)

    def read_file(self, path: str, rev: str = "HEAD") -> bytes | None:
        return self.snapshots.read(self.tree_of(rev), check_path(path))

    #: Bytes of blobs read lately, kept per repository up to this much (a blob never changes): a merge
    #: reads each page it changes for its structure check, the rules gate reads it again for its size,
    #: and the work tree once more to write it.
    BLOB_BYTES_KEPT = 8 << 20
    #: Blobs larger than this are not kept.
    BLOB_KEPT_MAX = 256 << 10
    _blobs: OrderedDict[ObjectId, bytes] | None = None
    _blob_bytes = 0

    def read_blob(self, oid: ObjectId) -> bytes:
        blobs = self._blobs
        if blobs is None:
            blobs = self._blobs = OrderedDict()
        data = blobs.get(oid)
        if data is not None:
            return data
        data = self.objects.get(oid)[1]
        if len(data) <= self.BLOB_KEPT_MAX:
            blobs[oid] = data
            self._blob_bytes += len(data)
            while self._blob_bytes > self.BLOB_BYTES_KEPT:
                try:  # another thread may have taken the oldest first
                    _, old = blobs.popitem(last=False)
                except KeyError:
                    break
                self._blob_bytes -= len(old)
        return data

    #: Front-matter keys of blobs looked at lately, up to this many (see :meth:`front_key`).
    FRONTS_KEPT = 1 << 16
    _fronts: dict[ObjectId, bytes] | None = None

    def front_key(self, oid: ObjectId) -> bytes:
        """:func:`~narrative_vcs.objects.front_key` of a blob: a merge's structure check and the rules
        gate ask of the same pages whether more than their text changed. Kept per repository, and
        across processes where the store keeps them (a merge of branches committed here then reads
        no base version of a page to know)."""
        fronts = self._fronts
        if fronts is None:
            fronts = self._fronts = {}
        found = fronts.get(oid)
        if found is None:
            cache = self.objects.key_cache()
            found = cache.get(oid) if cache is not None else None
            if found is None:
                found = front_key(self.read_blob(oid))
                if cache is not None:
                    cache.add(oid, found)
            if len(fronts) >= self.FRONTS_KEPT:
                fronts.clear()
            fronts[oid] = found
        return found

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
        entries = list(self.snapshots.walk(self.commits.get(commit).tree))
        # In bulk: one pass through libgit2 on disk, a few round trips on a server backend.
        found = self.objects.get_many(oid for _path, oid in entries)
        for path, oid in entries:
            kind, item = path_kind(path)
            data = found[oid][1] if oid in found else self.read_blob(oid)
            if kind == "page" and item:
                pages[item] = Page.parse(item, data)
            elif kind == "actor" and item:
                actors[item] = Actor.parse(item, data)
            elif kind == "story":
                story = Story.parse(data)
            else:
                files[path] = data
        return StorySnapshot(commit, story, dict(sorted(pages.items())), dict(sorted(actors.items())), files)

    # --- history ----------------------------------------------------------------------------------

    def walk(self, revs: Sequence[str] = ("HEAD",), *, first_parent: bool = False) -> Iterator[CommitInfo]:
        """Commits reachable from ``revs`` (see :meth:`revisions`: ``A..B`` and the like), newest first."""
        starts, exclude = self.revisions(revs)
        return self.commits.walk(starts, first_parent=first_parent, exclude=exclude)

    def revisions(self, revs: Sequence[str]) -> tuple[list[ObjectId], list[ObjectId]]:
        """The commits a history starts from and those it leaves out (with what they reach), from
        revisions as git takes them: ``B``; ``A..B``, B's commits that A lacks; ``A...B``, the commits
        of either that the other lacks; ``^A``, without A's. An empty side of ``..`` is HEAD."""
        include: list[ObjectId] = []
        exclude: list[ObjectId] = []
        for rev in revs:
            if not isinstance(rev, str):
                raise BadInput(f"invalid revision {rev!r}")
            if "..." in rev:
                a, _, b = rev.partition("...")
                a, b = a or "HEAD", b or "HEAD"
                include += [self.resolve(a), self.resolve(b)]
                exclude += self.merge_bases(a, b)
            elif ".." in rev:
                a, _, b = rev.partition("..")
                include.append(self.resolve(b or "HEAD"))
                exclude.append(self.resolve(a or "HEAD"))
            elif rev.startswith("^") and len(rev) > 1:
                exclude.append(self.resolve(rev[1:]))
            else:
                include.append(self.resolve(rev))
        return include, exclude

    def diff_sides(self, spec: str) -> tuple[ObjectId, ObjectId]:
        """The two commits ``diff A..B`` (A and B) or ``diff A...B`` (their merge base and B) compare."""
        if "..." in spec:
            a, _, b = spec.partition("...")
            a, b = a or "HEAD", b or "HEAD"
            bases = self.merge_bases(a, b)
            if not bases:
                raise NotFound(f"{spec}: {a} and {b} have no common history")
            return bases[0], self.resolve(b)
        a, _, b = spec.partition("..")
        return self.resolve(a or "HEAD"), self.resolve(b or "HEAD")

    def merge_bases(self, a: str, b: str) -> list[ObjectId]:
        """The best common ancestors of two revisions (see :class:`~narrative_vcs.repo.merging.Merging`)."""
        raise NotImplementedError

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
            starts, exclude, last = _decode_cursor(after)
            if not all(self.objects.has(oid) for oid in [*starts, *exclude, last]):
                raise BadInput("cursor does not belong to this history")
        else:
            (starts, exclude), last = self.revisions(revs), None
        matches = self._filtered(starts, actor, kind, page, since, until, first_parent, exclude)
        if last is not None:
            for info in matches:
                if info.id == last:
                    break
            else:
                raise BadInput("cursor does not belong to this history")
        out: list[CommitInfo] = []
        for info in matches:
            if first is not None and len(out) == first:
                return LogPage(out, _encode_cursor(starts, out[-1].id, exclude) if out else None)
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
        exclude: Sequence[ObjectId] = (),
    ) -> Iterator[CommitInfo]:
        path = f"pages/{page}.md" if page else None
        for info in self.commits.walk(starts, first_parent=first_parent, exclude=exclude):
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
        starts, exclude = self.revisions(revs)
        return self._filtered(starts, actor, kind, page, since, until, first_parent, exclude)

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
        from ..semdiff import diff_file

        def blob(oid: ObjectId | None) -> bytes | None:
            return None if oid is None else self.read_blob(oid)

        return [diff_file(c.path, blob(c.old), blob(c.new), old_blob=c.old, new_blob=c.new) for c in changes]


def _encode_cursor(starts: Iterable[ObjectId], last: ObjectId, exclude: Sequence[ObjectId] = ()) -> str:
    raw = ",".join(starts) + ":" + last + (":" + ",".join(exclude) if exclude else "")
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[list[ObjectId], list[ObjectId], ObjectId]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            raise ValueError
        starts = [ObjectId(h) for h in parts[0].split(",")]
        last = ObjectId(parts[1])
        exclude = [ObjectId(h) for h in parts[2].split(",")] if len(parts) == 3 else []
        if not all(re.fullmatch(r"[0-9a-f]{40}", x) for x in [*starts, *exclude, last]):
            raise ValueError
        return starts, exclude, last
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput(f"invalid cursor {cursor[:40]!r}") from None
