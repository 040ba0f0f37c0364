"""``gvcs diff``, ``show`` and ``log -p`` print the semantic diff: fields, links and paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Gvcs, ok

OPENING = """---
title: The Opening
follows: []
alternate_of: null
tags: [act-1]
glyphs: []
---
The night shift starts at nine.

The cat sat on the mat by the door.
"""

REVISED = """---
title: The Real Opening
follows: [second]
alternate_of: second
tags: [act-2]
glyphs: []
---
The night shift starts at nine.

The dog sat on the mat by the door. See [[second]].

A new paragraph.
"""

SEMANTIC_KEYS = {
    "path",
    "kind",
    "id",
    "status",
    "old",
    "new",
    "title",
    "fields",
    "links",
    "paragraphs",
    "problem",
}


def _edit(gvcs: Gvcs, story: Path) -> None:
    """Commit OPENING, then leave REVISED in the work tree."""
    page = story / "pages" / "opening.md"
    page.write_text(OPENING)
    # second stops following opening, so that opening may follow second (reading order has no cycle)
    second = story / "pages" / "second.md"
    second.write_text(second.read_text().replace("follows: [opening]", "follows: []"))
    ok(gvcs("--actor", "mara", "commit", "-m", "Opening text", cwd=story))
    page.write_text(REVISED)


def test_diff_prints_fields_links_and_paragraphs(gvcs: Gvcs, story: Path) -> None:
    _edit(gvcs, story)
    out = ok(gvcs("diff", cwd=story)).out
    assert out.splitlines() == [
        "modified pages/opening.md",
        'title: "The Opening" -> "The Real Opening"',
        "tags: +act-2 -act-1",
        "follows: +second",
        "alternate_of: (none) -> second",
        "links: +[[second]]",
        "~ ¶2",
        "    - The cat sat on the mat by the door.",
        "    + The dog sat on the mat by the door. See [[second]].",
        "+ ¶3",
        "    A new paragraph.",
    ]


def test_diff_word_diff(gvcs: Gvcs, story: Path) -> None:
    _edit(gvcs, story)
    out = ok(gvcs("diff", "--word-diff", cwd=story)).out
    assert "~ ¶2\n    The [-cat-]{+dog+} sat on the mat by the door.{+ See [[second]].+}\n" in out


def test_diff_json_has_the_documented_keys(gvcs: Gvcs, story: Path) -> None:
    _edit(gvcs, story)
    data = json.loads(ok(gvcs("diff", "--json", cwd=story)).out)
    assert set(data) == {"from", "to", "changes"} and data["to"] == "worktree"
    [change] = data["changes"]
    assert set(change) == SEMANTIC_KEYS
    assert change["title"] == {"old": "The Opening", "new": "The Real Opening"}
    assert change["fields"] == [{"key": "tags", "old": ["act-1"], "new": ["act-2"]}]
    assert change["links"]["follows"] == {"added": ["second"], "removed": []}
    assert change["links"]["alternate_of"] == {"old": None, "new": "second"}
    assert change["links"]["references"] == {"added": ["second"], "removed": []}
    changed, inserted = change["paragraphs"]
    assert set(changed) == {"op", "old_index", "new_index", "old", "new", "words"}
    assert (changed["op"], changed["old_index"], changed["new_index"]) == ("changed", 2, 2)
    assert {"op": "deleted", "text": "cat"} in changed["words"]
    assert inserted == {
        "op": "inserted",
        "old_index": None,
        "new_index": 3,
        "old": None,
        "new": "A new paragraph.",
        "words": None,
    }


def test_diff_between_revisions_stat_and_lines(gvcs: Gvcs, story: Path) -> None:
    _edit(gvcs, story)
    ok(gvcs("--actor", "mara", "commit", "-m", "Revise", cwd=story))
    out = ok(gvcs("diff", "HEAD~1", "HEAD", cwd=story)).out
    assert out.startswith("modified pages/opening.md\ntitle:")
    assert "1 file(s) changed" in ok(gvcs("diff", "HEAD~1", "HEAD", "--stat", cwd=story)).out
    assert "+title: The Real Opening" in ok(gvcs("diff", "HEAD~1", "HEAD", "--lines", cwd=story)).out


def test_actor_and_story_changes_show_their_keys(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("actor", "add", "fox", "--name", "London Fox", "--kind", "agent", cwd=story))
    (story / "story.yaml").write_text("title: Day Shift\n")
    out = ok(gvcs("diff", cwd=story)).out
    assert "added actors/fox.yaml\nname: London Fox\n" not in out  # values are shown as JSON
    assert 'added actors/fox.yaml\nname: (none) -> "London Fox"\nkind: (none) -> "agent"' in out
    assert 'modified story.yaml\ntitle: "Night Shift" -> "Day Shift"' in out


def test_show_and_log_patch(gvcs: Gvcs, story: Path) -> None:
    _edit(gvcs, story)
    ok(gvcs("--actor", "mara", "commit", "-m", "Revise the opening", cwd=story))
    show = ok(gvcs("show", cwd=story)).out
    assert "Revise the opening" in show and " modified  pages/opening.md" in show
    assert "~ ¶2\n    - The cat sat" in show
    assert "[-cat-]{+dog+}" in ok(gvcs("show", "--word-diff", cwd=story)).out
    log = ok(gvcs("log", "-p", "-n", "2", cwd=story)).out
    first, second = log.split("\ncommit ")
    assert "Revise the opening" in first and 'title: "The Opening" -> "The Real Opening"' in first
    assert "Opening text" in second and "+ ¶2\n    The cat sat on the mat by the door." in second
    assert "[-cat-]{+dog+}" in ok(gvcs("log", "-p", "--word-diff", "-n", "1", cwd=story)).out
    oneline = ok(gvcs("log", "-p", "--oneline", "-n", "1", cwd=story)).out
    assert oneline.split("\n")[0].endswith(" Revise the opening") and "\nmodified pages/opening.md" in oneline
    entries = json.loads(ok(gvcs("log", "-p", "--json", "-n", "1", cwd=story)).out)
    assert set(entries[0]["changes"][0]) == SEMANTIC_KEYS
