"""The life of a proposal on every backend: opened, voted on, decided, executed (or not), closed."""

from __future__ import annotations

import pytest

from narrative_vcs import governance
from narrative_vcs.errors import BadInput, MergeConflicts, NotFound, Refused
from narrative_vcs.governance import GOVERNANCE_BRANCH, NarrativeChange
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .story import DOOR, T0, edit_main, make_story


def test_a_proposal_that_passes_merges_its_source_into_the_target(
    repo: Repository, writer: Writer, changes: list[NarrativeChange]
) -> None:
    fork = make_story(writer)
    number = governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    assert number == 1
    opened = governance.show(repo, 1)
    assert (opened.status, opened.source_head, opened.target_head) == ("open", fork.side, fork.main)
    assert (opened.opened, opened.closes, opened.proposer) == (T0, T0 + 86_400, "ada")
    assert repo.branch_head("main") == fork.main

    after_one = governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 10)
    assert after_one.status == "open" and after_one.tally.voters == 1
    assert repo.branch_head("main") == fork.main and changes == []

    final = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 20)
    assert final.status == "executed"
    assert final.result is not None and final.result.status == "merged" and not final.result.rechecked
    merge = repo.commit_info("main")
    assert merge.id == final.result.commit
    assert merge.parents == (fork.main, fork.side)
    assert merge.kind == "merge" and merge.actor == "ada" and merge.time == T0 + 20
    assert merge.trailers["Gvcs-Proposal"] == "1"
    assert "was stood open" not in repo.read_page("door").body and "stood open" in repo.read_page("door").body
    assert [c.to_json()["type"] for c in changes] == ["narrative.change.v1"]
    assert (changes[0].branch, changes[0].commit, changes[0].previous) == ("main", merge.id, fork.main)

    history = list(repo.walk([GOVERNANCE_BRANCH]))
    assert [c.kind for c in history] == [
        "proposal.executed",
        "proposal.vote",
        "proposal.vote",
        "proposal.opened",
    ]
    assert final.commit == history[0].id
    root = history[-1]
    assert root.parents == ()
    files = {path for path, _ in repo.snapshots.walk(root.tree)}
    assert files == {"proposals/1.yaml", "actors/ada.yaml"}  # governance history is its own
    assert repo.read_file("proposals/1.yaml", "main") is None


def test_the_proposal_file_and_its_json(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    state = governance.vote(repo, 1, actor="bot", choice="no", now=T0 + 5)
    data = state.to_json()
    assert data["number"] == 1 and data["status"] == "open" and data["hearing"] is False
    assert data["votes"] == [
        {"actor": "bot", "choice": "no", "stake": 0, "weight": 1.0, "time": T0 + 5, "stake_commit": None}
    ]
    assert data["tally"] == {
        "voters": 1,
        "yes": 0.0,
        "no": 1.0,
        "share": 0.0,
        "quorum": 2,
        "quorum_reached": False,
        "threshold": 0.5,
        "passing": False,
    }
    assert data["rules"] == {
        "quorum": 2,
        "threshold": 0.5,
        "window": 86400,
        "weight": "one-actor-one-vote",
        "stake": "burn",
        "ledger": "main",
    }
    assert data["result"] is None and data["commit"] == repo.branch_head(GOVERNANCE_BRANCH)
    text = repo.read_file("proposals/1.yaml", GOVERNANCE_BRANCH)
    assert text is not None and text.startswith(b"number: 1\nstatus: open\nsource: side\n")
    assert governance.list_proposals(repo) == [governance.show(repo, 1)]
    assert governance.list_proposals(repo, status="executed") == []


def test_a_proposal_that_can_no_longer_pass_is_rejected_at_once(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer)  # four actors, quorum 2, more than half of yes needed
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    assert governance.vote(repo, 1, actor="bot", choice="no", now=T0 + 1).status == "open"
    assert governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2).status == "open"  # 1 of 2
    state = governance.vote(repo, 1, actor="dot", choice="no", now=T0 + 3)  # at best 2 of 4: not more
    assert state.status == "rejected"
    assert state.result is not None and "can no longer exceed" in state.result.reason
    assert repo.branch_head("main") == fork.main
    with pytest.raises(Refused, match="proposal 1 is rejected: voting has ended"):
        governance.vote(repo, 1, actor="ada", choice="yes", now=T0 + 4)


def test_a_tie_does_not_pass_and_the_window_closes_it(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer, window=3600)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    assert governance.vote(repo, 1, actor="cal", choice="no", now=T0 + 2).status == "open"  # 50% is not more
    assert governance.close_expired(repo, now=T0 + 3599) == []
    assert governance.close_expired(repo, now=T0 + 3600) == [1]
    state = governance.show(repo, 1)
    assert state.status == "rejected" and state.result is not None
    assert state.result.reason == "window ended: the yes share did not exceed the threshold"
    assert repo.branch_head("main") == fork.main
    assert governance.close_expired(repo, now=T0 + 9999) == []  # closed stays closed


def test_a_proposal_without_quorum_expires(repo: Repository, writer: Writer) -> None:
    make_story(writer, window=60)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    with pytest.raises(Refused, match="proposal 1 is expired: voting has ended"):
        governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 60)  # closes it first
    state = governance.show(repo, 1)
    assert state.status == "expired" and state.tally.voters == 1
    assert repo.commit_info(GOVERNANCE_BRANCH).kind == "proposal.executed"
    with pytest.raises(Refused, match="proposal 1 is expired"):
        governance.execute(repo, 1, now=T0 + 61)


def test_one_vote_per_actor(repo: Repository, writer: Writer) -> None:
    make_story(writer, quorum=3)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    head = repo.branch_head(GOVERNANCE_BRANCH)
    with pytest.raises(Refused, match="bot already voted yes on proposal 1: one vote per actor"):
        governance.vote(repo, 1, actor="bot", choice="no", now=T0 + 2)
    assert repo.branch_head(GOVERNANCE_BRANCH) == head


def test_target_moved_and_clean_is_merged_on_the_new_head(
    repo: Repository, writer: Writer, changes: list[NarrativeChange]
) -> None:
    fork = make_story(writer, protected=False)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    moved = edit_main(writer, "hall", "A short hall.")
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed" and state.result is not None
    assert state.result.rechecked and state.result.target_head == moved
    assert repo.commit_info("main").parents == (moved, fork.side)
    assert repo.read_page("hall").body.strip() == "A short hall."
    assert "stood open" in repo.read_page("door").body
    assert changes[0].previous == moved


def test_target_moved_into_a_conflict_fails_naming_the_paths(repo: Repository, writer: Writer) -> None:
    make_story(writer, protected=False)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    moved = edit_main(writer, "door", DOOR.replace("was shut", "was bricked up"))
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "failed" and state.result is not None
    assert state.result.status == "conflicts" and state.result.conflicts == ("pages/door.md",)
    assert state.result.rechecked and "pages/door.md" in state.result.reason
    assert repo.branch_head("main") == moved


def test_target_moved_into_a_conflict_the_resolutions_settle(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer, protected=False)
    governance.propose(
        repo, "side", "main", actor="ada", message="Open it", resolutions={"pages/door.md": "theirs"}, now=T0
    )
    moved = edit_main(writer, "door", DOOR.replace("was shut", "was bricked up"))
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed" and state.result is not None and state.result.status == "merged"
    assert repo.commit_info("main").parents == (moved, fork.side)
    assert "stood open" in repo.read_page("door").body and "bricked" not in repo.read_page("door").body


def test_a_second_proposal_is_rechecked_after_the_first_moved_the_protected_target(
    repo: Repository, writer: Writer
) -> None:
    fork = make_story(writer)
    repo.create_branch("other", fork.main)
    writer.page("door", DOOR.replace("was shut", "was bricked up"), branch="other", title="Door")
    governance.propose(repo, "side", "main", actor="ada", message="Open it", now=T0)
    governance.propose(repo, "other", "main", actor="bot", message="Brick it up", now=T0 + 1)
    for actor in ("bot", "cal"):
        governance.vote(repo, 1, actor=actor, choice="yes", now=T0 + 2)
    first = repo.branch_head("main")
    governance.vote(repo, 2, actor="cal", choice="yes", now=T0 + 3)
    second = governance.vote(repo, 2, actor="dot", choice="yes", now=T0 + 4)
    assert second.status == "failed" and second.result is not None
    assert second.result.rechecked and second.result.conflicts == ("pages/door.md",)
    assert repo.branch_head("main") == first


def test_a_conflicting_merge_needs_resolutions_to_be_proposed(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer, protected=False)
    edit_main(writer, "door", DOOR.replace("was shut", "was bricked up"))
    with pytest.raises(MergeConflicts, match=r"conflicts in pages/door\.md"):
        governance.propose(repo, "side", "main", actor="ada", message="Open it", now=T0)
    assert repo.branch_head(GOVERNANCE_BRANCH) is None
    aliased = b"---\ntitle: &t Door\ntags: [*t]\n---\nx\n"
    for bad, message in [
        ({"pages/door.md": aliased}, r"pages/door\.md:2: YAML anchors"),
        ({"pages/door.md": "theirs", "ledger.yaml": b"balances: {ada: 1}\n"}, r"ledger\.yaml merges as"),
    ]:
        with pytest.raises(BadInput, match=message):  # voters vote on a merge that can be made
            governance.propose(repo, "side", "main", actor="ada", message="Open it", resolutions=bad, now=T0)
    assert repo.branch_head(GOVERNANCE_BRANCH) is None
    content = DOOR.replace("was shut", "was bricked up, then opened").encode()
    page = b"---\ntitle: Door\nfollows: []\nalternate_of: null\ntags: []\nglyphs: []\n---\n" + content + b"\n"
    governance.propose(
        repo, "side", "main", actor="ada", message="Open it", resolutions={"pages/door.md": page}, now=T0
    )
    assert governance.show(repo, 1).to_json()["resolutions"] == {"pages/door.md": "content"}
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed"
    assert "bricked up, then opened" in repo.read_page("door").body
    assert repo.commit_info("main").parents[1] == fork.side


def test_the_source_as_it_was_when_opened_is_merged(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    writer.page("hall", "A hall nobody voted for.", branch="side", title="Hall")
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    assert repo.commit_info("main").parents[1] == fork.side
    assert repo.read_page("hall").body.strip() == "A long hall."


def test_a_hearing_records_the_decision_and_merges_nothing(
    repo: Repository, writer: Writer, changes: list[NarrativeChange]
) -> None:
    fork = make_story(writer)
    number = governance.propose(repo, None, "main", actor="ada", message="Wake the phoenix?", now=T0)
    assert governance.show(repo, number).hearing
    governance.vote(repo, number, actor="bot", choice="yes", now=T0 + 1)
    state = governance.vote(repo, number, actor="cal", choice="yes", now=T0 + 2)
    assert state.status == "executed" and state.result is not None and state.result.status == "decided"
    assert state.result.commit is None and repo.branch_head("main") == fork.main and changes == []


def test_an_event_id_opens_one_proposal(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    first = governance.propose(repo, "side", "main", actor="ada", message="Open", event_id="ev-1", now=T0)
    again = governance.propose(repo, "side", "main", actor="ada", message="Open", event_id="ev-1", now=T0)
    other = governance.propose(repo, "side", "main", actor="ada", message="Open", event_id="ev-2", now=T0)
    assert (first, again, other) == (1, 1, 2)
    assert repo.commit_info(GOVERNANCE_BRANCH).event_id == "ev-2"


def test_execute_refuses_an_open_proposal_and_runs_a_passed_one_after_its_window(
    repo: Repository, writer: Writer
) -> None:
    make_story(writer, window=100)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    with pytest.raises(Refused, match=r"proposal 1 is open \(0 vote\(s\), quorum 2\)"):
        governance.execute(repo, 1, now=T0 + 1)
    assert governance.execute(repo, 1, now=T0 + 100).status == "expired"


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        ("side", "nowhere", NotFound, "branch 'nowhere' not found"),
        ("nowhere", "main", NotFound, "branch 'nowhere' not found"),
        ("side", "side", BadInput, "not side into itself"),
        ("side", "governance", BadInput, "governance branch holds proposals"),
        ("side", "bad name", BadInput, "invalid branch name"),
    ],
)
def test_bad_proposals_are_refused_in_one_line(
    repo: Repository, writer: Writer, source: str, target: str, error: type[Exception], message: str
) -> None:
    make_story(writer)
    with pytest.raises(error, match=message) as caught:
        governance.propose(repo, source, target, actor="ada", message="Go", now=T0)
    assert "\n" not in str(caught.value)


def test_more_bad_input(repo: Repository, writer: Writer) -> None:
    make_story(writer)
    with pytest.raises(BadInput, match="needs a message"):
        governance.propose(repo, "side", "main", actor="ada", message="  ", now=T0)
    with pytest.raises(NotFound, match=r"unknown actor 'zed': main has no actors/zed\.yaml"):
        governance.propose(repo, "side", "main", actor="zed", message="Go", now=T0)
    with pytest.raises(BadInput, match="unknown side 'mine'"):
        governance.propose(
            repo, "side", "main", actor="ada", message="Go", resolutions={"story.yaml": "mine"}
        )
    repo.create_branch("same", "main")
    with pytest.raises(Refused, match="main already has every commit of same"):
        governance.propose(repo, "same", "main", actor="ada", message="Go", now=T0)
    with pytest.raises(NotFound, match="no proposal 1"):
        governance.vote(repo, 1, actor="bot", choice="yes", now=T0)
    governance.propose(repo, "side", "main", actor="ada", message="Go", now=T0)
    with pytest.raises(BadInput, match="a vote is yes or no, not 'maybe'"):
        governance.vote(repo, 1, actor="bot", choice="maybe", now=T0)
    with pytest.raises(BadInput, match="takes no stake"):
        governance.vote(repo, 1, actor="bot", choice="yes", stake=3, now=T0)
    with pytest.raises(NotFound, match="unknown actor 'zed'"):
        governance.vote(repo, 1, actor="zed", choice="yes", now=T0)
    with pytest.raises(BadInput, match="a proposal number is a whole number from 1"):
        governance.show(repo, 0)


def test_an_interrupted_execution_is_finished_after_the_window(
    repo: Repository, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from narrative_vcs.governance import lifecycle

    fork = make_story(writer, window=600)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", now=T0 + 1)
    carry_out = lifecycle._carry_out

    def crash(*args: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "_carry_out", crash)
    with pytest.raises(KeyboardInterrupt):
        governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 2)
    monkeypatch.setattr(lifecycle, "_carry_out", carry_out)
    assert governance.show(repo, 1).status == "passed" and repo.branch_head("main") == fork.main
    assert governance.close_expired(repo, now=T0 + 599) == []  # its voter may still be at it
    assert governance.close_expired(repo, now=T0 + 600) == [1]
    assert governance.show(repo, 1).status == "executed"
    assert repo.commit_info("main").parents == (fork.main, fork.side)
