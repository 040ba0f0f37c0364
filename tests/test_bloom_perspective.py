"""The Neo4j Bloom perspective of ``cypher/bloom`` against the demo story's projection on the real server.

Every label, relationship type and property the perspective names must exist in the graph gvcs writes,
with the data type it declares; every search phrase must run, draw only graph elements, and answer the
same question as its tabular query in ``cypher/queries``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import resources
from typing import Any

import neo4j
import neo4j.graph
import neo4j.time
import pytest

from narrative_vcs.graph.neo4j import version_id
from narrative_vcs.repository import Repository
from tests.conftest import Backend
from tests.test_cypher_queries import DemoGraph, all_pages, branches, build_governed_demo, load_demo

PERSPECTIVE = "bloom/gvcs-perspective.json"

#: The categories, in order: name (also their one label) -> the properties captioning their nodes.
CATEGORIES = {
    "Commit": ["short_id", "subject"],
    "Page": ["title"],
    "PageVersion": ["title"],
    "Branch": ["name"],
    "Tag": ["name"],
    "Actor": ["name"],
    "Proposal": ["message", "number"],
}
RELATIONSHIP_TYPES = {
    "PARENT",
    "AUTHORED_BY",
    "HEAD",
    "CHANGED",
    "VERSION_OF",
    "FOLLOWS",
    "ALTERNATE_OF",
    "LINKS_TO",
    "HAS_PAGE",
    "MERGES",
    "VOTED",
}
INTERNAL_LABELS = {"Pack", "Meta", "RefLogEntry", "SymbolicRef", "Counter"}

#: Search phrase -> the query file answering the same question.
PHRASES = {
    "history of page $page": "page_history",
    "pages changed by $actor": "pages_changed_by_actor",
    "alternates of $page": "alternates_of_page",
    "reading order of $branch": "reading_order",
    "pages changed between branch $a and $b": "pages_changed_between_branches",
    "proposals voted by $actor": "proposals_voted_by_actor",
}


def load_perspective() -> dict[str, Any]:
    text = resources.files("cypher").joinpath(PERSPECTIVE).read_text(encoding="utf-8")
    loaded = json.loads(text)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def perspective() -> dict[str, Any]:
    return load_perspective()


@pytest.fixture(scope="module")
def demo_source() -> Repository:
    """The demo story with an open proposal and a vote, so that the governance graph is there too."""
    return build_governed_demo()


@pytest.fixture
def demo(demo_source: Repository, neo4j_backend: Backend) -> Iterator[DemoGraph]:
    yield load_demo(demo_source, neo4j_backend)


def templates(perspective: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["text"]: t for t in perspective["templates"]}


# --- the file -------------------------------------------------------------------------------------


def test_perspective_has_the_export_shape(perspective: dict[str, Any]) -> None:
    for key in (
        "name",
        "id",
        "categories",
        "labels",
        "relationshipTypes",
        "palette",
        "templates",
        "hiddenRelationshipTypes",
        "hideUncategorisedData",
        "version",
    ):
        assert key in perspective, key
    categories = perspective["categories"]
    assert [c["name"] for c in categories] == list(CATEGORIES)
    assert len({c["id"] for c in categories}) == len(categories)
    assert len({c["color"] for c in categories}) == len(categories), "each category has its own colour"
    for category in categories:
        for key in ("labels", "properties", "color", "size", "icon", "createdAt", "lastEditedAt", "textSize"):
            assert key in category, (category["name"], key)
        assert category["labels"] == [category["name"]]
        assert re.fullmatch(r"#[0-9A-F]{6}", category["color"]), category["color"]
        captions = [c["key"] for c in category["captions"] if c["isCaption"] and c["type"] == "property"]
        assert sorted(captions) == CATEGORIES[category["name"]], category["name"]
        flagged = [p["name"] for p in category["properties"] if p["isCaption"]]
        assert sorted(flagged) == CATEGORIES[category["name"]], category["name"]
    assert set(perspective["labels"]) == set(CATEGORIES)
    assert {r["name"] for r in perspective["relationshipTypes"]} == RELATIONSHIP_TYPES
    assert all(r["id"] == r["name"] for r in perspective["relationshipTypes"])
    # The internal nodes stay out of sight: no category for them, and uncategorised data is hidden.
    assert perspective["hideUncategorisedData"] is True
    assert not INTERNAL_LABELS & {label for c in categories for label in c["labels"]}
    assert not INTERNAL_LABELS & set(perspective["labels"])
    assert perspective["hiddenRelationshipTypes"] == []


def test_search_phrases_are_declared(perspective: dict[str, Any]) -> None:
    phrases = templates(perspective)
    assert set(PHRASES) <= set(phrases)
    assert len({t["id"] for t in perspective["templates"]}) == len(perspective["templates"])
    for text, template in phrases.items():
        names = re.findall(r"\$\w+", text)
        assert [p["name"] for p in template["params"]] == names, text
        for param in template["params"]:
            assert param["dataType"] == "String"
            assert param["name"] in template["cypher"], (text, param["name"])
        assert not re.search(r"\b(CREATE|MERGE|SET|DELETE|REMOVE)\b", template["cypher"]), text
        assert "PARENT*" not in template["cypher"]
        assert template["hasCypherErrors"] is False
    for text, query in PHRASES.items():
        assert f"cypher/queries/{query}.cypher" in phrases[text]["cypher"], text


# --- against the projection -----------------------------------------------------------------------


def data_type(value: Any) -> str:
    """The perspective's name of the type of a property value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bytes):
        return "bytes"  # the raw git objects, which the perspective does not show
    if isinstance(value, neo4j.time.DateTime | datetime):
        return "DateTime"
    raise AssertionError(f"unexpected property value {value!r}")


def schema(demo: DemoGraph) -> tuple[dict[str, dict[str, set[str]]], dict[str, dict[str, set[str]]]]:
    """label -> property -> data types, and relationship type -> property -> data types, as stored."""
    nodes: dict[str, dict[str, set[str]]] = {r["label"]: {} for r in demo.run("CALL db.labels()")}
    for row in demo.run("MATCH (n) UNWIND labels(n) AS label RETURN label, properties(n) AS properties"):
        for key, value in row["properties"].items():
            nodes[row["label"]].setdefault(key, set()).add(data_type(value))
    types: dict[str, dict[str, set[str]]] = {
        r["relationshipType"]: {} for r in demo.run("CALL db.relationshipTypes()")
    }
    for row in demo.run("MATCH ()-[r]->() RETURN type(r) AS type, properties(r) AS properties"):
        for key, value in row["properties"].items():
            types[row["type"]].setdefault(key, set()).add(data_type(value))
    return nodes, types


@pytest.mark.neo4j
def test_every_name_exists_in_the_projection(perspective: dict[str, Any], demo: DemoGraph) -> None:
    nodes, types = schema(demo)
    assert set(nodes) >= INTERNAL_LABELS, "the internal labels exist, and the perspective hides them"

    for category in perspective["categories"]:
        (label,) = category["labels"]
        assert label in nodes, label
        for prop in category["properties"]:
            assert nodes[label].get(prop["name"]) == {prop["dataType"]}, (label, prop)
        for caption in category["captions"]:
            if caption["type"] == "property":
                assert caption["key"] in nodes[label], (label, caption)
            else:
                assert caption == {**caption, "type": "label", "key": label}
    for label, props in perspective["labels"].items():
        for prop in props:
            assert prop["type"] == label
            assert nodes[label].get(prop["propertyKey"]) == {prop["dataType"]}, (label, prop)

    for rel in perspective["relationshipTypes"]:
        assert rel["name"] in types, rel["name"]
        assert {p["propertyKey"] for p in rel["properties"]} == set(types[rel["name"]]), rel["name"]
        for prop in rel["properties"]:
            assert types[rel["name"]][prop["propertyKey"]] == {prop["dataType"]}, (rel["name"], prop)
        for caption in rel["captions"]:
            assert caption["key"] == rel["name"] or caption["key"] in types[rel["name"]], caption
    assert set(perspective["hiddenRelationshipTypes"]) <= set(types)

    for segment in perspective["metadata"]["pathSegments"]:
        rows = demo.run(
            "MATCH (:$($source))-[r:$($type)]->(:$($target)) RETURN count(r) AS n",
            source=segment["source"],
            type=segment["relationshipType"],
            target=segment["target"],
        )
        assert rows[0]["n"] > 0, segment
    for index in perspective["metadata"]["indexes"]:
        for key in index["propertyKeys"]:
            assert key["key"] in nodes[index["label"]], index

    for template in perspective["templates"]:
        cypher = template["cypher"]
        for label in re.findall(r"\(\w*:(\w+)", cypher):
            assert label in nodes and label not in INTERNAL_LABELS, (template["text"], label)
        for rel_type in re.findall(r"\[\w*:(\w+)", cypher):
            assert rel_type in types, (template["text"], rel_type)
        for label, key in re.findall(r"\(\w*:(\w+)\s*\{(\w+):", cypher):
            assert key in nodes[label], (template["text"], label, key)
        for param in template["params"]:
            assert param["suggestionProp"] in nodes[param["suggestionLabel"]], param


def graph_elements(records: list[neo4j.Record]) -> list[neo4j.graph.Node]:
    """Every node the records draw; fails on a value Bloom could not draw."""
    found: list[neo4j.graph.Node] = []
    for record in records:
        for value in record.values():
            assert isinstance(value, neo4j.graph.Path | neo4j.graph.Node | neo4j.graph.Relationship), value
            if isinstance(value, neo4j.graph.Path):
                found.extend(value.nodes)
            elif isinstance(value, neo4j.graph.Node):
                found.append(value)
            else:
                found.extend(node for node in value.nodes if node is not None)
    return found


def having(nodes: list[neo4j.graph.Node], label: str, key: str) -> set[Any]:
    return {node[key] for node in nodes if label in node.labels}


def union(rows: list[dict[str, Any]], key: str) -> set[str]:
    return {name for row in rows for name in row[key]}


def held_versions(repo: Repository, branch: str) -> set[str]:
    """The ids of the page versions the head of ``branch`` holds (the targets of its HAS_PAGE)."""
    pages = repo.snapshots.list_dir(repo.tree_of(branch), "pages")
    return {
        version_id(name.removesuffix(".md"), blob) for name, blob in pages.items() if name.endswith(".md")
    }


#: (the repository, the parameters, the nodes the phrase draws, the rows of its query file)
Check = Callable[[Repository, dict[str, str], list[neo4j.graph.Node], list[dict[str, Any]]], None]


def check_history(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    page = params["page"]
    assert having(nodes, "Commit", "short_id") == {row["commit"] for row in rows}
    assert having(nodes, "Actor", "name") == {row["actor"] for row in rows}
    assert having(nodes, "Branch", "name") == union(rows, "branches")
    assert having(nodes, "PageVersion", "page") == {page}


def check_pages_changed(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    actor = params["actor"]
    assert having(nodes, "Page", "id") == {row["page"] for row in rows}
    assert having(nodes, "Actor", "id") == {actor}
    assert {c.id for c in repo.iter_log(branches(repo), actor=actor)} >= having(nodes, "Commit", "id")


def check_alternates(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    assert having(nodes, "PageVersion", "page") == {row["alternate"] for row in rows}
    assert having(nodes, "Branch", "name") == union(rows, "branches")
    held = set().union(*(held_versions(repo, branch) for branch in having(nodes, "Branch", "name")))
    assert having(nodes, "PageVersion", "id") <= held


def check_reading_order(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    branch = params["branch"]
    assert having(nodes, "PageVersion", "page") == {row["page"] for row in rows}
    assert having(nodes, "PageVersion", "title") == {row["title"] for row in rows}
    # Only the branch's own versions: a FOLLOWS must not lead to another branch's version of a page.
    assert having(nodes, "PageVersion", "id") == held_versions(repo, branch)


def check_pages_between(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    assert having(nodes, "Page", "id") == {row["page"] for row in rows}
    assert having(nodes, "Branch", "name") <= {params["a"], params["b"]}
    drawn = having(nodes, "PageVersion", "id")
    held = held_versions(repo, params["a"]) ^ held_versions(repo, params["b"])
    assert drawn == held  # each side's versions the other side lacks, and nothing else


def check_proposals_voted(
    repo: Repository, params: dict[str, str], nodes: list[neo4j.graph.Node], rows: list[dict[str, Any]]
) -> None:
    assert having(nodes, "Proposal", "number") == {row["number"] for row in rows}
    assert having(nodes, "Actor", "id") <= {params["actor"]}
    assert having(nodes, "Branch", "name") == {row["target"] for row in rows} | {
        row["source"] for row in rows if row["source"] is not None
    }


def actors(repo: Repository) -> list[str]:
    return [actor.id for actor in repo.list_actors("main")]


def one(name: str, values: Callable[[Repository], list[str]]) -> Callable[[Repository], list[dict[str, str]]]:
    return lambda repo: [{name: value} for value in values(repo)]


def branch_pairs(repo: Repository) -> list[dict[str, str]]:
    return [{"a": a, "b": b} for a in branches(repo) for b in branches(repo)]


#: Search phrase -> (the parameters to try, what the drawing must show).
CHECKS: dict[str, tuple[Callable[[Repository], list[dict[str, str]]], Check]] = {
    "history of page $page": (one("page", all_pages), check_history),
    "pages changed by $actor": (one("actor", actors), check_pages_changed),
    "alternates of $page": (one("page", all_pages), check_alternates),
    "reading order of $branch": (one("branch", branches), check_reading_order),
    "pages changed between branch $a and $b": (branch_pairs, check_pages_between),
    "proposals voted by $actor": (one("actor", actors), check_proposals_voted),
}
SAMPLES: dict[str, dict[str, str]] = {
    "history of page $page": {"page": "the-vault-door"},
    "pages changed by $actor": {"actor": "london-fox"},
    "alternates of $page": {"page": "the-reckoning"},
    "reading order of $branch": {"branch": "alt-ending"},
    "pages changed between branch $a and $b": {"a": "main", "b": "alt-ending"},
    "proposals voted by $actor": {"actor": "london-fox"},
}


@pytest.mark.neo4j
def test_search_phrases_answer_their_queries(perspective: dict[str, Any], demo: DemoGraph) -> None:
    phrases = templates(perspective)
    assert set(CHECKS) == set(PHRASES)
    for text, (values, check) in CHECKS.items():
        cypher = phrases[text]["cypher"]
        sample = demo.records(cypher, **SAMPLES[text])
        assert sample, f"{text}: nothing for {SAMPLES[text]}"
        for params in values(demo.source):
            records = demo.records(cypher, **params)
            check(demo.source, params, graph_elements(records), demo.query(PHRASES[text], **params))


@pytest.mark.neo4j
@pytest.mark.parametrize("text", [t["text"] for t in load_perspective()["templates"]])
def test_search_phrase_passes_explain(perspective: dict[str, Any], demo: DemoGraph, text: str) -> None:
    """The server plans the phrase (EXPLAIN) and names nothing the database lacks (no notification of an
    unknown label, type or property)."""
    template = templates(perspective)[text]
    server = demo.store.server
    with server.driver.session(database=server.location.database) as session:
        params = {p["name"].removeprefix("$"): "x" for p in template["params"]}
        summary = session.run("EXPLAIN " + template["cypher"], params).consume()
    assert summary.plan is not None and summary.plan["operatorType"].startswith("ProduceResults"), text
    assert summary.summary_notifications == [], (text, summary.summary_notifications)
