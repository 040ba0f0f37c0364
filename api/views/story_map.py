"""The data of the story map (``GET /view/data/map``): the page graph of a revision, or a part of it.

A story of 10,000 pages is never sent whole: :meth:`StoryMaps.view` picks at most ``limit`` pages, the
neighbourhood of ``around`` (``depth`` steps along any edge), else the pages around what changed since
``base``, else the story from its first pages in reading order. Edges point in reading direction: a
FOLLOWS edge goes from the earlier page to the later one (the page graph stores it the other way), an
ALTERNATE_OF edge from the alternate to the page it is a take of, a LINKS_TO edge from the page to the
page it names.

With ``base``, each page has a ``status``: ``added``, ``changed`` (its file differs), ``removed`` (in
``base`` only; drawn from ``base``'s graph) or ``same``; ``missing`` marks a linked page that exists in
neither. Page graphs are kept per commit (objects never change), so moving around a large story reads it
once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from narrative_vcs.errors import BadInput
from narrative_vcs.export import page_graph

if TYPE_CHECKING:
    import networkx as nx

    from narrative_vcs.objects import Page
    from narrative_vcs.repository import Repository

__all__ = ["DEFAULT_DEPTH", "DEFAULT_LIMIT", "MAX_DEPTH", "MAX_LIMIT", "MapRequest", "StoryMaps"]

DEFAULT_LIMIT = 250
MAX_LIMIT = 2000
DEFAULT_DEPTH = 2
MAX_DEPTH = 6
KEPT_GRAPHS = 4  # page graphs kept in memory (a revision and its base, twice)
MAX_UPDATED = 1000  # past this many changed pages, a page graph is read whole rather than updated


@dataclass(frozen=True)
class MapRequest:
    """What the map asks for: ``rev`` (None: HEAD's branch), ``base`` to compare with, a neighbourhood."""

    rev: str | None = None
    base: str | None = None
    around: str | None = None
    depth: int = DEFAULT_DEPTH
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_query(cls, params: dict[str, str]) -> MapRequest:
        """From a URL's query parameters; raises BadInput for a depth or limit out of range."""
        depth = _number(params.get("depth"), "depth", DEFAULT_DEPTH, 0, MAX_DEPTH)
        limit = _number(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        return cls(
            params.get("rev") or None, params.get("base") or None, params.get("around") or None, depth, limit
        )


def _number(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadInput(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


class StoryMaps:
    """The map's answers for one repository, with the page graphs of the last few commits kept."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._graphs: OrderedDict[str, nx.MultiDiGraph[str]] = OrderedDict()
        self._lock = threading.Lock()

    def graph(self, commit: str) -> nx.MultiDiGraph[str]:
        """The page graph of ``commit`` (a full id), kept while it is among the last few asked for; made
        from the last one kept and the pages that differ when few do (a new commit on the branch shown)."""
        with self._lock:
            if commit in self._graphs:
                self._graphs.move_to_end(commit)
                return self._graphs[commit]
            last = next(reversed(self._graphs.items()), None)
        graph = None if last is None else self._updated(*last, commit)
        if graph is None:
            graph = page_graph(self.repo, commit)
        with self._lock:
            self._graphs[commit] = graph
            while len(self._graphs) > KEPT_GRAPHS:
                self._graphs.popitem(last=False)
        return graph

    def _updated(self, old: str, graph: nx.MultiDiGraph[str], commit: str) -> nx.MultiDiGraph[str] | None:
        """The page graph of ``commit`` from ``old``'s, as :func:`page_graph` makes it; None when the
        story record or more than :data:`MAX_UPDATED` pages differ (reading them all is as quick)."""
        changes = self.repo.diff(old, commit)
        pages = [change for change in changes if change.kind == "page" and change.item_id is not None]
        if len(pages) > MAX_UPDATED or any(change.kind == "story" for change in changes):
            return None
        graph = graph.copy()
        graph.graph["revision"] = commit
        for change in pages:
            page_id = str(change.item_id)
            if page_id in graph:
                _remove_page(graph, page_id)
            if change.new is not None:
                _add_page(graph, self.repo.page_record(page_id, change.new))
        return graph

    def view(self, request: MapRequest) -> dict[str, Any]:
        """The map's JSON (see the module and docs/views.md). Raises NotFound for an unknown revision."""
        rev = request.rev or self.repo.head_branch() or "HEAD"
        commit = str(self.repo.resolve(rev))
        graph = self.graph(commit)
        status = {page: "same" for page, missing in graph.nodes(data="missing") if not missing}
        base_graph = None
        base_commit = None
        if request.base is not None:
            base_commit = str(self.repo.resolve(request.base))
            base_graph = self.graph(base_commit)
            status.update(self._changes(base_commit, commit, graph, base_graph))
        merged = _union(graph, base_graph)
        if request.around is not None and request.around not in merged:
            raise BadInput(
                f"no page {request.around!r} at {rev}" + (f" or {request.base}" if request.base else "")
            )
        shown = self._pick(request, merged, status)
        return {
            "rev": rev,
            "commit": commit,
            "branch": rev if rev in self.repo.branches() else None,
            "base": request.base,
            "baseCommit": base_commit,
            "title": graph.graph.get("name", ""),
            "around": request.around,
            "depth": request.depth,
            "limit": request.limit,
            "total": len(status) - sum(1 for s in status.values() if s == "removed"),
            "shown": len(shown),
            "truncated": len(shown) < len(merged),
            "counts": {s: sum(1 for v in status.values() if v == s) for s in ("added", "changed", "removed")},
            "nodes": [_node(merged, page, status) for page in shown],
            "edges": _edges(merged, shown),
        }

    def _changes(
        self, base: str, commit: str, graph: nx.MultiDiGraph[str], base_graph: nx.MultiDiGraph[str]
    ) -> dict[str, str]:
        changes: dict[str, str] = {}
        for change in self.repo.diff(base, commit):
            page = change.item_id
            if change.kind != "page" or page is None:
                continue
            if page in graph and not graph.nodes[page]["missing"]:
                old = page in base_graph and not base_graph.nodes[page]["missing"]
                changes[page] = "changed" if old else "added"
            else:
                changes[page] = "removed"
        return changes

    def _pick(self, request: MapRequest, graph: nx.MultiDiGraph[str], status: dict[str, str]) -> list[str]:
        """At most ``limit`` pages, nearest first from the pages the request centres on."""
        if request.around is not None:
            return _nearest(graph, [request.around], request.limit, request.depth)
        if len(graph) <= request.limit:
            return sorted(graph)
        changed = sorted(page for page, s in status.items() if s != "same")
        if changed:
            return _nearest(graph, changed, request.limit, 1)
        starts = sorted(page for page in status if not any(True for _ in _follows(graph, page)))
        return _nearest(graph, starts or sorted(graph)[:1], request.limit, None)


def _add_page(graph: nx.MultiDiGraph[str], page: Page) -> None:
    """``page`` and its edges, with the attributes :func:`page_graph` gives them."""
    words = len(page.body.split())
    tags = ", ".join(page.tags)
    graph.add_node(
        page.id, label=page.title, title=page.title, tags=tags, words=words, kind="page", missing=False
    )
    targets = [(t, "FOLLOWS") for t in page.follows]
    if page.alternate_of is not None:
        targets.append((page.alternate_of, "ALTERNATE_OF"))
    targets += [(t, "LINKS_TO") for t in page.links()]
    for target, edge_type in targets:
        if target not in graph:
            graph.add_node(target, label=target, title="", tags="", words=0, kind="page", missing=True)
        graph.add_edge(page.id, target, type=edge_type)


def _remove_page(graph: nx.MultiDiGraph[str], page_id: str) -> None:
    """``page_id``'s own edges, and the page: a node marked missing while other pages still link to it."""
    targets = set(graph.successors(page_id))
    graph.remove_edges_from(list(graph.out_edges(page_id, keys=True)))
    if graph.in_degree(page_id):
        graph.add_node(page_id, label=page_id, title="", tags="", words=0, kind="page", missing=True)
    else:
        graph.remove_node(page_id)
    for target in targets - {page_id}:
        if target in graph and graph.nodes[target]["missing"] and not graph.in_degree(target):
            graph.remove_node(target)


def _follows(graph: nx.MultiDiGraph[str], page: str) -> Iterable[str]:
    return (target for _, target, data in graph.out_edges(page, data=True) if data["type"] == "FOLLOWS")


def _union(graph: nx.MultiDiGraph[str], base: nx.MultiDiGraph[str] | None) -> nx.MultiDiGraph[str]:
    """``graph`` with the pages only ``base`` has (and their edges), for a comparison."""
    if base is None:
        return graph
    merged = graph.copy()
    for page, data in base.nodes(data=True):
        if page not in merged or (merged.nodes[page]["missing"] and not data["missing"]):
            merged.add_node(page, **data)
    for source, target, data in base.edges(data=True):
        if source not in graph or graph.nodes[source]["missing"]:  # a removed page's own edges
            merged.add_edge(source, target, type=data["type"])
    return merged


def _nearest(graph: nx.MultiDiGraph[str], starts: list[str], limit: int, depth: int | None) -> list[str]:
    """Breadth first from ``starts`` along edges either way: up to ``depth`` steps, at most ``limit``."""
    seen = dict.fromkeys(starts[:limit], 0)
    queue = deque(seen)
    while queue and len(seen) < limit:
        page = queue.popleft()
        if depth is not None and seen[page] >= depth:
            continue
        for other in sorted({*graph.successors(page), *graph.predecessors(page)}):
            if other not in seen:
                seen[other] = seen[page] + 1
                queue.append(other)
                if len(seen) >= limit:
                    break
    return list(seen)


def _node(graph: nx.MultiDiGraph[str], page: str, status: dict[str, str]) -> dict[str, Any]:
    data = graph.nodes[page]
    return {
        "id": page,
        "title": data["title"] or page,
        "words": None if data["missing"] else data["words"],
        "status": "missing" if data["missing"] and page not in status else status.get(page, "same"),
    }


def _edges(graph: nx.MultiDiGraph[str], shown: list[str]) -> list[dict[str, str]]:
    """The edges between shown pages, in reading direction (FOLLOWS turned round), each pair once."""
    keep = set(shown)
    edges: dict[tuple[str, str, str], None] = {}
    for source, target, data in graph.subgraph(keep).edges(data=True):
        kind = str(data["type"])
        pair = (target, source) if kind == "FOLLOWS" else (source, target)
        edges[(*pair, kind)] = None
    return [{"source": s, "target": t, "type": k} for s, t, k in sorted(edges)]
