"""The gate (narrative_vcs/gate.py): every ref move passes it; it checks each new commit once and each
move as a whole, and refuses the whole set of moves otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from narrative_vcs.errors import BranchMoved
from narrative_vcs.gate import CommitCheck, Gate, MoveCheck, Rule, RuleBroken
from narrative_vcs.graph.git import GitObjectStore, GitRefStore, init_git_dir
from narrative_vcs.objects import Page
from narrative_vcs.refs import RefMove, branch_ref, tag_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId, RefName

from .conftest import Writer


class Recorder(Rule):
    """Sees everything; refuses commits whose subject says so and moves of branch ``closed``."""

    name = "recorder"

    def __init__(self) -> None:
        self.commits: list[ObjectId] = []
        self.moves: list[RefMove] = []
        self.landed: list[RefMove] = []

    def check_commit(self, check: CommitCheck) -> None:
        self.commits.append(check.info.id)
        if check.info.subject == "Refuse me":
            check.fail(self.name, "this commit asked to be refused")

    def check_move(self, check: MoveCheck) -> None:
        self.moves.append(check.move)
        if check.move.branch == "closed":
            check.fail(self.name, "closed is closed")

    def moved(self, repo: Repository, moves: Sequence[RefMove]) -> None:  # type: ignore[override]
        self.landed.extend(moves)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def gated(recorder: Recorder) -> Repository:
    return Repository.memory(rules=[recorder])


def test_without_rules_refs_move_freely() -> None:
    repo = Repository.memory()
    writer = Writer(repo)
    head = writer.setup()
    assert not repo.gate.active
    repo.create_branch("any", head)
    assert repo.branch_head("any") == head


def test_each_new_commit_is_checked_once_parents_first(gated: Repository, recorder: Recorder) -> None:
    writer = Writer(gated)
    first = writer.setup()
    second = writer.page("a", "A")
    assert recorder.commits == [first, second]  # each once: before writing, then not again at the move
    assert [m.new for m in recorder.moves] == [first, first, second, second]  # pre-check, then the move
    assert [m.new for m in recorder.landed] == [first, second]


def test_history_a_branch_already_has_is_not_checked_again(gated: Repository, recorder: Recorder) -> None:
    writer = Writer(gated)
    writer.setup()
    for i in range(300):  # longer than the short walk: the history is painted from every branch
        writer.page("a", f"A{i}")
    fork = gated.branch_head("main")
    assert fork is not None
    side = gated.write_commit(
        "side", fork, ChangeSet().upsert_page(Page("b", "B", "b")), actor="ada", message="B"
    )
    fresh = Gate([recorder])  # a gate that remembers nothing it verified
    assert fresh.new_commits(gated, [RefMove(branch_ref("side"), None, side)]) == [gated.commits.get(side)]
    recorder.commits.clear()
    gated.create_branch("copy", fork)
    assert recorder.commits == []  # every commit of the copy is on main already


def test_a_refused_commit_writes_nothing_and_moves_nothing(tmp_path: Path, recorder: Recorder) -> None:
    init_git_dir(tmp_path / "store")
    gated = Repository(GitObjectStore(tmp_path / "store"), GitRefStore(tmp_path / "store"), rules=[recorder])
    gated.set_head_branch("main")
    writer = Writer(gated)
    head = writer.setup()
    objects = set(gated.objects)
    with pytest.raises(RuleBroken, match=r"^commit [0-9a-f]{10} by ada: this commit asked to be refused"):
        writer.commit(ChangeSet().upsert_page(Page("a", "A", "x")), message="Refuse me")
    assert gated.branch_head("main") == head
    assert set(gated.objects) == objects  # the batch was dropped: no pack, no loose object
    assert [m.new for m in recorder.landed] == [head]
    gated.close()


def test_one_refused_move_refuses_every_move_of_an_update(gated: Repository, recorder: Recorder) -> None:
    writer = Writer(gated)
    head = writer.setup()
    moves = [RefMove(branch_ref("open"), None, head), RefMove(branch_ref("closed"), None, head)]
    with pytest.raises(RuleBroken, match=r"^closed is closed \(rule: recorder\)$"):
        gated.refs.update_many(moves)
    assert gated.branches() == {"main": head}
    gated.refs.update_many(moves[:1], who="test", message="open")
    assert gated.branches() == {"main": head, "open": head}


def test_check_asks_without_moving(gated: Repository) -> None:
    head = Writer(gated).setup()
    gated.check_moves([RefMove(branch_ref("side"), None, head)])
    with pytest.raises(RuleBroken):
        gated.check_moves([RefMove(branch_ref("closed"), None, head)])
    assert gated.branches() == {"main": head}


def test_deletes_pass_the_gate_with_the_value_they_remove(gated: Repository, recorder: Recorder) -> None:
    head = Writer(gated).setup()
    gated.refs.add_if_new(tag_ref("v1"), head)
    gated.refs.remove_if_equals(tag_ref("v1"), None)
    assert RefMove(tag_ref("v1"), head, None) in recorder.moves
    with pytest.raises(BranchMoved):
        gated.refs.update_many([RefMove(branch_ref("main"), ObjectId("0" * 40), None)])


def test_a_hook_that_fails_does_not_undo_the_move(gated: Repository, recorder: Recorder) -> None:
    def broken(repo: Repository, moves: Sequence[RefMove]) -> None:
        raise RuntimeError("the announcement failed")

    recorder.moved = broken  # type: ignore[method-assign]
    head = Writer(gated).setup()
    assert gated.branch_head("main") == head


def test_the_audit_lists_every_problem_and_goes_on(gated: Repository, recorder: Recorder) -> None:
    writer = Writer(Repository(gated.objects, gated._gated.inner))  # written past the gate
    writer.setup()
    bad = writer.commit(ChangeSet().upsert_page(Page("a", "A", "x")), message="Refuse me")
    writer.page("b", "B")
    audit = Gate([recorder])
    problems, checked = audit.audit(gated, {branch_ref("main"): gated.branch_head("main")})  # type: ignore[dict-item]
    assert checked == 3
    assert [p.commit for p in problems] == [bad]
    assert "this commit asked to be refused" in str(problems[0])


def test_a_ref_points_at_a_commit_of_the_store(gated: Repository) -> None:
    head = Writer(gated).setup()
    blob = gated.objects.put("blob", b"not a commit")
    with pytest.raises(RuleBroken, match="must point at a commit, not a blob"):
        gated.refs.add_if_new(branch_ref("x"), blob)
    with pytest.raises(RuleBroken, match="no such object"):
        gated.refs.add_if_new(branch_ref("x"), ObjectId("ab" * 20))
    assert gated.branches() == {"main": head}


class Counter(Rule):
    """Counts the commits each move brings, as the move's check sees them."""

    name = "counter"

    def __init__(self) -> None:
        self.brought: list[int] = []

    def check_move(self, check: MoveCheck) -> None:
        self.brought.append(len(check.new_commits))


def _long_source() -> Repository:
    source = Repository.memory()
    writer = Writer(source)
    writer.setup()
    for i in range(10):
        page = Page("a", "A", f"A{i}")
        writer.commit(ChangeSet().upsert_page(page), message="Refuse me" if i == 2 else "Edit")
    return source


def test_a_transfer_checks_its_batches_as_it_writes_them(
    monkeypatch: pytest.MonkeyPatch, gated: Repository, recorder: Recorder
) -> None:
    from narrative_vcs import transfer

    monkeypatch.setattr(transfer, "BATCH_COMMITS", 3)
    source = Repository.memory()
    writer = Writer(source)
    writer.setup()
    for i in range(10):
        writer.page("a", f"A{i}")
    counter = Counter()
    gated.gate.rules.append(counter)
    transfer.copy_branch(source, gated, "main")
    ids = [c.id for c in source.commits.walk([source.branch_head("main")])][::-1]
    assert recorder.commits == ids  # each once, parents first: the batches ahead, then the last at the move
    assert counter.brought == [11]  # the move's own checks still see every commit it brings
    assert gated.branch_head("main") == ids[-1]


def test_a_transfer_whose_early_batch_breaks_a_rule_moves_nothing(
    monkeypatch: pytest.MonkeyPatch, gated: Repository, recorder: Recorder
) -> None:
    from narrative_vcs import transfer

    monkeypatch.setattr(transfer, "BATCH_COMMITS", 2)
    source = _long_source()
    refused = next(c for c in source.commits.walk([source.branch_head("main")]) if c.subject == "Refuse me")
    message = rf"^commit {refused.short_id} by ada: this commit asked to be refused"
    with pytest.raises(RuleBroken, match=message):
        transfer.copy_branch(source, gated, "main")
    assert gated.branch_head("main") is None
    assert recorder.moves == []
    assert recorder.commits.count(refused.id) == 2  # ahead of the move, then by the move's own check


def test_a_pushed_commit_must_be_the_pushers_at_the_store(repo: Repository, writer: Writer) -> None:
    """The authorship rule of pushes lives in the gate (GatedRefs.update_pushed), whatever the wire."""
    base = writer.setup()
    theirs = writer.page("intro", "By bot.", actor="bot")  # written by bot, not on any branch yet
    repo.refs.set_if_equals(RefName("refs/heads/main"), theirs, base)  # main back at base
    move = RefMove(RefName("refs/heads/main"), base, theirs)
    server = Repository(repo.objects, repo._gated.inner)  # another process: its gate has verified nothing
    with pytest.raises(RuleBroken, match=r"must be authored by ada .*rule: authorship"):
        server.update_pushed([move], "ada")
    assert server.branch_head("main") == base
    server.update_pushed([move], "bot")
    assert server.branch_head("main") == theirs
