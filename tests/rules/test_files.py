"""narrative_vcs/rules/files.py: where files live, what they are, their size, and that they parse."""

from __future__ import annotations

import pytest

from narrative_vcs.gate import RuleBroken
from narrative_vcs.objects import Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.snapshot import store_path
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move, raw_tree

PAGE = Page("hall", "Hall", "A hall.").serialise()


def refused(story: Repository, forged: str, message: str) -> None:
    before = head(story)
    with pytest.raises(RuleBroken, match=message):
        move(story, "main", forged)  # type: ignore[arg-type]
    assert head(story) == before


def test_a_story_holds_regular_files_only(story: Repository) -> None:
    base = head(story)
    tree = story.commits.get(base).tree
    link = raw_tree(story, tree, {store_path("pages/leak.md"): ("120000", b"/etc/passwd")})
    refused(
        story,
        forge(story, base, tree=link),
        r"pages/./[^ ]*leak.md is a symbolic link: a story holds regular files only",
    )
    module = raw_tree(story, tree, {"vendor": ("160000", base.encode())})
    refused(story, forge(story, base, tree=module), r"vendor is a submodule")
    executable = raw_tree(story, tree, {"notes.txt": ("100755", b"run me\n")})
    move(story, "main", forge(story, base, tree=executable))  # a regular file all the same


def test_pages_live_where_the_store_shards_them(story: Repository) -> None:
    base = head(story)
    tree = story.commits.get(base).tree
    flat = raw_tree(story, tree, {"pages/hall.md": ("100644", PAGE)})
    where = store_path("pages/hall.md")
    refused(
        story,
        forge(story, base, tree=flat),
        rf"pages/hall.md: page hall is stored at {where} \(pages are sharded",
    )
    wrong = raw_tree(story, tree, {"pages/0/0/hall.md": ("100644", PAGE)})
    refused(story, forge(story, base, tree=wrong), rf"page hall is stored at {where}")
    odd = raw_tree(story, tree, {"actors/team/ada.yaml": ("100644", b"name: Ada\n")})
    refused(story, forge(story, base, tree=odd), r"actors/team/ada.yaml: actors/ holds <actor-id>.yaml files")
    proposal = raw_tree(story, tree, {"proposals/one.yaml": ("100644", b"number: 1\n")})
    refused(
        story, forge(story, base, tree=proposal), r"proposals/one.yaml: proposals/ holds <number>.yaml files"
    )


def test_files_are_no_larger_than_the_story_allows(story: Repository, writer: Writer) -> None:
    big = Page("hall", "Hall", "x" * (1 << 20)).serialise()
    refused(
        story,
        forge(story, head(story), {"pages/hall.md": big}),
        r"pages/hall.md is 1,048,64\d bytes, more than the story's limit of 1,048,576 "
        r"\(story.yaml limits.file_bytes\)",
    )
    record = story.read_story_record()
    assert record is not None
    writer.commit(
        ChangeSet().set_story(Story(record.title, (*record.settings, ("limits", {"file_bytes": 2 << 20}))))
    )
    move(story, "main", forge(story, head(story), {"pages/hall.md": big}))
    with pytest.raises(RuleBroken, match=r"story.yaml: limits.file_bytes must be a whole number from 1 to"):
        writer.commit(ChangeSet().set_story(Story(record.title, (("limits", {"file_bytes": -1}),))))
    with pytest.raises(RuleBroken, match=r"story.yaml: actors.join must be open or closed, not 'maybe'"):
        writer.commit(ChangeSet().set_story(Story(record.title, (("actors", {"join": "maybe"}),))))


BOMB = b"""---
title: Boom
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]
---
Boom.
"""


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("pages/boom.md", BOMB, r"pages/boom.md:3: YAML anchors \(&name\) are not allowed"),
        (
            "pages/tag.md",
            b"---\ntitle: !!str Tag\n---\nx\n",
            r"pages/tag.md:2: YAML tags \(!tag\) are not allowed",
        ),
        ("actors/zed.yaml", b"name: &n Zed\nalias: *n\n", r"actors/zed.yaml:1: YAML anchors"),
        ("pages/bad.md", b"no front matter\n", r"pages/bad.md:1: front matter must start with a '---' line"),
        ("story.yaml", b"title: [unclosed\n", r"story.yaml:\d: invalid YAML"),
    ],
)
def test_files_parse_as_plain_yaml(story: Repository, path: str, data: bytes, message: str) -> None:
    refused(story, forge(story, head(story), {path: data}), message + r".*\(rule: files\)$")
