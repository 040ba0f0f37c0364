"""narrative_vcs/rules/state.py: state files belong to their events; every event commit is replayed."""

from __future__ import annotations

import json

import pytest

from narrative_vcs.events import Event, balances, ingest
from narrative_vcs.gate import RuleBroken
from narrative_vcs.repository import ChangeSet, Repository
from tests.conftest import Writer

from .conftest import head
from .forge import forge, move

MINT = {"op": "mint", "to": "bot", "amount": 5}


def refused(story: Repository, forged: str, message: str, branch: str = "main") -> None:
    before = story.branch_head(branch)
    with pytest.raises(RuleBroken, match=message):
        move(story, branch, forged)  # type: ignore[arg-type]
    assert story.branch_head(branch) == before


@pytest.mark.parametrize(
    ("path", "writer_"),
    [
        ("ledger.yaml", r"gift.txn.v1 events \(gvcs gift\)"),
        ("rituals.yaml", r"ritual.performed.v1 events \(gvcs ritual\)"),
        ("infra/spores/db.yaml", r"infra.spore.v1 and mycelium.decay.v1 events \(gvcs spore\)"),
        ("proposals/1.yaml", r"governance \(gvcs propose, gvcs vote\)"),
    ],
)
def test_state_files_are_not_edited_by_hand(
    story: Repository, writer: Writer, path: str, writer_: str
) -> None:
    with pytest.raises(
        RuleBroken, match=rf"{path} is written only by {writer_}: an edit commit cannot change it"
    ):
        writer.commit(ChangeSet().put_file(path, b"balances: {ada: 999999}\n"))
    assert story.read_file(path) is None


def test_a_forged_event_fails_its_replay(story: Repository, writer: Writer) -> None:
    base = head(story)
    ledger = b"balances: {bot: 500}\n"
    lie = forge(story, base, {"ledger.yaml": ledger}, kind="gift.txn.v1", event=MINT, event_id="g-1")
    refused(story, lie, r"it changes ledger.yaml otherwise than its gift.txn.v1 event g-1 does when replayed")
    five = {"ledger.yaml": b"balances: {bot: 5}\n"}
    not_a_minter = forge(story, base, five, author="cal", kind="gift.txn.v1", event=MINT, event_id="g-2")
    refused(story, not_a_minter, r"gift.txn.v1: cal may not mint")
    more = {"ledger.yaml": b"balances: {bot: 5}\n", "pages/hall.md": b"---\ntitle: Hall\n---\nSmuggled.\n"}
    refused(
        story,
        forge(story, base, more, kind="gift.txn.v1", event=MINT, event_id="g-3"),
        "it changes pages/hall.md",
    )
    bad = forge(story, base, {"ledger.yaml": b"x"}, kind="gift.txn.v1", event={"op": "mint"}, event_id="g-4")
    refused(story, bad, r"its event does not fit its kind: gift\.txn\.v1: payload")
    honest = forge(
        story, base, {"ledger.yaml": b"balances: {bot: 5}\n"}, kind="gift.txn.v1", event=MINT, event_id="g-5"
    )
    move(story, "main", honest)
    again = forge(
        story,
        honest,
        {"ledger.yaml": b"balances: {bot: 10}\n"},
        kind="gift.txn.v1",
        event=MINT,
        event_id="g-5",
    )
    refused(story, again, r"event g-5 is already in this history")


def test_overdrawing_is_refused_however_the_commit_is_made(story: Repository, writer: Writer) -> None:
    writer.mint({"bot": 5})
    send = {"op": "transfer", "to": "ada", "amount": 500000}
    ledger = {"ledger.yaml": b"balances: {ada: 500000, bot: 0}\n"}
    forged = forge(story, head(story), ledger, author="bot", kind="gift.txn.v1", event=send, event_id="t-1")
    with pytest.raises(RuleBroken, match=r"gift.txn.v1: bot has 5 tokens, cannot send 500000"):
        move(story, "main", forged)
    assert balances(story, "main") == {"bot": 5}


def test_events_cannot_be_cherry_picked_or_reverted(story: Repository, writer: Writer) -> None:
    story.create_branch("side")
    gift = writer.mint({"bot": 5})
    with pytest.raises(RuleBroken, match=r"a gift\.txn\.v1 event commit needs its Gvcs-Event-Id"):
        story.cherry_pick("side", gift, actor="ada", expected_head=head(story, "side"))
    with pytest.raises(RuleBroken, match=r"ledger.yaml is written only by gift.txn.v1 events"):
        story.revert("main", gift, actor="ada", expected_head=head(story))


def test_merged_counters_add_up(story: Repository, writer: Writer) -> None:
    writer.mint({"bot": 5})
    story.create_branch("side")
    writer.mint({"cal": 2}, branch="side")
    writer.mint({"bot": 1})
    ours = head(story)
    outcome = story.merge("main", "side", actor="ada", expected_head=ours)
    assert outcome.status == "merged" and balances(story, "main") == {"bot": 6, "cal": 2}
    keep_ours = forge(story, ours, {}, kind="merge", parents=(ours, head(story, "side")))
    story.refs.set_if_equals(story.refs.get_symbolic("HEAD") or "", head(story), ours)  # type: ignore[arg-type]
    refused(story, keep_ours, r"ledger.yaml is not the merge of its two sides")


def test_rituals_are_replayed_with_their_follow_ups(story: Repository, writer: Writer) -> None:
    ritual = ingest(story, Event("ritual.performed.v1", "r-1", "ada", {"glyph": "key", "rotation": 90}))
    assert ritual.commit is not None and story.branch_head("vault-1") == ritual.commit
    info = story.commits.get(ritual.commit)
    trailers = dict(info.trailers)
    follow = json.loads(trailers["Gvcs-Follow-Up"])
    assert follow == [{"op": "branch", "name": "vault-1"}]
    files = {"rituals.yaml": story.read_file("rituals.yaml", ritual.commit)}
    twin = forge(story, ritual.commit, {"rituals.yaml": b"counts: {key@90: 2}\n"}, kind="ritual.performed.v1",
                 event={"glyph": "key", "rotation": 90}, event_id="r-2",
                 trailers={"Gvcs-Follow-Up": '[{"name":"stolen","op":"tag"}]'})  # fmt: skip
    refused(story, twin, r"its Gvcs-Follow-Up trailer is not what its event calls for")
    assert files["rituals.yaml"] == b'counts: {"key@90": 1}\n'
    emitted = ingest(story, Event("ritual.performed.v1", "r-3", "bot", {"glyph": "ink", "rotation": 180}))
    assert emitted.commit is not None and "Ink by bot." in story.read_page("door").body
