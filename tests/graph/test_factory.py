"""Creating and opening repositories on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from narrative_vcs.errors import BadInput, NotFound
from narrative_vcs.gate import GatedRefs
from narrative_vcs.graph.factory import (
    GVCS_DIR,
    find_root,
    init_repository,
    load_config,
    open_repository,
    save_config,
)
from narrative_vcs.graph.git import GitObjectStore, GitRefStore
from narrative_vcs.objects import Page

from ..conftest import Writer


def test_init_creates_a_bare_git_repository_with_head_on_main(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    git_dir = tmp_path / "story" / GVCS_DIR
    assert (git_dir / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (git_dir / "objects").is_dir() and (git_dir / "refs" / "heads").is_dir()
    assert isinstance(repo.objects, GitObjectStore) and isinstance(repo.refs, GatedRefs)
    assert isinstance(repo.refs.inner, GitRefStore) and repo.gate.active  # the story's rules hold
    assert repo.head_branch() == "main" and repo.branches() == {}
    assert load_config(tmp_path / "story") == {"store": "git"}


def test_init_on_another_branch(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "s", branch="draft")
    assert repo.head_branch() == "draft"
    with pytest.raises(BadInput):
        init_repository(tmp_path / "t", branch="bad name")


def test_init_refuses_an_existing_repository_or_a_file(tmp_path: Path) -> None:
    init_repository(tmp_path / "story")
    with pytest.raises(BadInput, match="already"):
        init_repository(tmp_path / "story")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        init_repository(tmp_path / "file")


def test_init_in_an_existing_directory_keeps_its_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("keep me")
    init_repository(tmp_path)
    assert (tmp_path / "notes.md").read_text() == "keep me"


def test_open_sees_what_was_committed(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    oid = Writer(repo).setup(pages=[Page("p", "P", "Body")])
    repo.close()
    reopened = open_repository(tmp_path / "story")
    assert reopened.resolve("main") == oid
    assert reopened.read_page("p").body == "Body\n"


def test_open_refuses_a_directory_without_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not a gvcs repository"):
        open_repository(tmp_path)


def test_find_root_walks_up(tmp_path: Path) -> None:
    init_repository(tmp_path / "story")
    deep = tmp_path / "story" / "pages" / "deeper"
    deep.mkdir(parents=True)
    assert find_root(deep) == (tmp_path / "story").resolve()
    assert find_root(tmp_path / "story") == (tmp_path / "story").resolve()
    with pytest.raises(NotFound):
        find_root(tmp_path)


def test_config_round_trips_and_refuses_bad_json(tmp_path: Path) -> None:
    root = tmp_path / "story"
    init_repository(root)
    save_config(root, {"store": "git", "actor": "ada"})
    assert load_config(root) == {"store": "git", "actor": "ada"}
    (root / GVCS_DIR / "gvcs.json").write_text("[1, 2]")
    assert load_config(root) == {}
    (root / GVCS_DIR / "gvcs.json").write_text("{not json")
    with pytest.raises(BadInput):
        load_config(root)
    (root / GVCS_DIR / "gvcs.json").unlink()
    assert load_config(root) == {}
