"""Stakes: tokens taken from ``ledger.yaml`` for a weighted vote, and locked ones given back.

A stake is a ``gift.txn.v1`` commit on the ledger branch (``governance.ledger``, ``main`` by default) by
the actor whose balance changes, with the event ``{"type": "stake.burn" | "stake.lock" | "stake.unlock",
"actor", "amount", "proposal"}`` and the event id ``stake.<how>:<proposal>:<actor>``, so each stake is
taken once and given back once. Taking a stake and recording the vote that it weighs land together (see
:func:`narrative_vcs.governance.lifecycle.vote`). A balance never goes below zero.

:func:`stake_changes` is the one computation of a stake's ledger: the engine makes the commit with it,
and the rules replay every stake commit with it (:func:`replay_stake`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, BranchMoved, NotFound, Refused
from ..merge.contents import LEDGER_PATH, read_counters
from ..objects import _yaml_dump, event_trailer, load_yaml
from ..types import ObjectId

if TYPE_CHECKING:
    from ..events.state import Tip
    from ..repository import ChangeSet, Repository

__all__ = [
    "HOWS",
    "balance",
    "replay_stake",
    "return_stake",
    "stake_changes",
    "stake_commit",
    "stake_event_id",
    "stake_payload",
]

HOWS = ("burn", "lock", "unlock")
_VERBS = {"burn": "Burn", "lock": "Lock", "unlock": "Return"}
_TRIES = 50


def balance(repo: Repository, branch: str, actor: str) -> int:
    """``actor``'s balance in ``branch``'s ledger.yaml (0 without an entry or a ledger)."""
    head = repo.branch_head(branch)
    if head is None:
        return 0
    return read_counters(LEDGER_PATH, repo.read_file(LEDGER_PATH, head)).get(actor, 0)


def stake_event_id(how: str, proposal: int, actor: str) -> str:
    return f"stake.{how}:{proposal}:{actor}"


def stake_payload(how: str, actor: str, amount: int, proposal: int) -> dict[str, Any]:
    return {"type": f"stake.{how}", "actor": actor, "amount": amount, "proposal": proposal}


def stake_changes(data: bytes | None, actor: str, delta: int, branch: str) -> ChangeSet:
    """The ledger with ``delta`` added to ``actor``'s balance (other keys kept); Refused below zero."""
    from ..repository import ChangeSet

    balances = read_counters(LEDGER_PATH, data)
    have = balances.get(actor, 0)
    if have + delta < 0:
        raise Refused(
            f"{actor} has {have} token(s) in {branch}'s {LEDGER_PATH}: not enough to stake {-delta}"
        )
    balances[actor] = have + delta
    document = _document(data)
    document["balances"] = dict(sorted(balances.items()))
    return ChangeSet().put_file(LEDGER_PATH, _yaml_dump(document).encode())


def stake_commit(
    repo: Repository,
    branch: str,
    head: ObjectId | None,
    actor: str,
    how: str,
    amount: int,
    proposal: int,
    now: int,
) -> ObjectId:
    """The stake's commit on ``head`` of the ledger branch, written but not yet on the branch."""
    if head is None:
        raise NotFound(f"the ledger branch {branch!r} does not exist")
    delta = amount if how == "unlock" else -amount
    changes = stake_changes(repo.read_file(LEDGER_PATH, head), actor, delta, branch)
    payload = stake_payload(how, actor, amount, proposal)
    return repo.write_commit(
        branch,
        head,
        changes,
        actor=actor,
        message=f"{_VERBS[how]} {amount} token(s) staked on proposal {proposal}",
        kind="gift.txn.v1",
        facts={"Gvcs-Event-Id": stake_event_id(how, proposal, actor), "Gvcs-Event": event_trailer(payload)},
        timestamp=now,
    )


def return_stake(repo: Repository, branch: str, actor: str, amount: int, proposal: int, now: int) -> None:
    """Give back a locked stake, unless the ledger branch already has it back."""
    from ..events.index import index_of

    event_id = stake_event_id("unlock", proposal, actor)
    for _ in range(_TRIES):
        head = repo.branch_head(branch)
        if index_of(repo).find(event_id, head) is not None:
            return
        oid = stake_commit(repo, branch, head, actor, "unlock", amount, proposal, now)
        try:
            repo.move_refs(
                [_move(branch, head, oid)],
                who=f"{actor} <{actor}@actors.gvcs>",
                message=f"stake returned: {event_id}",
            )
        except BranchMoved:
            continue
        return
    raise Refused(f"{branch} kept moving: the stake of {actor} on proposal {proposal} was not given back")


def replay_stake(tip: Tip, actor: str, event_id: str, payload: Mapping[str, Any]) -> ChangeSet:
    """The ledger change a stake commit must make, from its parent (``tip``) and its event: what the
    rules compare the commit with. The stake's link to a vote or a closed proposal is checked where the
    refs move (:mod:`narrative_vcs.rules.governance`)."""
    if set(payload) != {"type", "actor", "amount", "proposal"}:
        raise BadInput("a stake's event has exactly type, actor, amount and proposal")
    kind, amount, proposal = payload["type"], payload["amount"], payload["proposal"]
    how = kind.removeprefix("stake.") if isinstance(kind, str) else ""
    if how not in HOWS or kind != f"stake.{how}":
        raise BadInput(f"unknown stake {kind!r}: use stake.burn, stake.lock or stake.unlock")
    if payload["actor"] != actor:
        raise BadInput(f"a stake moves its own actor's tokens: the event names {payload['actor']!r}")
    for name, value in (("amount", amount), ("proposal", proposal)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInput(f"a stake's {name} is a whole number from 1, not {value!r}")
    if event_id != stake_event_id(how, proposal, actor):
        raise BadInput(f"a stake's event id is {stake_event_id(how, proposal, actor)}, not {event_id!r}")
    delta = amount if how == "unlock" else -amount
    return stake_changes(tip.read(LEDGER_PATH), actor, delta, tip.branch)


def _move(branch: str, head: ObjectId | None, oid: ObjectId) -> Any:
    from ..refs import RefMove, branch_ref

    return RefMove(branch_ref(branch), head, oid)


def _document(data: bytes | None) -> dict[str, Any]:
    """The ledger's other keys, kept as they are (``balances`` first)."""
    if data is None:
        return {"balances": {}}
    raw = load_yaml(data.decode("utf-8", errors="replace"), LEDGER_PATH)
    if not isinstance(raw, dict) or "balances" not in raw:
        return {"balances": {}}  # the flat form (actor: tokens) is rewritten as balances
    return {"balances": {}, **{k: v for k, v in raw.items() if k != "balances"}}
