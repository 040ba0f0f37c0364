"""Per-request DataLoaders: every commit, change list, actor record and page is read once per request.

A log page of 50 commits asks for 50 commits' actors and changed pages; the loaders batch those
asks and read each distinct object once (the repository's own caches keep trees between requests).
They are written against :class:`~narrative_vcs.repository.Repository` and its public attributes
(``commits``, ``snapshots``), never against a backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from narrative_vcs.history import CommitInfo
from narrative_vcs.objects import Actor, Page
from narrative_vcs.repository import FileChange, Repository
from narrative_vcs.types import ObjectId

__all__ = ["Loaders"]


@dataclass
class Loaders:
    """The DataLoaders of one request (create a new one per request: they cache)."""

    repo: Repository
    commit: DataLoader[str, CommitInfo] = field(init=False)
    changes: DataLoader[str, list[FileChange]] = field(init=False)
    actor: DataLoader[tuple[str, str], Actor | None] = field(init=False)
    page: DataLoader[tuple[str, str], Page | None] = field(init=False)
    page_ids: DataLoader[str, list[str]] = field(init=False)
    alternates: DataLoader[str, dict[str, list[str]]] = field(init=False)
    followers: DataLoader[str, dict[str, list[str]]] = field(init=False)
    _blobs: dict[ObjectId, bytes] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.commit = DataLoader(load_fn=self._load_commits)
        self.changes = DataLoader(load_fn=self._load_changes)
        self.actor = DataLoader(load_fn=self._load_actors)
        self.page = DataLoader(load_fn=self._load_pages)
        self.page_ids = DataLoader(load_fn=self._load_page_ids)
        self.alternates = DataLoader(load_fn=self._load_alternates)
        self.followers = DataLoader(load_fn=self._load_followers)

    # --- batch functions ----------------------------------------------------------------------------

    async def _load_commits(self, keys: list[str]) -> list[CommitInfo]:
        return [self.repo.commits.get(ObjectId(k)) for k in keys]

    async def _load_changes(self, keys: list[str]) -> list[list[FileChange]]:
        infos = await self.commit.load_many(keys)
        parents = await self.commit.load_many([i.parents[0] for i in infos if i.parents])
        parent_trees = {p.id: p.tree for p in parents}
        return [
            self.repo.diff_trees(parent_trees[i.parents[0]] if i.parents else None, i.tree) for i in infos
        ]

    async def _load_actors(self, keys: list[tuple[str, str]]) -> list[Actor | None]:
        """Actor records as of commits: keys are (commit id, actor id)."""
        paths = [(commit, f"actors/{actor_id}.yaml") for commit, actor_id in keys]
        blobs = await self._blob_ids(paths)
        return [
            None if blob is None else self.repo.actor_record(actor_id, blob)
            for (_, actor_id), blob in zip(keys, blobs, strict=True)
        ]

    async def _load_pages(self, keys: list[tuple[str, str]]) -> list[Page | None]:
        """Pages at commits: keys are (commit id, page id); None where the page is absent."""
        blobs = await self._blob_ids([(commit, f"pages/{page_id}.md") for commit, page_id in keys])
        self._read_blobs(b for b in blobs if b is not None)
        return [
            None if blob is None else Page.parse(page_id, self._blobs[blob])
            for (_, page_id), blob in zip(keys, blobs, strict=True)
        ]

    async def _load_page_ids(self, keys: list[str]) -> list[list[str]]:
        """The sorted page ids of each commit."""
        infos = await self.commit.load_many(keys)
        out = []
        for info in infos:
            names = self.repo.snapshots.list_dir(info.tree, "pages")
            out.append(sorted(name[:-3] for name in names if name.endswith(".md")))
        return out

    async def _load_alternates(self, keys: list[str]) -> list[dict[str, list[str]]]:
        """Per commit: page id -> the ids of the pages that are alternates of it."""
        out = []
        for commit, ids in zip(keys, await self.page_ids.load_many(keys), strict=True):
            pages = await self.page.load_many([(commit, pid) for pid in ids])
            found: dict[str, list[str]] = {}
            for page in pages:
                if page is not None and page.alternate_of:
                    found.setdefault(page.alternate_of, []).append(page.id)
            out.append(found)
        return out

    async def _load_followers(self, keys: list[str]) -> list[dict[str, list[str]]]:
        """Per commit: page id -> the ids of the pages whose ``follows`` names it, sorted."""
        out = []
        for commit, ids in zip(keys, await self.page_ids.load_many(keys), strict=True):
            pages = await self.page.load_many([(commit, pid) for pid in ids])
            found: dict[str, list[str]] = {}
            for page in pages:
                if page is None:
                    continue
                for before in page.follows:
                    found.setdefault(before, []).append(page.id)  # ids come sorted
            out.append(found)
        return out

    # --- helpers ------------------------------------------------------------------------------------

    async def _blob_ids(self, paths: list[tuple[str, str]]) -> list[ObjectId | None]:
        infos = await self.commit.load_many([commit for commit, _ in paths])
        return [self.repo.snapshots.blob_id(i.tree, path) for i, (_, path) in zip(infos, paths, strict=True)]

    def _read_blobs(self, oids: Iterable[ObjectId]) -> None:
        for oid in dict.fromkeys(oids):
            if oid not in self._blobs:
                self._blobs[oid] = self.repo.read_blob(oid)
