"""``gvcs graph``: the page graph and the commit DAG written through networkx, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import pytest
from networkx.readwrite import json_graph

from .conftest import Gvcs, ok, one_line_error


@pytest.fixture
def linked(story: Path, gvcs: Gvcs) -> Path:
    """The template story plus a page ``third`` that links to ``opening`` and to ``ghost`` (no such page);
    the other pages' placeholder bodies (which hold links) replaced by plain prose."""
    ok(gvcs("page", "new", "third", "--title", "Third", "--follows", "second", cwd=story))
    _set_body(story / "pages" / "opening.md", "It began.\n")
    _set_body(story / "pages" / "second.md", "It went on.\n")
    _set_body(story / "pages" / "third.md", "Back to [[opening]], on to [[ghost]].\n")
    ok(gvcs("commit", "-m", "Add third", cwd=story, actor="bot"))
    return story


def _set_body(page: Path, body: str) -> None:
    front, _, _ = page.read_text().rpartition("---\n")
    page.write_text(front + "---\n" + body)


def _edges(graph: nx.Graph[str]) -> list[tuple[str, str, str]]:
    return sorted((u, v, d["type"]) for u, v, d in graph.edges(data=True))


PAGE_EDGES = [
    ("second", "opening", "FOLLOWS"),
    ("third", "ghost", "LINKS_TO"),
    ("third", "opening", "LINKS_TO"),
    ("third", "second", "FOLLOWS"),
]


def test_graphml_to_stdout(linked: Path, gvcs: Gvcs, tmp_path: Path) -> None:
    result = ok(gvcs("graph", cwd=linked))
    assert result.out.startswith("<?xml") and result.err == ""
    path = tmp_path / "out.graphml"
    path.write_text(result.out)
    graph = nx.read_graphml(path)
    assert sorted(graph.nodes) == ["ghost", "opening", "second", "third"]
    assert _edges(graph) == PAGE_EDGES
    assert graph.nodes["third"]["label"] == "Third"
    assert graph.nodes["ghost"]["missing"] is True


def test_json_to_a_file_and_an_older_revision(linked: Path, gvcs: Gvcs) -> None:
    result = ok(gvcs("graph", "--format", "json", "-o", "pages.json", cwd=linked))
    assert result.out == "" and result.err == ""
    data = json.loads((linked / "pages.json").read_text())
    assert _edges(json_graph.node_link_graph(data, edges="edges")) == PAGE_EDGES
    assert [p.name for p in linked.iterdir() if p.name.startswith(".pages.json")] == []
    older = json.loads(ok(gvcs("graph", "HEAD~1", "--json", cwd=linked)).out)
    assert sorted(n["id"] for n in older["nodes"]) == ["opening", "second"]
    assert older["graph"]["revision"] != data["graph"]["revision"]


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "dot", "json"])
def test_every_format_to_a_file(linked: Path, gvcs: Gvcs, fmt: str) -> None:
    ok(gvcs("-C", str(linked), "graph", "--format", fmt, "-o", f"g.{fmt}", cwd=linked.parent))
    text = (linked / f"g.{fmt}").read_text(encoding="utf-8")  # -o is relative to -C's directory
    assert '"third"' in text if fmt in ("dot", "json") else 'id="third"' in text
    if fmt == "gexf":
        assert _label_edges(nx.read_gexf(linked / "g.gexf")) == PAGE_EDGES


def _label_edges(graph: nx.Graph[str]) -> list[tuple[str, str, str]]:
    return sorted((u, v, d["label"]) for u, v, d in graph.edges(data=True))


def test_commits_as_dot(linked: Path, gvcs: Gvcs) -> None:
    log = json.loads(ok(gvcs("log", "--json", cwd=linked)).out)
    newest, oldest = log[0]["id"], log[1]["id"]
    out = ok(gvcs("graph", "--commits", "--format", "dot", cwd=linked)).out
    lines = out.splitlines()
    assert lines[0] == 'digraph "commits of HEAD" {' and lines[-1] == "}"
    assert f'    "{newest}" -> "{oldest}" [type="PARENT", order=0];' in lines  # inside subgraph "PARENT"
    assert any(line.startswith(f'  "{newest}" [label="{newest[:10]} Add third"') for line in lines)
    assert 'actor="bot"' in out and 'kind="edit"' in out
    limited = json.loads(ok(gvcs("graph", "--commits", "--limit", "1", "--json", cwd=linked)).out)
    assert [n["id"] for n in limited["nodes"]] == [newest] and limited["edges"] == []


def test_pages_as_dot_in_reading_order(linked: Path, gvcs: Gvcs) -> None:
    out = ok(gvcs("graph", "--format", "dot", cwd=linked)).out
    drawn = sorted(re.findall(r'^ +"([^"]+)" -> "([^"]+)" \[type="(\w+)"\];$', out, re.MULTILINE))
    assert drawn == [
        ("opening", "second", "FOLLOWS"),  # the first page on top, arrows in reading order
        ("second", "third", "FOLLOWS"),
        ("third", "ghost", "LINKS_TO"),
        ("third", "opening", "LINKS_TO"),
    ]
    assert '  subgraph "LINKS_TO" {\n    edge [style="dotted",' in out


def test_commits_of_every_branch_and_tag(linked: Path, gvcs: Gvcs) -> None:
    ok(gvcs("branch", "side", "HEAD~1", cwd=linked))
    ok(gvcs("switch", "side", cwd=linked))
    ok(gvcs("page", "new", "aside", "--title", "Aside", "--follows", "opening", cwd=linked))
    ok(gvcs("commit", "-m", "Add aside", cwd=linked, actor="bot"))
    ok(gvcs("tag", "v1", "main", cwd=linked))
    every = json.loads(ok(gvcs("graph", "--commits", "--all", "--json", cwd=linked)).out)
    one = json.loads(ok(gvcs("graph", "--commits", "--json", cwd=linked)).out)
    main = json.loads(ok(gvcs("graph", "--commits", "main", "--json", cwd=linked)).out)
    ids = {n["id"] for n in every["nodes"]}
    assert ids == {n["id"] for n in one["nodes"]} | {n["id"] for n in main["nodes"]}
    assert len(ids) > len(one["nodes"]) and len(ids) > len(main["nodes"])
    marks = {n["id"]: (n["branches"], n["tags"]) for n in every["nodes"] if n["branches"] or n["tags"]}
    assert sorted(marks.values()) == [("main", "v1"), ("side", "")]
    dot = ok(gvcs("graph", "--commits", "--all", "--format", "dot", cwd=linked)).out
    assert dot.count('xlabel="main, tag: v1"') == 1 and dot.count('xlabel="side"') == 1
    assert "--all" in one_line_error(gvcs("graph", "--all", cwd=linked), 2)
    assert "REV or --all" in one_line_error(gvcs("graph", "--commits", "--all", "main", cwd=linked), 2)


def test_bad_revision_leaves_no_file(linked: Path, gvcs: Gvcs) -> None:
    line = one_line_error(gvcs("graph", "nope", "-o", "g.graphml", cwd=linked), 2)
    assert "unknown revision 'nope'" in line
    assert not (linked / "g.graphml").exists()
    (linked / "g.graphml").write_text("old contents\n")
    one_line_error(gvcs("graph", "--commits", "nope", "-o", "g.graphml", cwd=linked), 2)
    assert (linked / "g.graphml").read_text() == "old contents\n"
    assert sorted(p.name for p in linked.iterdir() if p.name.startswith(".g.graphml")) == []


def test_overwrites_a_file_atomically(linked: Path, gvcs: Gvcs) -> None:
    target = linked / "g.json"
    target.write_text("old contents\n")
    target.chmod(0o640)
    ok(gvcs("graph", "--json", "-o", "g.json", cwd=linked))
    assert json.loads(target.read_text())["directed"] is True
    assert target.stat().st_mode & 0o777 == 0o640


def test_bad_input(linked: Path, gvcs: Gvcs) -> None:
    assert "invalid choice: 'svg'" in one_line_error(gvcs("graph", "--format", "svg", cwd=linked), 2)
    line = one_line_error(gvcs("graph", "-o", "no/such/dir/g.graphml", cwd=linked), 2)
    assert line.startswith("gvcs: error: cannot write no/such/dir/g.graphml:")
    line = one_line_error(gvcs("graph", "-o", "pages", cwd=linked), 2)
    assert line == "gvcs: error: cannot write pages: it is a directory"
    assert "--limit" in one_line_error(gvcs("graph", "--limit", "3", cwd=linked), 2)
    assert "--limit" in one_line_error(gvcs("graph", "--commits", "--limit", "-1", cwd=linked), 2)
    assert "--json" in one_line_error(gvcs("graph", "--json", "--format", "dot", cwd=linked), 2)


def test_no_repository_and_no_commits(gvcs: Gvcs, tmp_path: Path) -> None:
    one_line_error(gvcs("graph", cwd=tmp_path), 2)
    ok(gvcs("init", "empty"))
    one_line_error(gvcs("graph", cwd=tmp_path / "empty"), 2)
