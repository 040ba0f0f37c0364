"""Three-way merge of whole snapshots (git trees): each changed file by its kind, then the structure.

Only paths that changed since the base are read: a file changed on one side is taken as it is, a file
changed on both sides is merged by :func:`~narrative_vcs.merge.contents.merge_file`. A page deleted on one
side and changed on the other follows a rename when the deleting side added a page of the same title.
Afterwards the story graph is checked: a FOLLOWS, ALTERNATE_OF or ``[[link]]`` from a page either side
wrote to a page that is gone, or a cycle in reading order, is a structure conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import BadInput
from ..objects import Page
from ..snapshot import Snapshots, TreeDiff
from ..types import ObjectId
from .contents import Conflict, merge_file, merge_page

__all__ = ["PageReader", "SnapshotMerge", "merge_trees"]

#: Reads the page ``page_id`` stored in a blob (raises BadInput if it does not parse): a repository's
#: :meth:`~narrative_vcs.repo.reading.Reading.page_record`, which parses each blob once and shares the
#: pages with the rules gate that checks the merge commit next.
PageReader = Callable[[str, ObjectId], Page]


@dataclass(frozen=True)
class SnapshotMerge:
    """The merged tree (with conflict markers in bodies where there are conflicts) and the conflicts."""

    tree: ObjectId
    changed: dict[str, bytes | ObjectId | None] = field(default_factory=dict)  # vs ours
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def merge_trees(
    snapshots: Snapshots,
    base: ObjectId | None,
    ours: ObjectId,
    theirs: ObjectId,
    strategy: str | None = None,
    *,
    pages: PageReader | None = None,
) -> SnapshotMerge:
    """Merge ``theirs`` into ``ours`` over ``base`` (None: unrelated histories, an empty base).

    ``strategy`` (ours, theirs, union) settles file conflicts; structure conflicts remain. ``pages``
    reads a page from its blob (default: parse it)."""
    if pages is None:
        pages = _parser(snapshots)
    mine = {d.path: d for d in snapshots.diff(base, ours)}
    other = {d.path: d for d in snapshots.diff(base, theirs)}
    changed: dict[str, bytes | ObjectId | None] = {}
    conflicts: list[Conflict] = []
    read = _reader(snapshots)
    renamed = _follow_renames(pages, mine, other, changed, conflicts)
    for path, d in other.items():
        if path in renamed:
            continue
        ours_side = mine.get(path)
        if ours_side is None:
            changed[path] = d.new
        elif ours_side.new != d.new:
            data, conflict = merge_file(path, read(d.old), read(ours_side.new), read(d.new), strategy)
            if data != read(ours_side.new):
                changed[path] = data
            if conflict is not None:
                conflicts.append(conflict)
    tree = snapshots.write(ours, changed) if changed else ours
    # The blob each page either side wrote has in the merged tree (None: not there), looked up once.
    written = {p: snapshots.blob_id(tree, p) for p in (*mine, *other) if p.startswith("pages/")}
    gone = {p[6:-3] for p, oid in written.items() if oid is None}
    left_out = {f"pages/{g}.md" for g in gone}
    kept = {p: oid for p, oid in written.items() if p not in left_out}
    conflicts.extend(_structure(pages, kept, gone))
    return SnapshotMerge(tree, changed, conflicts)


def _reader(snapshots: Snapshots) -> Callable[[ObjectId | None], bytes | None]:
    def read(oid: ObjectId | None) -> bytes | None:
        return None if oid is None else snapshots.store.get(oid)[1]

    return read


def _parser(snapshots: Snapshots) -> PageReader:
    def parse(page_id: str, oid: ObjectId) -> Page:
        return Page.parse(page_id, snapshots.store.get(oid)[1])

    return parse


def _page(pages: PageReader, path: str, oid: ObjectId | None) -> Page | None:
    if oid is None:
        return None
    try:
        return pages(path[6:-3], oid)
    except BadInput:
        return None


def _follow_renames(
    pages: PageReader,
    mine: dict[str, TreeDiff],
    other: dict[str, TreeDiff],
    changed: dict[str, bytes | ObjectId | None],
    conflicts: list[Conflict],
) -> set[str]:
    """Pages one side deleted while adding a page of the same title, and the other side edited.

    The edit is merged into the renamed page. Returns the paths of ``other`` handled here.
    """
    handled: set[str] = set()
    for deleter, editor, deleter_is_ours in ((mine, other, True), (other, mine, False)):
        for path, gone in deleter.items():
            edit = editor.get(path)
            if not path.startswith("pages/") or gone.new is not None or edit is None or edit.new is None:
                continue
            base_page = _page(pages, path, gone.old)
            target = _renamed_to(pages, deleter, base_page)
            if base_page is None or target is None:
                continue
            new_path, new_oid = target
            moved = _page(pages, new_path, new_oid)
            edited = _page(pages, path, edit.new)
            if moved is None or edited is None:
                continue
            as_moved = _as(base_page, moved.id)
            ours, theirs = (
                (moved, _as(edited, moved.id)) if deleter_is_ours else (_as(edited, moved.id), moved)
            )
            data, conflict = merge_page(new_path, as_moved, ours, theirs)
            changed[new_path] = data
            changed[path] = None
            handled.update({path, new_path})
            if conflict is not None:
                conflicts.append(conflict)
    return handled


def _renamed_to(
    pages: PageReader, side: dict[str, TreeDiff], base_page: Page | None
) -> tuple[str, ObjectId] | None:
    if base_page is None:
        return None
    for path, d in side.items():
        if path.startswith("pages/") and d.old is None and d.new is not None:
            page = _page(pages, path, d.new)
            if page is not None and page.title == base_page.title:
                return path, d.new
    return None


def _as(page: Page, new_id: str) -> Page:
    return Page(
        new_id, page.title, page.body, page.follows, page.alternate_of, page.tags, page.glyphs, page.extra
    )


def _structure(pages: PageReader, written: dict[str, ObjectId | None], gone: set[str]) -> list[Conflict]:
    """Links from pages either side wrote (path -> blob in the merged tree) to pages the merge leaves
    out, and cycles in reading order."""
    conflicts: list[Conflict] = []
    edges: list[tuple[str, str]] = []
    for path in sorted(written):
        page = _page(pages, path, written[path])
        if page is None:
            continue
        if gone:
            targets = [*page.follows, *([page.alternate_of] if page.alternate_of else []), *page.links()]
            missing = sorted(set(targets) & gone)
            if missing:
                message = f"{path}: links to {', '.join(missing)}, which the merge leaves out"
                conflicts.append(Conflict("structure", path, message, fields=tuple(missing)))
        edges.extend((page.id, target) for target in page.follows)
    if _has_cycle(edges):
        conflicts.extend(_cycle(edges))
    return conflicts


def _has_cycle(edges: Iterable[tuple[str, str]]) -> bool:
    """Whether the FOLLOWS edges have a cycle (a depth-first search: the usual answer, no, without
    building a graph library's graph)."""
    after: dict[str, list[str]] = {}
    for source, target in edges:
        after.setdefault(source, []).append(target)
    state: dict[str, bool] = {}  # False: on the search path; True: done, no cycle through it
    for start in after:
        if start in state:
            continue
        state[start] = False
        stack = [(start, iter(after[start]))]
        while stack:
            node, targets = stack[-1]
            for target in targets:
                seen = state.get(target)
                if seen is False:
                    return True
                if seen is None:
                    state[target] = False
                    stack.append((target, iter(after.get(target, ()))))
                    break
            else:
                state[node] = True
                stack.pop()
    return False


def _cycle(edges: list[tuple[str, str]]) -> list[Conflict]:
    """The conflict naming the first cycle of reading order that rustworkx finds (edges in the order
    the pages were read, so the cycle named is always the same one)."""
    import rustworkx as rx

    graph: rx.PyDiGraph[str, None] = rx.PyDiGraph()
    nodes: dict[str, int] = {}

    def node(page_id: str) -> int:
        if page_id not in nodes:
            nodes[page_id] = graph.add_node(page_id)
        return nodes[page_id]

    for source, target in edges:
        graph.add_edge(node(source), node(target), None)
    for cycle in rx.simple_cycles(graph):
        ids = [graph[i] for i in cycle]
        message = f"reading order has a cycle: {' -> '.join([*ids, ids[0]])}"
        return [Conflict("structure", f"pages/{ids[0]}.md", message, fields=tuple(ids))]
    return []
