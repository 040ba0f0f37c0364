"""Commit reading and history walks: log order, topological order, ancestry, first-parent time travel."""

from __future__ import annotations

import heapq
import marshal
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .errors import BadInput, CorruptObject, NotFound
from .limits import load_json
from .objects import Commit, parse_trailers
from .store import ObjectStore
from .types import ObjectId

__all__ = ["CommitInfo", "Commits"]


class CommitInfo:
    """A commit as the API shows it: the git commit plus the facts from its ``Gvcs-*`` trailers.

    A log reads every commit once and mostly shows the subject, so the message is split from its
    trailers only when something asks for them.
    """

    __slots__ = (
        "_email",
        "_raw",
        "_text",
        "_trailers",
        "actor_name",
        "id",
        "offset",
        "parents",
        "time",
        "tree",
    )

    def __init__(
        self,
        id: ObjectId,
        tree: ObjectId,
        parents: tuple[ObjectId, ...],
        actor: str,
        actor_name: str,
        kind: str,
        time: int,
        offset: int,
        message: str,
        trailers: dict[str, str],
    ) -> None:
        self.id = id
        self.tree = tree
        self.parents = parents
        self.actor_name = actor_name
        self.time = time
        self.offset = offset
        self._email = f"{actor}@actors.gvcs"
        facts = dict(trailers)
        facts.setdefault("Gvcs-Actor", actor)
        facts.setdefault("Gvcs-Kind", kind)
        self._raw = ""
        self._text: str | None = message
        self._trailers: dict[str, str] | None = facts

    @classmethod
    def lazy(
        cls,
        id: ObjectId,
        tree: ObjectId,
        parents: tuple[ObjectId, ...],
        actor_name: str,
        email: str,
        time: int,
        offset: int,
        raw_message: str,
    ) -> CommitInfo:
        """A commit whose message is split into text and trailers on first use."""
        info = cls.__new__(cls)
        info.id, info.tree, info.parents = id, tree, parents
        info.actor_name, info._email, info.time, info.offset = actor_name, email, time, offset
        info._raw, info._text, info._trailers = raw_message, None, None
        return info

    def _split(self) -> None:
        self._text, self._trailers = parse_trailers(self._raw)

    @property
    def message(self) -> str:
        if self._text is None:
            self._split()
        assert self._text is not None
        return self._text

    @property
    def trailers(self) -> dict[str, str]:
        if self._trailers is None:
            self._split()
        assert self._trailers is not None
        return self._trailers

    @property
    def actor(self) -> str:
        return self.trailers.get("Gvcs-Actor") or self._email.split("@", 1)[0]

    @property
    def kind(self) -> str:
        return self.trailers.get("Gvcs-Kind", "edit")

    @property
    def subject(self) -> str:
        if self._text is None and not self._raw.startswith("Gvcs-"):
            return self._raw.split("\n", 1)[0]
        return self.message.split("\n", 1)[0]

    @property
    def email(self) -> str:
        """The author's email: ``<actor id>@actors.gvcs`` for commits gvcs makes."""
        return self._email

    @property
    def short_id(self) -> str:
        return self.id[:10]

    @property
    def event_id(self) -> str | None:
        return self.trailers.get("Gvcs-Event-Id")

    @property
    def event(self) -> Any:
        raw = self.trailers.get("Gvcs-Event")
        if raw is None:
            return None
        try:
            return load_json(raw, "Gvcs-Event", max_bytes=None)
        except BadInput:  # not JSON, or nested too deep to hand on: shown as written
            return raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CommitInfo) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"CommitInfo(id={self.id[:10]!r}, subject={self.subject!r})"

    @classmethod
    def from_commit(cls, oid: ObjectId, commit: Commit) -> CommitInfo:
        return cls.lazy(
            oid,
            commit.tree,
            commit.parents,
            commit.author.name,
            commit.author.email,
            commit.committer.time,
            commit.committer.offset,
            commit.message,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parents": list(self.parents),
            "tree": self.tree,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "kind": self.kind,
            "time": self.time,
            "subject": self.subject,
            "message": self.message,
            "event_id": self.event_id,
            "event": self.event,
        }


# The layout gvcs and git write: tree, parents, author, committer, blank line, message.
_COMMIT = re.compile(
    r"tree ([0-9a-f]{40})\n((?:parent [0-9a-f]{40}\n)*)"
    r"author ([^<\n]*) <([^>\n]*)> -?\d+ [+-]\d{4}\n"
    r"committer [^<\n]* <[^>\n]*> (-?\d+) ([+-])(\d\d)(\d\d)\n\n"
)


def _quick_info(oid: ObjectId, data: bytes) -> CommitInfo | None:
    """The :class:`CommitInfo` of a commit in the usual layout, read with one regular expression; None
    for anything else (extra headers such as signatures), which the full parser then reads or refuses."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    m = _COMMIT.match(text)
    if m is None:
        return None
    tree, parents, name, email, when, sign, hours, minutes = m.groups()
    offset = int(hours) * 60 + int(minutes)
    return CommitInfo.lazy(
        oid,
        ObjectId(tree),
        tuple(ObjectId(parents[i + 7 : i + 47]) for i in range(0, len(parents), 48)),
        name,
        email,
        int(when),
        -offset if sign == "-" else offset,
        text[m.end() :],
    )


#: A commit's header as the commit cache keeps it: tree, parents, author name and email, time, offset,
#: and the raw message.
CommitRow = tuple[str, tuple[str, ...], str, str, int, int, str]


def _row(info: CommitInfo) -> CommitRow:
    """The commit cache's row of a commit read lazily from its object."""
    return (info.tree, info.parents, info.actor_name, info._email, info.time, info.offset, info._raw)


#: What a commit of the listing holds only once its author and message are read (see :class:`_Listed`).
_REST = frozenset({"actor_name", "_email", "offset", "_raw", "_text", "_trailers"})


class _Listed(CommitInfo):
    """A commit of a kept listing: id, tree, parents, time and subject at hand (all a walk and
    ``log --oneline`` need); its author and message are read when first asked for (:meth:`_Listing.fill`)."""

    __slots__ = ("_at", "_src", "subject")  # subject: a plain value here, not the property
    _at: int
    _src: _Listing

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set yet: the author and the message.
        if name not in _REST:
            raise AttributeError(name)
        self._src.fill(self, self._at)
        return object.__getattribute__(self, name)


class _Listing:
    """The commits a backend listed, as a work tree keeps them between processes: two cache files.

    The first holds, a column each, the ids, trees, parents, times and subjects: a few bytes a commit,
    read at once. The second holds the authors and messages (most of the bytes), read when one is
    first asked for; each names the stamp of the first it goes with, and one that does not match (two
    processes wrote at once) is not used: those commits are read from the store instead.
    """

    VERSION = 2

    def __init__(
        self,
        commits: Commits,
        stamp: str,
        ids: list[str],
        trees: list[str],
        parents: list[tuple[str, ...]],
        times: list[int],
        subjects: list[str],
    ) -> None:
        self.commits = commits
        self.stamp = stamp
        self.ids = ids
        self.trees = trees
        self.parents = parents
        self.times = times
        self.subjects = subjects
        self.index = dict(zip(ids, range(len(ids)), strict=True))
        self.infos: list[_Listed | None] = [None] * len(ids)
        self._rest: tuple[list[str], list[str], list[int], list[str]] | None = None
        self._rest_read = False

    @classmethod
    def load(cls, commits: Commits, data: bytes) -> tuple[_Listing, int] | None:
        """The listing of a cache file's bytes and its watermark; None for anything else."""
        try:
            version, stamp, watermark, ids, trees, parents, times, subjects = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None
        columns = (ids, trees, parents, times, subjects)
        if version != cls.VERSION or not isinstance(watermark, int) or not isinstance(stamp, str):
            return None
        if not all(isinstance(c, list) and len(c) == len(ids) for c in columns):
            return None
        return cls(commits, stamp, ids, trees, parents, times, subjects), watermark

    def get(self, at: int) -> CommitInfo:
        info = self.infos[at]
        if info is None:
            info = self.infos[at] = _Listed.__new__(_Listed)
            info.id = ObjectId(self.ids[at])
            info.tree = ObjectId(self.trees[at])
            info.parents = self.parents[at]  # type: ignore[assignment]
            info.time = self.times[at]
            info.subject = self.subjects[at]  # type: ignore[misc]
            info._src = self
            info._at = at
        return info

    def fill(self, info: _Listed, at: int) -> None:
        """Set the author and message of ``info``: from the second file, else from the store."""
        rest = self.rest()
        if rest is not None:
            names, emails, offsets, messages = rest
            info.actor_name, info._email, info.offset = names[at], emails[at], offsets[at]
            info._raw, info._text, info._trailers = messages[at], None, None
            return
        obj_type, data = self.commits.store.get(info.id)
        full = Commits._parse(info.id, data)
        if obj_type != "commit" or full.tree != info.tree or full.parents != info.parents:
            raise CorruptObject(f"commit {info.id} does not match the commit listing kept in the work tree")
        info.actor_name, info._email, info.offset = full.actor_name, full._email, full.offset
        info._raw, info._text, info._trailers = full._raw, full._text, full._trailers

    def rest(self) -> tuple[list[str], list[str], list[int], list[str]] | None:
        if not self._rest_read:
            self._rest_read = True
            cache = self.commits.store.cache_file(Commits.LISTING_NAME + "-rest")
            data = cache.read() if cache is not None else None
            try:
                version, stamp, *columns = marshal.loads(data) if data else (None, None)
            except (EOFError, ValueError, TypeError):
                return None
            n = len(self.ids)
            fits = all(isinstance(c, list) and len(c) == n for c in columns)
            if version == self.VERSION and stamp == self.stamp and len(columns) == 4 and fits:
                self._rest = tuple(columns)  # type: ignore[assignment]
        return self._rest


class Commits:
    """Parsed commits (cached; commits never change) and walks over the commit DAG.

    Like git's commit-graph, a long walk keeps the headers it parsed in a cache file of the backend
    (when it has one), so the next long walk reads them from one file instead of object by object.
    The cache is only a hint: a commit missing from it, or a damaged file, falls back to the objects.
    """

    #: Commits read from the objects after which a process loads the cache file: a short log
    #: (`log -n 20`) never pays for loading it.
    LOAD_AFTER = 2000
    #: Commits read one by one after which a backend that lists its commits (Neo4j) is asked for all of
    #: them at once, and from then on only for the new ones.
    LIST_AFTER = 50
    #: New commits a walk must have parsed before it rewrites the cache file.
    SAVE_AFTER = 1000
    CACHE_NAME = "gvcs-commit-cache"
    LISTING_NAME = "gvcs-commit-listing"

    def __init__(self, store: ObjectStore, cache_size: int = 200_000, *, persistent: bool = True) -> None:
        self.store = store
        self.persistent = persistent  # False: never read or write the cache file (fsck)
        self._cache: dict[ObjectId, CommitInfo] = {}
        self._cache_size = cache_size
        self._rows: dict[str, CommitRow] | None = None  # the cache file's rows, once loaded
        self._fresh: dict[str, CommitRow] = {}  # rows parsed from objects since the load
        self._reads = 0
        # Commit objects listed by the backend (not parsed until asked for) and the listing's watermark.
        self._listed: dict[ObjectId, bytes] | None = None
        self._watermark = 0
        self._can_list = True
        self._listing_loaded = False
        self._listing: _Listing | None = None  # the listing a work tree kept, once loaded

    def get(self, oid: ObjectId) -> CommitInfo:
        info = self._cache.get(oid)
        if info is not None:
            return info
        listing = self._listing
        if listing is not None and (at := listing.index.get(oid)) is not None:
            return listing.get(at)  # kept by the listing itself
        row = self._rows.get(oid) if self._rows is not None else None
        if row is not None:
            info = CommitInfo.lazy(oid, *row)  # type: ignore[arg-type]
        else:
            info = self._listed_info(oid) or self._read(oid)
        cache = self._cache
        cache[oid] = info
        if len(cache) > self._cache_size:
            del cache[next(iter(cache))]  # the oldest entry: dicts keep insertion order
        return info

    def add(self, oid: ObjectId, commit: Commit) -> CommitInfo:
        """A commit this process has just written: known as it was built, not read back and parsed."""
        info = CommitInfo.from_commit(oid, commit)
        cache = self._cache
        cache[oid] = info
        if len(cache) > self._cache_size:
            del cache[next(iter(cache))]
        return info

    def read_many(self, oids: Iterable[ObjectId]) -> None:
        """Parse the commits ``oids`` in one read of the store (commits a transfer has just written,
        which the store still holds in memory), so that :meth:`get` finds them; anything else than a
        commit is left to :meth:`get` to refuse."""
        cache = self._cache
        wanted = [oid for oid in oids if oid not in cache]
        for oid, (obj_type, data) in self.store.get_many(wanted).items():
            if obj_type == "commit":
                cache[oid] = self._parse(oid, data)
        while len(cache) > self._cache_size:
            del cache[next(iter(cache))]

    def _listed_info(self, oid: ObjectId) -> CommitInfo | None:
        """The commit from the backend's listing of commits, refreshed with only the new commits.

        A process keeps the headers it listed, with the listing's watermark, in a cache file of the
        backend (when it has one): the next process lists only the commits stored since.
        """
        if not self._can_list:
            return None
        if self._listed is None:
            if self.persistent and not self._listing_loaded:
                self._listing_loaded = True
                if self._load_listing():  # a listing kept by an earlier process: use it at once
                    self._listed = {}
                    assert self._listing is not None
                    at = self._listing.index.get(oid)
                    if at is not None:
                        return self._listing.get(at)
            if self._listed is None and self._reads < self.LIST_AFTER:
                return None
            self._listed = {}
        data = self._listed.get(oid)
        if data is None:
            found = self.store.commit_headers(self._watermark)
            if found is None:
                self._can_list = False
                return None
            new, self._watermark = found
            self._listed.update(new)
            if self.persistent and len(new) >= self.SAVE_AFTER:
                self._save_listing()
            data = self._listed.get(oid)
        return None if data is None else self._parse(oid, data)

    def _load_listing(self) -> bool:
        cache = self.store.cache_file(self.LISTING_NAME)
        data = cache.read() if cache is not None else None
        loaded = _Listing.load(self, data) if data else None
        if loaded is None:
            return False
        self._listing, self._watermark = loaded
        return True

    def _save_listing(self) -> None:
        """Keep the listing (what was kept before and what was listed since) in the work tree."""
        cache = self.store.cache_file(self.LISTING_NAME)
        rest_cache = self.store.cache_file(self.LISTING_NAME + "-rest")
        if cache is None or rest_cache is None or self._listed is None:
            return
        old = self._listing
        ids: list[str] = []
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
        trees, parents, times, subjects, names, emails, offsets, messages = columns
        if old is not None:
            rest = old.rest()
            if rest is None:
                return  # the authors and messages kept before are lost: keep the file as it is
            ids.extend(old.ids)
            trees.extend(old.trees)
            parents.extend(old.parents)
            times.extend(old.times)
            subjects.extend(old.subjects)
            names.extend(rest[0])
            emails.extend(rest[1])
            offsets.extend(rest[2])
            messages.extend(rest[3])
        known = old.index if old is not None else {}
        for oid, data in self._listed.items():
            if oid in known:
                continue
            info = self._parse(oid, data)
            if not info._raw:
                continue  # read by the full parser (an unusual commit): left to the store
            ids.append(oid)
            trees.append(info.tree)
            parents.append(info.parents)
            times.append(info.time)
            subjects.append(info.subject)
            names.append(info.actor_name)
            emails.append(info._email)
            offsets.append(info.offset)
            messages.append(info._raw)
        # A parent is written as a reference to the same string among the ids (marshal shares it).
        same = {oid: oid for oid in ids}
        parents[:] = [tuple(same.get(p, p) for p in ps) for ps in parents]
        stamp = os.urandom(8).hex()
        version = _Listing.VERSION
        rest_cache.write(marshal.dumps((version, stamp, names, emails, offsets, messages)))
        cache.write(marshal.dumps((version, stamp, self._watermark, ids, trees, parents, times, subjects)))

    @staticmethod
    def _parse(oid: ObjectId, data: bytes) -> CommitInfo:
        info = _quick_info(oid, data)
        if info is None:  # anything unusual: the full parser, which also explains what is wrong
            try:
                info = CommitInfo.from_commit(oid, Commit.parse(data))
            except CorruptObject as exc:
                raise CorruptObject(f"commit {oid}: {exc}") from None
        return info

    def _read(self, oid: ObjectId) -> CommitInfo:
        obj_type, data = self.store.get(oid)
        if obj_type != "commit":
            raise BadInput(f"{oid[:12]} is a {obj_type}, not a commit")
        info = self._parse(oid, data)
        self._reads += 1
        if self._rows is None and self.persistent and self._reads >= self.LOAD_AFTER:
            self._rows = self._load_rows()
        if self.persistent and info._raw:
            self._fresh[oid] = _row(info)
        return info

    def _load_rows(self) -> dict[str, CommitRow]:
        cache = self.store.cache_file(self.CACHE_NAME)
        data = cache.read() if cache is not None else None
        if not data:
            return {}
        try:
            rows = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return {}
        return rows if isinstance(rows, dict) else {}

    def save_cache(self) -> None:
        """Write the cache file if this process parsed enough new commits to make it worth it."""
        if self._rows is None or len(self._fresh) < self.SAVE_AFTER:
            return
        cache = self.store.cache_file(self.CACHE_NAME)
        if cache is None:
            return
        rows = self._load_rows()  # another process may have added rows meanwhile
        rows.update(self._rows)
        rows.update(self._fresh)
        cache.write(marshal.dumps(rows))
        self._rows = rows
        self._fresh = {}

    def walk(
        self,
        starts: Iterable[ObjectId],
        *,
        first_parent: bool = False,
        exclude: Iterable[ObjectId] = (),
    ) -> Iterator[CommitInfo]:
        """Commits reachable from ``starts``, newest commit time first (git's default log order);
        with ``exclude``, only those not reachable from it (``git log B --not A``, ``A..B``)."""
        heap: list[tuple[int, int, ObjectId]] = []
        seen: set[ObjectId] = set()
        excluded = list(exclude)
        if excluded:
            starts = list(starts)
            seen = self.reachable_from(excluded, until=starts)
        get = self.get
        counter = 0
        for oid in starts:
            if oid not in seen:
                seen.add(oid)
                heapq.heappush(heap, (-get(oid).time, counter, oid))
                counter += 1
        while heap:
            info = get(heapq.heappop(heap)[2])
            while True:
                yield info
                parents = info.parents[:1] if first_parent else info.parents
                if len(parents) == 1 and not heap and parents[0] not in seen:
                    # A straight line of history: the parent is next whatever its time.
                    seen.add(parents[0])
                    info = get(parents[0])
                    continue
                for parent in parents:
                    if parent not in seen:
                        seen.add(parent)
                        heapq.heappush(heap, (-get(parent).time, counter, parent))
                        counter += 1
                break
        self.save_cache()

    def reachable_from(self, starts: Sequence[ObjectId], *, until: Sequence[ObjectId]) -> set[ObjectId]:
        """The commits reachable from ``starts`` that a walk from ``until`` meets (and some more).

        Both are walked together newest first, as ``git rev-list`` paints uninteresting commits; the
        walk stops once no commit reached from ``until`` alone is left to visit."""
        get = self.get
        heap: list[tuple[int, int, ObjectId]] = []
        order = 0
        painted: dict[ObjectId, bool] = {}  # True: reachable from ``starts``
        pending: set[ObjectId] = set()  # queued, reached from ``until`` only so far

        def push(oid: ObjectId, paint: bool) -> None:
            nonlocal order
            painted[oid] = paint
            if paint:
                pending.discard(oid)
            else:
                pending.add(oid)
            order += 1
            heapq.heappush(heap, (-get(oid).time, order, oid))

        for oid in starts:
            if not painted.get(oid):
                push(oid, True)
        for oid in until:
            if oid not in painted:
                push(oid, False)
        while heap and pending:
            oid = heapq.heappop(heap)[2]
            paint = painted[oid]
            pending.discard(oid)
            for parent in get(oid).parents:
                seen = painted.get(parent)
                if seen is None or (paint and not seen):
                    push(parent, paint)
        return {oid for oid, paint in painted.items() if paint}

    def topo(self, starts: Iterable[ObjectId], *, first_parent: bool = False) -> list[CommitInfo]:
        """Every reachable commit, children before parents, newest first among ready commits."""
        commits = list(self.walk(starts, first_parent=first_parent))
        children: dict[ObjectId, int] = {c.id: 0 for c in commits}
        for c in commits:
            for p in c.parents[:1] if first_parent else c.parents:
                if p in children:
                    children[p] += 1
        order = {c.id: i for i, c in enumerate(commits)}
        ready = [(order[c.id], c.id) for c in commits if children[c.id] == 0]
        heapq.heapify(ready)
        by_id = {c.id: c for c in commits}
        out: list[CommitInfo] = []
        while ready:
            _, oid = heapq.heappop(ready)
            info = by_id[oid]
            out.append(info)
            for p in info.parents[:1] if first_parent else info.parents:
                if p in children:
                    children[p] -= 1
                    if children[p] == 0:
                        heapq.heappush(ready, (order[p], p))
        return out

    def is_ancestor(self, ancestor: ObjectId, descendant: ObjectId) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor).

        Commit times are not trusted to prune the search: clocks of writers can be skewed.
        """
        self.get(ancestor)  # an unknown id is an error, not "not an ancestor"
        stack, seen = [descendant], {descendant}
        while stack:
            oid = stack.pop()
            if oid == ancestor:
                return True
            for parent in self.get(oid).parents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def as_of(self, start: ObjectId, when: int) -> ObjectId:
        """The newest commit on the first-parent line of ``start`` made at or before ``when``."""
        oid: ObjectId | None = start
        while oid is not None:
            info = self.get(oid)
            if info.time <= when:
                return oid
            oid = info.parents[0] if info.parents else None
        raise NotFound("no commit that old: the history starts later")
