"""Export the story as a graph for Gephi, Graphviz and other tools: the page graph of a revision, or the
commit DAG, as networkx graphs written as GraphML, GEXF, DOT or node-link JSON.

networkx is imported inside the functions, so importing this module (and starting ``gvcs log``) stays
cheap. Every attribute value is a scalar (str, int, float or bool), as GraphML and GEXF require.

The page graph (:func:`page_graph`) has one node per page, keyed by page id, and typed edges in the
direction of the architecture's ``(:PageVersion)-[:FOLLOWS]->(:Page)``: a page points at the page it
follows (``FOLLOWS``), at the page it is an alternate take of (``ALTERNATE_OF``) and at the pages its prose
links to as ``[[id]]`` (``LINKS_TO``). A link to a page that does not exist at that revision keeps its edge;
its target is a node with ``missing=True``. GraphML, GEXF and JSON keep that direction.

DOT is drawn for reading instead: a ``FOLLOWS`` arrow goes from a page to the page that comes after it (the
reverse of the data's edge, still with ``type="FOLLOWS"``), so ``dot`` lays the story out from the first
page down; only FOLLOWS edges rank pages, and each edge type has its own style (:data:`DOT_EDGE_STYLES`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, cast

from .errors import BadInput

if TYPE_CHECKING:
    import networkx as nx

    from .repository import Repository

__all__ = [
    "DOT_EDGE_STYLES",
    "EDGE_TYPES",
    "FORMATS",
    "commit_graph",
    "dot_lines",
    "page_graph",
    "write_graph",
]

#: The formats :func:`write_graph` writes.
FORMATS = ("graphml", "gexf", "dot", "json")

#: The edge types of the page graph.
EDGE_TYPES = ("FOLLOWS", "ALTERNATE_OF", "LINKS_TO")


def page_graph(repo: Repository, rev: str = "HEAD") -> nx.MultiDiGraph[str]:
    """The pages of ``rev`` and their FOLLOWS, ALTERNATE_OF and LINKS_TO edges.

    Node attributes: ``label`` and ``title`` (the title), ``tags`` (joined with ``", "``), ``words`` (the
    body's word count), ``kind`` (``"page"``) and ``missing`` (True for a linked page that does not exist
    at ``rev``). Edge attribute: ``type``. Graph attributes: ``name`` and ``revision`` (the commit id).
    """
    import networkx as nx

    snapshot = repo.read_story(rev)
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    graph.graph["name"] = snapshot.story.title if snapshot.story else "pages"
    graph.graph["revision"] = str(snapshot.commit)
    for page in snapshot.pages.values():
        graph.add_node(
            page.id,
            label=page.title,
            title=page.title,
            tags=", ".join(page.tags),
            words=len(page.body.split()),
            kind="page",
            missing=False,
        )
    for page in snapshot.pages.values():
        targets = [(t, "FOLLOWS") for t in page.follows]
        if page.alternate_of is not None:
            targets.append((page.alternate_of, "ALTERNATE_OF"))
        targets += [(t, "LINKS_TO") for t in page.links()]
        for target, edge_type in targets:
            if target not in graph:
                graph.add_node(target, label=target, title="", tags="", words=0, kind="page", missing=True)
            graph.add_edge(page.id, target, type=edge_type)
    return graph


def commit_graph(repo: Repository, rev: str | None = "HEAD", limit: int | None = None) -> nx.DiGraph[str]:
    """The commit DAG reachable from ``rev``, or with ``rev=None`` from every branch and tag (with
    ``limit``: its newest ``limit`` commits).

    Node attributes: ``label`` (short id and subject), ``message`` (the subject), ``actor``, ``kind`` (the
    commit's kind), ``time`` (ISO 8601, UTC), and ``branches`` and ``tags``: the branches and tags whose
    head it is (names joined with ``", "``, empty for most commits). Edges go from child to parent with
    ``type="PARENT"`` and ``order`` (the parent's index, 0 for the first parent); with ``limit``, only
    edges between commits in the graph. The walk reads commit headers only, never trees.
    """
    import itertools

    import networkx as nx

    if limit is not None and limit < 0:
        raise BadInput("the commit limit must not be negative")
    branches, tags = repo.branches(), repo.tags()
    graph: nx.DiGraph[str] = nx.DiGraph()
    if rev is None:
        starts = sorted(set(branches.values()) | set(tags.values()))
        graph.graph["name"] = "commits of every branch and tag"  # no one ``revision``
    else:
        starts = [repo.resolve(rev)]
        graph.graph["name"] = f"commits of {rev}"
        graph.graph["revision"] = str(starts[0])
    commits = list(itertools.islice(repo.walk(starts), limit))
    for info in commits:
        subject = info.subject
        graph.add_node(
            info.id,
            label=f"{info.short_id} {subject}",
            message=subject,
            actor=info.actor,
            kind=info.kind,
            time=datetime.fromtimestamp(info.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            branches=", ".join(sorted(n for n, oid in branches.items() if oid == info.id)),
            tags=", ".join(sorted(n for n, oid in tags.items() if oid == info.id)),
        )
    for info in commits:
        for order, parent in enumerate(info.parents):
            if parent in graph:
                graph.add_edge(info.id, parent, type="PARENT", order=order)
    return graph


def write_graph(graph: nx.Graph[str], fmt: str, out: BinaryIO | TextIO) -> None:
    """Write ``graph`` to ``out`` (a binary or a text stream) as ``graphml``, ``gexf``, ``dot`` or ``json``.

    GraphML and GEXF are written by networkx, JSON is networkx's node-link data (``nodes``, ``edges``) with
    sorted keys, DOT is written here (pydot mis-quotes node ids such as ``node`` or ``graph``). GEXF keeps
    an edge's ``type`` in the edge's ``label``, because GEXF's own ``type`` means directed or undirected.
    Text is UTF-8.
    """
    if fmt not in FORMATS:
        raise BadInput(f"unknown graph format {fmt!r}: use one of {', '.join(FORMATS)}")
    if isinstance(out, io.TextIOBase):
        text_out = cast(TextIO, out)
        buffer = io.BytesIO()
        _write_bytes(graph, fmt, buffer)
        text_out.write(buffer.getvalue().decode("utf-8"))
    else:
        _write_bytes(graph, fmt, cast(BinaryIO, out))


def _write_bytes(graph: nx.Graph[str], fmt: str, out: BinaryIO) -> None:
    import networkx as nx

    if fmt == "graphml":
        nx.write_graphml(graph, out)
    elif fmt == "gexf":
        nx.write_gexf(_gexf_ready(graph), out)
    elif fmt == "json":
        from networkx.readwrite import json_graph

        data = json_graph.node_link_data(graph, edges="edges")
        out.write((json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    else:
        for line in dot_lines(graph):
            out.write((line + "\n").encode("utf-8"))


def _gexf_ready(graph: nx.Graph[str]) -> nx.Graph[str]:
    """A copy whose edges carry ``type`` as ``label``: GEXF's edge ``type`` is directed/undirected."""
    copy = graph.copy()
    for _u, _v, data in copy.edges(data=True):
        if "type" in data:
            edge_type = data.pop("type")
            data.setdefault("label", edge_type)
    return copy


# --- DOT --------------------------------------------------------------------------------------------

_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})

#: How DOT draws each edge type: reading order solid, alternates dashed in their own colour, links dotted
#: and thin, commit parents plain. ALTERNATE_OF and LINKS_TO do not rank pages (``constraint=false``).
DOT_EDGE_STYLES: dict[str, dict[str, str]] = {
    "FOLLOWS": {"style": "solid", "color": "#333333", "penwidth": "1.5"},
    "ALTERNATE_OF": {"style": "dashed", "color": "#D62728", "constraint": "false"},
    "LINKS_TO": {"style": "dotted", "color": "#1F77B4", "penwidth": "0.7", "constraint": "false"},
    "PARENT": {"style": "solid", "color": "#555555"},
}

#: Edge types DOT draws against the data's direction, so that arrows follow the reading order.
_DOT_REVERSED = frozenset({"FOLLOWS"})

#: The fill of a commit that a branch (or only a tag) points at.
_BRANCH_FILL = "#8DCC93"
_TAG_FILL = "#FFE081"


def dot_lines(graph: nx.Graph[str]) -> Iterator[str]:
    """``graph`` in the DOT language, line by line: node ids always quoted, attributes from the data.

    Edges are grouped by ``type`` in subgraphs whose ``edge [...]`` gives the type's style; FOLLOWS
    edges point in reading order (from a page to the page after it). Commits that a branch or a tag
    points at are filled and carry the names as ``xlabel``.
    """
    kind = "digraph" if graph.is_directed() else "graph"
    name = graph.graph.get("name", "")
    yield f"{kind} {_dot_quote(str(name))} {{" if name else f"{kind} {{"
    attrs = {k: v for k, v in graph.graph.items() if k != "name"}
    if attrs:
        yield f"  graph {_dot_attrs(attrs)};"
    yield '  node [shape="box"];'
    for node, data in graph.nodes(data=True):
        yield f"  {_dot_quote(str(node))}{_dot_attr_list({**data, **_ref_marks(data)})};"
    yield from _dot_edges(graph)
    yield "}"


def _ref_marks(data: dict[str, Any]) -> dict[str, Any]:
    """The look of a commit some branch or tag points at: filled, its refs as ``xlabel``."""
    if "branches" not in data:  # a page, whose ``tags`` are the page's own
        return {}
    names = [str(b) for b in str(data.get("branches", "")).split(", ") if b]
    names += [f"tag: {t}" for t in str(data.get("tags", "")).split(", ") if t]
    if not names:
        return {}
    fill = _BRANCH_FILL if data.get("branches") else _TAG_FILL
    return {"xlabel": ", ".join(names), "style": "filled,bold", "fillcolor": fill}


def _dot_edges(graph: nx.Graph[str]) -> Iterator[str]:
    arrow = "->" if graph.is_directed() else "--"
    by_type: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for u, v, data in graph.edges(data=True):
        by_type.setdefault(str(data.get("type", "")), []).append((str(u), str(v), data))
    for edge_type, edges in by_type.items():
        style = DOT_EDGE_STYLES.get(edge_type)
        indent = "  "
        if style is not None:
            yield f"  subgraph {_dot_quote(edge_type)} {{"
            yield f"    edge {_dot_attrs(style)};"
            indent = "    "
        for u, v, data in edges:
            if edge_type in _DOT_REVERSED and graph.is_directed():
                u, v = v, u
            yield f"{indent}{_dot_quote(u)} {arrow} {_dot_quote(v)}{_dot_attr_list(data)};"
        if style is not None:
            yield "  }"


def _dot_attr_list(data: dict[str, Any]) -> str:
    return f" {_dot_attrs(data)}" if data else ""


def _dot_attrs(data: dict[str, Any]) -> str:
    return "[" + ", ".join(f"{_dot_id(str(k))}={_dot_value(v)}" for k, v in data.items()) + "]"


def _dot_value(value: Any) -> str:
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    if isinstance(value, int):
        return str(value)
    return _dot_quote(str(value))


def _dot_id(text: str) -> str:
    """A plain identifier as it is, anything else (and the DOT keywords) quoted."""
    plain = text.isascii() and text.replace("_", "a").isalnum() and not text[0].isdigit()
    return text if plain and text.lower() not in _KEYWORDS else _dot_quote(text)


def _dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslash and quote escaped, line ends as ``\\n``/``\\r``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
