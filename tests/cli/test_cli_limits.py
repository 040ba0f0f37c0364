"""Input nested too deep or too large, through the real ``gvcs``: one line on stderr, exit 2, nothing written.

Every path that reads structured input from outside is here: ``--payload`` and ``--spec`` (inline, @FILE,
@-), the work tree's story.yaml, actors and front matter, ``.gvcs/gvcs.json`` and the access file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, Gvcs, Result, ok, one_line_error

DEEP = 10_000
MIB = 1024 * 1024


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_payload(depth: int = DEEP) -> str:
    """An agent.emit.v1 payload whose tags nest ``depth`` lists deep."""
    return '{"page": "opening", "body": "x", "tags": ' + nested(depth) + "}"


def spore_spec(depth: int) -> str:
    """A spec object nested ``depth`` levels deep (the spec itself is the first level)."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def state(root: Path) -> dict[str, bytes]:
    """The store's files (refs, objects, config) and the work tree's, to compare: not the logs, nor the
    work tree's own bookkeeping (``gvcs status`` refreshes it)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "logs" not in p.parts and not p.name.startswith("gvcs-worktree")
    }


def refused(result: Result, words: str, code: int = 2) -> None:
    line = one_line_error(result, code)
    assert words in line, line


# --- --payload and --spec -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 1000, DEEP])
def test_a_deep_payload_inline(gvcs: Gvcs, story: Path, depth: int) -> None:
    before = state(story)
    result = gvcs(
        "event", "emit", "agent.emit.v1", "--payload", deep_payload(depth), "--branch", "main", cwd=story
    )
    refused(result, "gvcs: error: --payload: nested deeper than 64 levels")
    assert state(story) == before


def test_a_deep_payload_from_a_file(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(deep_payload())
    before = state(story)
    refused(
        gvcs("event", "emit", "agent.emit.v1", "--payload", f"@{payload}", cwd=story), "--payload: nested"
    )
    assert state(story) == before


def test_a_deep_payload_on_standard_input(story: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    before = state(story)
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "event", "emit", "gift.txn.v1", "--payload", "@-"],
        cwd=story,
        env=env,
        input='{"op": "mint", "to": "mara", "amount": 1, "memo": ' + nested(DEEP) + "}",
        capture_output=True,
        text=True,
        timeout=120,
    )
    refused(Result(proc.returncode, proc.stdout, proc.stderr), "--payload: nested deeper than 64 levels")
    assert state(story) == before


def test_a_payload_file_too_large(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"page": "opening", "body": "x" * (MIB + 10)}))
    before = state(story)
    refused(
        gvcs("event", "emit", "agent.emit.v1", "--payload", f"@{payload}", cwd=story), "larger than 1 MiB"
    )
    assert state(story) == before
    # Under the file limit but over the payload's own (256 KiB of compact JSON): the schema's check says so.
    payload.write_text(json.dumps({"page": "opening", "body": "x" * (300 * 1024)}))
    refused(
        gvcs("event", "emit", "agent.emit.v1", "--payload", f"@{payload}", cwd=story), "payload is too large"
    )
    assert state(story) == before


def test_a_payload_file_that_is_not_utf8(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_bytes(b'{"page": "opening", "body": "\xff"}')
    refused(gvcs("event", "emit", "agent.emit.v1", "--payload", f"@{payload}", cwd=story), "not UTF-8")


def test_a_spore_spec_as_deep_as_the_limit_and_one_deeper(gvcs: Gvcs, story: Path) -> None:
    # The payload is the first level and the spec the second: a spec of 63 levels makes 64.
    ok(gvcs("spore", "add", "db", "--spec", spore_spec(63), cwd=story))
    assert ok(gvcs("spore", "list", "--json", cwd=story)).out.count("{") > 63
    before = state(story)
    refused(
        gvcs("spore", "update", "db", "--spec", spore_spec(64), cwd=story), "infra.spore.v1: payload: nested"
    )
    refused(
        gvcs("spore", "update", "db", "--spec", spore_spec(DEEP), cwd=story), "--spec: nested deeper than 64"
    )
    assert state(story) == before


# --- the work tree's YAML --------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 900, DEEP])
def test_deep_front_matter_commits_nothing(gvcs: Gvcs, story: Path, depth: int) -> None:
    (story / "pages" / "deep.md").write_text(f"---\ntitle: Deep\ntags: {nested(depth)}\n---\nBody.\n")
    before = state(story)
    refused(gvcs("commit", "-m", "Deep", cwd=story), "pages/deep.md")
    refused(gvcs("commit", "-m", "Deep", cwd=story), "nested deeper than 64 levels")
    assert "pages/deep.md" in ok(gvcs("status", cwd=story)).out
    assert state(story) == before


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("story.yaml", "title: Night Shift\nrules: " + "{a: " * 800 + "1" + "}" * 800 + "\n"),
        ("actors/deep.yaml", "name: Deep\nkind: human\nnotes: " + nested(DEEP) + "\n"),
        ("actors/block.yaml", "name: Block\nnotes:\n" + "".join("  " * i + "- \n" for i in range(1, 120))),
    ],
)
def test_deep_yaml_in_the_work_tree_commits_nothing(gvcs: Gvcs, story: Path, path: str, text: str) -> None:
    (story / path).write_text(text)
    before = state(story)
    line = one_line_error(gvcs("commit", "-m", "Deep", cwd=story), 2)
    assert line.startswith(f"gvcs: error: {path}") and "nested deeper than 64 levels" in line, line
    assert state(story) == before


def test_a_work_tree_file_over_the_yaml_limit(gvcs: Gvcs, story: Path) -> None:
    (story / "actors" / "big.yaml").write_text("name: Big\nnotes: " + "x" * (8 * MIB) + "\n")
    before = state(story)
    refused(gvcs("commit", "-m", "Big", cwd=story), "actors/big.yaml: larger than 8 MiB")
    assert state(story) == before


# --- the repository's own files --------------------------------------------------------------------------


def test_a_deep_config_file(gvcs: Gvcs, story: Path) -> None:
    config = story / ".gvcs" / "gvcs.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "note": "x"})[:-1] + ', "deep": ' + nested(DEEP) + "}")
    before = state(story)
    refused(gvcs("whoami", cwd=story), "gvcs.json: nested deeper than 64 levels")
    refused(gvcs("gift", "mint", "mara", "1", cwd=story), "gvcs.json: nested deeper than 64 levels")
    assert state(story) == before


def test_a_config_file_too_large(gvcs: Gvcs, story: Path) -> None:
    config = story / ".gvcs" / "gvcs.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "note": "x" * MIB}))
    refused(gvcs("whoami", cwd=story), "gvcs.json: larger than 1 MiB")


def test_a_deep_access_file_is_damaged(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("token", "create", "mara", cwd=story))
    access = story / ".gvcs" / "gvcs-access.json"
    access.write_text('{"tokens": [], "settings": {"x": ' + nested(DEEP) + "}}")
    before = state(story)
    # A damaged access file is a corrupt store (exit 1), whatever is wrong with it.
    refused(gvcs("token", "list", cwd=story), "nested deeper than 64 levels (not a gvcs access file)", code=1)
    assert state(story) == before
