"""Issue 6: events through Redis and two Celery workers into a fresh embedded story.

10,000 events of mixed topics from 200 actors, submitted in pieces of 100 (as many clients would):

- ``gift.txn.v1``: each human mints tokens for themself first, then sends small gifts to random actors
  (on ``main``: every gift of every actor goes on one branch);
- ``agent.emit.v1``: agents append notes to their own desk pages (each on its branch ``agents/<id>``);
- ``infra.spore.v1``: spores added and updated on ``mycelium``.

Two ``gvcs worker`` processes (one process each) drain the queue. Figures: events/s from the first
enqueue to the last outcome recorded (right after the commit), the enqueue rate alone, and, from the
history afterwards: duplicates (event ids with more than one commit), losses (submitted events with no
commit) and refusals (none expected: each gift is covered by its sender's own earlier mint). Goal: >= 500
events/s, 0 duplicates, 0 losses.

    python -m bench.events_load [--events 10000] [--workers 2] [--batch 500] [--mix gift:40,agent:40,spore:20]

Needs Redis: ``GVCS_BENCH_REDIS_URL``, else ``GVCS_REDIS_URL``, else the server of ``scripts/redis url``
(``scripts/redis start``). Every key of the run is named after the fresh story, so the server may be shared.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from narrative_vcs.events import Event
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.objects import Actor
from narrative_vcs.repository import ChangeSet
from narrative_vcs.tasks.intake import submit
from narrative_vcs.tasks.keys import Keys, store_id
from narrative_vcs.tasks.pubsub import redis_client
from narrative_vcs.tasks.queue import PartitionQueue

from .util import ROOT, quick, write_result

GOAL_EVENTS_PER_S = 500.0
SEED = 6
PIECE = 100  # events per submit call
MIX = "gift:40,agent:40,spore:20"


def redis_url() -> str:
    url = os.environ.get("GVCS_BENCH_REDIS_URL") or os.environ.get("GVCS_REDIS_URL")
    if url:
        return url
    script = ROOT / "scripts" / "redis"
    status = subprocess.run(
        [sys.executable, str(script), "status"], capture_output=True, text=True, check=False
    )
    if status.returncode != 0:
        raise SystemExit("bench.events_load needs Redis: scripts/redis start (or GVCS_BENCH_REDIS_URL)")
    out = subprocess.run([sys.executable, str(script), "url"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# --- the story and the events ---------------------------------------------------------------------


def make_story(root: Path, humans: int, agents: int) -> tuple[list[str], list[str]]:
    people = [f"human-{i:03d}" for i in range(humans)]
    bots = [f"agent-{i:03d}" for i in range(agents)]
    repo = init_repository(root)
    try:
        changes = ChangeSet()
        for actor in people:
            changes.upsert_actor(Actor(actor, actor.title(), "human"))
        for actor in bots:
            changes.upsert_actor(Actor(actor, actor.title(), "agent", archetype="weaver"))
        repo.commit("main", changes, actor=people[0], message="Set up the story", expected_head=None)
    finally:
        repo.close()
    return people, bots


def parse_mix(text: str) -> tuple[float, float, float]:
    """``gift:40,agent:40,spore:20`` as the cumulative shares of gifts and agent emits (and the total)."""
    shares = {"gift": 0.0, "agent": 0.0, "spore": 0.0}
    for part in text.split(","):
        name, _, weight = part.partition(":")
        if name.strip() not in shares or not weight.strip().replace(".", "", 1).isdigit():
            raise SystemExit(f"--mix: {part!r} is not gift:N, agent:N or spore:N")
        shares[name.strip()] = float(weight)
    total = sum(shares.values())
    if total <= 0:
        raise SystemExit("--mix: the shares add up to nothing")
    return shares["gift"] / total, (shares["gift"] + shares["agent"]) / total, 1.0


def make_events(count: int, people: list[str], bots: list[str], mix: str = MIX) -> list[Event]:
    """``count`` events in the shares of ``mix``, interleaved between actors."""
    gifts, emits, _ = parse_mix(mix)
    rng = random.Random(SEED)
    everyone = people + bots
    minted: dict[str, int] = {}  # tokens each human minted for themself and has not given yet
    spores: list[str] = []
    owned: dict[str, list[str]] = {}
    events: list[Event] = []
    seq: Counter[str] = Counter()

    def next_id(actor: str) -> str:
        seq[actor] += 1
        return f"{actor}.{seq[actor]:05d}"

    while len(events) < count:
        roll = rng.random()
        if roll < gifts:
            giver = rng.choice(people)
            if minted.get(giver, 0) < 5:
                payload: dict[str, Any] = {"op": "mint", "to": giver, "amount": 100}
                minted[giver] = minted.get(giver, 0) + 100
            else:
                amount = rng.randint(1, 5)
                to = rng.choice([a for a in everyone if a != giver][:50] or bots)
                payload = {"op": "transfer", "to": to, "amount": amount, "memo": "thanks"}
                minted[giver] -= amount
            events.append(Event.new("gift.txn.v1", giver, payload, id=next_id(giver)))
        elif roll < emits:
            agent = rng.choice(bots)
            payload = {
                "page": f"desk-{agent}",
                "title": f"Desk of {agent}",
                "body": f"Note {seq[agent] + 1} of {agent}: the loom hums.",
                "mode": "append",
            }
            events.append(Event.new("agent.emit.v1", agent, payload, id=next_id(agent)))
        else:
            actor = rng.choice(everyone)
            own = owned.setdefault(actor, [])  # an actor updates only its own spores: their order holds
            if own and rng.random() < 0.5:
                spore, op = rng.choice(own), "updated"
            else:
                spore, op = f"spore-{len(spores):04d}", "added"
                spores.append(spore)
                own.append(spore)
            spec = {"size": rng.randint(1, 64), "revision": seq[actor] + 1}  # an update always changes it
            payload = {"spore": spore, "op": op, "type": "cache", "spec": spec}
            events.append(Event.new("infra.spore.v1", actor, payload, id=next_id(actor)))
    return events


# --- workers ----------------------------------------------------------------------------------------


def start_workers(root: Path, url: str, count: int, batch: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    gvcs = Path(sys.executable).with_name("gvcs")
    procs = []
    for i in range(count):
        log = open(logs / f"worker-{i}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [
                    str(gvcs),
                    "-C",
                    str(root),
                    "worker",
                    "--redis",
                    url,
                    "--batch",
                    str(batch),
                    "--loglevel",
                    "INFO",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
    deadline = time.monotonic() + 60
    for i, proc in enumerate(procs):
        path = logs / f"worker-{i}.log"
        while "gvcs worker ready" not in path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_workers(procs)
                raise SystemExit(f"worker {i} did not start:\n{path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the run ----------------------------------------------------------------------------------------


def history_counts(root: Path) -> Counter[str]:
    """How many commits carry each event id, over every branch (each commit counted once)."""
    repo = open_repository(root)
    try:
        heads = list(repo.branches().values())
        counts: Counter[str] = Counter()
        for info in repo.commits.walk(heads):
            if info.event_id:
                counts[info.event_id] += 1
        return counts
    finally:
        repo.close()


def run(count: int, workers: int, batch: int, humans: int, agents: int, mix: str = MIX) -> dict[str, Any]:
    url = redis_url()
    with tempfile.TemporaryDirectory(prefix="gvcs-events-load-") as tmp:
        root = Path(tmp) / "story"
        people, bots = make_story(root, humans, agents)
        events = make_events(count, people, bots, mix)
        ids = [e.id for e in events]
        queue = PartitionQueue(redis_client(url), Keys(store_id(str(root))))
        procs = start_workers(root, url, workers, batch, Path(tmp))
        try:
            started = time.perf_counter()
            for at in range(0, len(events), PIECE):
                submit(str(root), events[at : at + PIECE], redis_url=url)
            enqueued = time.perf_counter() - started
            # An actor's events are recorded in the order they were sent (one partition, drained in list
            # order), so the last event of each actor stands for all of its events while waiting.
            last = list({e.actor: e.id for e in events}.values())
            deadline = time.monotonic() + max(300.0, count / 10)
            while time.monotonic() < deadline:
                if all(queue.outcomes(last)):
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            outcomes = queue.outcomes(ids)
            waiting = [i for i, o in enumerate(outcomes) if o is None]
        finally:
            stop_workers(procs)
        counts = history_counts(root)
        statuses = Counter(o["status"] if o else "none" for o in outcomes)
        refusals = [o for o in outcomes if o and o["status"] == "refused"]
        submitted = set(ids)
        committed_ids = {i for i in counts if i in submitted}
        refused_ids = {str(o["event"]) for o in refusals}
        return {
            "events": count,
            "workers": workers,
            "batch": batch,
            "actors": humans + agents,
            "mix": mix,
            "topics": dict(Counter(e.topic for e in events)),
            "seconds": round(elapsed, 3),
            "events_per_s": round(count / elapsed, 1),
            "enqueue_seconds": round(enqueued, 3),
            "enqueue_events_per_s": round(count / enqueued, 1),
            "outcomes": dict(statuses),
            "duplicates": sum(1 for n in counts.values() if n > 1),
            "losses": len(submitted - committed_ids - refused_ids),
            "refused": len(refusals),
            "first_refusals": [o.get("error") for o in refusals[:3]],
            "unfinished": len(waiting),
            "goal_events_per_s": GOAL_EVENTS_PER_S,
        }


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.events_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000 if quick() else 10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--humans", type=int, default=100)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--mix", default=MIX, help=f"shares of the topics (default {MIX})")
    args = parser.parse_args(argv)
    result = run(args.events, args.workers, args.batch, args.humans, args.agents, args.mix)
    result["goal_met"] = (
        result["events_per_s"] >= GOAL_EVENTS_PER_S
        and result["duplicates"] == 0
        and result["losses"] == 0
        and result["unfinished"] == 0
    )
    path = write_result("events_load", result)
    print(
        f"events_load: {result['events']} events, {result['workers']} workers: "
        f"{result['events_per_s']:.0f} events/s ({result['seconds']:.1f} s; enqueue "
        f"{result['enqueue_events_per_s']:.0f}/s), duplicates {result['duplicates']}, "
        f"losses {result['losses']}, refused {result['refused']}, unfinished {result['unfinished']} "
        f"(goal >= {GOAL_EVENTS_PER_S:.0f}/s, 0, 0: {'met' if result['goal_met'] else 'NOT met'})"
    )
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
