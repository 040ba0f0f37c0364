"""A work tree on an embedded store, with a story, an actor and a page written (not committed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from narrative_vcs.graph.factory import init_repository
from narrative_vcs.objects import Actor, Page, Story
from narrative_vcs.worktree import WorkTree


@pytest.fixture
def tree(tmp_path: Path) -> WorkTree:
    repo = init_repository(tmp_path)
    work = WorkTree(tmp_path, repo)
    work.write("story.yaml", Story("Test").serialise())
    work.write("actors/ann.yaml", Actor("ann", "Ann").serialise())
    work.write("pages/one.md", Page("one", "One", "First.").serialise())
    return work
