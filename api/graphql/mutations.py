"""The Mutation root: commits, branches and merges, each a compare-and-swap on a branch head.

A commit whose ``expectedHead`` is stale is applied on the new head when nothing that moved touches the
files it writes (``rebased: true``); otherwise it fails with ``CONFLICT`` and ``extensions.paths``. An
acknowledged commit is on its branch: the ref only moves by compare-and-swap.

Every mutation needs an API token and acts as the token's actor (``UNAUTHENTICATED`` without one); an
``actor`` argument, where given, must be that actor (``FORBIDDEN`` otherwise). The actor must exist in
the story or be created by the same change set.
"""

from __future__ import annotations

import asyncio
import enum
import re

import strawberry

from narrative_vcs.errors import BadInput, BranchMoved, NotFound
from narrative_vcs.objects import Actor as ActorRecord
from narrative_vcs.objects import Page as PageRecord
from narrative_vcs.objects import validate_id
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import ChangeSet, PendingCommit, Repository, Resolution
from narrative_vcs.snapshot import check_path
from narrative_vcs.types import ObjectId

from .schema import Branch, Commit, Conflict, GInfo, _conflicts

__all__ = ["Mutation"]

_OID = re.compile(r"[0-9a-f]{40}")


# --- inputs -----------------------------------------------------------------------------------------


@strawberry.input(description="A page to write; glyphs and unknown front-matter keys of the page are kept.")
class PageInput:
    id: str
    title: str
    body: str = ""
    follows: list[str] = strawberry.field(default_factory=list)
    alternate_of: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="A page to delete.")
class DeletePageInput:
    id: str


@strawberry.input(description="An actor record to write.")
class ActorInput:
    id: str
    name: str
    kind: str = "human"
    archetype: str | None = None


@strawberry.input(description="One change: set exactly one of the fields.")
class ChangeInput:
    upsert_page: PageInput | None = None
    delete_page: DeletePageInput | None = None
    upsert_actor: ActorInput | None = None


@strawberry.input
class CommitInput:
    branch: str
    expected_head: str | None = strawberry.field(
        description="the full id of the head the change set was made against; null: create the branch"
    )
    message: str
    changes: list[ChangeInput]
    actor: str | None = strawberry.field(default=None, description="must be the token's actor if given")


@strawberry.enum(description="A side of a merge to settle a conflicted file with.")
class Side(enum.Enum):
    OURS = "ours"
    THEIRS = "theirs"
    BASE = "base"
    UNION = "union"


@strawberry.input(
    description="How to settle one conflicted file: set exactly one of side, page, content, delete."
)
class ResolutionInput:
    path: str = strawberry.field(description="the conflicted file, as the conflict names it (pages/x.md)")
    side: Side | None = None
    page: PageInput | None = strawberry.field(default=None, description="the page as it should read")
    content: str | None = strawberry.field(default=None, description="the file's whole new text")
    delete: bool = strawberry.field(default=False, description="remove the file")


@strawberry.input
class ResolveConflictsInput:
    source: str
    target: str
    expected_head: str = strawberry.field(description="the full id of the target's head")
    resolutions: list[ResolutionInput]
    message: str | None = None
    actor: str | None = strawberry.field(default=None, description="must be the token's actor if given")


# --- payloads ---------------------------------------------------------------------------------------


@strawberry.type
class CommitPayload:
    branch: str
    commit: Commit
    previous_head: str | None = strawberry.field(description="the head the commit was applied on")
    rebased: bool = strawberry.field(
        description="true when expectedHead was stale and the change set was applied on the newer head"
    )


@strawberry.type
class DeleteBranchPayload:
    name: str
    head: str = strawberry.field(description="the commit the branch pointed at")


@strawberry.type
class MergePayload:
    status: str = strawberry.field(
        description="up-to-date, fast-forward, merged or conflicts (with dryRun: what a merge would do)"
    )
    dry_run: bool
    commit: Commit | None = strawberry.field(description="the new head; null with conflicts or dryRun")
    conflicts: list[Conflict]


# --- helpers ----------------------------------------------------------------------------------------


def _expected(value: str | None, what: str = "expectedHead") -> ObjectId | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _OID.fullmatch(value):
        raise BadInput(f"{what} must be a full commit id (40 hex digits), not {value[:50]!r}")
    return ObjectId(value)


def _require_branch(repo: Repository, name: str) -> ObjectId:
    head = repo.branch_head(name)
    if head is None:
        raise NotFound(f"branch {name!r} not found")
    return head


def _change_set(repo: Repository, changes: list[ChangeInput], base: ObjectId | None) -> ChangeSet:
    """The change set of the input; ``base`` (the expected head) supplies the fields the input lacks."""
    if not changes:
        raise BadInput("changes must not be empty")
    out = ChangeSet()
    seen: set[str] = set()

    def once(path: str) -> None:
        if path in seen:
            raise BadInput(f"{path} is changed twice in one commit")
        seen.add(path)

    for i, change in enumerate(changes):
        chosen = [c for c in (change.upsert_page, change.delete_page, change.upsert_actor) if c is not None]
        if len(chosen) != 1:
            raise BadInput(f"changes[{i}]: set exactly one of upsertPage, deletePage, upsertActor")
        if change.upsert_page is not None:
            p = change.upsert_page
            page = PageRecord(p.id, p.title, p.body, tuple(p.follows), p.alternate_of, tuple(p.tags))
            once(page.path)
            old = _old_page(repo, base, page.id)
            if old is not None:
                page = PageRecord(
                    page.id, page.title, page.body, page.follows, page.alternate_of, page.tags,
                    old.glyphs, old.extra,
                )  # fmt: skip
            out.upsert_page(page)
        elif change.delete_page is not None:
            page_id = validate_id("page", change.delete_page.id)
            once(f"pages/{page_id}.md")
            out.delete_page(page_id)
        elif change.upsert_actor is not None:
            a = change.upsert_actor
            actor = ActorRecord(a.id, a.name, a.kind, a.archetype, _old_actor_extra(repo, base, a.id))
            once(actor.path)
            out.upsert_actor(actor)
    return out


def _old_page(repo: Repository, base: ObjectId | None, page_id: str) -> PageRecord | None:
    if base is None:
        return None
    try:
        return repo.read_page(page_id, base)
    except NotFound:
        return None


def _old_actor_extra(
    repo: Repository, base: ObjectId | None, actor_id: str
) -> tuple[tuple[str, object], ...]:
    if base is None:
        return ()
    try:
        return repo.read_actor(actor_id, base).extra
    except NotFound:
        return ()


def _resolutions(items: list[ResolutionInput]) -> dict[str, Resolution]:
    out: dict[str, Resolution] = {}
    for i, item in enumerate(items):
        check_path(item.path)
        if item.path in out:
            raise BadInput(f"{item.path} is resolved twice")
        chosen = [item.side is not None, item.page is not None, item.content is not None, item.delete]
        if sum(chosen) != 1:
            raise BadInput(f"resolutions[{i}]: set exactly one of side, page, content, delete")
        if item.side is not None:
            out[item.path] = item.side.value
        elif item.page is not None:
            p = item.page
            page = PageRecord(p.id, p.title, p.body, tuple(p.follows), p.alternate_of, tuple(p.tags))
            if page.path != item.path:
                raise BadInput(f"resolutions[{i}]: page {page.id!r} is not the file {item.path}")
            out[item.path] = page.serialise()
        elif item.content is not None:
            out[item.path] = item.content.encode()
        else:
            out[item.path] = None
    return out


# --- the mutation root ------------------------------------------------------------------------------


@strawberry.type
class Mutation:
    @strawberry.field(
        description="commit a change set; a stale expectedHead is rebased when the changes are independent"
    )
    async def commit(self, info: GInfo, input: CommitInput) -> CommitPayload:
        repo = info.context.repo
        actor = info.context.acting(input.actor)
        branch_ref(input.branch)  # a valid branch name
        expected = _expected(input.expected_head)

        def prepare() -> ChangeSet:
            if expected is not None:
                repo.commit_info(expected)  # NOT_FOUND for an unknown commit
            return _change_set(repo, input.changes, expected)

        # Reads of the store (a round trip each on Neo4j) happen off the event loop, which keeps serving.
        changes = await asyncio.to_thread(prepare)
        item = PendingCommit(changes, expected, actor, input.message)
        writer = info.context.writer
        if writer is not None:  # the server's group commit (api/graphql/writer.py)
            outcome = await writer.commit(input.branch, item)
        else:
            (outcome,) = repo.commit_group(input.branch, [item])
        if outcome.error is not None:
            error = outcome.error
            if isinstance(error, BranchMoved) and expected is not None and error.actual is None:
                # The branch was not there to rebase onto: no read was spent asking before.
                raise NotFound(f"branch {input.branch!r} not found")
            raise error
        assert outcome.commit is not None
        info.context.changed()
        record = await info.context.loaders.commit.load(outcome.commit)
        return CommitPayload(
            branch=input.branch,
            commit=Commit.of(record),
            previous_head=outcome.parent,
            rebased=outcome.rebased,
        )

    @strawberry.field(description="create a branch at a revision (default HEAD)")
    def create_branch(self, info: GInfo, name: str, start: str | None = None) -> Branch:
        actor = info.context.acting()
        oid = info.context.repo.create_branch(name, start, who=actor)
        info.context.changed()
        return Branch(name=name, head_id=oid)

    @strawberry.field(description="delete a branch if it is still at expectedHead")
    def delete_branch(self, info: GInfo, name: str, expected_head: str) -> DeleteBranchPayload:
        actor = info.context.acting()
        expected = _expected(expected_head)
        head = info.context.repo.delete_branch(name, expected, who=actor)
        info.context.changed()
        return DeleteBranchPayload(name=name, head=head)

    @strawberry.field(
        description="merge source into target; with conflicts (or dryRun) nothing changes and the "
        "conflicts are returned"
    )
    async def merge(
        self,
        info: GInfo,
        source: str,
        target: str,
        strategy: str | None = None,
        dry_run: bool = False,
        expected_head: str | None = None,
        message: str | None = None,
        actor: str | None = None,
        no_ff: bool = False,
    ) -> MergePayload:
        repo = info.context.repo
        acting = info.context.acting(actor)
        current = _require_branch(repo, target)
        expected = _expected(expected_head)
        if expected is not None and expected != current:
            raise BranchMoved(branch_ref(target), expected, current)
        if dry_run:
            preview = repo.merge_preview(current, source, strategy=strategy)
            if preview.up_to_date:
                status = "up-to-date"
            elif preview.fast_forward and not no_ff:
                status = "fast-forward"
            else:
                status = "merged" if preview.clean else "conflicts"
            return MergePayload(
                status=status, dry_run=True, commit=None, conflicts=_conflicts(preview.result.conflicts)
            )
        if expected is None:
            raise BadInput("expectedHead is required unless dryRun is true")
        repo.read_actor(acting, current)  # NOT_FOUND for an actor the story does not have
        outcome = repo.merge(
            target,
            source,
            actor=acting,
            expected_head=expected,
            message=message,
            strategy=strategy,
            no_ff=no_ff,
        )
        info.context.changed()
        commit = None
        if outcome.commit is not None:
            commit = Commit.of(await info.context.loaders.commit.load(outcome.commit))
        return MergePayload(
            status=outcome.status, dry_run=False, commit=commit, conflicts=_conflicts(outcome.conflicts)
        )

    @strawberry.field(
        description="merge source into target with every conflict settled; a conflict left unsettled "
        "is a CONFLICT error naming its paths, and nothing changes"
    )
    async def resolve_conflicts(self, info: GInfo, input: ResolveConflictsInput) -> MergePayload:
        repo = info.context.repo
        actor = info.context.acting(input.actor)
        _require_branch(repo, input.target)
        expected = _expected(input.expected_head)
        assert expected is not None
        resolutions = _resolutions(input.resolutions)
        outcome = repo.merge_resolved(
            input.target,
            input.source,
            resolutions,
            actor=actor,
            expected_head=expected,
            message=input.message,
        )
        info.context.changed()
        assert outcome.commit is not None
        commit = Commit.of(await info.context.loaders.commit.load(outcome.commit))
        return MergePayload(status=outcome.status, dry_run=False, commit=commit, conflicts=[])
