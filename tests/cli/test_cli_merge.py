"""``gvcs merge``, ``conflicts`` and ``resolve`` through real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Gvcs, ok, one_line_error

DARK, RAN, HID = (
    "The vault was dark.\n\nThe fox waited.\n",
    "The vault was dark.\n\nThe fox ran.\n",
    "The vault was dark.\n\nThe fox hid.\n",
)
MARKERS = "<<<<<<< ours\nThe fox ran.\n||||||| base\nThe fox waited.\n=======\nThe fox hid.\n>>>>>>> theirs"
PAGE = "---\ntitle: Second\nfollows: [opening]\nalternate_of: null\ntags: []\nglyphs: []\n---\n{body}"


def write_second(story: Path, body: str) -> None:
    (story / "pages" / "second.md").write_text(PAGE.format(body=body))


def diverge(gvcs: Gvcs, story: Path, ours: str, theirs: str) -> None:
    """``side`` sets the second page's body to ``theirs``; ``main`` to ``ours``."""
    write_second(story, DARK)
    ok(gvcs("commit", "-m", "Base", actor="mara", cwd=story))
    ok(gvcs("switch", "-c", "side", cwd=story))
    write_second(story, theirs)
    ok(gvcs("commit", "-m", "Theirs", actor="bot", cwd=story))
    ok(gvcs("switch", "main", cwd=story))
    write_second(story, ours)
    ok(gvcs("commit", "-m", "Ours", actor="mara", cwd=story))


def log_json(gvcs: Gvcs, story: Path) -> list[dict[str, object]]:
    result: list[dict[str, object]] = json.loads(ok(gvcs("log", "--json", cwd=story)).out)
    return result


def test_a_clean_merge_commits_with_two_parents(gvcs: Gvcs, story: Path) -> None:
    diverge(
        gvcs, story, "The vault was very dark.\n\nThe fox waited.\n", "The vault was dark.\n\nThe fox hid.\n"
    )
    result = ok(gvcs("merge", "side", actor="mara", cwd=story))
    assert "Merged side into main" in result.out
    head = log_json(gvcs, story)[0]
    assert head["kind"] == "merge" and len(head["parents"]) == 2  # type: ignore[arg-type]
    assert (
        "very dark" in (story / "pages/second.md").read_text()
        and "hid" in (story / "pages/second.md").read_text()
    )
    assert ok(gvcs("status", cwd=story)).out.endswith("nothing to commit, work tree clean\n")


def test_a_conflict_stops_with_markers_and_abort_restores_everything(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    before = (story / "pages/second.md").read_bytes()
    head = log_json(gvcs, story)[0]["id"]
    result = gvcs("merge", "side", actor="mara", cwd=story)
    assert result.code == 1 and "content" in result.out and "pages/second.md" in result.out
    text = (story / "pages/second.md").read_text()
    assert (
        "<<<<<<< ours\nThe fox ran.\n||||||| base\nThe fox waited.\n=======\nThe fox hid.\n>>>>>>> theirs"
        in text
    )
    assert (story / ".gvcs" / "MERGE_HEAD").is_file()
    assert "unresolved conflicts" in one_line_error(gvcs("commit", "-m", "x", actor="mara", cwd=story), 1)
    assert "a merge is in progress" in one_line_error(gvcs("merge", "side", actor="mara", cwd=story), 1)
    ok(gvcs("merge", "--abort", cwd=story))
    assert (story / "pages/second.md").read_bytes() == before
    assert not (story / ".gvcs" / "MERGE_HEAD").exists()
    assert log_json(gvcs, story)[0]["id"] == head


def test_resolve_then_continue(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    assert gvcs("merge", "side", actor="mara", cwd=story).code == 1
    listed = json.loads(ok(gvcs("conflicts", "--json", cwd=story)).out)
    assert [(c["kind"], c["page"], c["resolved"]) for c in listed] == [("content", "second", False)]
    assert listed[0]["regions"] == [
        {"base": "The fox waited.", "ours": "The fox ran.", "theirs": "The fox hid."}
    ]
    ok(gvcs("resolve", "second", "--theirs", cwd=story))
    assert json.loads(ok(gvcs("conflicts", "--json", cwd=story)).out)[0]["resolved"] is True
    ok(gvcs("merge", "--continue", actor="mara", cwd=story))
    head = log_json(gvcs, story)[0]
    assert head["kind"] == "merge" and head["subject"] == "Merge side into main"
    assert "The fox hid." in (story / "pages/second.md").read_text()


def test_editing_out_the_markers_resolves_and_commit_concludes_the_merge(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    assert gvcs("merge", "side", actor="mara", cwd=story).code == 1
    write_second(story, "The vault was dark.\n\nThe fox ran, then hid.\n")
    ok(gvcs("commit", "-m", "Merge: the fox does both", actor="mara", cwd=story))
    head = log_json(gvcs, story)[0]
    assert head["kind"] == "merge" and len(head["parents"]) == 2  # type: ignore[arg-type]


def test_strategy_fast_forward_and_no_ff(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    ok(gvcs("merge", "side", "--strategy", "union", actor="mara", cwd=story))
    assert "The fox ran.\n\nThe fox hid." in (story / "pages/second.md").read_text()
    ok(gvcs("switch", "-c", "later", cwd=story))
    write_second(story, "The end.\n")
    ok(gvcs("commit", "-m", "Later", actor="mara", cwd=story))
    ok(gvcs("switch", "main", cwd=story))
    assert "Fast-forward" in ok(gvcs("merge", "later", actor="mara", cwd=story)).out
    assert "Already up to date." in ok(gvcs("merge", "later", actor="mara", cwd=story)).out


def test_bad_merge_inputs(gvcs: Gvcs, story: Path) -> None:
    assert "unknown revision" in one_line_error(gvcs("merge", "nope", actor="mara", cwd=story), 2)
    assert "no merge in progress" in one_line_error(gvcs("merge", "--continue", actor="mara", cwd=story), 1)
    assert "no merge in progress" in one_line_error(gvcs("conflicts", cwd=story), 1)
    one_line_error(gvcs("resolve", "second", cwd=story), 2)
    write_second(story, "Uncommitted.\n")
    # Nothing to merge: said so, uncommitted changes or not (as git does).
    assert "Already up to date." in ok(gvcs("merge", "main", actor="mara", cwd=story)).out


def test_uncommitted_changes_stop_only_a_merge_that_would_overwrite_them(gvcs: Gvcs, story: Path) -> None:
    """As in git: an uncommitted change to a file the merge rewrites refuses it with nothing done; a
    change to another file stays, still uncommitted; a merge that stops with conflicts wants a clean
    work tree (concluding it commits every file, aborting it puts every file back)."""
    very_dark = "The vault was very dark.\n\nThe fox waited.\n"
    diverge(gvcs, story, very_dark, HID)
    head = log_json(gvcs, story)[0]["id"]
    write_second(story, "Uncommitted.\n")
    error = one_line_error(gvcs("merge", "side", actor="mara", cwd=story), 1)
    assert "pages/second.md" in error and "would be overwritten" in error
    assert log_json(gvcs, story)[0]["id"] == head
    assert "Uncommitted." in (story / "pages/second.md").read_text()
    write_second(story, very_dark)  # back as committed
    opening = story / "pages/opening.md"
    edited = opening.read_text() + "\nA note not yet committed.\n"
    opening.write_text(edited)
    assert "Merged side into main" in ok(gvcs("merge", "side", actor="mara", cwd=story)).out
    assert opening.read_text() == edited
    assert "very dark" in (story / "pages/second.md").read_text()
    assert "The fox hid." in (story / "pages/second.md").read_text()
    changed = json.loads(ok(gvcs("status", "--json", cwd=story)).out)
    assert [c["path"] for c in changed["changes"]] == ["pages/opening.md"]
    merged = ok(gvcs("diff", "--stat", "HEAD~1", "HEAD", cwd=story)).out
    assert "second" in merged and "opening" not in merged


def test_a_merge_with_conflicts_wants_a_clean_work_tree(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    opening = story / "pages/opening.md"
    edited = opening.read_text() + "\nA note.\n"
    opening.write_text(edited)
    error = one_line_error(gvcs("merge", "side", actor="mara", cwd=story), 1)
    assert "conflicts to resolve" in error and "pages/opening.md" in error
    assert "no merge in progress" in one_line_error(gvcs("conflicts", cwd=story), 1)
    assert (story / "pages/second.md").read_text() == PAGE.format(body=RAN)
    assert opening.read_text() == edited
    assert not (story / ".gvcs" / "gvcs-journal.json").exists()
    ok(gvcs("commit", "-m", "A note", actor="mara", cwd=story))  # nothing left locked or half done
    assert "Merged side into main" not in gvcs("merge", "side", actor="mara", cwd=story).out  # conflicts


def test_rebase_cherry_pick_and_revert(gvcs: Gvcs, story: Path) -> None:
    ok(gvcs("switch", "-c", "side", cwd=story))
    ok(gvcs("page", "new", "coda", "--title", "Coda", "--follows", "second", cwd=story))
    ok(gvcs("commit", "-m", "Add a coda", actor="bot", cwd=story))
    ok(gvcs("switch", "main", cwd=story))
    write_second(story, "Main's second page.\n")
    ok(gvcs("commit", "-m", "Main edit", actor="mara", cwd=story))
    ok(gvcs("switch", "side", cwd=story))
    assert "Rebased 1 commit(s) of side onto main" in ok(gvcs("rebase", "main", actor="bot", cwd=story)).out
    assert "Main's second page." in (story / "pages/second.md").read_text()
    assert (story / "pages/coda.md").is_file()
    ok(gvcs("switch", "main", cwd=story))
    ok(gvcs("cherry-pick", "side", actor="mara", cwd=story))
    assert (story / "pages/coda.md").is_file()
    assert 'Revert "Add a coda"' in ok(gvcs("revert", "HEAD", actor="mara", cwd=story)).out
    assert not (story / "pages/coda.md").exists()
    assert log_json(gvcs, story)[0]["kind"] == "revert"
    write_second(story, "Dirty.\n")
    assert "uncommitted" in one_line_error(gvcs("revert", "HEAD", actor="mara", cwd=story), 1)


def test_merge_resolve_rebase_cherry_pick_and_revert_speak_json(gvcs: Gvcs, story: Path) -> None:
    diverge(gvcs, story, RAN, HID)
    stopped = gvcs("merge", "side", "--json", actor="mara", cwd=story)
    report = json.loads(stopped.out)
    assert stopped.code == 1 and report["status"] == "conflicts" and report["source"] == "side"
    assert [c["path"] for c in report["conflicts"]] == ["pages/second.md"]
    resolved = json.loads(ok(gvcs("resolve", "second", "--theirs", "--json", cwd=story)).out)
    assert resolved == {"path": "pages/second.md", "resolved": True, "side": "theirs", "file": None}
    merged = json.loads(ok(gvcs("merge", "--continue", "--json", actor="mara", cwd=story)).out)
    assert merged["status"] == "merged" and merged["commit"] == log_json(gvcs, story)[0]["id"]
    ok(gvcs("switch", "-c", "later", cwd=story))
    ok(gvcs("page", "new", "coda", "--title", "Coda", "--follows", "second", cwd=story))
    ok(gvcs("commit", "-m", "Add a coda", actor="bot", cwd=story))
    ok(gvcs("switch", "main", cwd=story))
    picked = json.loads(ok(gvcs("cherry-pick", "later", "--json", actor="mara", cwd=story)).out)
    assert picked["branch"] == "main" and picked["subject"] == "Add a coda"
    reverted = json.loads(ok(gvcs("revert", "HEAD", "--json", actor="mara", cwd=story)).out)
    assert (
        reverted["subject"] == 'Revert "Add a coda"' and reverted["commit"] == log_json(gvcs, story)[0]["id"]
    )
    ok(gvcs("switch", "later", cwd=story))
    rebased = json.loads(ok(gvcs("rebase", "main", "--json", actor="bot", cwd=story)).out)
    assert rebased["branch"] == "later" and rebased["onto"] == "main" and len(rebased["commits"]) == 1
    assert rebased["head"] == rebased["commits"][-1]
    uptodate = json.loads(ok(gvcs("merge", "main", "--json", actor="bot", cwd=story)).out)
    assert uptodate["status"] == "up-to-date" and uptodate["conflicts"] == []
