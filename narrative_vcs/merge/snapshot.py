"""Three-way merge of whole snapshots (git trees): each changed file by its kind, then the structure.

Only paths that changed since the base are read: a file changed on one side is taken as it is, a file
changed on both sides is merged by :func:`~narrative_vcs.merge.contents.merge_file`. A page deleted on one
side and changed on the other follows a rename when the deleting side added a page of the same title.
Afterwards the story graph is checked: a FOLLOWS, ALTERNATE_OF or ``[[link]]`` from a page either side
wrote to a page that is gone, or a cycle in reading order, is a structure conflict. A cycle the merge
makes goes through a place to follow that a page gained against ours (ours has none of its own), so only
pages whose front matter the merge changes are parsed, and the search starts from what they gained
(:mod:`narrative_vcs.cycles`): the rules gate checks the merge commit the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from ..cycles import closed_cycle
from ..errors import BadInput
from ..objects import Page, front_key
from ..records import field, record
from ..snapshot import Snapshots, TreeDiff, store_path
from ..types import ObjectId
from .contents import Conflict, merge_file, merge_page

__all__ = ["PageReader", "SnapshotMerge", "merge_trees"]

#: Reads the page ``page_id`` stored in a blob (raises BadInput if it does not parse): a repository's
#: :meth:`~narrative_vcs.repo.reading.Reading.page_record`, which parses each blob once and shares the
#: pages with the rules gate that checks the merge commit next.
PageReader = Callable[[str, ObjectId], Page]


@record
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
    blobs: Callable[[ObjectId], bytes] | None = None,
    fronts: Callable[[ObjectId], bytes] | None = None,
) -> SnapshotMerge:
    """Merge ``theirs`` into ``ours`` over ``base`` (None: unrelated histories, an empty base).

    ``strategy`` (ours, theirs, union) settles file conflicts; structure conflicts remain. ``pages``
    reads a page from its blob (default: parse it), ``blobs`` a blob's bytes (default: from the store;
    a repository's ``read_blob`` keeps them for the rules gate, which reads the same pages next),
    ``fronts`` a blob's front-matter key (:func:`~narrative_vcs.objects.front_key`; a repository's
    ``front_key`` keeps them for the gate, which compares the same pages' front matter, and for later
    commands)."""
    if pages is None:
        pages = _parser(snapshots)
    mine = {d.path: d for d in snapshots.diff(base, ours)}
    other = {d.path: d for d in snapshots.diff(base, theirs)}
    changed: dict[str, bytes | ObjectId | None] = {}
    conflicts: list[Conflict] = []
    read = _reader(snapshots, blobs)
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
    if fronts is None:
        fronts = lambda oid: front_key(read(oid) or b"")  # noqa: E731
    conflicts.extend(_structure(snapshots, pages, read, fronts, ours, tree, mine, other, changed))
    return SnapshotMerge(tree, changed, conflicts)


def _ours_blob(
    snapshots: Snapshots, ours: ObjectId, path: str, mine: dict[str, TreeDiff], other: dict[str, TreeDiff]
) -> ObjectId | None:
    """The blob ``path`` has in ours, from the diffs when they hold it at its own store path: ours's own
    version, else the base's (ours left it as it was); else looked up in the tree."""
    where = store_path(path)
    if path in mine:
        if mine[path].stored == where:
            return mine[path].new
    elif path in other and other[path].stored == where:
        return other[path].old
    return snapshots.blob_id(ours, path)


def _reader(
    snapshots: Snapshots, blobs: Callable[[ObjectId], bytes] | None = None
) -> Callable[[ObjectId | None], bytes | None]:
    get = blobs or (lambda oid: snapshots.store.get(oid)[1])

    def read(oid: ObjectId | None) -> bytes | None:
        return None if oid is None else get(oid)

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


def _structure(
    snapshots: Snapshots,
    pages: PageReader,
    read: Callable[[ObjectId | None], bytes | None],
    fronts: Callable[[ObjectId], bytes],
    ours: ObjectId,
    tree: ObjectId,
    mine: dict[str, TreeDiff],
    other: dict[str, TreeDiff],
    changed: dict[str, bytes | ObjectId | None],
) -> list[Conflict]:
    """Links from pages either side wrote to pages the merge leaves out, and a cycle in reading order
    that the merged ``tree`` has and ``ours`` has not."""
    conflicts: list[Conflict] = []

    # A page either side wrote can be gone from the merged tree only if a side (or the merge) removed
    # it; one the merge wrote content for is there.
    def may_be_gone(p: str) -> bool:
        if p in changed:
            return changed[p] is None
        return (p in mine and mine[p].new is None) or (p in other and other[p].new is None)

    removed = [p for p in (*mine, *other) if p.startswith("pages/") and may_be_gone(p)]
    gone = {p[6:-3] for p in removed if snapshots.blob_id(tree, p) is None}
    if gone:
        # The blob each page either side wrote has in the merged tree (None: not there).
        written = {p: snapshots.blob_id(tree, p) for p in (*mine, *other) if p.startswith("pages/")}
        for path in sorted(written):
            page = _page(pages, path, written[path])
            if page is None:
                continue
            targets = [*page.follows, *([page.alternate_of] if page.alternate_of else []), *page.links()]
            missing = sorted(set(targets) & gone)
            if missing:
                message = f"{path}: links to {', '.join(missing)}, which the merge leaves out"
                conflicts.append(Conflict("structure", path, message, fields=tuple(missing)))
    gained: dict[str, set[str]] = {}
    for path, content in changed.items():
        if content is None or not (path.startswith("pages/") and path.endswith(".md")):
            continue
        old = _ours_blob(snapshots, ours, path, mine, other)
        if old is not None and fronts(old) == (
            front_key(content) if isinstance(content, bytes) else fronts(content)
        ):
            continue  # the same places to follow as in ours
        new = snapshots.blob_id(tree, path)
        if new is None:
            continue
        page = _page(pages, path, new)
        if page is None:
            continue
        before = _page(pages, path, old)
        extra = set(page.follows) - (set(before.follows) if before is not None else set())
        if extra:
            gained[page.id] = extra

    def follows(page_id: str) -> tuple[str, ...]:
        page = _page(pages, f"pages/{page_id}.md", snapshots.blob_id(tree, f"pages/{page_id}.md"))
        return () if page is None else page.follows

    cycle = closed_cycle(follows, gained)
    if cycle:
        message = f"reading order has a cycle: {' -> '.join(cycle)}"
        conflicts.append(Conflict("structure", f"pages/{cycle[0]}.md", message, fields=tuple(cycle[:-1])))
    return conflicts
