"""Pushes between two real repositories, disk -> disk and disk -> Neo4j: the pushed history passes the
receiving store's gate. A forced or unapproved protected branch and a forged event are refused there in
one line and change nothing; a proposal merged locally lands with its governance history.

The Neo4j tests use the real server of ``scripts/neo4j`` (marker ``neo4j``) and empty its database first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from narrative_vcs.graph.neo4j import open_neo4j

from .conftest import Gvcs, Result, ok, one_line_error

GIT = shutil.which("git")
COMMIT = r"gvcs: error: commit [0-9a-f]{10} by "


# --- helpers ---------------------------------------------------------------------------------------------


def git(
    root: Path, *args: str, actor: str | None = None, stdin: bytes | None = None, index: Path | None = None
) -> str:
    """``git --git-dir=ROOT/.gvcs ARGS``; ``actor`` signs commits as gvcs does (``Name <id@actors.gvcs>``)."""
    if GIT is None:
        pytest.skip("git is needed to forge commits")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GVCS_"))}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"})
    if actor is not None:
        for who in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{who}_NAME"] = actor.title()
            env[f"GIT_{who}_EMAIL"] = f"{actor}@actors.gvcs"
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    proc = subprocess.run(
        [GIT, f"--git-dir={root / '.gvcs'}", *args], input=stdin, capture_output=True, env=env, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def page_path(page: str) -> str:
    """Where the store keeps a page: sharded by the first two hex digits of SHA-1 of its id."""
    digest = hashlib.sha1(page.encode()).hexdigest()
    return f"pages/{digest[0]}/{digest[1]}/{page}.md"


def forge(
    root: Path,
    parent: str,
    files: dict[str, str],
    *,
    actor: str,
    message: str,
    kind: str = "edit",
    event: dict[str, object] | None = None,
    event_id: str = "forged-1",
) -> str:
    """A commit on ``parent`` writing ``files`` (store paths), signed by ``actor``, made by git alone;
    with ``event``, an event commit of topic ``kind`` carrying the trailers gvcs writes."""
    index = root.parent / "forge.index"
    index.unlink(missing_ok=True)
    git(root, "read-tree", parent, index=index)
    for path, text in files.items():
        blob = git(root, "hash-object", "-w", "--stdin", stdin=text.encode())
        git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", index=index)
    tree = git(root, "write-tree", index=index)
    index.unlink()
    trailers = f"Gvcs-Actor: {actor}\nGvcs-Kind: {kind}\n"
    if event is not None:
        trailers += f"Gvcs-Event-Id: {event_id}\n"
        trailers += f"Gvcs-Event: {json.dumps(event, sort_keys=True, separators=(',', ':'))}\n"
    return git(root, "commit-tree", tree, "-p", parent, "-m", f"{message}\n\n{trailers}", actor=actor)


def branches(gvcs: Gvcs, cwd: Path) -> dict[str, str]:
    """The branches of the store behind the work tree ``cwd`` (on disk or in Neo4j)."""
    return {b["name"]: b["commit"] for b in json.loads(ok(gvcs("branch", "--json", cwd=cwd)).out)}


def refused(result: Result, pattern: str) -> str:
    """One ``gvcs: error:`` line, exit 1, matching ``pattern`` in full."""
    line = one_line_error(result, 1)
    assert re.fullmatch(pattern, line), line
    return line


def protect(gvcs: Gvcs, story: Path) -> None:
    """Add cal; protect main, two votes to pass a proposal."""
    ok(gvcs("actor", "add", "cal", "--name", "Cal", cwd=story))
    (story / "story.yaml").write_text("title: Night Shift\nprotected: [main]\ngovernance: {quorum: 2}\n")
    ok(gvcs("commit", "-m", "Protect main", cwd=story, actor="mara"))


@pytest.fixture
def empty_neo4j(neo4j_uri: str) -> Iterator[str]:
    """The test server's URI, its database emptied first."""
    objects, _refs, _access = open_neo4j(neo4j_uri)
    objects.server.clear()
    objects.close()
    yield neo4j_uri


# --- the scenario, for any remote ------------------------------------------------------------------------


def pushes_pass_the_remotes_gate(gvcs: Gvcs, local: Path, remote: str, there: Path) -> None:
    """``local`` (the story with main protected, main pushed to ``remote``) pushes; ``there`` is a work
    tree of the remote's store, to look at it with gvcs."""
    start = branches(gvcs, there)
    assert start == {"main": git(local, "rev-parse", "main")}
    main = start["main"]

    # main forced onto a rewrite (from before it was protected), or moved onto an unapproved commit,
    # behind gvcs' back: the remote refuses either
    opening = (local / "pages" / "opening.md").read_text() + "\nNobody voted for this.\n"
    rewrite = forge(local, "main~1", {page_path("opening"): opening}, actor="mara", message="Rewrite")
    git(local, "update-ref", "refs/heads/main", rewrite)
    refused(
        gvcs("push", "--force", remote, "main", cwd=local, actor="mara"),
        r"gvcs: error: main is protected: it only moves forward \(no force, no reset, no rewrite\) "
        r"\(rule: protected-branches\)",
    )
    unapproved = forge(local, main, {page_path("opening"): opening}, actor="mara", message="Unapproved")
    git(local, "update-ref", "refs/heads/main", unapproved)
    refused(
        gvcs("push", "--force", remote, "main", cwd=local, actor="mara"),
        COMMIT + r"mara: main is protected: open a proposal \(gvcs propose SOURCE --into main\) "
        r"\(rule: protected-branches\)",
    )
    git(local, "update-ref", "refs/heads/main", main)
    assert branches(gvcs, there) == start

    # a forged mint on a branch, pushed with an honest one: neither lands
    loot = forge(
        local,
        main,
        {"ledger.yaml": "balances: {bot: 1000}\n"},
        actor="bot",
        message="Mint 1000 tokens for bot",
        kind="gift.txn.v1",
        event={"op": "mint", "to": "bot", "amount": 1000},
    )
    git(local, "update-ref", "refs/heads/loot", loot)
    ok(gvcs("branch", "gifts", cwd=local, actor="mara"))
    ok(gvcs("gift", "mint", "mara", "5", "--branch", "gifts", cwd=local, actor="mara"))
    refused(
        gvcs("push", remote, "gifts", "loot", cwd=local, actor="mara"),
        r"gvcs: error: refs/heads/loot: commit [0-9a-f]{10} by bot: gift\.txn\.v1: bot may not mint: "
        r"only human actors mint \(or those in gift\.minters\) \(rule: state-files\)",
    )
    # a minter's mint that writes more into the ledger than its event says
    greedy = forge(
        local,
        main,
        {"ledger.yaml": "balances: {mara: 5000}\n"},
        actor="mara",
        message="Mint 5 tokens for mara",
        kind="gift.txn.v1",
        event={"op": "mint", "to": "mara", "amount": 5},
        event_id="greedy-1",
    )
    git(local, "update-ref", "refs/heads/greedy", greedy)
    refused(
        gvcs("push", remote, "greedy", cwd=local, actor="mara"),
        COMMIT + r"mara: it changes ledger\.yaml otherwise than its gift\.txn\.v1 event greedy-1 does "
        r"when replayed on its parent \(rule: state-files\)",
    )
    assert branches(gvcs, there) == start

    # honest: a proposal passes and merges locally; main alone is refused (the remote has not got the
    # proposal), governance and main in one push land together
    ok(gvcs("switch", "-c", "side", cwd=local))
    with (local / "pages" / "second.md").open("a") as f:
        f.write("\nThe side branch speaks.\n")
    ok(gvcs("commit", "-m", "Side words", cwd=local, actor="bot"))
    ok(gvcs("switch", "main", cwd=local))
    ok(gvcs("propose", "side", "--into", "main", "-m", "Let the side speak", cwd=local, actor="mara"))
    ok(gvcs("vote", "1", "yes", cwd=local, actor="mara"))
    assert "proposal 1 executed" in ok(gvcs("vote", "1", "yes", cwd=local, actor="bot")).out
    refused(
        gvcs("push", remote, "main", cwd=local, actor="mara"),
        COMMIT + r"mara: main is protected, and the governance branch has no proposal 1 "
        r"\(rule: protected-branches\)",
    )
    assert branches(gvcs, there) == start

    pushed = ok(gvcs("push", remote, "governance", "main", cwd=local, actor="mara")).out.splitlines()
    landed = [re.search(r" (refs/heads/\S+) \(", line) for line in pushed]
    assert [m.group(1) for m in landed if m] == ["refs/heads/governance", "refs/heads/main"], pushed
    mine = branches(gvcs, local)
    assert branches(gvcs, there) == {b: mine[b] for b in ("governance", "main")}
    checked = ok(gvcs("fsck", "--rules", cwd=there)).out
    assert checked.startswith("ok: ") and checked.endswith(" follow the story's rules\n"), checked
    listing = ok(gvcs("proposals", cwd=there)).out
    assert listing.startswith("#1    executed  side -> main  [2/2 votes, yes 2 no 0"), listing
    # the honest branch refused along with the forged one lands on its own
    ok(gvcs("push", remote, "gifts", cwd=local, actor="mara"))
    assert branches(gvcs, there)["gifts"] == mine["gifts"]


# --- disk -> disk ----------------------------------------------------------------------------------------


def test_a_clone_pushes_through_the_gate_of_the_repository_it_came_from(
    gvcs: Gvcs, story: Path, tmp_path: Path
) -> None:
    protect(gvcs, story)
    ok(gvcs("clone", "story", "copy"))
    copy = tmp_path / "copy"
    ok(gvcs("remote", "add", "upstream", "../story", cwd=copy))  # a second name for the same directory
    pushes_pass_the_remotes_gate(gvcs, copy, "upstream", story)


# --- disk -> Neo4j ---------------------------------------------------------------------------------------


@pytest.mark.neo4j
def test_a_story_pushes_through_the_gate_of_neo4j(
    gvcs: Gvcs, story: Path, tmp_path: Path, empty_neo4j: str
) -> None:
    uri = empty_neo4j
    ok(gvcs("init", "n4", "--store", uri))  # a work tree on the Neo4j store, to look at it
    protect(gvcs, story)
    ok(gvcs("remote", "add", "graph", uri, cwd=story))
    ok(gvcs("push", "graph", "main", cwd=story))
    pushes_pass_the_remotes_gate(gvcs, story, "graph", tmp_path / "n4")
