"""``gvcs token create|list|revoke`` and ``gvcs access`` through real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from narrative_vcs.access import READS, authenticate
from narrative_vcs.graph.factory import open_repository

from .conftest import Gvcs, ok, one_line_error


def test_token_lifecycle(gvcs: Gvcs, story: Path) -> None:
    made = ok(gvcs("token", "create", "mara", "--label", "laptop", cwd=story))
    token = made.out.strip()
    assert token.startswith("gvcs_") and len(token.splitlines()) == 1
    assert "shown only this once" in made.err and "note:" not in made.err
    repo = open_repository(story)
    record = authenticate(repo.access, token)
    assert record is not None and record.actor == "mara"
    assert token not in (story / ".gvcs" / "gvcs-access.json").read_text()

    listed = json.loads(ok(gvcs("token", "list", "--json", cwd=story)).out)
    assert listed == [{"id": record.id, "actor": "mara", "label": "laptop", "created": record.created}]
    assert token not in ok(gvcs("token", "list", cwd=story)).out

    ok(gvcs("token", "revoke", record.id, cwd=story))
    assert authenticate(open_repository(story).access, token) is None
    assert "no token" in one_line_error(gvcs("token", "revoke", record.id, cwd=story), 2)


def test_token_for_an_actor_the_story_lacks_warns(gvcs: Gvcs, story: Path) -> None:
    made = ok(gvcs("token", "create", "newbie", "--json", cwd=story))
    assert json.loads(made.out)["actor"] == "newbie"
    assert "no actor 'newbie'" in made.err


def test_token_bad_input(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    assert "invalid actor id" in one_line_error(gvcs("token", "create", "../x", cwd=story), 2)
    assert "invalid token id" in one_line_error(gvcs("token", "revoke", "zz", cwd=story), 2)
    assert one_line_error(gvcs("token", "create", "mara", cwd=tmp_path), 2)
    assert ok(gvcs("token", "list", "--json", cwd=story)).out.strip() == "[]"


def test_access_reads_setting(gvcs: Gvcs, story: Path) -> None:
    assert ok(gvcs("access", cwd=story)).out.startswith("reads: open")
    assert json.loads(ok(gvcs("access", "token", "--json", cwd=story)).out) == {"reads": "token"}
    assert open_repository(story).access.get_setting(READS) == "token"
    assert one_line_error(gvcs("access", "closed", cwd=story), 2)
    assert open_repository(story).access.get_setting(READS) == "token"
