"""The graph export: the page graph and the commit DAG as networkx graphs, and each format read back."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from networkx.readwrite import json_graph

from narrative_vcs.errors import BadInput, NotFound
from narrative_vcs.export import EDGE_TYPES, FORMATS, commit_graph, dot_lines, page_graph, write_graph
from narrative_vcs.repository import Repository
from narrative_vcs.types import ObjectId

from .conftest import Writer

TITLE = 'The "Iron" Door \\ of Ünïcode'


@pytest.fixture
def story(repo: Repository, writer: Writer) -> dict[str, ObjectId]:
    """prologue <- chapter (FOLLOWS) <- chapter-alt (ALTERNATE_OF chapter, FOLLOWS prologue); the prologue
    links to the chapter and to ``ghost``, which does not exist; pages named like DOT keywords."""
    writer.setup()
    writer.page("prologue", "It began. See [[chapter]] and [[ghost]].\n", title="Prologue", tags=("act-1",))
    writer.page("chapter", "The fox ran.\n", title=TITLE, follows=("prologue",), tags=("act-1", "fox"))
    writer.page("chapter-alt", "The fox hid, [[chapter]]!\n", follows=("prologue",), alternate_of="chapter")
    writer.page("node", "A page named like a DOT keyword. [[graph]]\n", follows=("chapter",))
    head = writer.page("graph", "Another one.\n", title="Graph")
    return {"head": head}


def typed_edges(graph: nx.Graph[Any], attr: str = "type") -> list[tuple[str, str, str]]:
    return sorted((str(u), str(v), str(d[attr])) for u, v, d in graph.edges(data=True))


EXPECTED_EDGES = [
    ("chapter", "prologue", "FOLLOWS"),
    ("chapter-alt", "chapter", "ALTERNATE_OF"),
    ("chapter-alt", "chapter", "LINKS_TO"),
    ("chapter-alt", "prologue", "FOLLOWS"),
    ("node", "chapter", "FOLLOWS"),
    ("node", "graph", "LINKS_TO"),
    ("prologue", "chapter", "LINKS_TO"),
    ("prologue", "ghost", "LINKS_TO"),
]
PAGES = ["chapter", "chapter-alt", "ghost", "graph", "node", "prologue"]


def reading(edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The edges as DOT draws them: FOLLOWS from a page to the page after it, the others as they are."""
    return sorted((v, u, t) if t == "FOLLOWS" else (u, v, t) for u, v, t in edges)


# --- the page graph ---------------------------------------------------------------------------------


def test_page_graph_nodes_and_edges(repo: Repository, story: dict[str, ObjectId]) -> None:
    graph = page_graph(repo, "HEAD")
    assert isinstance(graph, nx.MultiDiGraph)
    assert sorted(graph.nodes) == PAGES
    assert typed_edges(graph) == EXPECTED_EDGES
    assert graph.nodes["chapter"] == {
        "label": TITLE,
        "title": TITLE,
        "tags": "act-1, fox",
        "words": 3,
        "kind": "page",
        "missing": False,
    }
    assert graph.nodes["ghost"] == {
        "label": "ghost",
        "title": "",
        "tags": "",
        "words": 0,
        "kind": "page",
        "missing": True,
    }
    assert graph.graph["revision"] == story["head"]
    for _node, data in graph.nodes(data=True):
        assert all(isinstance(v, str | int | float | bool) for v in data.values())


def test_page_graph_of_an_older_revision(repo: Repository, story: dict[str, ObjectId]) -> None:
    graph = page_graph(repo, "HEAD~3")  # before chapter-alt, node and graph
    assert sorted(graph.nodes) == ["chapter", "ghost", "prologue"]
    assert typed_edges(graph) == [
        ("chapter", "prologue", "FOLLOWS"),
        ("prologue", "chapter", "LINKS_TO"),
        ("prologue", "ghost", "LINKS_TO"),
    ]


def test_page_graph_of_an_unknown_revision(repo: Repository, story: dict[str, ObjectId]) -> None:
    with pytest.raises(NotFound):
        page_graph(repo, "no-such-branch")


# --- the commit graph -------------------------------------------------------------------------------


@pytest.fixture
def merged(repo: Repository, writer: Writer) -> dict[str, ObjectId]:
    base = writer.setup()
    repo.create_branch("side", base)
    side = writer.page("aside", "Side words.\n", branch="side", actor="bot")
    main = writer.page("opening", "Main words.\n")
    writer.time += 60
    outcome = repo.merge(
        "main", "side", actor="cal", expected_head=main, message="Merge side", timestamp=writer.time
    )
    assert outcome.commit is not None
    return {"base": base, "side": side, "main": main, "merge": outcome.commit}


def test_commit_graph(repo: Repository, merged: dict[str, ObjectId]) -> None:
    graph = commit_graph(repo, "HEAD")
    assert isinstance(graph, nx.DiGraph) and not graph.is_multigraph()
    assert set(graph.nodes) == set(merged.values())
    m, s, b, mm = merged["main"], merged["side"], merged["base"], merged["merge"]
    assert sorted((u, v, d["order"]) for u, v, d in graph.edges(data=True)) == sorted(
        [(mm, m, 0), (mm, s, 1), (m, b, 0), (s, b, 0)]
    )
    assert all(d["type"] == "PARENT" for _u, _v, d in graph.edges(data=True))
    node = graph.nodes[mm]
    assert node["label"] == f"{mm[:10]} Merge side"
    assert node["message"] == "Merge side"
    assert node["actor"] == "cal"
    assert node["kind"] == "merge"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", node["time"])
    assert graph.nodes[s]["actor"] == "bot" and graph.nodes[s]["kind"] == "edit"
    assert graph.nodes[b]["time"] == "2023-11-14T22:14:20Z"  # Writer's first commit: 1_700_000_060


def test_commit_graph_limit_and_revision(repo: Repository, merged: dict[str, ObjectId]) -> None:
    graph = commit_graph(repo, "HEAD", limit=2)
    assert len(graph) == 2 and merged["merge"] in graph
    assert all(u in graph and v in graph for u, v in graph.edges)
    assert set(commit_graph(repo, "side")) == {merged["side"], merged["base"]}
    assert len(commit_graph(repo, "HEAD", limit=0)) == 0
    with pytest.raises(BadInput):
        commit_graph(repo, "HEAD", limit=-1)
    with pytest.raises(NotFound):
        commit_graph(repo, "nope")


# --- writing and reading back -----------------------------------------------------------------------


def _written(graph: nx.Graph[Any], fmt: str) -> bytes:
    out = io.BytesIO()
    write_graph(graph, fmt, out)
    return out.getvalue()


def _read_back(data: bytes, fmt: str, tmp_path: Path) -> tuple[nx.Graph[Any], str]:
    """The graph read back with networkx's readers (DOT: the parser below), and the edge type's attribute."""
    path = tmp_path / f"graph.{fmt}"
    path.write_bytes(data)
    if fmt == "graphml":
        return nx.read_graphml(path), "type"
    if fmt == "gexf":
        return nx.read_gexf(path), "label"  # GEXF's own edge "type" is directed/undirected
    if fmt == "json":
        return json_graph.node_link_graph(json.loads(data), edges="edges"), "type"
    return parse_dot(data.decode("utf-8")), "type"


@pytest.mark.parametrize("fmt", FORMATS)
def test_page_graph_round_trip(
    repo: Repository, story: dict[str, ObjectId], fmt: str, tmp_path: Path
) -> None:
    graph = page_graph(repo)
    back, type_attr = _read_back(_written(graph, fmt), fmt, tmp_path)
    assert back.is_directed()
    assert sorted(back.nodes) == PAGES
    # GraphML, GEXF and JSON keep the data's direction (a page -> the page it follows); DOT: reading order
    assert typed_edges(back, type_attr) == (reading(EXPECTED_EDGES) if fmt == "dot" else EXPECTED_EDGES)
    assert back.nodes["chapter"]["label"] == TITLE
    chapter = back.nodes["chapter"]
    found = (chapter["words"], chapter["missing"], back.nodes["ghost"]["missing"])
    # DOT has no types: numbers come back as numerals, booleans as "true"/"false"
    assert found == (("3", "false", "true") if fmt == "dot" else (3, False, True))
    assert chapter["title"] == TITLE
    assert chapter["tags"] == "act-1, fox"
    assert chapter["kind"] == "page"


@pytest.mark.parametrize("fmt", FORMATS)
def test_commit_graph_round_trip(
    repo: Repository, merged: dict[str, ObjectId], fmt: str, tmp_path: Path
) -> None:
    graph = commit_graph(repo)
    back, type_attr = _read_back(_written(graph, fmt), fmt, tmp_path)
    assert set(back.nodes) == set(graph.nodes)
    assert typed_edges(back, type_attr) == typed_edges(graph)
    orders = sorted((str(u), str(v), int(d["order"])) for u, v, d in back.edges(data=True))
    assert orders == sorted((u, v, d["order"]) for u, v, d in graph.edges(data=True))
    mm = merged["merge"]
    assert back.nodes[mm]["label"] == f"{mm[:10]} Merge side"
    assert back.nodes[mm]["actor"] == "cal"


def test_write_graph_text_stream_and_unknown_format(repo: Repository, story: dict[str, ObjectId]) -> None:
    graph = page_graph(repo)
    for fmt in FORMATS:
        text = io.StringIO()
        write_graph(graph, fmt, text)
        assert _undated(text.getvalue().encode("utf-8")) == _undated(_written(graph, fmt))
    with pytest.raises(BadInput, match="unknown graph format"):
        write_graph(graph, "svg", io.BytesIO())


def _undated(data: bytes) -> bytes:
    return re.sub(rb'lastmodifieddate="[^"]*"', b"", data)  # GEXF's date of writing


def test_json_is_sorted_node_link_data(repo: Repository, story: dict[str, ObjectId]) -> None:
    data = json.loads(_written(page_graph(repo), "json"))
    assert list(data) == sorted(data)
    assert {"directed", "multigraph", "graph", "nodes", "edges"} <= set(data)
    assert {"id": "ghost", "label": "ghost", "title": "", "tags": "", "words": 0, "kind": "page"}.items() <= (
        next(n for n in data["nodes"] if n["id"] == "ghost").items()
    )


def test_dot_quotes_ids_and_values() -> None:
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    graph.graph["name"] = 'a "story"'
    graph.add_node("node", label='say "hi" \\ bye', n=3, flag=True, ratio=0.5)
    graph.add_node("1abc", label="line\nbreak")
    graph.add_edge("node", "1abc", type="LINKS_TO")
    lines = list(dot_lines(graph))
    assert lines[0] == 'digraph "a \\"story\\"" {'
    assert lines[1] == '  node [shape="box"];'
    assert lines[2] == '  "node" [label="say \\"hi\\" \\\\ bye", n=3, flag="true", ratio="0.5"];'
    assert lines[3] == '  "1abc" [label="line\\nbreak"];'
    assert lines[4] == '  subgraph "LINKS_TO" {'
    assert lines[6] == '    "node" -> "1abc" [type="LINKS_TO"];'
    back = parse_dot("\n".join(lines))
    assert back.nodes["node"]["label"] == 'say "hi" \\ bye'
    assert back.nodes["1abc"]["label"] == "line\nbreak"


_EDGE_LINE = re.compile(r'^ +"([^"]+)" -> "([^"]+)" \[type="(\w+)"\];$')


def test_dot_draws_the_reading_order_top_down(repo: Repository, story: dict[str, ObjectId]) -> None:
    text = _written(page_graph(repo), "dot").decode("utf-8")
    drawn = sorted(m.groups() for m in map(_EDGE_LINE.match, text.splitlines()) if m)
    assert drawn == reading(EXPECTED_EDGES)
    assert ("prologue", "chapter", "FOLLOWS") in drawn and ("chapter", "node", "FOLLOWS") in drawn
    back = parse_dot(text)
    styles = {d["type"]: (d["style"], d["color"], d.get("constraint")) for _u, _v, d in back.edges(data=True)}
    assert styles["FOLLOWS"][0] == "solid" and styles["FOLLOWS"][2] is None  # only reading order ranks pages
    assert styles["ALTERNATE_OF"][0] == "dashed" and styles["ALTERNATE_OF"][2] == "false"
    assert styles["LINKS_TO"][0] == "dotted" and styles["LINKS_TO"][2] == "false"
    assert len({color for _style, color, _c in styles.values()}) == 3
    for edge_type in EDGE_TYPES:
        assert text.count(f'subgraph "{edge_type}" {{') == 1
    assert "xlabel" not in text  # page tags are not refs


def test_commit_graph_of_every_branch_and_tag(
    repo: Repository, writer: Writer, merged: dict[str, ObjectId]
) -> None:
    repo.create_branch("loose", merged["base"])
    stray = writer.page("stray", "Nobody merges this.\n", branch="loose")
    repo.create_tag("v1", merged["side"])
    graph = commit_graph(repo, None)
    assert set(graph.nodes) == {*merged.values(), stray}
    assert "revision" not in graph.graph
    assert graph.nodes[stray]["branches"] == "loose"
    assert graph.nodes[merged["merge"]]["branches"] == "main"
    assert (graph.nodes[merged["side"]]["branches"], graph.nodes[merged["side"]]["tags"]) == ("side", "v1")
    assert graph.nodes[merged["base"]]["branches"] == graph.nodes[merged["base"]]["tags"] == ""
    assert stray not in commit_graph(repo, "HEAD")
    assert len(commit_graph(repo, None, limit=2)) == 2
    back = parse_dot(_written(graph, "dot").decode("utf-8"))
    assert back.nodes[merged["side"]]["xlabel"] == "side, tag: v1"
    assert back.nodes[stray]["xlabel"] == "loose" and back.nodes[stray]["style"] == "filled,bold"
    assert "xlabel" not in back.nodes[merged["base"]]


def test_networkx_is_imported_lazily() -> None:
    import subprocess

    code = "import sys, narrative_vcs.export, cli.graph_export; print('networkx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- a reader for the DOT that gvcs writes ------------------------------------------------------------

_TOKEN = re.compile(r'\s+|(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow>->|--)|(?P<punct>[{}\[\];,=])|(?P<id>[\w.-]+)')


def parse_dot(text: str) -> nx.MultiDiGraph[str]:
    """Parse the DOT subset gvcs writes (statements of nodes, edges and ``graph [...]``), strictly: a bare
    keyword is a keyword, never a node, and quoted strings are unescaped as Graphviz reads labels."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None, f"bad DOT at {text[pos : pos + 20]!r}"
        pos = m.end()
        if m.lastgroup == "str":
            raw = m.group()[1:-1]
            tokens.append(("id", re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)), raw)))
        elif m.lastgroup == "id":
            word = m.group()
            tokens.append(("kw" if word in ("digraph", "graph", "node", "edge", "subgraph") else "id", word))
        elif m.lastgroup is not None:
            tokens.append((m.lastgroup, m.group()))
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    i = 0

    def take(kind: str, value: str | None = None) -> str:
        nonlocal i
        assert tokens[i][0] == kind and (value is None or tokens[i][1] == value), (tokens[i], kind, value)
        i += 1
        return tokens[i - 1][1]

    def attrs() -> dict[str, str]:
        found: dict[str, str] = {}
        if tokens[i] != ("punct", "["):
            return found
        take("punct", "[")
        while tokens[i] != ("punct", "]"):
            key = take("id")
            take("punct", "=")
            found[key] = take("id")
            if tokens[i] == ("punct", ","):
                take("punct", ",")
        take("punct", "]")
        return found

    def statements(defaults: dict[str, str]) -> None:
        """Statements up to the closing brace; an edge gets the ``edge [...]`` defaults of its subgraph."""
        edge_defaults = dict(defaults)
        while tokens[i] != ("punct", "}"):
            if tokens[i] == ("kw", "graph"):
                take("kw")
                graph.graph.update(attrs())
            elif tokens[i] == ("kw", "node"):
                take("kw")
                attrs()
            elif tokens[i] == ("kw", "edge"):
                take("kw")
                edge_defaults.update(attrs())
            elif tokens[i] == ("kw", "subgraph"):
                take("kw")
                take("id")
                take("punct", "{")
                statements(edge_defaults)
                take("punct", "}")
                continue
            else:
                source = take("id")
                if tokens[i][0] == "arrow":
                    take("arrow", "->")
                    dest = take("id")
                    graph.add_edge(source, dest, **{**edge_defaults, **attrs()})
                else:
                    graph.add_node(source, **attrs())
            take("punct", ";")

    take("kw", "digraph")
    if tokens[i][0] == "id":
        graph.graph["name"] = take("id")
    take("punct", "{")
    statements({})
    take("punct", "}")
    assert i == len(tokens)
    return graph
