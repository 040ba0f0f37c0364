"""Attacks on a story on disk, through real ``gvcs`` processes: each one is refused in one line and
changes nothing (no ref moves, the work tree stays as the user left it); the honest flows still work.

Commits that gvcs would never make are built with real git (``hash-object``, ``write-tree``,
``commit-tree``) in the story's store, as any other tool could, then handed to gvcs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Gvcs, Result, ok, one_line_error

GIT = shutil.which("git")
COMMIT = r"gvcs: error: commit [0-9a-f]{10} by "
PAGE = "---\ntitle: {title}\nfollows: [{follows}]\nalternate_of: null\ntags: []\nglyphs: []\n---\n{body}\n"
ALIAS_BOMB = """---
title: Bomb
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
tags: *g
---
Boom.
"""


# --- helpers: real git on the story's store ----------------------------------------------------------


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
    return proc.stdout.decode(errors="replace").strip()  # trees are binary


def refs(root: Path) -> dict[str, str]:
    """Every ref of the story and where it points."""
    listing = git(root, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ") for line in listing.splitlines())


def page_path(page: str) -> str:
    """Where the store keeps a page: sharded by the first two hex digits of SHA-1 of its id."""
    digest = hashlib.sha1(page.encode()).hexdigest()
    return f"pages/{digest[0]}/{digest[1]}/{page}.md"


def forge(root: Path, parent: str, files: dict[str, str], *, actor: str, message: str) -> str:
    """A commit on ``parent`` writing ``files`` (store paths), signed by ``actor``, made by git alone."""
    index = root.parent / "forge.index"
    index.unlink(missing_ok=True)
    git(root, "read-tree", parent, index=index)
    for path, text in files.items():
        blob = git(root, "hash-object", "-w", "--stdin", stdin=text.encode())
        git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", index=index)
    tree = git(root, "write-tree", index=index)
    index.unlink()
    body = f"{message}\n\nGvcs-Actor: {actor}\nGvcs-Kind: edit\n"
    return git(root, "commit-tree", tree, "-p", parent, "-m", body, actor=actor)


def refused(result: Result, code: int, pattern: str) -> str:
    """One ``gvcs: error:`` line with exit ``code``, matching ``pattern`` in full."""
    line = one_line_error(result, code)
    assert re.fullmatch(pattern, line), line
    return line


# --- helpers: stories ----------------------------------------------------------------------------------


def governed(gvcs: Gvcs, story: Path) -> None:
    """Add cal; protect main (quorum 2); bot edits ``second`` on branch ``side``; mara proposes it."""
    ok(gvcs("actor", "add", "cal", "--name", "Cal", cwd=story))
    (story / "story.yaml").write_text("title: Night Shift\nprotected: [main]\ngovernance: {quorum: 2}\n")
    ok(gvcs("commit", "-m", "Protect main", cwd=story, actor="mara"))
    ok(gvcs("switch", "-c", "side", cwd=story))
    with (story / "pages" / "second.md").open("a") as f:
        f.write("\nThe side branch speaks.\n")
    ok(gvcs("commit", "-m", "Side words", cwd=story, actor="bot"))
    ok(gvcs("switch", "main", cwd=story))
    ok(gvcs("propose", "side", "--into", "main", "-m", "Let the side speak", cwd=story, actor="mara"))


def ada_and_bob(gvcs: Gvcs, story: Path) -> None:
    """Add the humans ada and bob; only mara mints (story.yaml gift.minters)."""
    ok(gvcs("actor", "add", "ada", "--name", "Ada", cwd=story))
    ok(gvcs("actor", "add", "bob", "--name", "Bob", cwd=story))
    (story / "story.yaml").write_text("title: Night Shift\ngift: {minters: [mara]}\n")
    ok(gvcs("commit", "-m", "Ada, Bob and the minters", cwd=story, actor="mara"))


def forged_votes(proposal: str) -> str:
    """``proposal`` (an open proposal's file) with yes votes of mara and bot and the status passed."""
    opened = int(re.search(r"^opened: (\d+)$", proposal, re.M).group(1))  # type: ignore[union-attr]
    votes = "".join(
        f"  {who}: {{choice: 'yes', stake: 0, weight: 1.0, time: {opened + 1}}}\n" for who in ("bot", "mara")
    )
    forged = proposal.replace("status: open\n", "status: passed\n").replace("votes: {}\n", f"votes:\n{votes}")
    assert forged.count("choice: 'yes'") == 2 and "status: passed" in forged, proposal
    return forged


# --- governance ----------------------------------------------------------------------------------------


def test_votes_cannot_be_written_by_hand_nor_governance_erased(gvcs: Gvcs, story: Path) -> None:
    governed(gvcs, story)
    before = refs(story)
    ok(gvcs("switch", "governance", cwd=story))
    proposal = story / "proposals" / "1.yaml"
    original = proposal.read_text()
    forged = forged_votes(original)
    proposal.write_text(forged)
    refused(
        gvcs("commit", "-m", "Count the votes", cwd=story, actor="mara"),
        1,
        COMMIT + r"mara: proposals/1\.yaml is written only by governance \(gvcs propose, gvcs vote\): "
        r"an edit commit cannot change it \(rule: state-files\)",
    )
    assert refs(story) == before
    assert proposal.read_text() == forged  # the work tree is left as the user left it

    # one honest "no" is one vote of the two the quorum needs: nothing merges into main
    proposal.write_text(original)
    ok(gvcs("switch", "main", cwd=story))
    said = ok(gvcs("vote", "1", "no", cwd=story, actor="cal")).out
    assert "1/2 votes, yes 0 no 1" in said and "proposal 1 is open until" in said, said
    assert "executed" not in said
    voted = refs(story)
    assert voted["refs/heads/governance"] != before["refs/heads/governance"]  # the vote, and nothing else
    assert {**voted, "refs/heads/governance": ""} == {**before, "refs/heads/governance": ""}

    # the governance branch and protected main cannot be deleted
    refused(
        gvcs("--actor", "cal", "branch", "-d", "governance", cwd=story),
        1,
        r"gvcs: error: the governance branch holds every proposal: it cannot be deleted \(rule: governance\)",
    )
    ok(gvcs("switch", "side", cwd=story))
    refused(
        gvcs("--actor", "cal", "branch", "-d", "main", cwd=story),
        1,
        r"gvcs: error: main is protected: it cannot be deleted \(rule: protected-branches\)",
    )
    assert refs(story) == voted
    listing = ok(gvcs("proposals", cwd=story)).out
    assert listing.startswith("#1    open      side -> main  [1/2 votes, yes 0 no 1"), listing


def test_a_passed_proposal_is_a_narrative_change_and_fsck_rules_finds_forgeries(
    gvcs: Gvcs, story: Path
) -> None:
    governed(gvcs, story)
    ok(gvcs("vote", "1", "yes", cwd=story, actor="mara"))
    deciding = ok(gvcs("vote", "1", "yes", cwd=story, actor="bot")).out
    assert "proposal 1 executed: merged side into main as " in deciding, deciding
    merge = refs(story)["refs/heads/main"]
    (line,) = ok(gvcs("event", "list", "--topic", "narrative.change.v1", cwd=story)).out.splitlines()
    assert line.startswith(f"{merge[:10]} narrative.change.v1 main ") and " proposal 1 " in line, line

    ok(gvcs("gift", "mint", "mara", "3", cwd=story))
    mint = refs(story)["refs/heads/main"]
    changes = json.loads(ok(gvcs("event", "list", "--topic", "narrative.change.v1", "--json", cwd=story)).out)
    assert {c["id"]: (c["branch"], c["commit"], c["proposal"]) for c in changes} == {
        f"main:{merge}": ("main", merge, 1),
        f"main:{mint}": ("main", mint, None),
    }

    honest = ok(gvcs("fsck", "--rules", cwd=story)).out
    assert honest.startswith("ok: ") and honest.endswith(" follow the story's rules\n"), honest

    # a commit put on a branch past the gate (git plumbing): fsck --rules finds it, and its rule
    forged = forge(story, "main", {"ledger.yaml": "balances: {bot: 999999}\n"}, actor="bot", message="Mint")
    git(story, "update-ref", "refs/heads/forged", forged)
    found = gvcs("fsck", "--rules", cwd=story)
    assert found.code == 1, found
    assert found.out.splitlines() == [
        f"commit {forged[:10]} by bot: ledger.yaml is written only by gift.txn.v1 events (gvcs gift): "
        "an edit commit cannot change it (rule: state-files)"
    ]
    assert re.fullmatch(
        r"gvcs: error: 1 commit\(s\) or move\(s\) break the story's rules \(\d+ commits checked\)\n",
        found.err,
    ), found.err
    report = json.loads(gvcs("fsck", "--rules", "--json", cwd=story).out)
    assert report["ok"] is False
    assert [(p["commit"], p["rule"]) for p in report["problems"]] == [(forged, "state-files")]
    assert ok(gvcs("fsck", "--rules", "main", cwd=story)).out.startswith("ok: ")


# --- state files and records -----------------------------------------------------------------------------


def test_tokens_are_not_minted_by_editing_the_ledger(gvcs: Gvcs, story: Path) -> None:
    ada_and_bob(gvcs, story)
    before = refs(story)
    ledger = story / "ledger.yaml"
    edit_refused = (
        r"ledger\.yaml is written only by gift\.txn\.v1 events \(gvcs gift\): "
        r"an edit commit cannot change it \(rule: state-files\)"
    )

    ledger.write_text("balances: {bob: 999999}\n")
    refused(gvcs("--actor", "bob", "commit", "-m", "m", cwd=story), 1, COMMIT + "bob: " + edit_refused)
    assert ledger.read_text() == "balances: {bob: 999999}\n"
    sent = gvcs("--actor", "bob", "gift", "send", "ada", "500000", cwd=story)
    assert one_line_error(sent, 1) == "gvcs: error: gift.txn.v1: bob has 0 tokens, cannot send 500000"

    ledger.write_text("balances: {ada: -5, bob: lots}\n")
    for actor in ("bob", "mara"):  # not even the minter edits the ledger
        refused(
            gvcs("--actor", actor, "commit", "-m", "m", cwd=story), 1, COMMIT + f"{actor}: " + edit_refused
        )
    minted = gvcs("--actor", "bob", "gift", "mint", "bob", "5", cwd=story)
    assert (
        one_line_error(minted, 1)
        == "gvcs: error: gift.txn.v1: bob may not mint: story.yaml gift.minters lists mara"
    )
    assert refs(story) == before

    # the gift commands still work
    ledger.unlink()
    ok(gvcs("gift", "mint", "ada", "5", cwd=story, actor="mara"))
    ok(gvcs("--actor", "ada", "gift", "send", "bob", "2", cwd=story))
    assert json.loads(ok(gvcs("gift", "--json", cwd=story)).out)["balances"] == {"ada": 3, "bob": 2}
    assert ledger.read_text() == "balances: {ada: 3, bob: 2}\n"


def test_an_actor_changes_only_their_own_record(gvcs: Gvcs, story: Path) -> None:
    ada_and_bob(gvcs, story)
    before = refs(story)
    record = story / "actors" / "bob.yaml"
    original = record.read_text()
    assert "name: Bob\n" in original

    record.write_text(original.replace("name: Bob", "name: Bob the Forged"))
    refused(
        gvcs("--actor", "ada", "commit", "-m", "Rename bob", cwd=story),
        1,
        COMMIT + r"ada: ada cannot change bob's record \(actors/bob\.yaml\): only bob can \(rule: actors\)",
    )
    assert refs(story) == before
    assert "Bob the Forged" in record.read_text()

    record.write_text(original.replace("name: Bob", "name: Robert"))
    ok(gvcs("--actor", "bob", "commit", "-m", "My full name", cwd=story))
    assert git(story, "show", "main:actors/bob.yaml") == original.replace("name: Bob", "name: Robert").strip()


# --- the work tree ---------------------------------------------------------------------------------------


def test_nothing_outside_the_story_is_read(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    secret = "SECRET-d41d8cd98f-NOT-FOR-THE-STORY"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(secret + "\n")
    (outside / "leak.md").write_text(PAGE.format(title="Leak", follows="", body=secret))
    before = refs(story)
    link = "is a symbolic link: a story holds regular files only (gvcs never follows a link)"

    leak = story / "pages" / "leak.md"
    leak.symlink_to(outside / "secret.txt")
    status = ok(gvcs("status", cwd=story)).out
    assert re.search(rf"pages/leak\.md +! {re.escape(link)}", status), status
    error = one_line_error(gvcs("commit", "-m", "Leak", cwd=story), 2)
    assert error == f"gvcs: error: pages/leak.md: {link}"
    assert leak.is_symlink()
    leak.unlink()

    # a linked pages/ directory
    pages = story / "pages"
    pages.rename(tmp_path / "pages-aside")
    shutil.copytree(tmp_path / "pages-aside", outside / "pages")
    shutil.copy(outside / "leak.md", outside / "pages" / "leak.md")
    pages.symlink_to(outside / "pages")
    assert re.search(rf"pages +! {re.escape(link)}", ok(gvcs("status", cwd=story)).out)
    assert one_line_error(gvcs("commit", "-m", "Leak", cwd=story), 2) == f"gvcs: error: pages: {link}"
    pages.unlink()
    (tmp_path / "pages-aside").rename(pages)

    # a pipe: never opened (it would block the reader)
    os.mkfifo(pages / "pipe.md")
    status = ok(gvcs("status", cwd=story)).out
    assert re.search(r"pages/pipe\.md +! is not a regular file: a story holds regular files only", status)
    error = one_line_error(gvcs("commit", "-m", "Pipe", cwd=story), 2)
    assert error == "gvcs: error: pages/pipe.md: is not a regular file: a story holds regular files only"
    (pages / "pipe.md").unlink()

    assert refs(story) == before
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")
    everything = git(story, "cat-file", "--batch-all-objects", "--batch")
    assert secret not in everything  # not in any object of the store, reachable or not


def test_a_yaml_alias_bomb_is_refused(gvcs: Gvcs, story: Path) -> None:
    before = refs(story)
    (story / "pages" / "bomb.md").write_text(ALIAS_BOMB)
    error = one_line_error(gvcs("commit", "-m", "Bomb", cwd=story), 2)
    assert error == "gvcs: error: pages/bomb.md:3: YAML anchors (&name) are not allowed: write the value out"
    (story / "pages" / "bomb.md").unlink()
    (story / "story.yaml").write_text("title: &t Night Shift\nsubtitle: *t\n")
    error = one_line_error(gvcs("commit", "-m", "Bomb", cwd=story), 2)
    assert error == "gvcs: error: story.yaml:1: YAML anchors (&name) are not allowed: write the value out"
    (story / "story.yaml").write_text("title: Night Shift\n")
    assert refs(story) == before

    # the same page made by git: the gate refuses it when gvcs is asked to put it on a branch
    bomb = forge(story, "main", {page_path("bomb"): ALIAS_BOMB}, actor="mara", message="Bomb")
    refused(
        gvcs("branch", "bomb", bomb, cwd=story),
        1,
        COMMIT + r"mara: pages/bomb\.md:3: YAML anchors \(&name\) are not allowed: write the value out "
        r"\(rule: files\)",
    )
    assert refs(story) == before
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")


def test_reading_order_has_no_cycle(gvcs: Gvcs, story: Path) -> None:
    before = refs(story)
    p1, p2 = story / "pages" / "p1.md", story / "pages" / "p2.md"
    p1.write_text(PAGE.format(title="P1", follows="p2", body="One."))
    p2.write_text(PAGE.format(title="P2", follows="p1", body="Two."))
    refused(
        gvcs("commit", "-m", "A loop", cwd=story),
        1,
        COMMIT + r"mara: reading order would have a cycle: (p1 -> p2 -> p1|p2 -> p1 -> p2) \(rule: pages\)",
    )
    assert refs(story) == before

    # in two commits: p2 follows p1, then p1 would follow p2
    p1.write_text(PAGE.format(title="P1", follows="opening", body="One."))
    ok(gvcs("commit", "-m", "Two pages", cwd=story))
    middle = refs(story)
    p1.write_text(PAGE.format(title="P1", follows="p2", body="One."))
    refused(
        gvcs("commit", "-m", "Close the loop", cwd=story),
        1,
        COMMIT + r"mara: reading order would have a cycle: p1 -> p2 -> p1 \(rule: pages\)",
    )
    assert refs(story) == middle
    assert "follows: [p2]" in p1.read_text()


# --- other repositories ------------------------------------------------------------------------------


def test_protected_main_cannot_be_overwritten_by_a_push(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    (story / "story.yaml").write_text("title: Night Shift\nprotected: [main]\n")
    ok(gvcs("commit", "-m", "Protect main", cwd=story))
    first = git(story, "rev-parse", "main~1")
    before = refs(story)
    ok(gvcs("clone", "story", "copy"))
    copy = tmp_path / "copy"

    # an unapproved commit, made on a branch; main moved onto it behind gvcs' back (any tool could)
    ok(gvcs("switch", "-c", "unapproved", cwd=copy))
    with (copy / "pages" / "opening.md").open("a") as f:
        f.write("\nNobody voted for this.\n")
    ok(gvcs("commit", "-m", "Unapproved", cwd=copy, actor="mara"))
    unapproved = git(copy, "rev-parse", "unapproved")
    git(copy, "update-ref", "refs/heads/main", unapproved)
    refused(
        gvcs("push", "origin", "main", "--force", cwd=copy),
        1,
        COMMIT + r"mara: main is protected: open a proposal \(gvcs propose SOURCE --into main\) "
        r"\(rule: protected-branches\)",
    )
    # a rewrite: the same words on the commit before main was protected
    tree = git(copy, "rev-parse", "unapproved^{tree}")
    rewrite = git(copy, "commit-tree", tree, "-p", first, "-m", "Rewrite\n\nGvcs-Actor: mara\n", actor="mara")
    git(copy, "update-ref", "refs/heads/main", rewrite)
    forward_only = (
        r"gvcs: error: main is protected: it only moves forward \(no force, no reset, no rewrite\) "
        r"\(rule: protected-branches\)"
    )
    refused(gvcs("push", "origin", "main", "--force", cwd=copy), 1, forward_only)
    assert refs(story) == before
    assert "protected: [main]" in git(story, "show", "main:story.yaml")

    # a push from another story altogether
    ok(gvcs("init", "other"))
    other = tmp_path / "other"
    ok(gvcs("actor", "add", "eve", "--name", "Eve", cwd=other))
    ok(gvcs("commit", "-m", "Eve's own story", cwd=other))
    ok(gvcs("remote", "add", "origin", "../story", cwd=other))
    error = one_line_error(gvcs("push", "origin", "main", cwd=other), 1)
    assert "pull (fetch and merge) first, or force" in error
    refused(gvcs("push", "--force", "origin", "main", cwd=other), 1, forward_only)
    assert refs(story) == before
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")


def test_diff_names_a_link_it_will_not_read(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("a secret from outside\n", encoding="utf-8")
    (story / "pages" / "leak.md").symlink_to(outside)
    shown = gvcs("diff", cwd=story)
    assert shown.code == 0 and "a secret" not in shown.out
    assert shown.err == (
        "gvcs: warning: pages/leak.md is a symbolic link: a story holds regular files only "
        "(gvcs never follows a link); not shown\n"
    )
