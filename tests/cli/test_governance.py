"""Governance through real ``gvcs`` processes: protect main, propose, vote, execute, list and show."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .conftest import Gvcs, ok, one_line_error

PROTECTED = "main is protected: open a proposal (gvcs propose SOURCE --into main) (rule: protected-branches)"


def governed(gvcs: Gvcs, story: Path, settings: str) -> None:
    """Add the actor cal, write story.yaml with ``settings`` and commit; make branch ``side`` edit
    the page ``second``; back on main."""
    ok(gvcs("actor", "add", "cal", "--name", "Cal", cwd=story))
    (story / "story.yaml").write_text(f"title: Night Shift\nprotected: [main]\n{settings}", encoding="utf-8")
    ok(gvcs("commit", "-m", "Protect main", cwd=story, actor="mara"))
    ok(gvcs("switch", "-c", "side", cwd=story))
    with (story / "pages" / "second.md").open("a", encoding="utf-8") as f:
        f.write("\nThe side branch speaks.\n")
    ok(gvcs("commit", "-m", "Side words", cwd=story, actor="bot"))
    ok(gvcs("switch", "main", cwd=story))


def as_json(text: str) -> object:
    return json.loads(text)


def test_the_governance_life_cycle(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "governance: {quorum: 2}\n")
    main = ok(gvcs("log", "-n", "1", "--json", cwd=story)).out

    # protected: no direct commit, no plain merge
    with (story / "pages" / "opening.md").open("a", encoding="utf-8") as f:
        f.write("\nA direct edit.\n")
    assert one_line_error(gvcs("commit", "-m", "Direct", cwd=story, actor="mara"), 1).endswith(PROTECTED)
    ok(gvcs("switch", "-c", "scratch", cwd=story))
    ok(gvcs("commit", "-m", "Keep it aside", cwd=story, actor="mara"))
    ok(gvcs("switch", "main", cwd=story))
    assert one_line_error(gvcs("merge", "side", cwd=story, actor="mara"), 1).endswith(PROTECTED)

    opened = ok(
        gvcs("propose", "side", "--into", "main", "-m", "Let the side speak", cwd=story, actor="mara")
    )
    assert opened.out.startswith("proposal 1 opened: merge side into main (closes ")
    listing = ok(gvcs("proposals", cwd=story)).out
    assert listing.startswith("#1    open      side -> main  [0/2 votes") and "Let the side speak" in listing

    first = ok(gvcs("vote", "1", "yes", cwd=story, actor="mara"))
    assert first.out.splitlines()[0] == "mara voted yes on proposal 1 (weight 1)"
    assert "proposal 1 is open until" in first.out
    again = one_line_error(gvcs("vote", "1", "no", cwd=story, actor="mara"), 1)
    assert again.endswith("mara already voted yes on proposal 1: one vote per actor")

    deciding = ok(gvcs("vote", "1", "yes", cwd=story, actor="bot"))
    assert "proposal 1 executed: merged side into main as " in deciding.out
    head = as_json(ok(gvcs("log", "-n", "1", "--json", cwd=story)).out)
    assert isinstance(head, list)
    merge = head[0]
    assert merge["kind"] == "merge" and len(merge["parents"]) == 2
    assert merge["parents"][0] == as_json(main)[0]["id"]  # type: ignore[index]
    assert merge["subject"] == "Merge side into main (proposal 1)"
    # the work tree followed main: the merged words are on disk and nothing is left to commit
    assert "The side branch speaks." in (story / "pages" / "second.md").read_text(encoding="utf-8")
    assert ok(gvcs("status", cwd=story)).out.splitlines()[-1] == "nothing to commit, work tree clean"

    shown = as_json(ok(gvcs("proposal", "show", "1", "--json", cwd=story)).out)
    assert isinstance(shown, dict)
    assert shown["status"] == "executed" and shown["result"]["commit"] == merge["id"]
    assert sorted(v["actor"] for v in shown["votes"]) == ["bot", "mara"]  # ordered by time, then actor
    assert shown["tally"]["passing"] is True
    text = ok(gvcs("proposal", "show", "1", cwd=story)).out
    assert "status:   executed" in text and "result:   executed: merged side into main" in text
    governance_log = ok(gvcs("log", "--oneline", "governance", cwd=story)).out.splitlines()
    assert [line.split(" ", 1)[1] for line in governance_log] == [
        f"(governance) Proposal 1 executed: merged as {merge['id'][:10]}",
        "Vote yes on proposal 1: passed",
        "Vote yes on proposal 1",
        "Proposal 1: merge side into main",
    ]

    # a second proposal that two of three actors turn down can no longer pass
    ok(gvcs("propose", "scratch", "--into", "main", "-m", "The direct edit", cwd=story, actor="bot"))
    ok(gvcs("vote", "2", "no", cwd=story, actor="mara"))
    rejected = ok(gvcs("vote", "2", "no", "--json", cwd=story, actor="cal"))
    assert as_json(rejected.out)["status"] == "rejected"  # type: ignore[index]
    closed = one_line_error(gvcs("vote", "2", "yes", cwd=story, actor="bot"), 1)
    assert closed.endswith("proposal 2 is rejected: voting has ended")
    statuses = [p["status"] for p in as_json(ok(gvcs("proposals", "--json", cwd=story)).out)]  # type: ignore[union-attr]
    assert statuses == ["executed", "rejected"]
    assert ok(gvcs("proposals", "--status", "open", cwd=story)).out == "No open proposals.\n"


def test_expired_proposals_close_on_the_next_look(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "governance: {window: 6}\n")
    proposed = gvcs("propose", "side", "--into", "main", "-m", "Quick", "--json", cwd=story, actor="mara")
    opened = as_json(ok(proposed).out)
    ok(gvcs("vote", "1", "yes", cwd=story, actor="bot"))
    time.sleep(max(0.0, opened["closes"] - time.time() + 0.2))  # type: ignore[index]
    assert "expired" in ok(gvcs("proposals", cwd=story)).out
    shown = as_json(ok(gvcs("proposal", "show", "1", "--json", cwd=story)).out)
    assert shown["result"]["reason"] == "window ended: quorum not reached"  # type: ignore[index]


def test_stake_weighted_votes_take_tokens_from_the_ledger(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "governance: {weight: stake, stake: burn}\n")
    for who, amount in (("bot", 9), ("cal", 1), ("mara", 4)):  # tokens come from mints (gift.txn.v1)
        ok(gvcs("gift", "mint", who, str(amount), cwd=story, actor="mara"))
    ok(gvcs("propose", "side", "--into", "main", "-m", "Weighed", cwd=story, actor="mara"))
    short = one_line_error(gvcs("vote", "1", "yes", "--stake", "5", cwd=story, actor="cal"), 1)
    assert short.endswith("cal has 1 token(s) in main's ledger.yaml: not enough to stake 5")
    no_stake = one_line_error(gvcs("vote", "1", "yes", cwd=story, actor="cal"), 2)
    assert no_stake.endswith("proposal 1 is weighted by stake: vote with --stake TOKENS (1 or more)")
    first = ok(gvcs("vote", "1", "no", "--stake", "1", cwd=story, actor="cal"))
    assert first.out.startswith("cal voted no on proposal 1 (weight 1, 1 token(s) staked)")
    assert "cal: 0" in (story / "ledger.yaml").read_text(encoding="utf-8")  # the work tree followed main
    deciding = ok(gvcs("vote", "1", "yes", "--stake", "9", cwd=story, actor="bot"))
    assert "weight 3, 9 token(s) staked" in deciding.out and "proposal 1 executed" in deciding.out
    assert (story / "ledger.yaml").read_text(encoding="utf-8") == "balances: {bot: 0, cal: 0, mara: 4}\n"


def test_governance_input_errors_are_one_line(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "")
    assert "unknown revision" not in one_line_error(gvcs("vote", "1", "yes", cwd=story, actor="mara"), 2)
    one_line_error(gvcs("vote", "1", "maybe", cwd=story, actor="mara"), 2)
    one_line_error(gvcs("propose", "side", "--into", "main", cwd=story, actor="mara"), 2)
    missing = one_line_error(
        gvcs("propose", "nowhere", "--into", "main", "-m", "x", cwd=story, actor="mara"), 2
    )
    assert missing.endswith("branch 'nowhere' not found")
    one_line_error(gvcs("propose", "--into", "main", "-m", "x", cwd=story, actor="mara"), 2)
    one_line_error(gvcs("proposals", "--status", "bogus", cwd=story), 2)
    one_line_error(gvcs("proposal", "show", "7", cwd=story), 2)
    hearing = ok(gvcs("propose", "--hearing", "--into", "main", "-m", "Wake?", cwd=story, actor="mara"))
    assert hearing.out.startswith("proposal 1 opened: hearing on main")
    ok(gvcs("switch", "side", cwd=story))
    (story / "story.yaml").write_text("title: Night Shift\ngovernance: {quorum: 0}\n", encoding="utf-8")
    bad = one_line_error(gvcs("commit", "-m", "Bad rules", cwd=story, actor="mara"), 1)
    assert bad.endswith(
        "story.yaml: governance.quorum must be a whole number of at least 1, not 0 (rule: governance)"
    )


def test_proposal_show_has_what_the_proposal_merges(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "governance: {quorum: 2}\n")
    ok(gvcs("propose", "side", "--into", "main", "-m", "Let the side speak", cwd=story, actor="mara"))
    log = as_json(ok(gvcs("log", "--json", "side", cwd=story)).out)
    assert isinstance(log, list)
    side, fork = log[0]["id"], log[1]["id"]

    text = ok(gvcs("proposal", "show", "1", cwd=story)).out
    diff = text[text.index("\ndiff: ") + 1 :].splitlines()
    assert diff[0] == f"diff: what side brings to main, {fork[:10]}..{side[:10]} (1 file(s))"
    assert diff[1] == "modified pages/second.md"
    assert "    The side branch speaks." in diff
    assert "\ndiff: " not in ok(gvcs("proposal", "show", "1", "--no-diff", cwd=story)).out

    shown = as_json(ok(gvcs("proposal", "show", "1", "--json", cwd=story)).out)
    assert isinstance(shown, dict)
    assert (shown["diff"]["basis"], shown["diff"]["old"], shown["diff"]["new"]) == ("merge-base", fork, side)
    (change,) = shown["diff"]["changes"]
    assert (change["path"], change["kind"], change["status"]) == ("pages/second.md", "page", "modified")
    assert [p["new"] for p in change["paragraphs"] if p["op"] == "inserted"] == ["The side branch speaks."]
    assert "diff" not in as_json(ok(gvcs("proposal", "show", "1", "--json", "--no-diff", cwd=story)).out)  # type: ignore[operator]

    ok(gvcs("vote", "1", "yes", cwd=story, actor="mara"))
    ok(gvcs("vote", "1", "yes", cwd=story, actor="bot"))
    merged = as_json(ok(gvcs("proposal", "show", "1", "--json", cwd=story)).out)
    assert isinstance(merged, dict)
    merge = merged["result"]["commit"]
    assert (merged["diff"]["basis"], merged["diff"]["new"]) == ("merged", merge)
    assert [c["path"] for c in merged["diff"]["changes"]] == ["pages/second.md"]
    text = ok(gvcs("proposal", "show", "1", cwd=story)).out
    assert (
        f"diff: what the merge changed on main, {merged['diff']['old'][:10]}..{merge[:10]} (1 file(s))"
        in text
    )


def test_proposal_show_of_a_hearing_has_no_diff(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story, "governance: {quorum: 2}\n")
    ok(gvcs("propose", "--hearing", "--into", "main", "-m", "Shall we?", cwd=story, actor="mara"))
    assert "\ndiff: " not in ok(gvcs("proposal", "show", "1", cwd=story)).out
    shown = as_json(ok(gvcs("proposal", "show", "1", "--json", cwd=story)).out)
    assert isinstance(shown, dict)
    assert shown["diff"] == {"basis": "hearing", "old": None, "new": None, "changes": []}
