"""Stakes: taking gift tokens from ``ledger.yaml`` for a weighted vote, and giving locked ones back.

Each change is a ``gift.txn.v1`` commit on the ledger branch (``governance.ledger``, ``main`` by default)
by the actor whose balance changes, made by compare-and-swap: when another writer moves the branch first,
the balance is read again. A balance never goes below zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BranchMoved, NotFound, Refused
from ..merge.contents import LEDGER_PATH, read_counters
from ..objects import _yaml_dump
from ..types import ObjectId

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["balance", "change_balance"]

_TRIES = 50


def balance(repo: Repository, branch: str, actor: str) -> int:
    """``actor``'s balance in ``branch``'s ledger.yaml (0 without an entry or a ledger)."""
    head = repo.branch_head(branch)
    if head is None:
        return 0
    return read_counters(LEDGER_PATH, repo.read_file(LEDGER_PATH, head)).get(actor, 0)


def change_balance(
    repo: Repository,
    branch: str,
    actor: str,
    delta: int,
    *,
    message: str,
    event: dict[str, Any],
    now: int,
) -> ObjectId:
    """Add ``delta`` (negative: take) to ``actor``'s balance in one ``gift.txn.v1`` commit."""
    from ..repository import ChangeSet

    for _ in range(_TRIES):
        head = repo.branch_head(branch)
        if head is None:
            raise NotFound(f"the ledger branch {branch!r} does not exist")
        data = repo.read_file(LEDGER_PATH, head)
        balances = read_counters(LEDGER_PATH, data)
        have = balances.get(actor, 0)
        if have + delta < 0:
            raise Refused(
                f"{actor} has {have} token(s) in {branch}'s {LEDGER_PATH}: not enough to stake {-delta}"
            )
        balances[actor] = have + delta
        document = _document(data)
        document["balances"] = dict(sorted(balances.items()))
        changes = ChangeSet().put_file(LEDGER_PATH, _yaml_dump(document).encode())
        try:
            return repo.commit(
                branch,
                changes,
                actor=actor,
                message=message,
                expected_head=head,
                kind="gift.txn.v1",
                event=event,
                timestamp=now,
            )
        except BranchMoved:
            continue
    raise Refused(f"{branch} kept moving: the ledger could not be updated; nothing was changed")


def _document(data: bytes | None) -> dict[str, Any]:
    """The ledger's other keys, kept as they are (``balances`` first)."""
    if data is None:
        return {"balances": {}}
    import yaml

    raw = yaml.safe_load(data.decode("utf-8"))
    if not isinstance(raw, dict) or "balances" not in raw:
        return {"balances": {}}  # the flat form (actor: tokens) is rewritten as balances
    return {"balances": {}, **{k: v for k, v in raw.items() if k != "balances"}}
