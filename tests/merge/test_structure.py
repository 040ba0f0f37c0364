"""The structure check of a merge: pages read once through the repository's page records."""

from __future__ import annotations

import pytest

from narrative_vcs.merge.snapshot import merge_trees
from narrative_vcs.objects import Page
from narrative_vcs.repository import ChangeSet, Repository

from ..conftest import Writer


def _story() -> tuple[Repository, Writer]:
    repo = Repository.memory()
    writer = Writer(repo)
    writer.setup(
        pages=[
            Page("prologue", "Prologue", "It was dark.\n"),
            Page("door", "The Door", "The door.\n", follows=("prologue",)),
            Page("fox", "The Fox", "The fox, see [[door]].\n", follows=("prologue",)),
        ]
    )
    repo.create_branch("side", "main")
    return repo, writer


def _trees(repo: Repository) -> tuple[str | None, str, str]:
    ours, theirs = repo.resolve("main"), repo.resolve("side")
    base = repo.merge_base_tree(ours, theirs)
    return base, repo.commits.get(ours).tree, repo.commits.get(theirs).tree


@pytest.mark.parametrize("case", ["clean", "cycle", "gone"])
def test_page_records_give_the_merge_that_parsing_gives(case: str) -> None:
    repo, writer = _story()
    if case == "cycle":
        writer.page("door", "The door.\n", title="The Door", follows=("prologue", "fox"))
        writer.page("fox", "The fox.\n", title="The Fox", follows=("prologue", "door"), branch="side")
    elif case == "gone":
        writer.commit(ChangeSet().delete_page("door"))
        writer.page("coda", "After [[door]].\n", title="Coda", follows=("fox",), branch="side")
    else:
        writer.page("door", "The iron door.\n", title="The Door", follows=("prologue",))
        writer.page("fox", "The red fox.\n", title="The Fox", follows=("prologue",), branch="side")
    base, ours, theirs = _trees(repo)
    parsed = merge_trees(repo.snapshots, base, ours, theirs)  # type: ignore[arg-type]
    read: list[tuple[str, str]] = []

    def record(page_id: str, blob: str) -> Page:
        read.append((page_id, blob))
        return repo.page_record(page_id, blob)  # type: ignore[arg-type]

    shared = merge_trees(repo.snapshots, base, ours, theirs, pages=record)  # type: ignore[arg-type]
    assert shared == parsed
    # Pages are parsed only where the merge changes their front matter (and for pages left out).
    assert (read == []) == (case == "clean")
    assert (not shared.clean) == (case != "clean")
    for page_id, blob in read:  # the gate, checking the merge commit next, finds them parsed
        assert repo.page_record(page_id, blob) is repo.page_record(page_id, blob)  # type: ignore[arg-type]
        assert repo.page_record(page_id, blob) == Page.parse(page_id, repo.read_blob(blob))  # type: ignore[arg-type]
