"""Cycles in reading order: whether pages that gained places to follow close a cycle, and which.

Reading order (FOLLOWS) has no cycle. A commit or a merge can only close one through a place to follow
that a page gained, so only those are searched from: for each such page, whether following reading
order from its new targets comes back to it. When many pages gained one (an import, a large merge),
one depth-first search over everything they reach first says whether there is a cycle at all, so a
chain of 10,000 new pages costs one walk of it, not one per page. Used by the rules gate
(:mod:`narrative_vcs.rules.pages`) and the merge (:mod:`narrative_vcs.merge.snapshot`), each reading a
page's places to follow its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["MANY", "closed_cycle"]

#: Pages gaining a place to follow, above which one search for any cycle comes first.
MANY = 16

#: The places a page follows (empty for a page that is not there).
Follows = Callable[[str], Sequence[str]]


def closed_cycle(follows: Follows, gained: Mapping[str, Iterable[str]]) -> list[str] | None:
    """The first cycle (``[a, b, ..., a]``) that a gained place to follow closes, searched from the
    pages of ``gained`` (page -> the places it gained) in order of their ids; None if there is none."""
    if len(gained) > MANY and not _reaches_a_cycle(follows, gained):
        return None
    for page_id in sorted(gained):
        cycle = _back_to(follows, page_id, set(gained[page_id]))
        if cycle:
            return cycle
    return None


def _back_to(follows: Follows, start: str, targets: set[str]) -> list[str] | None:
    """A path of reading order from ``start`` through one of ``targets`` back to ``start``, or None."""
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
        for target in follows(page_id):
            if target not in came_from:
                came_from[target] = page_id
                stack.append(target)
    return None


def _reaches_a_cycle(follows: Follows, starts: Iterable[str]) -> bool:
    """Whether reading order followed from ``starts`` reaches a cycle: one depth-first search over every
    page they reach, each page looked at once."""
    done: set[str] = set()
    on_path: set[str] = set()
    for start in sorted(starts):
        if start in done:
            continue
        on_path.add(start)
        stack = [(start, iter(follows(start)))]
        while stack:
            page_id, targets = stack[-1]
            for target in targets:
                if target in on_path:
                    return True
                if target not in done:
                    on_path.add(target)
                    stack.append((target, iter(follows(target))))
                    break
            else:
                stack.pop()
                on_path.discard(page_id)
                done.add(page_id)
    return False
