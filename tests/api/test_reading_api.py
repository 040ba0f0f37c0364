"""GraphQL: readingOrder, Page.wordCount and Branch.wordCount (gvcs read's layout and counts)."""

from __future__ import annotations

from starlette.testclient import TestClient

from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .conftest import Story, data, error_codes, gql

READING = """query($rev: String! = "HEAD", $from: String) { readingOrder(rev: $rev, from: $from) {
    page { id revision wordCount } position section sectionKind depth forksFrom alternateOf forksTo } }"""


def test_reading_order_with_an_alternate_and_a_fork(
    client: TestClient, repo: Repository, writer: Writer, story: Story
) -> None:
    writer.page("hall", "A hall.", follows=("prologue",))
    head = writer.page("cellar", "Down.", follows=("door",))
    found = data(client, READING)["readingOrder"]
    assert [(e["page"]["id"], e["section"], e["position"]) for e in found] == [
        ("prologue", "Main line", 1),
        ("door", "Main line", 2),
        ("door-alt", "Main line", 3),
        ("cellar", "Main line", 4),
        ("hall", "Path B", 5),
    ]
    assert {e["page"]["revision"] for e in found} == {head}
    first, alternate, hall = found[0], found[2], found[4]
    assert first["forksTo"] == ["Path B"] and first["sectionKind"] == "main" and first["depth"] == 0
    assert alternate["alternateOf"] == "door"
    assert (hall["sectionKind"], hall["depth"], hall["forksFrom"]) == ("path", 1, "prologue")
    assert [e["page"]["wordCount"] for e in found] == [5, 5, 5, 1, 2]


def test_reading_order_at_a_revision_and_from_a_page(client: TestClient, story: Story) -> None:
    old = data(client, READING, {"rev": story.prologue})["readingOrder"]
    assert [e["page"]["id"] for e in old] == ["prologue"]
    later = data(client, READING, {"from": "door"})["readingOrder"]
    assert [(e["page"]["id"], e["section"]) for e in later] == [
        ("door", "Main line"),
        ("door-alt", "Main line"),
        ("prologue", "Other pages"),
    ]
    assert error_codes(gql(client, READING, {"from": "nowhere"})) == ["NOT_FOUND"]
    assert error_codes(gql(client, READING, {"rev": "nope"})) == ["NOT_FOUND"]


def test_branch_word_count_is_the_sum_of_its_pages(client: TestClient, writer: Writer, story: Story) -> None:
    writer.page("hall", "A hall of echoes.", follows=("prologue",))
    query = "{ branches { name wordCount } }"
    assert data(client, query)["branches"] == [
        {"name": "alt", "wordCount": 15},
        {"name": "main", "wordCount": 19},
    ]
