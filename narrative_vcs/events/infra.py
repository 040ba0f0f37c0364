"""``infra.spore.v1`` and ``mycelium.decay.v1``: the state of the infrastructure, on the mycelium branch.

Each spore is ``infra/spores/<spore>.yaml``::

    type: worker            # from infra.spore.v1 (null if never given)
    status: restarted       # healthy (added), then the last decay state: unhealthy, died, restarted
    spec: {replicas: 2}     # from infra.spore.v1 (any JSON object)
    added: 1795251600       # times are unix seconds: the events' times
    updated: 1795252020
    restarts: [1795251900, 1795252020]   # the recent restarts the phoenix rule needs (bounded)
    incident: {since: 1795252020, event: <event id>, restarts: 4, hearing: true}   # or null

Phoenix rule (story.yaml ``phoenix: {restarts: X, minutes: Y}``): when a restart makes the restarts of a
spore within the last Y minutes more than X, an incident starts: it is recorded in the spore's file and a
hearing (a governance proposal without a source, on the mycelium branch) is opened, keyed by the event
that started the incident, so it opens once. Later restarts during the incident add to its count; the
first decay event of the spore that finds X or fewer restarts within the window closes it (``null``), and
the next storm is a new incident. Without governance the incident is recorded with ``hearing: false``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound, Refused
from .model import Event
from .proposals import governance_available
from .settings import phoenix_rule
from .state import FollowUp, Plan, Tip

if TYPE_CHECKING:
    from ..repository import ChangeSet, Repository

__all__ = ["DECAY", "MYCELIUM", "SPORE", "plan_decay", "plan_spore", "spore_path", "spores"]

SPORE = "infra.spore.v1"
DECAY = "mycelium.decay.v1"
MYCELIUM = "mycelium"
SPORES_DIR = "infra/spores"
#: Restarts kept in a spore's file when story.yaml has no phoenix rule.
KEPT_RESTARTS = 10
_KEYS = ("type", "status", "spec", "added", "updated", "reason", "restarts", "incident")


def spore_path(spore: str) -> str:
    return f"{SPORES_DIR}/{spore}.yaml"


def spores(repo: Repository, rev: str) -> dict[str, dict[str, Any]]:
    """Every spore's record at a revision, by spore id."""
    tree = repo.commits.get(repo.resolve(rev)).tree
    tip = Tip(repo, rev, None, tree, 0)
    found = repo.snapshots.list_dir(tree, SPORES_DIR)
    return {name[:-5]: tip.yaml(f"{SPORES_DIR}/{name}") or {} for name in found if name.endswith(".yaml")}


def plan_spore(tip: Tip, event: Event) -> Plan:
    from ..repository import ChangeSet

    payload = event.payload
    spore, op = payload["spore"], payload["op"]
    path = spore_path(spore)
    record = tip.yaml(path)
    if op == "added":
        if record is not None:
            raise Refused(f"{SPORE}: spore {spore!r} already exists on {tip.branch} (send op updated)")
        record = {"type": None, "status": "healthy", "spec": {}, "added": tip.now, "restarts": []}
    elif record is None:
        raise NotFound(f"{SPORE}: unknown spore {spore!r} on {tip.branch}: add it first (op added)")
    if op == "removed":
        return Plan(ChangeSet().delete_file(path), f"Spore {spore} removed")
    for key in ("type", "spec"):
        if key in payload:
            record[key] = payload[key]
    record["updated"] = tip.now
    kind = f" ({record['type']})" if record.get("type") else ""
    return Plan(_write(tip, path, record), f"Spore {spore}{kind} {op}")


def plan_decay(tip: Tip, event: Event) -> Plan:

    spore, state = event.payload["spore"], event.payload["state"]
    path = spore_path(spore)
    record = tip.yaml(path)
    if record is None:
        raise NotFound(f"{DECAY}: unknown spore {spore!r} on {tip.branch}: add it first ({SPORE} op added)")
    record.update(status=state, updated=tip.now, reason=event.payload.get("reason"))
    restarts = [t for t in record.get("restarts") or [] if isinstance(t, int)]
    if state == "restarted":
        restarts.append(tip.now)
    follow_ups, note = _phoenix(tip, event, record, restarts)
    return Plan(_write(tip, path, record), f"Spore {spore} {state}{note}", tuple(follow_ups))


def _phoenix(
    tip: Tip, event: Event, record: dict[str, Any], restarts: list[int]
) -> tuple[list[FollowUp], str]:
    """Keep the restarts the rule needs; start, count or close an incident. Returns (follow-ups, note)."""
    rule = phoenix_rule(tip)
    if rule is None:
        record["restarts"] = restarts[-KEPT_RESTARTS:]
        return [], ""
    recent = [t for t in restarts if tip.now - t < rule.window]
    record["restarts"] = recent[-(rule.restarts + 1) :]
    incident = record.get("incident")
    storm = len(recent) > rule.restarts
    if not storm:
        record["incident"] = None
        return [], " (incident over)" if incident else ""
    restarted = event.payload["state"] == "restarted"
    if isinstance(incident, dict):
        if restarted:
            incident["restarts"] = int(incident.get("restarts") or 0) + 1
        return [], ""
    hearing = governance_available()
    record["incident"] = {"since": tip.now, "event": event.id, "restarts": len(recent), "hearing": hearing}
    spore = event.payload["spore"]
    message = f"Hearing: spore {spore} restarted {len(recent)} times within {rule.minutes} minutes"
    follow = (
        [FollowUp("propose", {"source": None, "into": tip.branch, "message": message})] if hearing else []
    )
    return follow, f": {len(recent)} restarts within {rule.minutes} minutes, incident" + (
        " and hearing" if hearing else ""
    )


def _write(tip: Tip, path: str, record: dict[str, Any]) -> ChangeSet:
    from ..repository import ChangeSet

    ordered = {k: record.get(k) for k in _KEYS}
    ordered.update((k, v) for k, v in sorted(record.items()) if k not in _KEYS)
    return tip.put_yaml(ChangeSet(), path, ordered)
