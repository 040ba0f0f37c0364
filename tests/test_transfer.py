"""Moving history between repositories: run with every backend as destination and as source."""

from __future__ import annotations

from pathlib import Path

import pytest

from narrative_vcs.errors import BranchMoved, NotFound, Refused
from narrative_vcs.graph.git import GitObjectStore, GitRefStore, init_git_dir
from narrative_vcs.objects import Page
from narrative_vcs.refs import MemoryRefStore
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.store import MemoryObjectStore
from narrative_vcs.transfer import copy_branch, missing_commits

from .conftest import Writer


def _memory() -> Repository:
    repo = Repository(MemoryObjectStore(), MemoryRefStore())
    repo.set_head_branch("main")
    return repo


def _git(path: Path) -> Repository:
    init_git_dir(path)
    repo = Repository(GitObjectStore(path), GitRefStore(path))
    repo.set_head_branch("main")
    return repo


def _story(repo: Repository) -> Writer:
    w = Writer(repo)
    w.setup(pages=[Page("prologue", "Prologue", "It begins.")])
    w.page("vault", "The vault door opens.", follows=("prologue",))
    w.page("vault", "The vault door opens slowly.\n\nDust falls.", follows=("prologue",))
    repo.create_branch("side")
    w.page("alt-vault", "The door stays shut.", alternate_of="vault", branch="side")
    w.commit(ChangeSet().delete_page("prologue"), message="Cut the prologue", branch="side")
    return w


def _same_history(a: Repository, b: Repository, branch: str) -> None:
    head = a.branch_head(branch)
    assert b.branch_head(branch) == head
    ids = [c.id for c in a.commits.walk([head])]
    assert [c.id for c in b.commits.walk([head])] == ids
    for info in a.commits.walk([head]):
        assert b.objects.get(info.id) == a.objects.get(info.id)
        for _path, oid in a.snapshots.walk(info.tree):
            assert b.objects.get(oid) == a.objects.get(oid)


def test_push_into_every_backend_then_back(repo: Repository, tmp_path: Path) -> None:
    source = _git(tmp_path / "source.git")
    _story(source)
    for branch in ("main", "side"):
        result = copy_branch(source, repo, branch)
        assert result.new == source.branch_head(branch) and result.old is None
        _same_history(source, repo, branch)
    # the second branch shares history with the first: only its own commits travelled
    assert result.commits == 2
    back = _memory()
    copy_branch(repo, back, "side")
    _same_history(source, back, "side")
    assert back.read_page("alt-vault", "side").alternate_of == "vault"
    assert copy_branch(repo, back, "side").up_to_date


def test_only_missing_objects_travel(repo: Repository) -> None:
    source = _memory()
    w = _story(source)
    copy_branch(source, repo, "main")
    w.page("epilogue", "It ends.")
    result = copy_branch(source, repo, "main")
    # one commit, its page blob and the trees on the way to it (root, pages/, two fan-out levels)
    assert (result.commits, result.objects) == (1, 6)
    assert repo.read_page("epilogue").body == "It ends.\n"


def test_a_transfer_killed_halfway_is_completed_by_the_next(repo: Repository) -> None:
    source = _memory()
    w = Writer(source)
    w.setup()
    for i in range(12):
        w.page(f"p{i}", f"Page {i}.")
    order = missing_commits(source, source.branch_head("main"), repo)
    assert len(order) == 13
    # A transfer that wrote the objects of the first 5 commits and died before moving the ref:
    from narrative_vcs import transfer

    with repo.objects.batch():
        for obj_type, data in transfer._objects_of(source, order[:5]):
            repo.objects.put(obj_type, data)
    assert repo.branch_head("main") is None
    assert len(missing_commits(source, source.branch_head("main"), repo)) == 8
    result = copy_branch(source, repo, "main")
    assert result.commits == 8
    _same_history(source, repo, "main")
    assert repo.fsck().ok


def test_a_diverged_destination_is_refused_and_nothing_moves(repo: Repository) -> None:
    source = _memory()
    _story(source)
    copy_branch(source, repo, "main")
    Writer(repo, start_time=1_800_000_000).page("theirs", "Written there.")
    there = repo.branch_head("main")
    Writer(source, start_time=1_800_000_000).page("ours", "Written here.")
    with pytest.raises(Refused, match="pull"):
        copy_branch(source, repo, "main")
    assert repo.branch_head("main") == there
    forced = copy_branch(source, repo, "main", force=True)
    assert repo.branch_head("main") == forced.new == source.branch_head("main")


def test_a_destination_moved_during_the_transfer_is_reported(repo: Repository) -> None:
    source = _memory()
    _story(source)
    copy_branch(source, repo, "main")
    Writer(source, start_time=1_800_000_000).page("more", "More.")

    def interfere(done: int, total: int) -> None:
        Writer(repo, start_time=1_900_000_000).page("meanwhile", "Meanwhile.")

    with pytest.raises(BranchMoved):
        copy_branch(source, repo, "main", progress=interfere)
    assert repo.read_page("meanwhile").body == "Meanwhile.\n"


def test_a_missing_branch_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFound, match="no branch"):
        copy_branch(_memory(), repo, "main")
