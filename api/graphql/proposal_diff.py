"""``Proposal.diff``: what a proposal merges into its target, typed page by page.

The diff itself is :func:`narrative_vcs.governance.diff.proposal_diff` (the semantic diff of
:mod:`narrative_vcs.semdiff`); this module gives its pages GraphQL types (titles, reading-order and
reference links, paragraphs) and keeps every file's change as a ``SemanticChange`` too.
"""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from narrative_vcs.errors import InvalidFile
from narrative_vcs.governance.diff import ProposalDiff as ProposalDiffValue
from narrative_vcs.objects import Page as PageRecord
from narrative_vcs.repository import Repository
from narrative_vcs.semdiff import PageDiff, ParagraphChange
from narrative_vcs.types import ObjectId

from .schema import Commit, GInfo, SemanticChangeType, _semantic

__all__ = ["PageChange", "ProposalDiff"]


@strawberry.type(description="A value before and after (null where absent).")
class ValueChange:
    old: str | None
    new: str | None


@strawberry.type(name="ParagraphChange", description="A paragraph inserted, deleted or changed.")
class ParagraphChangeType:
    op: str = strawberry.field(description="inserted, deleted or changed")
    old_index: int | None = strawberry.field(description="its place on the old side, from 1")
    new_index: int | None = strawberry.field(description="its place on the new side, from 1")
    old: str | None
    new: str | None
    words: JSON | None = strawberry.field(description='a changed paragraph\'s word diff: [{"op", "text"}]')

    @classmethod
    def of(cls, change: ParagraphChange) -> ParagraphChangeType:
        data = change.to_json()
        return cls(
            op=change.op,
            old_index=change.old_index,
            new_index=change.new_index,
            old=change.old,
            new=change.new,
            words=data["words"],
        )


@strawberry.type(description="A page the proposal adds, changes or removes.")
class PageChange:
    id: str
    path: str
    status: str = strawberry.field(description="added, removed or modified")
    title: str | None = strawberry.field(description="the page's title (the old one for a removed page)")
    title_change: ValueChange | None = strawberry.field(description="when the title changed")
    follows_added: list[str] = strawberry.field(description="reading order: pages it now comes after")
    follows_removed: list[str] = strawberry.field(description="reading order: pages it no longer follows")
    alternate_of: ValueChange | None = strawberry.field(description="when alternate_of changed")
    references_added: list[str] = strawberry.field(description="[[links]] added to the prose")
    references_removed: list[str] = strawberry.field(description="[[links]] removed from the prose")
    fields: JSON = strawberry.field(description='other front-matter keys changed: [{"key", "old", "new"}]')
    paragraphs: list[ParagraphChangeType]

    @classmethod
    def of(cls, repo: Repository, change: PageDiff) -> PageChange:
        links, title = change.links, change.title
        alternate = links.alternate_of
        return cls(
            id=change.id,
            path=change.path,
            status=change.status,
            title=_title(repo, change),
            title_change=None if title is None else ValueChange(old=title[0], new=title[1]),
            follows_added=list(links.follows_added),
            follows_removed=list(links.follows_removed),
            alternate_of=None if alternate is None else ValueChange(old=alternate[0], new=alternate[1]),
            references_added=list(links.references_added),
            references_removed=list(links.references_removed),
            fields=cast(JSON, [f.to_json() for f in change.fields]),
            paragraphs=[ParagraphChangeType.of(p) for p in change.paragraphs],
        )


def _title(repo: Repository, change: PageDiff) -> str | None:
    if change.title is not None:
        return change.title[1] if change.title[1] is not None else change.title[0]
    blob = change.new_blob or change.old_blob  # the title did not change: either side has it
    if blob is None:
        return None
    try:
        return PageRecord.parse(change.id, repo.read_blob(ObjectId(blob))).title
    except InvalidFile:
        return None


@strawberry.type(description="What a proposal merges into its target (see docs/graphql.md).")
class ProposalDiff:
    value: strawberry.Private[ProposalDiffValue]
    basis: str = strawberry.field(
        description="merge-base (from the merge base of the target and the source head to that head), "
        "merged (what the merge commit changed on the target) or hearing (nothing)"
    )
    pages: list[PageChange] = strawberry.field(description="the pages added, changed or removed, by path")
    changes: list[SemanticChangeType] = strawberry.field(description="every file's change (pages too)")

    @classmethod
    def of(cls, repo: Repository, value: ProposalDiffValue) -> ProposalDiff:
        pages = [PageChange.of(repo, c) for c in value.changes if isinstance(c, PageDiff)]
        return cls(value=value, basis=value.basis, pages=pages, changes=_semantic(list(value.changes)))

    @strawberry.field(name="from", description="the commit the diff starts from (null: a hearing)")
    async def from_(self, info: GInfo) -> Commit | None:
        if self.value.old is None:
            return None
        return Commit.of(await info.context.loaders.commit.load(self.value.old))

    @strawberry.field(description="the commit the diff goes to (null: a hearing)")
    async def to(self, info: GInfo) -> Commit | None:
        if self.value.new is None:
            return None
        return Commit.of(await info.context.loaders.commit.load(self.value.new))
