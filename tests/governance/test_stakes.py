"""Stake-weighted votes on every backend: weight sqrt(stake), the stake burned or locked in ledger.yaml."""

from __future__ import annotations

import math

import pytest

from narrative_vcs import governance
from narrative_vcs.errors import BadInput, Refused
from narrative_vcs.governance import GOVERNANCE_BRANCH
from narrative_vcs.repository import Repository
from tests.conftest import Writer

from .story import T0, ledger_of, make_story

BALANCES = {"ada": 9, "bot": 4, "cal": 1, "dot": 2}


def test_stakes_weigh_by_their_square_root_and_are_burned(repo: Repository, writer: Writer) -> None:
    fork = make_story(writer, ledger=dict(BALANCES), weight="stake", stake="burn")
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    state = governance.vote(repo, 1, actor="bot", choice="yes", stake=4, now=T0 + 1)
    assert state.votes["bot"].weight == 2.0 and state.status == "open"
    txn = repo.commit_info("main")
    assert txn.kind == "gift.txn.v1" and txn.actor == "bot" and txn.parents == (fork.main,)
    assert txn.event == {"type": "stake.burn", "actor": "bot", "amount": 4, "proposal": 1}
    assert ledger_of(repo) == {**BALANCES, "bot": 0}
    state = governance.vote(repo, 1, actor="cal", choice="no", stake=1, now=T0 + 2)
    assert state.tally.yes == 2.0 and state.tally.no == 1.0  # 4 tokens against 1 weigh 2 against 1
    assert state.status == "executed"
    assert ledger_of(repo) == {**BALANCES, "bot": 0, "cal": 0}  # burned: gone for good
    merge = repo.commit_info("main")
    assert merge.kind == "merge" and merge.parents[1] == fork.side
    assert repo.commit_info("main~1").kind == "gift.txn.v1"


def test_locked_stakes_come_back_when_the_proposal_closes(repo: Repository, writer: Writer) -> None:
    make_story(writer, ledger=dict(BALANCES), weight="stake", stake="lock", window=600)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="ada", choice="yes", stake=9, now=T0 + 1)
    assert ledger_of(repo)["ada"] == 0
    state = governance.vote(repo, 1, actor="dot", choice="no", stake=2, now=T0 + 2)
    assert state.status == "executed"  # 3 against sqrt(2)
    assert state.result is not None and dict(state.result.returned) == {"ada": 9, "dot": 2}
    assert ledger_of(repo) == BALANCES
    kinds = [c.kind for c in repo.iter_log(["main"])][:4]
    assert kinds == ["gift.txn.v1", "gift.txn.v1", "merge", "gift.txn.v1"]


def test_locked_stakes_come_back_when_the_window_ends(repo: Repository, writer: Writer) -> None:
    make_story(writer, ledger=dict(BALANCES), weight="stake", stake="lock", window=600)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", stake=3, now=T0 + 1)
    assert ledger_of(repo)["bot"] == 1
    assert governance.close_expired(repo, now=T0 + 600) == [1]
    assert governance.show(repo, 1).status == "expired"
    assert ledger_of(repo) == BALANCES


def test_a_stake_beyond_the_balance_is_refused_and_nothing_changes(repo: Repository, writer: Writer) -> None:
    make_story(writer, ledger=dict(BALANCES), weight="stake")
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    main, gov = repo.branch_head("main"), repo.branch_head(GOVERNANCE_BRANCH)
    with pytest.raises(Refused, match=r"cal has 1 token\(s\) in main's ledger.yaml: not enough to stake 5"):
        governance.vote(repo, 1, actor="cal", choice="yes", stake=5, now=T0 + 1)
    with pytest.raises(BadInput, match="weighted by stake: vote with --stake TOKENS"):
        governance.vote(repo, 1, actor="cal", choice="yes", now=T0 + 1)
    with pytest.raises(BadInput, match="a stake is a whole number of tokens"):
        governance.vote(repo, 1, actor="cal", choice="yes", stake=-1, now=T0 + 1)
    assert (repo.branch_head("main"), repo.branch_head(GOVERNANCE_BRANCH)) == (main, gov)
    assert ledger_of(repo) == BALANCES


def test_a_second_vote_is_refused_before_a_stake_is_taken(repo: Repository, writer: Writer) -> None:
    make_story(writer, ledger=dict(BALANCES), weight="stake", quorum=3)
    governance.propose(repo, "side", "main", actor="ada", message="Open the door", now=T0)
    governance.vote(repo, 1, actor="bot", choice="yes", stake=1, now=T0 + 1)
    with pytest.raises(Refused, match="already voted"):
        governance.vote(repo, 1, actor="bot", choice="yes", stake=1, now=T0 + 2)
    assert ledger_of(repo)["bot"] == 3


def test_diminishing_returns() -> None:
    rules = governance.GovernanceRules(weight="stake")
    assert [rules.vote_weight(s) for s in (1, 4, 9, 100)] == [1.0, 2.0, 3.0, 10.0]
    assert rules.vote_weight(2) == math.sqrt(2)
    assert governance.GovernanceRules().vote_weight(100) == 1.0
