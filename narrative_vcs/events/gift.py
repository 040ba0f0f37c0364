"""``gift.txn.v1``: gift tokens minted, sent and burnt; balances in ``ledger.yaml``, never negative.

- mint: ``to`` gets ``amount`` new tokens. Who may mint: the actors story.yaml lists in ``gift.minters``;
  without that setting, every human actor.
- transfer: the acting actor sends ``amount`` of their own tokens to ``to``.
- burn: the acting actor destroys ``amount`` of their own tokens.

Only an actor's own tokens can be sent or burnt (``from``, when given, must be the acting actor). The
balance is read from the tip the transaction is applied on, so concurrent transactions never conflict
and never overdraw. ``ledger.yaml`` keeps any other keys it has; balances are written sorted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BadInput, Refused
from ..merge.contents import LEDGER_PATH, read_counters
from .model import Event
from .settings import minters
from .state import Plan, Tip

if TYPE_CHECKING:
    from ..repository import Repository

__all__ = ["TOPIC", "balances", "plan"]

TOPIC = "gift.txn.v1"


def balances(repo: Repository, rev: str) -> dict[str, int]:
    """The balances of ``ledger.yaml`` at a revision (empty without a ledger)."""
    return read_counters(LEDGER_PATH, repo.read_file(LEDGER_PATH, rev))


def plan(tip: Tip, event: Event) -> Plan:
    from ..repository import ChangeSet

    payload, actor = event.payload, event.actor
    op, amount = payload["op"], payload["amount"]
    ledger = tip.counters(LEDGER_PATH)
    if op == "mint":
        _check_minter(tip, actor)
        to = payload["to"]
        tip.require_actor(TOPIC, to, "recipient")
        ledger[to] = ledger.get(to, 0) + amount
        message = f"Mint {_tokens(amount)} for {to}"
    else:
        source = payload.get("from", actor)
        verb = "send" if op == "transfer" else "burn"
        if source != actor:
            raise Refused(f"{TOPIC}: {actor} cannot {verb} {source}'s tokens: only one's own tokens")
        have = ledger.get(source, 0)
        if have < amount:
            raise Refused(f"{TOPIC}: {source} has {_tokens(have)}, cannot {verb} {amount}")
        ledger[source] = have - amount
        if op == "transfer":
            to = payload["to"]
            if to == source:
                raise BadInput(f"{TOPIC}: payload.to: {actor} cannot send tokens to themselves")
            tip.require_actor(TOPIC, to, "recipient")
            ledger[to] = ledger.get(to, 0) + amount
            message = f"{source} sends {_tokens(amount)} to {to}"
        else:
            message = f"{source} burns {_tokens(amount)}"
    return Plan(tip.put_yaml(ChangeSet(), LEDGER_PATH, _ledger(tip, ledger)), message)


def _check_minter(tip: Tip, actor: str) -> None:
    allowed = minters(tip)
    if allowed is not None:
        if actor not in allowed:
            shown = ", ".join(allowed) or "nobody"
            raise Refused(f"{TOPIC}: {actor} may not mint: story.yaml gift.minters lists {shown}")
    elif tip.require_actor(TOPIC, actor).kind != "human":
        raise Refused(f"{TOPIC}: {actor} may not mint: only human actors mint (or those in gift.minters)")


def _ledger(tip: Tip, ledger: dict[str, int]) -> dict[str, Any]:
    document: dict[str, Any] = {"balances": dict(sorted(ledger.items()))}
    current = tip.yaml(LEDGER_PATH) or {}
    if "balances" in current:  # keep the ledger's other keys; the flat form becomes `balances`
        document.update((k, v) for k, v in current.items() if k != "balances")
    return document


def _tokens(n: int) -> str:
    return f"{n} token" if n == 1 else f"{n} tokens"
