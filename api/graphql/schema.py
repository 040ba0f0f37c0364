"""The GraphQL schema: types and the Query root, resolved through the repository API.

Field names follow docs/json.md in camelCase. Every :class:`~narrative_vcs.errors.GvcsError` a resolver
raises becomes a GraphQL error with ``extensions.code`` (see :class:`GvcsErrors`); anything else is
logged here and reported as ``INTERNAL`` with a generic message.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, ExecutionResult, Info
from strawberry.types.graphql import OperationType

from narrative_vcs.errors import BadInput, BranchMoved, GvcsError, MergeConflicts, NotFound
from narrative_vcs.history import CommitInfo
from narrative_vcs.objects import Page as PageRecord
from narrative_vcs.objects import validate_id
from narrative_vcs.reading import reading_order, word_count
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import FileChange, LogPage, Repository

from .cache import ReadCache
from .feed import CommitFeed
from .limits import Limits, Parsed
from .loaders import Loaders
from .writer import BranchWriter

__all__ = ["Context", "GvcsErrors", "Query", "create_schema", "schema"]

log = logging.getLogger("gvcs.api")

MAX_FIRST = 200
DEFAULT_FIRST = 20


@dataclass
class Context:
    """What every resolver sees: the repository, this request's loaders, the actor of its API token (None
    without one), and the feed of new commits (None where nothing streams)."""

    repo: Repository
    loaders: Loaders
    actor: str | None = None
    feed: CommitFeed | None = None
    connection_params: dict[str, Any] | None = None  # a websocket's connection_init payload
    upgrade_token: str | None = None  # a websocket's Authorization header
    read_cache: Any = None  # the server's ReadCache store, if reads are cached
    writer: BranchWriter | None = None  # the server's group commit; None: commit directly
    intake: Any = None  # api.graphql.queued_intake.QueuedIntake with Redis: events go to the workers
    cacheable: bool = True  # False: the answer depends on more than the refs (the clock), do not cache it
    access_damaged: bool = False  # the server could not read its tokens: writes are refused

    @classmethod
    def for_request(
        cls,
        repo: Repository,
        actor: str | None = None,
        feed: CommitFeed | None = None,
        read_cache: Any = None,
        writer: BranchWriter | None = None,
    ) -> Context:
        return cls(repo, Loaders(repo), actor, feed, read_cache=read_cache, writer=writer)

    def acting(self, requested: str | None = None) -> str:
        """The actor a write acts as: the token's (see :func:`api.graphql.auth.require_actor`)."""
        from .auth import require_actor

        return require_actor(self.actor, requested, damaged=self.access_damaged)

    def changed(self) -> None:
        """A mutation moved a ref: subscribers hear of it now, not at the next look."""
        if self.feed is not None:
            self.feed.poke()


GInfo = Info[Context, None]


# --- connections ------------------------------------------------------------------------------------


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def _check_first(first: int) -> int:
    if first < 0 or first > MAX_FIRST:
        raise BadInput(f"first must be between 0 and {MAX_FIRST}")
    return first


def _encode(prefix: str, *parts: str) -> str:
    raw = "\n".join((prefix, *parts))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(prefix: str, cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("\n")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        parts = []
    if len(parts) != count + 1 or parts[0] != prefix:
        raise BadInput(f"invalid cursor {cursor[:40]!r}")
    return parts[1:]


@dataclass(frozen=True)
class _LogQuery:
    """A log as the API pages it; the GraphQL cursors wrap the API's cursors (see :func:`_log`)."""

    revs: tuple[str, ...]
    actor: str | None = None
    kind: str | None = None
    page: str | None = None


def _log(repo: Repository, query: _LogQuery, first: int, after: str | None) -> CommitConnection:
    """A connection over :meth:`Repository.log`.

    The API returns one cursor per page (after its last commit). An edge's cursor here is the API cursor
    the page started from plus how many matches to skip; the end cursor of a page that has a next one is
    the API's own cursor (it pins the heads the walk started from).
    """
    _check_first(first)
    api_after: str | None = None
    skip = 0
    if after is not None:
        api_after_text, skip_text = _decode("log", after, 2)
        api_after = api_after_text or None
        if not skip_text.isdigit():
            raise BadInput(f"invalid cursor {after[:40]!r}")
        skip = int(skip_text)
    result: LogPage = repo.log(
        query.revs,
        actor=query.actor,
        kind=query.kind,
        page=query.page,
        first=skip + first,
        after=api_after,
    )
    commits = result.commits[skip:]
    base = api_after or ""
    edges = [
        CommitEdge(node=Commit.of(info), cursor=_encode("log", base, str(skip + i + 1)))
        for i, info in enumerate(commits)
    ]
    has_next = result.next_cursor is not None
    if has_next and edges:
        edges[-1] = CommitEdge(node=edges[-1].node, cursor=_encode("log", result.next_cursor or "", "0"))
    end = edges[-1].cursor if edges else None
    return CommitConnection(edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=end))


# --- values -----------------------------------------------------------------------------------------


@strawberry.type(description="A person or an AI agent who writes.")
class Actor:
    id: str
    name: str
    kind: str | None = strawberry.field(description="human or agent; null if the record is missing")
    archetype: str | None


@strawberry.type(name="FileChange", description="A file that differs between two revisions.")
class FileChangeType:
    path: str
    kind: str = strawberry.field(description="page, actor, story or file")
    id: str | None
    status: str = strawberry.field(description="added, removed or modified")
    old: str | None = strawberry.field(description="the old blob id")
    new: str | None = strawberry.field(description="the new blob id")

    @classmethod
    def of(cls, change: FileChange) -> FileChangeType:
        return cls(
            path=change.path,
            kind=change.kind,
            id=change.item_id,
            status=change.status,
            old=change.old,
            new=change.new,
        )


@strawberry.type(name="SemanticChange", description="What changed in one file (see docs/json.md).")
class SemanticChangeType:
    path: str
    kind: str
    id: str | None
    status: str
    old: str | None
    new: str | None
    title: JSON | None = strawberry.field(description='{"old", "new"} when the title changed')
    fields: JSON = strawberry.field(description='[{"key", "old", "new"}]')
    links: JSON | None = strawberry.field(description="follows/references added and removed, alternate_of")
    paragraphs: JSON = strawberry.field(description="paragraph changes with word diffs")
    problem: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SemanticChangeType:
        return cls(**{k: data[k] for k in cls.__annotations__})


def _semantic(changes: list[Any]) -> list[SemanticChangeType]:
    return [SemanticChangeType.of(c.to_json()) for c in changes]


@strawberry.type
class Commit:
    """A commit. Its plain facts are attributes (the cheapest fields for GraphQL to resolve); what
    needs reading goes through the request's loaders."""

    info: strawberry.Private[CommitInfo]
    id: str
    short_id: str
    tree: str
    kind: str
    time: int = strawberry.field(description="unix seconds, UTC")
    subject: str
    message: str = strawberry.field(description="the message without its Gvcs-* trailers")
    actor_name: str
    event_id: str | None

    @classmethod
    def of(cls, info: CommitInfo) -> Commit:
        return cls(
            info=info,
            id=info.id,
            short_id=info.short_id,
            tree=info.tree,
            kind=info.kind,
            time=info.time,
            subject=info.subject,
            message=info.message,
            actor_name=info.actor_name,
            event_id=info.event_id,
        )

    @strawberry.field(description="the parsed Gvcs-Event trailer")
    def event(self) -> JSON | None:
        return cast(JSON | None, self.info.event)

    @strawberry.field
    async def parents(self, info: GInfo) -> list[Commit]:
        found = await info.context.loaders.commit.load_many(list(self.info.parents))
        return [Commit.of(c) for c in found]

    @strawberry.field(description="the actor's record as of this commit")
    async def actor(self, info: GInfo) -> Actor:
        actor_id = self.info.actor
        record = await info.context.loaders.actor.load((self.info.id, actor_id))
        if record is None:
            return Actor(id=actor_id, name=self.info.actor_name, kind=None, archetype=None)
        return Actor(id=record.id, name=record.name, kind=record.kind, archetype=record.archetype)

    @strawberry.field(description="files changed against the first parent")
    async def changes(self, info: GInfo) -> list[FileChangeType]:
        return [FileChangeType.of(c) for c in await info.context.loaders.changes.load(self.info.id)]

    @strawberry.field(description="ids of the pages changed against the first parent")
    async def changed_pages(self, info: GInfo) -> list[str]:
        changes = await info.context.loaders.changes.load(self.info.id)
        return [c.item_id for c in changes if c.kind == "page" and c.item_id]

    @strawberry.field(description="the semantic diff against the first parent")
    def diff(self, info: GInfo) -> list[SemanticChangeType]:
        return _semantic(info.context.repo.semantic_changes(self.info.id))


@strawberry.type
class CommitEdge:
    node: Commit
    cursor: str


@strawberry.type
class CommitConnection:
    edges: list[CommitEdge]
    page_info: PageInfo


@strawberry.type(description="A paragraph of a page and the commit that last changed it.")
class BlameEntry:
    paragraph: int
    text: str
    commit: Commit


@strawberry.type(description="A page as it reads at one commit.")
class Page:
    id: str
    revision: str = strawberry.field(description="the commit the page is read at")

    async def _page(self, info: GInfo) -> PageRecord:
        page = await info.context.loaders.page.load((self.revision, self.id))
        if page is None:
            raise NotFound(f"page {self.id!r} not found at {self.revision[:10]}")
        return page

    @strawberry.field
    async def title(self, info: GInfo) -> str:
        return (await self._page(info)).title

    @strawberry.field
    async def body(self, info: GInfo) -> str:
        return (await self._page(info)).body

    @strawberry.field
    async def tags(self, info: GInfo) -> list[str]:
        return list((await self._page(info)).tags)

    @strawberry.field(description="the words of the body (whitespace-separated, as gvcs read counts them)")
    async def word_count(self, info: GInfo) -> int:
        return word_count(await self._page(info))

    @strawberry.field(description="ids of the pages [[referenced]] in the body (they may not exist)")
    async def links(self, info: GInfo) -> list[str]:
        return list((await self._page(info)).links())

    @strawberry.field(description="the pages this one comes after")
    async def follows(self, info: GInfo) -> list[Page]:
        return [Page(id=pid, revision=self.revision) for pid in (await self._page(info)).follows]

    @strawberry.field(description="the page this one is an alternate take of")
    async def alternate_of(self, info: GInfo) -> Page | None:
        target = (await self._page(info)).alternate_of
        return None if target is None else Page(id=target, revision=self.revision)

    @strawberry.field(description="the pages that are alternate takes of this one")
    async def alternates(self, info: GInfo) -> list[Page]:
        found = await info.context.loaders.alternates.load(self.revision)
        return [Page(id=pid, revision=self.revision) for pid in found.get(self.id, [])]

    @strawberry.field(description="the pages whose follows names this one (at the same revision), by id")
    async def followed_by(self, info: GInfo) -> list[Page]:
        found = await info.context.loaders.followers.load(self.revision)
        return [Page(id=pid, revision=self.revision) for pid in found.get(self.id, [])]

    @strawberry.field(description="the commits that changed this page, newest first")
    def history(self, info: GInfo, first: int = DEFAULT_FIRST, after: str | None = None) -> CommitConnection:
        return _log(info.context.repo, _LogQuery((self.revision,), page=self.id), first, after)

    @strawberry.field(description="who last changed each paragraph")
    def blame(self, info: GInfo) -> list[BlameEntry]:
        return [
            BlameEntry(paragraph=e.index, text=e.text, commit=Commit.of(e.commit))
            for e in info.context.repo.blame(self.id, self.revision)
        ]


@strawberry.type
class PageEdge:
    node: Page
    cursor: str


@strawberry.type
class PageConnection:
    edges: list[PageEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A page in reading order (gvcs read's layout; see docs/graphql.md).")
class ReadingEntry:
    page: Page
    position: int = strawberry.field(description="1-based, over the whole reading")
    section: str = strawberry.field(description='"Main line", "Path B", ..., "Other pages"')
    section_kind: str = strawberry.field(description="main, path or other")
    depth: int = strawberry.field(description="how many forks deep the section is (0: main line)")
    forks_from: str | None = strawberry.field(description="the page the section's path forks after")
    alternate_of: str | None = strawberry.field(description="set on an alternate take, read after it")
    forks_to: list[str] = strawberry.field(description="the paths that fork after this page")


@strawberry.type
class Branch:
    name: str
    head_id: strawberry.Private[str]

    @strawberry.field
    async def head(self, info: GInfo) -> Commit:
        return Commit.of(await info.context.loaders.commit.load(self.head_id))

    @strawberry.field(description="whether HEAD points at this branch")
    def current(self, info: GInfo) -> bool:
        return info.context.repo.head_branch() == self.name

    @strawberry.field(description="the branch's history, newest first (a Relay connection)")
    def log(
        self,
        info: GInfo,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
        actor: str | None = None,
        kind: str | None = None,
        page: str | None = None,
    ) -> CommitConnection:
        return _log(info.context.repo, _LogQuery((self.head_id,), actor, kind, page), first, after)

    @strawberry.field(description="the words of every page at the branch's head")
    async def word_count(self, info: GInfo) -> int:
        loaders = info.context.loaders
        ids = await loaders.page_ids.load(self.head_id)
        pages = await loaders.page.load_many([(self.head_id, pid) for pid in ids])
        return sum(word_count(p) for p in pages if p is not None)


@strawberry.type
class Tag:
    name: str
    commit_id: strawberry.Private[str]

    @strawberry.field
    async def commit(self, info: GInfo) -> Commit:
        return Commit.of(await info.context.loaders.commit.load(self.commit_id))


@strawberry.type
class RepositoryInfo:
    head_branch: str | None
    branch_count: int
    tags: list[Tag]
    title: str | None = strawberry.field(description="the story's title at HEAD")


@strawberry.type
class ConflictRegion:
    base: str | None
    ours: str | None
    theirs: str | None


@strawberry.type(description="Something the two sides changed incompatibly (see docs/json.md).")
class Conflict:
    kind: str
    path: str
    page: str | None
    message: str
    base: str | None
    ours: str | None
    theirs: str | None
    fields: list[str]
    regions: list[ConflictRegion]


@strawberry.type(description="What merging source into target would give; nothing is changed.")
class MergePreview:
    target: Commit
    source: Commit
    bases: list[Commit]
    up_to_date: bool
    fast_forward: bool
    clean: bool
    conflicts: list[Conflict]


def _conflicts(found: list[Any]) -> list[Conflict]:
    conflicts = []
    for c in found:
        data = c.to_json()
        regions = [ConflictRegion(**r) for r in data.pop("regions")]
        conflicts.append(Conflict(**data, regions=regions))
    return conflicts


# --- the query root ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="the repository: branch count, tags, the story's title")
    def repository(self, info: GInfo) -> RepositoryInfo:
        repo = info.context.repo
        try:
            story = repo.read_story_record("HEAD")
        except NotFound:  # HEAD on a branch without commits yet
            story = None
        title = story.title if story else None
        return RepositoryInfo(
            head_branch=repo.head_branch(),
            branch_count=len(repo.branches()),
            tags=[Tag(name=n, commit_id=oid) for n, oid in sorted(repo.tags().items())],
            title=title,
        )

    @strawberry.field
    def branches(self, info: GInfo) -> list[Branch]:
        return [Branch(name=n, head_id=oid) for n, oid in sorted(info.context.repo.branches().items())]

    @strawberry.field(description="a branch, or null if there is none of that name")
    def branch(self, info: GInfo, name: str) -> Branch | None:
        head = info.context.repo.branch_head(name)
        return None if head is None else Branch(name=name, head_id=head)

    @strawberry.field(description="a commit by revision: id, unique prefix, branch, tag, HEAD~N ...")
    async def commit(self, info: GInfo, id: str) -> Commit:
        oid = info.context.repo.resolve(id)
        return Commit.of(await info.context.loaders.commit.load(oid))

    @strawberry.field(description="a page at a revision, or as of a time (unix seconds) on its line")
    async def page(self, info: GInfo, id: str, rev: str = "HEAD", as_of: int | None = None) -> Page:
        validate_id("page", id)
        commit = info.context.repo.at(rev, as_of)
        page = Page(id=id, revision=commit)
        await page._page(info)
        return page

    @strawberry.field(description="the pages at a revision, sorted by id (a Relay connection)")
    async def pages(
        self, info: GInfo, rev: str = "HEAD", first: int = 50, after: str | None = None
    ) -> PageConnection:
        _check_first(first)
        commit = info.context.repo.resolve(rev)
        ids = await info.context.loaders.page_ids.load(commit)
        start = 0
        if after is not None:
            (last,) = _decode("page", after, 1)
            start = next((i for i, pid in enumerate(ids) if pid > last), len(ids))
        chosen = ids[start : start + first]
        edges = [PageEdge(node=Page(id=pid, revision=commit), cursor=_encode("page", pid)) for pid in chosen]
        return PageConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + first < len(ids), end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=len(ids),
        )

    @strawberry.field(description="the pages of a revision in reading order, as gvcs read lays them out")
    def reading_order(
        self,
        info: GInfo,
        rev: str = "HEAD",
        from_: Annotated[str | None, strawberry.argument(name="from")] = None,
    ) -> list[ReadingEntry]:
        repo = info.context.repo
        commit = repo.resolve(rev)
        pages = repo.read_story(commit).pages
        if from_ is not None and from_ not in pages:
            raise NotFound(f"page {from_!r} not found at {rev}")
        return [
            ReadingEntry(
                page=Page(id=e.page, revision=commit),
                position=e.position,
                section=section.label,
                section_kind=section.kind,
                depth=e.depth,
                forks_from=section.forks_from,
                alternate_of=e.alternate_of,
                forks_to=list(e.forks_to),
            )
            for section in reading_order(pages, from_).sections
            for e in section.entries
        ]

    @strawberry.field(description="the semantic diff between two revisions (from null: the empty story)")
    def diff(
        self, info: GInfo, to: str, from_: Annotated[str | None, strawberry.argument(name="from")] = None
    ) -> list[SemanticChangeType]:
        return _semantic(info.context.repo.semantic_diff(from_, to))

    @strawberry.field(description="the best common ancestors of two revisions")
    async def merge_base(self, info: GInfo, a: str, b: str) -> list[Commit]:
        bases = info.context.repo.merge_bases(a, b)
        return [Commit.of(c) for c in await info.context.loaders.commit.load_many(bases)]

    @strawberry.field(description="the conflicts merging source into target would have; changes nothing")
    async def merge_preview(self, info: GInfo, source: str, target: str) -> MergePreview:
        preview = info.context.repo.merge_preview(target, source)
        load = info.context.loaders.commit
        conflicts = _conflicts(preview.result.conflicts)
        return MergePreview(
            target=Commit.of(await load.load(preview.ours)),
            source=Commit.of(await load.load(preview.theirs)),
            bases=[Commit.of(c) for c in await load.load_many(preview.bases)],
            up_to_date=preview.up_to_date,
            fast_forward=preview.fast_forward,
            clean=preview.clean,
            conflicts=conflicts,
        )

    @strawberry.field(description="the actors at a revision, sorted by id")
    def actors(self, info: GInfo, rev: str = "HEAD") -> list[Actor]:
        found = sorted(info.context.repo.list_actors(rev), key=lambda a: a.id)
        return [Actor(id=a.id, name=a.name, kind=a.kind, archetype=a.archetype) for a in found]


# --- subscriptions ----------------------------------------------------------------------------------


@strawberry.type(description="A commit that became part of a branch.")
class CommitAdded:
    branch: str
    commit: Commit


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="the commits added to a branch (every branch if null) from now on, oldest first; "
        "kind: only commits of that kind"
    )
    async def commit_added(
        self, info: GInfo, branch: str | None = None, kind: str | None = None
    ) -> AsyncGenerator[CommitAdded, None]:
        ctx = info.context
        if branch is not None:
            branch_ref(branch)  # BAD_INPUT for an invalid name
        if ctx.feed is None:
            raise BadInput("this server does not stream commits")
        async for item in ctx.feed.subscribe(branch):
            if kind is None or item.commit.kind == kind:
                ctx.loaders = Loaders(ctx.repo)  # each event is a request of its own
                yield CommitAdded(branch=item.branch, commit=Commit.of(item.commit))

    @strawberry.subscription(
        description="the commits that change one page (add, edit or remove it, against their first "
        "parent) from now on, oldest first, each once: on a branch, or on every branch if null (a commit "
        "that reaches several branches, by a fast-forward say, comes once, with the first branch it was "
        "seen on)"
    )
    async def page_changed(
        self, info: GInfo, id: str, branch: str | None = None
    ) -> AsyncGenerator[CommitAdded, None]:
        ctx = info.context
        validate_id("page", id)  # BAD_INPUT for an invalid id
        if branch is not None:
            branch_ref(branch)  # BAD_INPUT for an invalid name
        if ctx.feed is None:
            raise BadInput("this server does not stream commits")
        async for item in ctx.feed.page_changes(id, branch):
            ctx.loaders = Loaders(ctx.repo)  # each event is a request of its own
            yield CommitAdded(branch=item.branch, commit=Commit.of(item.commit))

    @strawberry.subscription(
        description="narrative.change.v1 messages (JSON objects) about a branch, or about every branch if "
        "null, from now on; with Redis, from every process of the story"
    )
    async def narrative_changed(self, info: GInfo, branch: str | None = None) -> AsyncGenerator[JSON, None]:
        ctx = info.context
        if branch is not None:
            branch_ref(branch)  # BAD_INPUT for an invalid name
        if ctx.feed is None:
            raise BadInput("this server does not stream narrative changes")
        async for item in ctx.feed.narrative_changes(branch):
            yield cast(JSON, item.data)


# --- errors -----------------------------------------------------------------------------------------


class GvcsErrors(MaskErrors):
    """Errors as clients see them: one line and ``extensions.code``, never a stack trace.

    A :class:`GvcsError` keeps its message and its ``code``; a malformed query, an unknown field, a
    variable of the wrong type or a query over the limits keeps GraphQL's message with ``BAD_INPUT``;
    anything else is ``INTERNAL``.
    """

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = _cause(error)
        if isinstance(original, GvcsError):
            message, code = _one_line(str(original)), original.code
        elif original is None:
            message, code = _one_line(error.message), "BAD_INPUT"
        else:
            message, code = "internal error (logged on the server)", "INTERNAL"
        extensions: dict[str, Any] = {"code": code}
        if isinstance(original, BranchMoved):
            extensions["paths"] = list(original.paths)
        elif isinstance(original, MergeConflicts):
            extensions["paths"] = sorted({c.path for c in original.conflicts})
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )


def _cause(error: GraphQLError) -> Exception | None:
    """The exception behind a GraphQL error; None for GraphQL's own (syntax, validation, coercion)."""
    original: Exception | None = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def _one_line(message: str) -> str:
    return message.splitlines()[0] if message else "error"


class GvcsSchema(strawberry.Schema):
    """Logs only the unexpected errors (with their traceback); a user's mistake is not logged.

    :meth:`execute` runs queries and mutations only: a subscription sent over plain HTTP is refused
    (``BAD_INPUT``, 400) rather than run as a query; subscriptions go through :meth:`subscribe`
    (the websocket).
    """

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        every = (OperationType.QUERY, OperationType.MUTATION)
        allowed = set(every if allowed_operation_types is None else allowed_operation_types)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = _cause(error)
            if original is None or isinstance(original, GvcsError):
                continue
            log.error("GraphQL resolver failed: %s", error.message, exc_info=original)


def create_schema() -> strawberry.Schema:
    from strawberry.tools import merge_types

    from .events import EventMutation
    from .governance import GovernanceMutation, GovernanceQuery
    from .mutations import Mutation
    from .world import WorldQuery  # ledger, spores, rituals, events

    return GvcsSchema(
        query=merge_types("Query", (Query, GovernanceQuery, WorldQuery)),  # proposals: governance.py
        mutation=merge_types(
            "Mutation", (Mutation, GovernanceMutation, EventMutation)
        ),  # emitEvent: events.py
        subscription=Subscription,
        extensions=[Parsed, Limits, ReadCache, GvcsErrors],
    )


schema = create_schema()
