"""``Repository.commit_built`` on every backend: changes computed on the running tip, one ref update."""

from __future__ import annotations

import pytest

from narrative_vcs.errors import BadInput, NothingToCommit
from narrative_vcs.repository import BuiltCommit, ChangeSet, CommitBuilder, Repository
from narrative_vcs.types import ObjectId, RefName

from .conftest import Writer


def counter(repo: Repository, seen: list[ObjectId | None]) -> CommitBuilder:
    """A builder that adds one to ``count`` (a file), read from the tip it is given."""

    def build(tip: ObjectId | None, tree: ObjectId | None) -> BuiltCommit:
        seen.append(tip)
        data = repo.snapshots.read(tree, "count") if tree else None
        value = int(data or b"0") + 1
        return BuiltCommit(ChangeSet().put_file("count", str(value).encode()), "ada", f"Count {value}")

    return build


def test_each_builder_sees_the_tip_of_the_one_before(repo: Repository, writer: Writer) -> None:
    start = writer.setup()
    seen: list[ObjectId | None] = []
    outcomes = repo.commit_built("main", [counter(repo, seen) for _ in range(3)])
    commits = [o.commit for o in outcomes]
    assert seen == [start, commits[0], commits[1]]
    assert [o.parent for o in outcomes] == [start, commits[0], commits[1]]
    assert repo.branch_head("main") == commits[2]
    assert repo.read_file("count", "main") == b"3"
    assert len(repo.refs.reflog(RefName("refs/heads/main"))) == 2  # one update for the group


def test_skipped_and_refused_builders_leave_the_others(repo: Repository, writer: Writer) -> None:
    writer.setup()
    seen: list[ObjectId | None] = []

    def refuse(tip: ObjectId | None, tree: ObjectId | None) -> BuiltCommit:
        raise BadInput("no")

    def empty(tip: ObjectId | None, tree: ObjectId | None) -> BuiltCommit:
        return BuiltCommit(ChangeSet(), "ada", "Nothing")

    builders = [counter(repo, seen), lambda tip, tree: None, refuse, empty, counter(repo, seen)]
    outcomes = repo.commit_built("main", builders)
    assert [o.commit is not None for o in outcomes] == [True, False, False, False, True]
    assert outcomes[1].error is None
    assert isinstance(outcomes[2].error, BadInput) and isinstance(outcomes[3].error, NothingToCommit)
    assert repo.read_file("count", "main") == b"2"


def test_trailers_event_and_time(bare_repo: Repository) -> None:
    repo = bare_repo  # the trailers of a built commit, as the core writes them (no rule replays the event)
    Writer(repo).setup()
    built = BuiltCommit(
        ChangeSet().put_file("count", b"1"),
        "ada",
        "Count",
        "gift.txn.v1",
        {"b": 1, "a": "x"},
        "ev-1",
        {"Gvcs-Follow-Up": "[]"},
        1_800_000_000,
    )
    (outcome,) = repo.commit_built("main", [lambda tip, tree: built])
    info = repo.commits.get(ObjectId(str(outcome.commit)))
    assert info.trailers == {
        "Gvcs-Actor": "ada",
        "Gvcs-Kind": "gift.txn.v1",
        "Gvcs-Event-Id": "ev-1",
        "Gvcs-Event": '{"a":"x","b":1}',
        "Gvcs-Follow-Up": "[]",
    }
    assert info.time == 1_800_000_000


def test_a_new_branch_starts_at_start(repo: Repository, writer: Writer) -> None:
    start = writer.setup()
    seen: list[ObjectId | None] = []
    (outcome,) = repo.commit_built("agents/bot", [counter(repo, seen)], start=start)
    assert seen == [start]
    assert repo.branch_head("agents/bot") == outcome.commit
    assert repo.commits.get(ObjectId(str(outcome.commit))).parents == (start,)


def test_a_moved_branch_makes_every_builder_run_again(repo: Repository, writer: Writer) -> None:
    writer.setup()
    seen: list[ObjectId | None] = []
    heads: list[ObjectId | None] = []

    def before(base: ObjectId | None) -> None:
        heads.append(base)
        if len(heads) == 1:  # another writer moves the branch while the first attempt is worked out
            writer.commit(ChangeSet().put_file("count", b"10"), message="Elsewhere")

    outcomes = repo.commit_built("main", [counter(repo, seen), counter(repo, seen)], before=before)
    assert len(heads) == 2 and heads[1] != heads[0]
    assert seen[2] == heads[1]
    assert repo.read_file("count", "main") == b"12"  # computed again on the moved head
    assert all(o.error is None for o in outcomes)


def test_nothing_built_moves_nothing(repo: Repository, writer: Writer) -> None:
    start = writer.setup()
    outcomes = repo.commit_built("main", [lambda tip, tree: None])
    assert outcomes[0].commit is None and repo.branch_head("main") == start


@pytest.mark.parametrize("count", [1, 5])
def test_group_sizes(repo: Repository, writer: Writer, count: int) -> None:
    writer.setup()
    repo.commit_built("main", [counter(repo, []) for _ in range(count)])
    assert repo.read_file("count", "main") == str(count).encode()
