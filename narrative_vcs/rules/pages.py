"""The story's structure: what a page links to exists, and reading order has no cycle.

- Every page a commit writes ``follows`` pages, and is an ``alternate_of`` a page, that exist in the
  commit's snapshot.
- FOLLOWS has no cycle (p1 follows p2, p2 follows p1): a commit that gives a page a new place to follow
  is refused when that page can be reached again by following reading order from there. Only pages whose
  ``follows`` gained an entry are looked at, and a page whose front matter is byte for byte the one it had
  is not even parsed, so an edit of the text costs nothing here (see :mod:`narrative_vcs.cycles`).
"""

from __future__ import annotations

from ..cycles import closed_cycle
from ..gate import CommitCheck, Rule
from ..types import ObjectId

__all__ = ["StoryStructure"]


class StoryStructure(Rule):
    name = "pages"

    def check_commit(self, check: CommitCheck) -> None:
        repo = check.repo
        gained: dict[str, set[str]] = {}
        removed = {c.path[6:-3] for c in check.changes if c.new is None and c.path.startswith("pages/")}
        for change in check.changes:
            if change.new is None or not change.path.startswith("pages/"):
                continue
            page_id = change.path[6:-3]
            if change.old and not removed and repo.front_key(change.old) == repo.front_key(change.new):
                continue  # the same links as before: nothing new to check
            page = repo.page_record(page_id, change.new)
            old = repo.page_record(page_id, change.old) if change.old else None
            linked = {*page.follows, *([page.alternate_of] if page.alternate_of else [])}
            had = {*old.follows, *([old.alternate_of] if old.alternate_of else [])} if old else set()
            # Links the page had before pointed at pages of the parent: only new ones, and ones to
            # pages this commit removes, can point at nothing.
            for target in sorted((linked - had) | (linked & removed)):
                if self._blob(check, target) is None:
                    check.fail(self.name, f"page {page_id} links to {target!r}, which does not exist")
            new = set(page.follows) - (set(old.follows) if old else set())
            if new:
                gained[page_id] = new
        cycle = closed_cycle(lambda page_id: self._follows(check, page_id), gained)
        if cycle:
            check.fail(self.name, f"reading order would have a cycle: {' -> '.join(cycle)}")

    @staticmethod
    def _blob(check: CommitCheck, page_id: str) -> ObjectId | None:
        return check.repo.snapshots.blob_id(check.info.tree, f"pages/{page_id}.md")

    def _follows(self, check: CommitCheck, page_id: str) -> tuple[str, ...]:
        blob = self._blob(check, page_id)
        return () if blob is None else check.repo.page_record(page_id, blob).follows
