"""Ingesting events on every backend: one commit per event, idempotent ids, order, and each topic's state."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from narrative_vcs.errors import BadInput, NotFound, NothingToCommit, Refused
from narrative_vcs.events import Event, Ingested, balances, ingest, ingest_many, preview, spores
from narrative_vcs.events import proposals as proposals_module
from narrative_vcs.events.model import EventConflict
from narrative_vcs.graph.git import GitObjectStore, GitRefStore
from narrative_vcs.merge.contents import read_counters
from narrative_vcs.objects import Glyph, Page, Story
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.types import ObjectId
from tests.conftest import Backend, Writer

GLYPHS = [
    {"id": "key", "rotation": 90, "opcode": "create_branch", "args": {"name": "vault-{n}"}},
    {"id": "key", "rotation": 180, "opcode": "tag_head", "args": {"name": "turned-{n}-{actor}"}},
    {"id": "ink", "rotation": 0, "opcode": "emit", "args": {"body": "Ink, turn {n}, by {actor}."}},
    {
        "id": "vote",
        "rotation": 0,
        "opcode": "open_proposal",
        "args": {"source": "draft", "message": "Take it"},
    },
]
STORY = Story("Night Shift", (("glyphs", GLYPHS), ("phoenix", {"restarts": 2, "minutes": 10})))
T0 = 1_800_000_000


def mint(to: str, amount: int, *, actor: str = "ada", id: str | None = None, **kw: Any) -> Event:
    return Event.new("gift.txn.v1", actor, {"op": "mint", "to": to, "amount": amount}, id=id, **kw)


def send(to: str, amount: int, *, actor: str, id: str | None = None) -> Event:
    return Event.new("gift.txn.v1", actor, {"op": "transfer", "to": to, "amount": amount}, id=id)


@pytest.fixture
def story(repo: Repository, writer: Writer) -> Repository:
    """ada (human), bot (agent), cal (human); pages prologue and door (with a glyph); the glyph table."""
    writer.setup()
    changes = ChangeSet().set_story(STORY).upsert_page(Page("prologue", "Prologue", "It begins."))
    changes.upsert_page(Page("door", "Door", "The door.", ("prologue",), glyphs=(Glyph("key", 90),)))
    writer.commit(changes, message="The story")
    return repo


def head(repo: Repository, branch: str = "main") -> ObjectId:
    found = repo.branch_head(branch)
    assert found is not None
    return found


# --- one commit per event ------------------------------------------------------------------------------


def test_an_event_is_one_commit_with_its_trailers(story: Repository) -> None:
    before = head(story)
    event = mint("ada", 5, id="gift-1", time=T0)
    result = ingest(story, event)
    assert result == Ingested(event, "main", head(story), False, None)
    info = story.commits.get(head(story))
    assert info.parents == (before,)
    assert (info.kind, info.actor, info.event_id, info.event) == (
        "gift.txn.v1",
        "ada",
        "gift-1",
        {"op": "mint", "to": "ada", "amount": 5},
    )
    assert info.time == T0
    assert info.subject == "Mint 5 tokens for ada"
    assert [c.path for c in story.changes(info.id)] == ["ledger.yaml"]
    assert story.read_file("ledger.yaml", "main") == b"balances: {ada: 5}\n"
    assert result.to_json() == {
        "event_id": "gift-1",
        "topic": "gift.txn.v1",
        "actor": "ada",
        "branch": "main",
        "commit": info.id,
        "duplicate": False,
        "error": None,
    }


def test_resending_an_id_makes_no_second_commit(story: Repository) -> None:
    first = ingest(story, mint("ada", 5, id="e1"))
    ingest(story, mint("cal", 1, id="e2"))
    tip = head(story)
    again = ingest(story, mint("ada", 5, id="e1"))
    assert again.duplicate and again.commit == first.commit and again.error is None
    assert head(story) == tip
    assert balances(story, "main") == {"ada": 5, "cal": 1}


def test_an_id_twice_in_one_batch_is_committed_once(story: Repository) -> None:
    results = ingest_many(story, [mint("ada", 5, id="same"), mint("cal", 2), mint("ada", 5, id="same")])
    assert [r.duplicate for r in results] == [False, False, True]
    assert results[2].commit == results[0].commit
    assert balances(story, "main") == {"ada": 5, "cal": 2}


def test_a_second_repository_object_sees_the_ids_of_the_first(story: Repository, backend: Backend) -> None:
    ingest(story, mint("ada", 5, id="e1"))
    other = Repository(backend.objects, backend.refs, backend.access)
    assert ingest(other, mint("ada", 5, id="e1")).duplicate
    ingest(other, mint("cal", 1, id="e2"))
    assert ingest(story, mint("cal", 1, id="e2")).duplicate
    assert balances(story, "main") == {"ada": 5, "cal": 1}


def test_two_stores_on_one_git_directory_share_the_ids(git_backend: Backend, tmp_path: Path) -> None:
    repo = Repository(git_backend.objects, git_backend.refs)
    repo.set_head_branch("main")
    writer = Writer(repo)
    writer.setup()
    assert git_backend.git_dir is not None
    first = ingest(repo, mint("ada", 5, id="e1"))
    other = Repository(GitObjectStore(git_backend.git_dir), GitRefStore(git_backend.git_dir))
    try:
        again = ingest(other, mint("ada", 5, id="e1"))
        assert again.duplicate and again.commit == first.commit
    finally:
        other.close()


def test_an_id_on_another_branch_is_not_a_duplicate_here(story: Repository) -> None:
    story.create_branch("side", "main")
    on_side = ingest(story, mint("ada", 5, id="e1", branch="side", time=T0))
    on_main = ingest(story, mint("ada", 5, id="e1", time=T0 + 1))
    assert not on_main.duplicate and on_main.commit != on_side.commit


def test_the_same_id_for_another_payload_is_a_conflict(story: Repository) -> None:
    first = ingest(story, mint("ada", 5, id="e1"))
    assert first.commit is not None
    tip = head(story)
    with pytest.raises(EventConflict) as caught:
        ingest(story, mint("ada", 6, id="e1"))
    conflict = caught.value
    assert (conflict.code, conflict.exit_code, conflict.commit, conflict.differs) == (
        "CONFLICT",
        1,
        first.commit,
        ["payload"],
    )
    assert str(conflict) == (
        f"event e1 is already on main as {first.commit[:10]} with a different payload: nothing was "
        "committed; send this event with a new id"
    )
    assert head(story) == tip and balances(story, "main") == {"ada": 5}
    with pytest.raises(EventConflict):
        preview(story, mint("ada", 6, id="e1"))  # refused before anything is looked at or written
    assert ingest(story, mint("ada", 5, id="e1")).duplicate  # the event itself is still a duplicate


@pytest.mark.parametrize(
    ("again", "differs"),
    [
        (mint("cal", 5, actor="ada", id="e1"), ["payload"]),
        (mint("ada", 5, actor="cal", id="e1"), ["actor"]),
        (
            Event.new("agent.emit.v1", "ada", {"page": "door", "body": "x"}, "main", id="e1"),
            ["topic", "payload"],
        ),
        (
            Event.new("agent.emit.v1", "bot", {"page": "door", "body": "x"}, "main", id="e1"),
            ["topic", "actor", "payload"],
        ),
    ],
)
def test_a_conflict_names_what_differs(story: Repository, again: Event, differs: list[str]) -> None:
    ingest(story, mint("ada", 5, id="e1"))
    (result,) = ingest_many(story, [again])
    assert isinstance(result.error, EventConflict) and result.error.differs == differs
    assert (result.commit, result.duplicate) == (None, False)
    assert f"with a different {' and '.join(differs)}:" in str(result.error)


def test_a_duplicate_does_not_depend_on_key_order_or_time(story: Repository) -> None:
    first = ingest(story, mint("ada", 5, id="e1", time=T0))
    reordered = Event.new(
        "gift.txn.v1", "ada", {"amount": 5, "to": "ada", "op": "mint"}, id="e1", time=T0 + 60
    )
    again = ingest(story, reordered)
    assert again.duplicate and again.commit == first.commit and again.error is None


def test_an_id_twice_in_one_batch_with_different_payloads(story: Repository) -> None:
    events = [mint("ada", 5, id="same"), mint("ada", 7, id="same"), mint("ada", 5, id="same")]
    results = ingest_many(story, events)
    assert results[0].commit is not None and not results[0].duplicate
    assert isinstance(results[1].error, EventConflict) and results[1].error.commit == results[0].commit
    assert results[1].commit is None
    assert results[2].duplicate and results[2].commit == results[0].commit
    assert balances(story, "main") == {"ada": 5}


def test_a_deep_payload_is_one_line_bad_input() -> None:
    payload: dict[str, object] = {"op": "mint", "to": "ada", "amount": 1}
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(BadInput, match=r"^gift\.txn\.v1: payload: nested deeper than 64 levels$"):
        Event.new("gift.txn.v1", "ada", {**payload, "memo": deep})
    text = '{"topic": "gift.txn.v1", "id": "x", "actor": "ada", "payload": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(BadInput, match=r"^event: nested deeper than 64 levels$"):
        Event.from_json(text)
    with pytest.raises(BadInput, match=r"^event: larger than 1 MiB$"):
        Event.from_json(" " * (1024 * 1024) + "{}")


def test_events_of_one_actor_keep_their_order(story: Repository) -> None:
    # cal can only send what ada sent first, and bot only what cal sent: each needs the one before
    events = [
        mint("ada", 10, id="1"),
        send("cal", 6, actor="ada", id="2"),
        mint("cal", 1, id="3"),
        send("bot", 7, actor="cal", id="4"),
        Event.new("gift.txn.v1", "bot", {"op": "burn", "amount": 7}, id="5"),
    ]
    results = ingest_many(story, events)
    assert [r.error for r in results] == [None] * 5
    ids = [info.event_id for info in story.walk(["main"], first_parent=True)][:5]
    assert ids == ["5", "4", "3", "2", "1"]
    assert balances(story, "main") == {"ada": 4, "bot": 0, "cal": 0}


def test_a_refused_event_does_not_stop_the_others(story: Repository) -> None:
    results = ingest_many(
        story,
        [mint("ada", 3), send("cal", 5, actor="ada"), mint("zed", 1), send("cal", 2, actor="ada")],
    )
    assert [type(r.error).__name__ for r in results] == ["NoneType", "Refused", "NotFound", "NoneType"]
    assert str(results[1].error) == "gift.txn.v1: ada has 3 tokens, cannot send 5"
    assert results[1].commit is None and results[2].commit is None
    assert balances(story, "main") == {"ada": 1, "cal": 2}


def test_results_follow_the_input_order_across_branches(story: Repository) -> None:
    emit = Event.new("agent.emit.v1", "bot", {"page": "door", "body": "Bot's door."})
    results = ingest_many(story, [mint("ada", 1), emit, mint("cal", 1)])
    assert [r.branch for r in results] == ["main", "agents/bot", "main"]
    assert [r.event for r in results] == [results[0].event, emit, results[2].event]


def test_narrative_change_cannot_be_ingested(story: Repository) -> None:
    event = Event.new("narrative.change.v1", "ada", {"branch": "main", "commit": "a" * 40})
    with pytest.raises(BadInput, match="cannot be ingested"):
        ingest(story, event)


def test_an_unknown_actor_is_refused(story: Repository) -> None:
    with pytest.raises(NotFound, match=r"gift\.txn\.v1: unknown actor 'zed'"):
        ingest(story, mint("ada", 1, actor="zed"))


def test_the_preview_names_the_files_and_writes_nothing(story: Repository) -> None:
    tip = head(story)
    assert preview(story, mint("ada", 1, id="p1")) == ("main", ["ledger.yaml"])
    assert head(story) == tip
    ingest(story, mint("ada", 1, id="p1"))
    assert preview(story, mint("ada", 1, id="p1")) == ("main", [])


# --- gift.txn.v1 ----------------------------------------------------------------------------------------


def test_balances_never_go_negative(story: Repository) -> None:
    ingest(story, mint("ada", 3))
    tip = head(story)
    with pytest.raises(Refused, match=r"^gift\.txn\.v1: ada has 3 tokens, cannot send 5$"):
        ingest(story, send("cal", 5, actor="ada"))
    with pytest.raises(Refused, match=r"^gift\.txn\.v1: ada has 3 tokens, cannot burn 4$"):
        ingest(story, Event.new("gift.txn.v1", "ada", {"op": "burn", "amount": 4}))
    with pytest.raises(Refused, match="cal has 0 tokens, cannot send 1"):
        ingest(story, send("ada", 1, actor="cal"))
    assert head(story) == tip


def test_only_ones_own_tokens_are_sent_or_burnt(story: Repository) -> None:
    ingest(story, mint("cal", 3))
    payload = {"op": "transfer", "from": "cal", "to": "ada", "amount": 1}
    with pytest.raises(Refused, match="ada cannot send cal's tokens"):
        ingest(story, Event.new("gift.txn.v1", "ada", payload))
    with pytest.raises(Refused, match="ada cannot burn cal's tokens"):
        ingest(story, Event.new("gift.txn.v1", "ada", {"op": "burn", "from": "cal", "amount": 1}))
    with pytest.raises(BadInput, match="cannot send tokens to themselves"):
        ingest(story, send("cal", 1, actor="cal"))
    with pytest.raises(NotFound, match="unknown recipient 'zed'"):
        ingest(story, send("zed", 1, actor="cal"))


def test_humans_mint_unless_story_yaml_names_the_minters(story: Repository, writer: Writer) -> None:
    with pytest.raises(Refused, match="bot may not mint: only human actors mint"):
        ingest(story, mint("bot", 1, actor="bot"))
    settings = (*STORY.settings, ("gift", {"minters": ["bot"]}))
    writer.commit(ChangeSet().set_story(Story(STORY.title, settings)))
    assert ingest(story, mint("bot", 1, actor="bot")).commit is not None
    with pytest.raises(Refused, match=r"ada may not mint: story\.yaml gift\.minters lists bot"):
        ingest(story, mint("ada", 1))


def test_the_ledger_keeps_its_other_keys(story: Repository, bare_repo: Repository) -> None:
    # a ledger with a key of its own, written past the rules (a story older than them could hold one)
    Writer(bare_repo, start_time=1_700_009_000).commit(
        ChangeSet().put_file("ledger.yaml", b"balances: {cal: 2}\nnote: kept\n")
    )
    ingest(story, mint("ada", 1))
    assert story.read_file("ledger.yaml", "main") == b"balances: {ada: 1, cal: 2}\nnote: kept\n"


# --- agent.emit.v1 --------------------------------------------------------------------------------------


def test_an_agent_writes_on_its_own_branch_made_from_main(story: Repository) -> None:
    main = head(story)
    replace = {"mode": "replace", "force": True}
    payload = {"page": "door", "body": "The door, by bot.", **replace}
    result = ingest(story, Event.new("agent.emit.v1", "bot", payload))
    assert result.branch == "agents/bot"
    assert story.commits.get(head(story, "agents/bot")).parents == (main,)
    assert head(story) == main
    page = story.read_page("door", "agents/bot")
    assert (page.title, page.body, page.follows, page.glyphs) == (
        "Door",
        "The door, by bot.\n",
        ("prologue",),
        (Glyph("key", 90),),
    )
    payload = {"page": "door", "body": "A second paragraph.", "mode": "append", "tags": ["bot"]}
    ingest(story, Event.new("agent.emit.v1", "bot", payload))
    page = story.read_page("door", "agents/bot")
    assert page.body == "The door, by bot.\n\nA second paragraph.\n" and page.tags == ("bot",)
    assert story.commits.get(head(story, "agents/bot")).subject == "Append to door"


def test_emit_a_new_page_on_a_named_branch(story: Repository) -> None:
    payload = {"page": "hall", "title": "The Hall", "body": "Long.", "follows": ["door"]}
    result = ingest(story, Event.new("agent.emit.v1", "ada", payload, branch="main"))
    assert result.branch == "main"
    assert story.read_page("hall", "main").follows == ("door",)
    assert story.commits.get(head(story)).subject == "Write hall"


def test_emit_refusals(story: Repository) -> None:
    def emit(payload: dict[str, Any], **kw: Any) -> Ingested:
        return ingest(story, Event.new("agent.emit.v1", "bot", payload, **kw))

    with pytest.raises(
        BadInput, match=r"payload\.title: page 'hall' is new on agents/bot, so it needs a title"
    ):
        emit({"page": "hall", "body": "x"})
    with pytest.raises(BadInput, match="page 'nowhere' is linked but does not exist"):
        emit({"page": "door", "body": "x", "follows": ["nowhere"]})
    with pytest.raises(NotFound, match="branch 'drafts' not found"):
        emit({"page": "door", "body": "x"}, branch="drafts")
    emit({"page": "door", "body": "Same.", "mode": "replace", "force": True})
    with pytest.raises(NothingToCommit, match="page door already reads so on agents/bot"):
        emit({"page": "door", "body": "Same.", "mode": "replace", "force": True})


def test_a_protected_branch_refuses_agent_text(story: Repository, writer: Writer) -> None:
    pytest.importorskip("narrative_vcs.governance")
    writer.commit(ChangeSet().set_story(Story(STORY.title, (*STORY.settings, ("protected", ["main"])))))
    with pytest.raises(Refused, match="main is protected"):
        ingest(story, Event.new("agent.emit.v1", "bot", {"page": "door", "body": "x"}, branch="main"))
    assert ingest(story, mint("ada", 1)).commit is not None  # a gift is not a story change


# --- ritual.performed.v1 --------------------------------------------------------------------------------


def ritual(glyph: str, rotation: int, *, actor: str = "ada", page: str | None = None, **kw: Any) -> Event:
    payload: dict[str, Any] = {"glyph": glyph, "rotation": rotation}
    if page is not None:
        payload["page"] = page
    return Event.new("ritual.performed.v1", actor, payload, **kw)


def test_create_branch_at_the_ritual_commit(story: Repository) -> None:
    first = ingest(story, ritual("key", 90))
    second = ingest(story, ritual("key", 90, actor="cal"))
    assert story.branch_head("vault-1") == first.commit
    assert story.branch_head("vault-2") == second.commit
    assert read_counters("rituals.yaml", story.read_file("rituals.yaml", "main")) == {"key@90": 2}
    info = story.commits.get(head(story))
    assert info.subject == "Ritual key at 90°: create branch vault-2"
    assert [c.path for c in story.changes(info.id)] == ["rituals.yaml"]


def test_tag_head_and_emit(story: Repository) -> None:
    tagged = ingest(story, ritual("key", 180, actor="cal"))
    assert story.tags() == {"turned-1-cal": tagged.commit}
    emitted = ingest(story, ritual("ink", 0, page="door"))
    assert story.read_page("door", "main").body == "The door.\n\nInk, turn 1, by ada.\n"  # appended
    assert sorted(c.path for c in story.changes(str(emitted.commit))) == ["pages/door.md", "rituals.yaml"]


def test_unknown_glyph_or_rotation_is_refused(story: Repository) -> None:
    tip = head(story)
    with pytest.raises(Refused, match=r"glyph 'moon' is not in the glyph table \(known: ink, key, vote\)"):
        ingest(story, ritual("moon", 0))
    with pytest.raises(Refused, match="glyph key does nothing at 270°: its known rotations are 90, 180"):
        ingest(story, ritual("key", 270))
    with pytest.raises(NotFound, match=r"payload\.page: page 'nowhere' does not exist"):
        ingest(story, ritual("ink", 0, page="nowhere"))
    assert head(story) == tip


def test_a_ritual_whose_branch_exists_is_refused(story: Repository) -> None:
    story.create_branch("vault-1", "main")
    with pytest.raises(Refused, match="branch vault-1 already exists"):
        ingest(story, ritual("key", 90))


def test_a_resent_ritual_completes_a_missing_branch(story: Repository) -> None:
    event = ritual("key", 90, id="r1")
    first = ingest(story, event)
    story.delete_branch("vault-1")  # as if the writer was killed between the commit and the branch
    again = ingest(story, event)
    assert again.duplicate and again.error is None
    assert story.branch_head("vault-1") == first.commit


def test_open_proposal_is_refused_clearly_without_governance(
    story: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_module, "propose_function", lambda: None)
    story.create_branch("draft", "main")
    tip = head(story)
    with pytest.raises(Refused, match="opcode open_proposal needs governance, which this installation"):
        ingest(story, ritual("vote", 0))
    assert head(story) == tip


class FakeGovernance:
    """``propose`` that opens one proposal per event id, as governance does."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.numbers: dict[str, int] = {}

    def propose(self, repo: Repository, source: str | None, target: str, **kw: Any) -> int:
        self.calls.append({"source": source, "target": target, **kw})
        return self.numbers.setdefault(kw["event_id"], len(self.numbers) + 1)


@pytest.fixture
def governance(monkeypatch: pytest.MonkeyPatch) -> FakeGovernance:
    fake = FakeGovernance()
    monkeypatch.setattr(proposals_module, "propose_function", lambda: fake.propose)
    return fake


def test_open_proposal_calls_governance_once_per_event(story: Repository, governance: FakeGovernance) -> None:
    story.create_branch("draft", "main")
    event = ritual("vote", 0, id="r-vote", time=T0)
    result = ingest(story, event)
    assert governance.calls == [
        {
            "source": "draft",
            "target": "main",
            "actor": "ada",
            "message": "Take it",
            "event_id": "r-vote",
            "now": T0,
        }
    ]
    assert ingest(story, event).duplicate
    assert governance.numbers == {"r-vote": 1}  # asked again by event id: the same proposal
    assert (
        story.commits.get(str(result.commit)).subject == "Ritual vote at 0°: propose merging draft into main"
    )


def test_open_proposal_with_real_governance(story: Repository) -> None:
    governance = pytest.importorskip("narrative_vcs.governance")
    story.create_branch("draft", "main")
    Writer(story, "draft").page("hall", "A hall.")
    ingest(story, ritual("vote", 0, id="r-real"))
    ingest(story, ritual("vote", 0, id="r-real"))
    (proposal,) = governance.list_proposals(story)
    assert (proposal.source, proposal.target, proposal.event_id) == ("draft", "main", "r-real")


# --- infra.spore.v1 and mycelium.decay.v1 --------------------------------------------------------------


def spore(op: str, spore_id: str = "db", *, time: int, **fields: Any) -> Event:
    return Event.new("infra.spore.v1", "cal", {"spore": spore_id, "op": op, **fields}, time=time)


def decay(state: str, spore_id: str = "db", *, time: int, **fields: Any) -> Event:
    return Event.new("mycelium.decay.v1", "cal", {"spore": spore_id, "state": state, **fields}, time=time)


def test_a_spore_lives_on_the_mycelium_branch(story: Repository) -> None:
    main = head(story)
    added = ingest(story, spore("added", time=T0, type="postgres", spec={"size": 2}))
    assert added.branch == "mycelium"
    assert story.commits.get(head(story, "mycelium")).parents == (main,)
    ingest(story, spore("updated", time=T0 + 60, spec={"size": 3}))
    ingest(story, decay("unhealthy", time=T0 + 120, reason="slow disk"))
    record = spores(story, "mycelium")["db"]
    assert record == {
        "type": "postgres",
        "status": "unhealthy",
        "spec": {"size": 3},
        "added": T0,
        "updated": T0 + 120,
        "reason": "slow disk",
        "restarts": [],
        "incident": None,
    }
    ingest(story, spore("removed", time=T0 + 180))
    assert spores(story, "mycelium") == {}
    assert head(story) == main
    kinds = [i.kind for i in story.walk(["mycelium"], first_parent=True)][:4]
    assert kinds == ["infra.spore.v1", "mycelium.decay.v1", "infra.spore.v1", "infra.spore.v1"]


def test_spore_refusals(story: Repository) -> None:
    with pytest.raises(NotFound, match=r"mycelium\.decay\.v1: unknown spore 'ghost' on mycelium"):
        ingest(story, decay("died", "ghost", time=T0))
    with pytest.raises(NotFound, match=r"infra\.spore\.v1: unknown spore 'ghost'"):
        ingest(story, spore("updated", "ghost", time=T0))
    ingest(story, spore("added", time=T0))
    with pytest.raises(Refused, match="spore 'db' already exists on mycelium"):
        ingest(story, spore("added", time=T0))
    ingest(story, spore("removed", time=T0 + 1))
    with pytest.raises(NotFound, match="unknown spore 'db'"):
        ingest(story, decay("restarted", time=T0 + 2))


def restart_times(story: Repository, times: list[int]) -> list[str]:
    subjects = []
    for t in times:
        result = ingest(story, decay("restarted", time=t))
        subjects.append(story.commits.get(str(result.commit)).subject)
    return subjects


def test_phoenix_opens_one_hearing_per_incident(story: Repository, governance: FakeGovernance) -> None:
    ingest(story, spore("added", time=T0))
    minute = 60
    # restarts: 2 within 10 minutes are fine; the third starts an incident; more during it add to it
    subjects = restart_times(story, [T0 + minute, T0 + 2 * minute, T0 + 3 * minute, T0 + 4 * minute])
    assert subjects[2] == "Spore db restarted: 3 restarts within 10 minutes, incident and hearing"
    assert len(governance.calls) == 1
    call = governance.calls[0]
    assert (call["source"], call["target"], call["now"]) == (None, "mycelium", T0 + 3 * minute)
    assert call["message"] == "Hearing: spore db restarted 3 times within 10 minutes"
    record = spores(story, "mycelium")["db"]
    assert record["incident"] == {
        "since": T0 + 3 * minute,
        "event": call["event_id"],
        "restarts": 4,
        "hearing": True,
    }
    assert len(record["restarts"]) == 3  # only what the rule needs: X + 1
    # quiet for an hour: the next restart ends the incident; a new storm is a new incident
    later = T0 + 60 * minute
    subjects = restart_times(story, [later, later + minute, later + 2 * minute])
    assert subjects[0] == "Spore db restarted (incident over)"
    assert len(governance.calls) == 2
    assert spores(story, "mycelium")["db"]["incident"]["since"] == later + 2 * minute


def test_phoenix_without_governance_records_the_incident(
    story: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals_module, "propose_function", lambda: None)
    ingest(story, spore("added", time=T0))
    subjects = restart_times(story, [T0 + 1, T0 + 2, T0 + 3])
    assert subjects[2] == "Spore db restarted: 3 restarts within 10 minutes, incident"
    incident = spores(story, "mycelium")["db"]["incident"]
    assert incident["since"] == T0 + 3 and incident["hearing"] is False


def test_a_resent_decay_opens_its_hearing_if_it_is_missing(
    story: Repository, governance: FakeGovernance
) -> None:
    ingest(story, spore("added", time=T0))
    restart_times(story, [T0 + 1, T0 + 2])
    third = decay("restarted", time=T0 + 3)
    ingest(story, third)
    governance.numbers.clear()  # as if the hearing was never opened
    assert ingest(story, third).duplicate
    assert governance.numbers == {third.id: 1}


# --- concurrency: processes and threads ----------------------------------------------------------------


def _ingest_worker(git_dir: str, events: list[dict[str, Any]], batch: int, barrier: Any) -> None:
    repo = Repository(GitObjectStore(Path(git_dir)), GitRefStore(Path(git_dir)))
    parsed = [Event.from_json(e) for e in events]
    barrier.wait(60)
    for at in range(0, len(parsed), batch):
        for result in ingest_many(repo, parsed[at : at + batch]):
            if result.error is not None:
                raise SystemExit(f"{result.event.id}: {result.error}")
    repo.close()


def test_two_processes_interleaving_events_of_different_actors(git_backend: Backend) -> None:
    repo = Repository(git_backend.objects, git_backend.refs)
    repo.set_head_branch("main")
    Writer(repo).setup()
    shared = [mint("bot", 1, id=f"shared-{i}").to_json() for i in range(10)]
    ada = [mint("ada", 1, id=f"ada-{i}").to_json() for i in range(30)]
    cal = [mint("cal", 1, actor="cal", id=f"cal-{i}").to_json() for i in range(30)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=_ingest_worker, args=(str(git_backend.git_dir), ada[:15] + shared + ada[15:], 1, barrier)
        ),
        ctx.Process(
            target=_ingest_worker, args=(str(git_backend.git_dir), cal[:15] + shared + cal[15:], 4, barrier)
        ),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    history = [i.event_id for i in repo.walk(["main"]) if i.event_id]
    assert Counter(history) == Counter(e["id"] for e in ada + cal + shared)
    assert balances(repo, "main") == {"ada": 30, "bot": 10, "cal": 30}
    mine = [i for i in history if i.startswith("cal-")]
    assert mine == sorted(mine, key=lambda i: -int(i[4:]))  # newest first: each actor's order kept


def test_threads_of_one_process_commit_each_event_once(story: Repository) -> None:
    events = [mint("ada" if i % 2 else "cal", 1, id=f"t-{i}") for i in range(40)]
    errors: list[BaseException] = []

    def run(chunk: list[Event]) -> None:
        try:
            for result in ingest_many(story, chunk):
                assert result.error is None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(events[k::3] + events[:5],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    history = [i.event_id for i in story.walk(["main"]) if i.event_id]
    assert sorted(history) == sorted(e.id for e in events)
    assert balances(story, "main") == {"ada": 20, "cal": 20}


KILLED_WRITER = """
import sys
from pathlib import Path
from narrative_vcs.events import Event, ingest
from narrative_vcs.graph.git import GitObjectStore, GitRefStore
from narrative_vcs.repository import Repository

git_dir = Path(sys.argv[1])
repo = Repository(GitObjectStore(git_dir), GitRefStore(git_dir))
for i in range(int(sys.argv[2])):
    event = Event("gift.txn.v1", f"k-{i}", "ada", {"op": "mint", "to": "ada", "amount": 1})
    print(ingest(repo, event).commit, flush=True)
"""


def test_a_killed_writer_then_a_resend_commits_each_event_once(git_backend: Backend) -> None:
    repo = Repository(git_backend.objects, git_backend.refs)
    repo.set_head_branch("main")
    Writer(repo).setup()
    count = 60
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(git_backend.git_dir), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for _ in range(20):  # let it acknowledge some, then kill it in the middle of the others
        assert proc.stdout.readline()
    proc.kill()
    proc.wait(30)
    proc.stdout.close()
    events = [
        Event("gift.txn.v1", f"k-{i}", "ada", {"op": "mint", "to": "ada", "amount": 1}) for i in range(count)
    ]
    assert git_backend.git_dir is not None
    fresh = Repository(GitObjectStore(git_backend.git_dir), GitRefStore(git_backend.git_dir))
    try:
        results = ingest_many(fresh, events)
    finally:
        fresh.close()
    assert [r.error for r in results] == [None] * count
    assert sum(r.duplicate for r in results) >= 20
    history = [i.event_id for i in repo.walk(["main"]) if i.event_id]
    assert sorted(history) == sorted(e.id for e in events)
    assert balances(repo, "main") == {"ada": count}
