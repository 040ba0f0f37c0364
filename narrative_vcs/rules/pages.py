"""The story's structure: what a page links to exists, and reading order has no cycle.

- Every page a commit writes ``follows`` pages, and is an ``alternate_of`` a page, that exist in the
  commit's snapshot.
- FOLLOWS has no cycle (p1 follows p2, p2 follows p1): a commit that gives a page a new place to follow
  is refused when that page can be reached again by following reading order from there. Only pages whose
  ``follows`` gained an entry are looked at, so an edit of the text costs nothing here. When many did (an
  import), one search over all they reach first tells whether reading order has a cycle at all, so a
  chain of 10,000 new pages costs one walk of it, not one per page.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..gate import CommitCheck, Rule
from ..types import ObjectId

__all__ = ["StoryStructure"]

#: Pages gaining a place to follow, above which one search for any cycle comes first.
MANY = 16


class StoryStructure(Rule):
    name = "pages"

    def check_commit(self, check: CommitCheck) -> None:
        gained: dict[str, set[str]] = {}
        removed = {c.path[6:-3] for c in check.changes if c.new is None and c.path.startswith("pages/")}
        for change in check.changes:
            if change.new is None or not change.path.startswith("pages/"):
                continue
            page_id = change.path[6:-3]
            page = check.repo.page_record(page_id, change.new)
            old = check.repo.page_record(page_id, change.old) if change.old else None
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
        if len(gained) > MANY and not self._any_cycle(check, gained):
            return
        for page_id, targets in sorted(gained.items()):
            cycle = self._cycle(check, page_id, targets)
            if cycle:
                check.fail(self.name, f"reading order would have a cycle: {' -> '.join(cycle)}")

    @staticmethod
    def _blob(check: CommitCheck, page_id: str) -> ObjectId | None:
        return check.repo.snapshots.blob_id(check.info.tree, f"pages/{page_id}.md")

    def _follows(self, check: CommitCheck, page_id: str) -> tuple[str, ...]:
        blob = self._blob(check, page_id)
        return () if blob is None else check.repo.page_record(page_id, blob).follows

    def _any_cycle(self, check: CommitCheck, starts: Iterable[str]) -> bool:
        """Whether reading order followed from ``starts`` reaches a cycle: one depth-first search over
        every page they reach, each page looked at once."""
        done: set[str] = set()
        on_path: set[str] = set()
        for start in sorted(starts):
            if start in done:
                continue
            on_path.add(start)
            stack = [(start, iter(self._follows(check, start)))]
            while stack:
                page_id, targets = stack[-1]
                for target in targets:
                    if target in on_path:
                        return True
                    if target not in done:
                        on_path.add(target)
                        stack.append((target, iter(self._follows(check, target))))
                        break
                else:
                    stack.pop()
                    on_path.discard(page_id)
                    done.add(page_id)
        return False

    def _cycle(self, check: CommitCheck, start: str, targets: set[str]) -> list[str] | None:
        """A path of FOLLOWS from ``start`` back to itself through one of ``targets``, or None."""
        came_from: dict[str, str] = {t: start for t in targets}
        stack = sorted(targets)
        while stack:
            page_id = stack.pop()
            if page_id == start:
                path = [start]
                node = came_from[start]
                while node != start:
                    path.append(node)
                    node = came_from[node]
                return [start, *reversed(path[1:]), start]
            blob = self._blob(check, page_id)
            if blob is None:
                continue
            for target in check.repo.page_record(page_id, blob).follows:
                if target not in came_from:
                    came_from[target] = page_id
                    stack.append(target)
        return None
