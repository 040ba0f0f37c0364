"""``gvcs event``, ``gift``, ``ritual`` and ``spore`` through real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Gvcs, ok, one_line_error

GLYPHS = """glyphs:
  - {id: key, rotation: 90, opcode: create_branch, args: {name: "vault-{n}"}}
  - {id: ink, rotation: 0, opcode: emit, args: {page: opening, body: "Ink by {actor}."}}
"""


def test_gift_mint_send_burn_and_balance(gvcs: Gvcs, story: Path) -> None:
    minted = ok(gvcs("gift", "mint", "mara", "5", cwd=story)).out.splitlines()
    assert minted[0].startswith("[main ") and minted[0].endswith("] Mint 5 tokens for mara")
    assert minted[1].startswith(" gift.txn.v1 ") and minted[1].endswith(" by mara")
    ok(gvcs("gift", "send", "bot", "2", "--memo", "for the copy", cwd=story))
    ok(gvcs("gift", "burn", "1", cwd=story))
    assert ok(gvcs("gift", cwd=story)).out == "bot   2\nmara  2\n"
    assert ok(gvcs("gift", "balance", "mara", cwd=story)).out == "mara 2\n"
    data = json.loads(ok(gvcs("gift", "balance", "--json", cwd=story)).out)
    assert data["branch"] == "main" and data["balances"] == {"bot": 2, "mara": 2}
    error = one_line_error(gvcs("gift", "send", "bot", "3", cwd=story), 1)
    assert error == "gvcs: error: gift.txn.v1: mara has 2 tokens, cannot send 3"
    one_line_error(gvcs("gift", "mint", "mara", "-1", cwd=story), 2)
    error = one_line_error(gvcs("--actor", "bot", "gift", "mint", "bot", "1", cwd=story), 1)
    assert "bot may not mint" in error


def test_an_event_id_is_committed_once(gvcs: Gvcs, story: Path) -> None:
    first = ok(gvcs("gift", "mint", "mara", "5", "--id", "m-1", cwd=story)).out
    again = ok(gvcs("gift", "mint", "mara", "5", "--id", "m-1", cwd=story)).out
    short = first[len("[main ") :].split("]")[0]
    assert again == f"duplicate of {short}: event m-1 is already on main\n"
    data = json.loads(ok(gvcs("gift", "mint", "mara", "5", "--id", "m-1", "--json", cwd=story)).out)
    assert data["duplicate"] is True and data["commit"].startswith(short) and data["event_id"] == "m-1"
    assert json.loads(ok(gvcs("gift", "--json", cwd=story)).out)["balances"] == {"mara": 5}


def test_an_event_id_sent_again_for_another_event_is_a_conflict(gvcs: Gvcs, story: Path) -> None:
    first = ok(gvcs("gift", "mint", "mara", "5", "--id", "m-1", cwd=story)).out
    commit = first[len("[main ") :].split("]")[0]
    log = ok(gvcs("log", "--oneline", cwd=story)).out
    error = one_line_error(gvcs("gift", "mint", "mara", "6", "--id", "m-1", cwd=story), 1)
    assert error == (
        f"gvcs: error: event m-1 is already on main as {commit} with a different payload: nothing was "
        "committed; send this event with a new id"
    )
    payload = json.dumps({"op": "mint", "to": "mara", "amount": 5})
    emitted = gvcs(
        "--actor", "bot", "event", "emit", "gift.txn.v1", "--payload", payload, "--id", "m-1", cwd=story
    )
    assert "with a different actor:" in one_line_error(emitted, 1)
    assert ok(gvcs("log", "--oneline", cwd=story)).out == log
    assert json.loads(ok(gvcs("gift", "--json", cwd=story)).out)["balances"] == {"mara": 5}
    again = ok(gvcs("event", "emit", "gift.txn.v1", "--payload", payload, "--id", "m-1", cwd=story)).out
    assert again == f"duplicate of {commit}: event m-1 is already on main\n"


def test_the_work_tree_follows_the_events_of_its_branch(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("gift", "mint", "mara", "5", cwd=story))
    assert (story / "ledger.yaml").read_text() == "balances: {mara: 5}\n"
    assert "nothing to commit, work tree clean" in ok(gvcs("status", cwd=story)).out
    (story / "ledger.yaml").write_text("balances: {mara: 50}\n")
    error = one_line_error(gvcs("gift", "mint", "mara", "1", cwd=story), 1)
    assert "ledger.yaml has uncommitted changes in the work tree" in error
    assert json.loads(ok(gvcs("gift", "--json", cwd=story)).out)["balances"] == {"mara": 5}
    (story / "pages" / "second.md").write_text((story / "pages" / "second.md").read_text() + "\nMine.\n")
    payload = json.dumps({"page": "opening", "body": "Rewritten.", "mode": "replace", "force": True})
    ok(gvcs("event", "emit", "agent.emit.v1", "--payload", payload, "--branch", "main", cwd=story))
    assert (story / "pages" / "opening.md").read_text().endswith("---\nRewritten.\n")
    assert (story / "pages" / "second.md").read_text().endswith("Mine.\n")  # an edit elsewhere is kept


def test_event_emit_and_list(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(
        json.dumps({"page": "opening", "body": "The bot's opening.", "mode": "replace", "force": True})
    )
    out = ok(
        gvcs("--actor", "bot", "event", "emit", "agent.emit.v1", "--payload", f"@{payload}", cwd=story)
    ).out
    assert out.startswith("[agents/bot ") and "] Revise opening\n" in out
    spore = json.dumps({"spore": "db", "op": "added", "type": "pg"})
    ok(gvcs("event", "emit", "infra.spore.v1", "--payload", spore, "--id", "s-1", cwd=story))
    ok(gvcs("gift", "mint", "mara", "1", cwd=story))
    listing = ok(gvcs("event", "list", cwd=story)).out.splitlines()
    # Three branches, commits within the same second: newest first, ties in no promised order.
    assert sorted(line.split()[1] for line in listing) == ["agent.emit.v1", "gift.txn.v1", "infra.spore.v1"]
    (spore_line,) = [line for line in listing if "infra.spore.v1" in line]
    assert spore_line.split()[2:4] == ["s-1", "mara"]
    data = json.loads(ok(gvcs("event", "list", "--topic", "infra.spore.v1", "--json", cwd=story)).out)
    assert [(c["kind"], c["event_id"], c["event"]["type"], c["refs"]) for c in data] == [
        ("infra.spore.v1", "s-1", "pg", ["mycelium"])
    ]
    assert len(json.loads(ok(gvcs("event", "list", "-n", "1", "--json", cwd=story)).out)) == 1
    assert ok(gvcs("event", "list", "--branch", "agents/bot", cwd=story)).out.count("\n") == 1
    assert one_line_error(gvcs("event", "list", "--branch", "nope", cwd=story), 2).endswith(
        "branch 'nope' not found"
    )


def test_event_emit_errors_are_one_line(gvcs: Gvcs, story: Path) -> None:
    def emit(topic: str, payload: str, code: int) -> str:
        return one_line_error(gvcs("event", "emit", topic, "--payload", payload, cwd=story), code)

    assert emit("gift.txn.v1", '{"op": "mint", "to": "mara", "amount": -5}', 2) == (
        "gvcs: error: gift.txn.v1: payload.amount: -5 is less than the minimum of 1"
    )
    assert "unknown event topic 'gift.v9'" in emit("gift.v9", "{}", 2)
    assert "it cannot be ingested" in emit("narrative.change.v1", "{}", 2)
    assert "--payload is not JSON" in emit("gift.txn.v1", "{nope", 2)
    assert "--payload must be a JSON object" in emit("gift.txn.v1", "[1]", 2)
    assert "cannot read" in emit("gift.txn.v1", "@/nonexistent/file.json", 2)
    bad_id = gvcs("gift", "mint", "mara", "1", "--id", "no spaces", cwd=story)
    assert "invalid event id 'no spaces'" in one_line_error(bad_id, 2)


def test_ritual(gvcs: Gvcs, story: Path) -> None:
    (story / "story.yaml").write_text((story / "story.yaml").read_text() + GLYPHS)
    ok(gvcs("commit", "-m", "The glyph table", cwd=story))
    out = ok(gvcs("ritual", "key", "--rotation", "90", cwd=story)).out
    assert "] Ritual key at 90°: create branch vault-1\n" in out
    assert "vault-1" in ok(gvcs("branch", cwd=story)).out
    ok(gvcs("ritual", "ink", "--rotation", "0", cwd=story))
    assert (story / "pages" / "opening.md").read_text().endswith("]].\n\nInk by mara.\n")  # appended
    assert (story / "rituals.yaml").read_text() == 'counts: {"ink@0": 1, "key@90": 1}\n'
    assert "nothing to commit" in ok(gvcs("status", cwd=story)).out
    error = one_line_error(gvcs("ritual", "key", "--rotation", "180", cwd=story), 1)
    assert error.endswith("glyph key does nothing at 180°: its known rotations are 90")
    error = one_line_error(gvcs("ritual", "moon", "--rotation", "0", cwd=story), 1)
    assert "glyph 'moon' is not in the glyph table (known: ink, key)" in error
    one_line_error(gvcs("ritual", "key", "--rotation", "45", cwd=story), 2)


def test_spores(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("spore", "add", "db", "--type", "postgres", "--spec", '{"size": 2}', cwd=story))
    ok(
        gvcs(
            "spore",
            "decay",
            "db",
            "--state",
            "restarted",
            "--reason",
            "oom",
            "--time",
            "1800000000",
            cwd=story,
        )
    )
    assert ok(gvcs("spore", cwd=story)).out == "db  restarted  postgres\n"
    data = json.loads(ok(gvcs("spore", "list", "--json", cwd=story)).out)
    assert data["branch"] == "mycelium"
    assert data["spores"]["db"]["restarts"] == [1_800_000_000]
    assert data["spores"]["db"]["spec"] == {"size": 2}
    error = one_line_error(gvcs("spore", "decay", "ghost", "--state", "died", cwd=story), 2)
    assert "mycelium.decay.v1: unknown spore 'ghost' on mycelium" in error
    ok(gvcs("spore", "remove", "db", cwd=story))
    assert json.loads(ok(gvcs("spore", "--json", cwd=story)).out)["spores"] == {}
    assert not (story / "infra").exists()  # the work tree stays on main; spores live on mycelium


def test_the_parser_names_every_topic_without_importing_events() -> None:
    from cli.events import TOPIC_NAMES
    from narrative_vcs.events import TOPICS

    assert tuple(TOPIC_NAMES) == tuple(TOPICS)
