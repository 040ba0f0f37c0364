"""``--json`` on every read command: it parses and has the keys docs/json.md documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import Gvcs, ok

COMMIT_KEYS = {
    "id",
    "parents",
    "tree",
    "actor",
    "actor_name",
    "kind",
    "time",
    "subject",
    "message",
    "event_id",
    "event",
    "refs",
}
CHANGE_KEYS = {"path", "kind", "id", "status", "old", "new", "insertions", "deletions", "diff"}
SEMANTIC_KEYS = {
    "path",
    "kind",
    "id",
    "status",
    "old",
    "new",
    "title",
    "fields",
    "links",
    "paragraphs",
    "problem",
}


def _json(gvcs: Gvcs, story: Path, *args: str) -> Any:
    return json.loads(ok(gvcs(*args, "--json", cwd=story)).out)


def test_log_json(gvcs: Gvcs, story: Path) -> None:
    commits = _json(gvcs, story, "log")
    assert isinstance(commits, list) and len(commits) == 1
    assert set(commits[0]) == COMMIT_KEYS
    assert commits[0]["refs"] == ["HEAD -> main"]
    assert commits[0]["actor"] == "mara" and commits[0]["subject"] == "First pages"
    assert _json(gvcs, story, "log", "--actor", "bot") == []


def test_show_and_diff_json(gvcs: Gvcs, story: Path) -> None:
    shown = _json(gvcs, story, "show")
    assert set(shown) == {"commit", "changes"}
    assert set(shown["commit"]) == COMMIT_KEYS
    assert {c["path"] for c in shown["changes"]} >= {"pages/opening.md", "story.yaml"}
    assert all(set(c) == SEMANTIC_KEYS for c in shown["changes"])
    assert all(set(c) == CHANGE_KEYS for c in _json(gvcs, story, "show", "--lines")["changes"])
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nNew.\n")
    diff = _json(gvcs, story, "diff", "--lines")
    assert set(diff) == {"from", "to", "changes"} and diff["to"] == "worktree"
    [change] = diff["changes"]
    assert set(change) == CHANGE_KEYS
    assert change["status"] == "modified" and change["kind"] == "page" and change["id"] == "opening"
    assert "+New." in change["diff"]


def test_status_json(gvcs: Gvcs, story: Path) -> None:
    (story / "pages" / "second.md").unlink()
    status = _json(gvcs, story, "status")
    assert set(status) == {
        "branch",
        "detached",
        "commit",
        "branch_head",
        "clean",
        "recovered",
        "merging",
        "changes",
    }
    assert status["branch"] == "main" and status["clean"] is False
    assert status["changes"][0]["path"] == "pages/second.md"
    assert set(status["changes"][0]) == {"path", "kind", "id", "status", "old", "new", "problem"}


def test_listing_json(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("tag", "v1", cwd=story))
    assert _json(gvcs, story, "branch")[0].keys() == {"name", "commit", "current", "subject"}
    assert _json(gvcs, story, "tag")[0]["name"] == "v1"
    actors = _json(gvcs, story, "actor", "list")
    assert [a["id"] for a in actors] == ["bot", "mara"]
    assert set(actors[0]) == {"id", "name", "kind", "archetype"}
    pages = _json(gvcs, story, "page", "list")
    assert set(pages[0]) == {"id", "title", "follows", "alternate_of", "tags", "links"}
    assert [p["id"] for p in _json(gvcs, story, "page", "list", "--rev", "HEAD")] == ["opening", "second"]
    page = _json(gvcs, story, "page", "show", "second")
    assert page["source"] == "worktree" and page["follows"] == ["opening"] and "body" in page
    assert len(_json(gvcs, story, "page", "show", "second", "--rev", "main")["source"]) == 40


def test_blame_fsck_whoami_json(gvcs: Gvcs, story: Path) -> None:
    blame = _json(gvcs, story, "blame", "opening")
    assert set(blame) == {"page", "rev", "paragraphs"}
    assert set(blame["paragraphs"][0]) == {"paragraph", "text", "commit", "actor", "time", "subject"}
    fsck = _json(gvcs, story, "fsck")
    assert fsck["ok"] is True and fsck["problems"] == [] and fsck["objects"] > 0
    who = _json(gvcs, story, "whoami")
    assert who == {"actor": "mara", "source": "config", "name": "Mara Ink", "kind": "human"}


def test_errors_under_json_are_one_json_object(gvcs: Gvcs, story: Path) -> None:
    """Under ``--json`` a failure prints one JSON object on stdout (``error``, ``code``, ``message``),
    besides the one line on stderr; the exit code is the command's."""
    failed = gvcs("log", "nope", "--json", cwd=story)
    assert failed.code == 2 and failed.err.startswith("gvcs: error: unknown revision 'nope'")
    assert json.loads(failed.out) == {
        "error": "NotFound",
        "code": "NOT_FOUND",
        "message": "unknown revision 'nope': no branch, tag or commit of that name",
    }
    usage = gvcs("log", "--bogus", "--json", cwd=story)  # refused by the argument parser
    assert usage.code == 2 and json.loads(usage.out)["code"] == "BAD_INPUT"
    assert "unrecognized arguments: --bogus" in json.loads(usage.out)["message"]
    plain = gvcs("log", "nope", cwd=story)  # without --json: stderr only
    assert plain.code == 2 and plain.out == ""


def test_help_shows_a_commands_help(gvcs: Gvcs, story: Path) -> None:
    assert ok(gvcs("help", "log", cwd=story)).out == ok(gvcs("log", "--help", cwd=story)).out
    assert ok(gvcs("help", "remote", "add", cwd=story)).out.startswith("usage: gvcs remote add")
    assert ok(gvcs("help", cwd=story)).out.startswith("usage: gvcs ")
    unknown = gvcs("help", "nope", cwd=story)
    assert unknown.code == 2 and unknown.err == "gvcs: error: no command 'nope': 'gvcs help' lists them\n"


def test_init_commit_switch_and_gc_speak_json(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    made = json.loads(ok(gvcs("init", "fresh", "--title", "Fresh", "--json", cwd=tmp_path)).out)
    assert made == {"root": str((tmp_path / "fresh").resolve()), "store": "git", "title": "Fresh"}
    (story / "pages" / "opening.md").write_text("---\ntitle: Opening\n---\nNew.\n")
    committed = json.loads(ok(gvcs("commit", "-m", "Edit", "--json", actor="mara", cwd=story)).out)
    assert committed["branch"] == "main" and committed["subject"] == "Edit" and committed["actor"] == "mara"
    assert committed["changes"] == [{"path": "pages/opening.md", "status": "modified"}]
    assert committed["amended"] is False and isinstance(committed["normalised"], list)
    created = json.loads(ok(gvcs("switch", "-c", "side", "--json", cwd=story)).out)
    assert created == {"branch": "side", "commit": committed["commit"], "detached": False, "created": True}
    back = json.loads(ok(gvcs("switch", "main", "--json", cwd=story)).out)
    assert back == {"branch": "main", "commit": committed["commit"], "detached": False, "created": False}
    packed = json.loads(ok(gvcs("gc", "--json", cwd=story)).out)
    assert packed["objects"] > 0 and packed["packs"] == 1


def test_a_commit_of_many_files_summarises_them(gvcs: Gvcs, story: Path) -> None:
    for n in range(12):  # pages written in a form gvcs rewrites (no trailing newline)
        (story / "pages" / f"p{n}.md").write_text(f"---\ntitle: P{n}\n---\nText {n}.")
    out = ok(gvcs("commit", "-m", "Many", actor="mara", cwd=story)).out
    assert "rewrote 12 file(s) in canonical form (-v lists them)" in out and "p11.md" not in out
    for n in range(12):
        (story / "pages" / f"p{n}.md").write_text(f"---\ntitle: P{n}\n---\nMore {n}.")
    verbose = ok(gvcs("commit", "-m", "More", "-v", actor="mara", cwd=story)).out
    assert "pages/p11.md" in verbose and verbose.count("modified") >= 12


def test_every_command_but_the_long_running_ones_takes_json() -> None:
    import argparse

    from cli.main import build_parser

    from .test_help import _commands

    without = []
    for path, parser in _commands(build_parser()):
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue  # a group: its subcommands are checked
        if not any(a.dest == "json" for a in parser._actions):
            without.append(" ".join(path))
    # Servers, the demo's tour, and the shell's helpers print no data.
    assert sorted(without) == ["completion", "demo", "help", "serve", "worker"]


def test_undo_stash_actor_page_remote_and_token_commands_speak_json(gvcs: Gvcs, story: Path) -> None:
    added = json.loads(ok(gvcs("actor", "add", "cal", "--name", "Cal", "--json", cwd=story)).out)
    assert added == {"id": "cal", "name": "Cal", "kind": "human", "path": "actors/cal.yaml", "acting": False}
    page = json.loads(
        ok(gvcs("page", "new", "coda", "--title", "Coda", "--follows", "second", "--json", cwd=story)).out
    )
    assert page == {"id": "coda", "path": "pages/coda.md", "title": "Coda", "follows": ["second"]}
    stashed = json.loads(ok(gvcs("stash", "--json", cwd=story)).out)
    assert stashed["name"] == "stash@{0}"
    shown = json.loads(ok(gvcs("stash", "show", "--json", cwd=story)).out)
    assert {c["path"] for c in shown["changes"]} == {"actors/cal.yaml", "pages/coda.md"}
    popped = json.loads(ok(gvcs("stash", "pop", "--json", cwd=story)).out)
    assert popped["dropped"] is True and sorted(popped["changed"]) == ["actors/cal.yaml", "pages/coda.md"]
    (story / "pages" / "second.md").write_text("---\ntitle: Second\n---\nChanged.\n")
    restored = json.loads(ok(gvcs("restore", "second", "--json", cwd=story)).out)
    assert restored == {"source": "HEAD", "restored": ["pages/second.md"]}
    head = json.loads(ok(gvcs("log", "--json", cwd=story)).out)[0]["id"]
    reset = json.loads(ok(gvcs("reset", "--hard", "--json", cwd=story)).out)
    assert reset == {"branch": "main", "mode": "hard", "old": head, "new": head, "differ": []}
    remote = json.loads(ok(gvcs("remote", "add", "mirror", str(story), "--json", cwd=story)).out)
    assert remote == {"name": "mirror", "location": str(story.resolve())}
    assert json.loads(ok(gvcs("remote", "remove", "mirror", "--json", cwd=story)).out)["removed"] is True
    token = json.loads(ok(gvcs("token", "create", "mara", "--json", cwd=story)).out)
    revoked = json.loads(ok(gvcs("token", "revoke", token["id"], "--json", cwd=story)).out)
    assert revoked == {"id": token["id"], "revoked": True}
