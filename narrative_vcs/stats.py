"""Word and page counts of a revision: in all, per actor and per tag.

Per actor means **the words of the pages whose current version they wrote**: each page at the revision
is counted for the author of the commit that made its current version (the newest commit in the
revision's history whose page differs from the page in each of its parents), so a merge that only
brings a page from the other side does not take it over. Per tag, a page counts once under each of its
tags. Words are counted as :func:`narrative_vcs.reading.word_count` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .objects import Page
from .reading import word_count
from .records import field, record
from .types import ObjectId

if TYPE_CHECKING:
    from .repository import Repository

__all__ = ["Counts", "StoryStats", "page_writers", "story_stats"]


@record(frozen=False)
class Counts:
    pages: int = 0
    words: int = 0

    def add(self, words: int) -> None:
        self.pages += 1
        self.words += words

    def to_json(self) -> dict[str, int]:
        return {"pages": self.pages, "words": self.words}


@record(frozen=False)
class StoryStats:
    """The counts of one revision."""

    commit: ObjectId
    total: Counts = field(default_factory=Counts)
    actors: dict[str, Counts] = field(default_factory=dict)
    tags: dict[str, Counts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            **self.total.to_json(),
            "actors": {k: v.to_json() for k, v in sorted(self.actors.items())},
            "tags": {k: v.to_json() for k, v in sorted(self.tags.items())},
        }


def story_stats(commit: ObjectId, pages: Mapping[str, Page], writers: Mapping[str, str]) -> StoryStats:
    """Count ``pages``: in all, per writer (``writers``: page id -> actor id) and per tag."""
    stats = StoryStats(commit)
    for pid, page in pages.items():
        words = word_count(page)
        stats.total.add(words)
        stats.actors.setdefault(writers.get(pid, "(unknown)"), Counts()).add(words)
        for tag in page.tags:
            stats.tags.setdefault(tag, Counts()).add(words)
    return stats


def page_writers(repo: Repository, commit: ObjectId) -> dict[str, str]:
    """For each page at ``commit``, the actor of the commit that made its current version.

    History is walked newest first and stops once every page is placed; only the page paths a commit
    changed against its first parent are looked at (a root commit: all of them).
    """
    tree = repo.commits.get(commit).tree
    current = {name[:-3]: oid for name, oid in repo.snapshots.list_dir(tree, "pages").items()}
    wanted = {f"pages/{pid}.md": oid for pid, oid in current.items()}
    found: dict[str, str] = {}
    for info in repo.commits.walk([commit]):
        if not wanted:
            break
        first = repo.commits.get(info.parents[0]).tree if info.parents else None
        for change in repo.snapshots.diff(first, info.tree):
            blob = wanted.get(change.path)
            if blob is None or change.new != blob:
                continue
            parents = info.parents[1:]
            if any(repo.snapshots.blob_id(repo.commits.get(p).tree, change.path) == blob for p in parents):
                continue  # a merge brought it: its writer is further back on that side
            found[change.path[6:-3]] = info.actor
            del wanted[change.path]
    return found
