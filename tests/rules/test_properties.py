"""Laws of the gate, over random histories: what the engine writes always passes the rules (and fsck
--rules), and any single byte changed in a state file of any commit makes the gate refuse it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narrative_vcs import governance
from narrative_vcs.errors import GvcsError
from narrative_vcs.events import MYCELIUM, Event, balances, ingest, spores
from narrative_vcs.gate import RuleBroken
from narrative_vcs.governance import GOVERNANCE_BRANCH
from narrative_vcs.objects import Actor, Page, Story
from narrative_vcs.refs import RefMove
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.rules import story_rules
from narrative_vcs.rules.state import owner_of
from narrative_vcs.types import ObjectId, RefName
from tests.conftest import Writer

from .forge import forge, move

ACTORS = ("ada", "bot", "cal")
BRANCHES = ("main", "side", "draft")
GLYPHS = [
    {"id": "key", "rotation": 90, "opcode": "tag_head", "args": {"name": "turn-{n}"}},
    {
        "id": "ink",
        "rotation": 180,
        "opcode": "emit",
        "args": {"page": "door", "body": "Ink {n}.", "mode": "append"},
    },
]
T0 = 1_800_000_000

# One step of a story: (operation, actor, branch, number)
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["mint", "send", "burn", "emit", "ritual", "spore", "decay", "merge", "propose", "vote"]
        ),
        st.sampled_from(ACTORS),
        st.sampled_from(BRANCHES),
        st.integers(min_value=1, max_value=9),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class Story_:
    repo: Repository
    writer: Writer
    clock: int = T0
    refused: list[str] = field(default_factory=list)

    def tick(self) -> int:
        self.clock += 60
        return self.clock


def make_story() -> Story_:
    repo = Repository.memory(rules=story_rules())
    writer = Writer(repo)
    actors = (Actor("ada", "Ada"), Actor("bot", "Bot", "agent"), Actor("cal", "Cal"))
    pages = [Page("prologue", "Prologue", "It begins."), Page("door", "Door", "The door.", ("prologue",))]
    writer.setup(*actors, pages=pages)
    settings_ = (
        ("glyphs", GLYPHS),
        ("governance", {"quorum": 2, "window": 3600}),
        ("phoenix", {"restarts": 1, "minutes": 5}),
    )
    writer.commit(ChangeSet().set_story(Story("Random", settings_)))
    repo.create_branch("side")
    repo.create_branch("draft")
    writer.page("side-note", "A side note.", branch="side")  # each branch has something to propose
    writer.page("draft-note", "A draft note.", branch="draft", actor="cal")
    return Story_(repo, writer, clock=writer.time)


def run(story: Story_, op: str, actor: str, branch: str, n: int) -> None:
    """One operation of a writer who follows the rules (the engine may still refuse it: an overdraft, a
    conflict); a refusal by the gate of what the engine wrote is the bug this test looks for."""
    repo, when = story.repo, story.tick()
    have = balances(repo, branch).get(actor, 0) if repo.branch_head(branch) else 0
    spores_now = spores(repo, MYCELIUM) if repo.branch_head(MYCELIUM) else {}
    spore = f"s{n % 2}"
    if op in ("send", "burn") and not have:
        op, actor = "mint", "ada"  # nothing to give yet: ada (a human, so a minter) mints first
    if op == "decay" and spore not in spores_now:
        op = "spore"
    event = {
        "mint": ("gift.txn.v1", {"op": "mint", "to": ACTORS[n % 3], "amount": n}),
        "send": (
            "gift.txn.v1",
            {"op": "transfer", "to": ACTORS[(ACTORS.index(actor) + 1) % 3], "amount": min(n, have)},
        ),
        "burn": ("gift.txn.v1", {"op": "burn", "amount": min(n, have)}),
        "emit": (
            "agent.emit.v1",
            {"page": f"note-{n % 3}", "title": "Note", "body": f"Note {n} by {actor}."},
        ),
        "ritual": (
            "ritual.performed.v1",
            {"glyph": "ink" if n % 2 else "key", "rotation": 180 if n % 2 else 90},
        ),
        "spore": (
            "infra.spore.v1",
            {"spore": spore, "op": "updated" if spore in spores_now else "added", "spec": {"n": n}},
        ),
        "decay": ("mycelium.decay.v1", {"spore": spore, "state": "restarted"}),
    }.get(op)
    if op == "mint" and actor == "bot":
        actor = "cal"  # agents do not mint
    try:
        if event is not None:
            topic, payload = event
            target = None if topic.startswith(("infra", "mycelium")) else branch
            result = ingest(repo, Event(topic, f"e-{when}", actor, payload, target, when))
            assert not isinstance(result.error, RuleBroken), result.error
        elif op == "merge":
            other = BRANCHES[(BRANCHES.index(branch) + 1) % 3]
            repo.merge(branch, other, actor=actor, expected_head=repo.branch_head(branch), timestamp=when)  # type: ignore[arg-type]
        elif op == "propose":
            other = BRANCHES[(BRANCHES.index(branch) + 1) % 3]
            governance.propose(repo, other, branch, actor=actor, message=f"Merge {other}", now=when)
        else:
            numbers = [p.number for p in governance.list_proposals(repo, status="open")]
            if numbers:
                governance.vote(
                    repo, numbers[n % len(numbers)], actor=actor, choice="yes" if n % 3 else "no", now=when
                )
    except RuleBroken:
        raise
    except GvcsError as exc:  # the engine's own refusal: fine, and nothing was written for it
        story.refused.append(str(exc))


@settings(
    max_examples=int(os.environ.get("GVCS_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_what_the_engine_writes_passes_the_gate_and_fsck(ops: list[tuple[str, str, str, int]]) -> None:
    story = make_story()
    for op in ops:
        run(story, *op)
    report = story.repo.fsck_rules()
    assert report.ok, [str(p) for p in report.problems]


@settings(
    max_examples=int(os.environ.get("GVCS_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps, st.data())
def test_one_byte_changed_in_a_state_file_is_refused(
    ops: list[tuple[str, str, str, int]], data: st.DataObject
) -> None:
    story = make_story()
    for op in ops:
        run(story, *op)
    repo = story.repo
    written: list[tuple[ObjectId, str, bytes]] = []
    for head in {*repo.branches().values()}:
        for info in repo.commits.walk([head]):
            if not info.parents:
                continue
            parent = repo.commits.get(info.parents[0]).tree
            for change in repo.snapshots.diff(parent, info.tree):
                if change.new is not None and owner_of(change.path) is not None:
                    written.append((info.id, change.path, repo.read_blob(change.new)))
    if not written:
        return
    commit, path, blob = data.draw(st.sampled_from(sorted(written)))
    at = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    flipped = bytes([blob[at] ^ data.draw(st.integers(min_value=1, max_value=255))])
    info = repo.commits.get(commit)
    changed = blob[:at] + flipped + blob[at + 1 :]
    tree = repo.snapshots.write(info.tree, {path: changed})
    forged = forge(repo, info.parents[0], tree=tree, author=info.actor, kind=info.kind, parents=info.parents,
                   trailers=info.trailers, time=info.time, message=info.message)  # fmt: skip
    # The forged commit goes where its kind belongs, on top of its parent (moved there past the gate).
    branch = GOVERNANCE_BRANCH if info.kind.startswith("proposal.") else "copy"
    ref = RefName(f"refs/heads/{branch}")
    repo._gated.inner.update_many([RefMove(ref, repo.refs.get(ref), info.parents[0])])
    try:
        move(repo, branch, forged)
    except RuleBroken:
        return
    raise AssertionError(f"a byte changed in {path} of {info.kind} commit {commit[:10]} was let through")


def test_the_governance_branch_of_a_random_story_replays() -> None:
    story = make_story()
    for op in [("propose", "ada", "main", 1), ("vote", "bot", "main", 1), ("vote", "cal", "main", 2)]:
        run(story, *op)
    assert story.repo.branch_head(GOVERNANCE_BRANCH) is not None
    assert story.repo.fsck_rules().ok
