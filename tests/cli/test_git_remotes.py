"""``gvcs remote``/``clone``/``push``/``fetch``/``pull`` with git remotes (narrative_vcs/remotes.py):
a bare repository served by a real ``git daemon`` (a git host's stand-in), the same repository by path
and ``file://``, and a real ``gvcs serve`` over smart HTTP with a token in the URL or from git's
credential helper."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from narrative_vcs.graph.factory import open_repository

from ..api.serving import free_port, serve
from .conftest import Gvcs, ok, one_line_error

GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Mara Ink",
    "GIT_AUTHOR_EMAIL": "mara@actors.gvcs",
    "GIT_COMMITTER_NAME": "Mara Ink",
    "GIT_COMMITTER_EMAIL": "mara@actors.gvcs",
}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    environ = {**os.environ, "HOME": "/nonexistent", **GIT_ENV, **(env or {})}
    done = subprocess.run(["git", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def log_ids(gvcs: Gvcs, cwd: Path, rev: str = "HEAD") -> list[str]:
    return [c["id"] for c in json.loads(ok(gvcs("log", rev, "--json", cwd=cwd)).out)]


def tags(gvcs: Gvcs, cwd: Path) -> dict[str, str]:
    return {t["name"]: t["commit"] for t in json.loads(ok(gvcs("tag", "--json", cwd=cwd)).out)}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[str]:
    """A bare repository ``hub.git`` (HEAD: main) served read-write by ``git daemon``; its git:// URL."""
    base = tmp_path / "served"
    base.mkdir()
    git("init", "-q", "--bare", "-b", "main", str(base / "hub.git"))
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={base}", "--reuseaddr",
         "--listen=127.0.0.1", f"--port={port}", "--informative-errors", str(base)],
        env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "git daemon did not start"
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/hub.git"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_story_lives_on_a_git_host_pushed_cloned_and_pulled_with_tags(
    gvcs: Gvcs, story: Path, tmp_path: Path, daemon: str
) -> None:
    ok(gvcs("remote", "add", "hub", daemon, cwd=story))
    assert ok(gvcs("remote", "-v", cwd=story)).out == f"hub\t{daemon}\n"
    ok(gvcs("tag", "v1", cwd=story))
    pushed = ok(gvcs("push", "hub", cwd=story)).out
    assert "refs/heads/main" in pushed and "new tag v1" in pushed
    mine = log_ids(gvcs, story)
    # The git host holds the same commits, ids and all, and the tag.
    git("clone", "-q", daemon, str(tmp_path / "plain"))
    plain = tmp_path / "plain"
    assert git("log", "--format=%H", cwd=plain).split() == mine
    assert git("tag", cwd=plain).split() == ["v1"]
    git("fsck", "--strict", "--no-dangling", cwd=plain)

    # A gvcs clone of the git host: every branch, the tags, a work tree, origin remembered.
    ok(gvcs("clone", daemon, "copy"))
    copy = tmp_path / "copy"
    assert log_ids(gvcs, copy) == mine and list(tags(gvcs, copy)) == ["v1"]
    assert (copy / "pages" / "opening.md").is_file()
    assert ok(gvcs("status", cwd=copy)).out.endswith("nothing to commit, work tree clean\n")

    # Someone commits with plain git and pushes an annotated and a plain tag.
    (page,) = git("ls-files", "pages/*/*/opening.md", cwd=plain).split()
    (plain / page).write_text((plain / page).read_text() + "\nA line from plain git.\n")
    git("commit", "-q", "-am", "From plain git", cwd=plain)
    git("tag", "-a", "v2", "-m", "Second", cwd=plain)
    git("tag", "v2-light", cwd=plain)
    git("push", "-q", "origin", "main", "v2", "v2-light", cwd=plain)
    theirs = git("rev-parse", "HEAD", cwd=plain).strip()

    # fetch: the remote-tracking branch and the tags, the local branch untouched.
    fetched = ok(gvcs("fetch", "hub", cwd=story)).out
    assert f"{mine[0][:10]}..{theirs[:10]} main -> hub/main (1 new commit(s))" in fetched
    assert log_ids(gvcs, story, "hub/main")[0] == theirs and log_ids(gvcs, story)[0] == mine[0]
    # An annotated tag arrives as a tag on the commit it names (the story's tags name commits).
    assert tags(gvcs, story) == {"v1": mine[0], "v2": theirs, "v2-light": theirs}
    assert "everything up to date" in ok(gvcs("fetch", "hub", cwd=story)).out

    # pull in the clone (origin): fast-forward, tags along, the work tree follows.
    pulled = ok(gvcs("pull", "origin", cwd=copy)).out
    assert f"Fast-forward main to {theirs[:10]}" in pulled
    assert "A line from plain git." in (copy / "pages" / "opening.md").read_text()
    assert set(tags(gvcs, copy)) == {"v1", "v2", "v2-light"}

    # A commit made in gvcs goes back, and plain git fetches it.
    (copy / "pages" / "second.md").write_text((copy / "pages" / "second.md").read_text() + "\nMore.\n")
    ok(gvcs("commit", "-m", "From gvcs", actor="mara", cwd=copy))
    ok(gvcs("tag", "v3", cwd=copy))
    assert "new tag v3" in ok(gvcs("push", "origin", cwd=copy)).out
    git("pull", "-q", "--ff-only", cwd=plain)
    assert git("log", "-1", "--format=%H %s", cwd=plain).split(" ", 1) == [
        log_ids(gvcs, copy)[0],
        "From gvcs\n",
    ]
    assert "v3" in git("ls-remote", "--tags", daemon)
    git("fsck", "--strict", "--no-dangling", cwd=plain)

    # The git host moved on: a push of the stale story is refused until it pulls.
    ok(gvcs("page", "new", "third", "--title", "Third", cwd=story))
    ok(gvcs("commit", "-m", "Diverged", actor="mara", cwd=story))
    error = one_line_error(gvcs("push", "hub", cwd=story), 1)
    assert "has commits that branch 'main' here does not contain: pull (fetch and merge) first" in error
    assert git("rev-parse", "HEAD", cwd=plain).strip() == log_ids(gvcs, copy)[0]
    assert "Merged hub/main into main" in ok(gvcs("pull", "hub", actor="mara", cwd=story)).out
    ok(gvcs("push", "hub", cwd=story))
    assert log_ids(gvcs, story)[0] in git("ls-remote", daemon, "refs/heads/main")


def test_bare_repository_paths_and_file_urls(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    git("init", "-q", "--bare", "-b", "main", str(tmp_path / "bare.git"))
    ok(gvcs("remote", "add", "bare", "../bare.git", cwd=story))
    assert ok(gvcs("remote", "-v", cwd=story)).out == f"bare\t{tmp_path / 'bare.git'}\n"
    ok(gvcs("push", "bare", cwd=story))
    assert git("rev-parse", "main", cwd=tmp_path / "bare.git").strip() == log_ids(gvcs, story)[0]
    ok(gvcs("clone", f"file://{tmp_path / 'bare.git'}", "by-url"))
    assert log_ids(gvcs, tmp_path / "by-url") == log_ids(gvcs, story)
    ok(gvcs("clone", "bare.git"))  # the directory is named after the repository, without .git
    assert log_ids(gvcs, tmp_path / "bare") == log_ids(gvcs, story)
    assert json.loads(ok(gvcs("fetch", "--json", cwd=tmp_path / "bare")).out)["remote"] == "origin"


def test_a_gvcs_server_is_cloned_and_pushed_to_over_http(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    token = ok(gvcs("token", "create", "mara", cwd=story)).out.strip().split()[-1]
    assert token.startswith("gvcs_")
    with serve(story) as server:
        url = f"{server.base}/git"
        (tmp_path / "elsewhere").mkdir()
        ok(gvcs("clone", url, cwd=tmp_path / "elsewhere"))  # a gvcs server's /git: the directory "story"
        copy = tmp_path / "elsewhere" / "story"
        assert log_ids(gvcs, copy) == log_ids(gvcs, story)
        (copy / "pages" / "second.md").write_text(
            (copy / "pages" / "second.md").read_text() + "\nOver HTTP.\n"
        )
        ok(gvcs("commit", "-m", "Over HTTP", actor="mara", cwd=copy))
        # No credentials: the server asks, and gvcs says how to give them.
        error = one_line_error(gvcs("push", "origin", cwd=copy), 1)
        assert "asks for credentials: put an API token in the URL" in error
        # A git credential helper gives the token (as it would to git).
        home = tmp_path / "home"
        home.mkdir()
        (home / "creds").write_text(f"http://mara:{token}@127.0.0.1:{server.port}\n")
        helper = {"HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
        git("config", "--global", "credential.helper", f"store --file={home / 'creds'}", env=helper)
        assert "refs/heads/main (1 commit," in ok(gvcs("push", "origin", cwd=copy, env=helper)).out
        story_repo = open_repository(story)
        assert story_repo.branch_head("main") == log_ids(gvcs, copy)[0]
        assert next(iter(story_repo.walk(["main"]))).actor == "mara"
        story_repo.close()
        # In another actor's name: the server's gate refuses, and gvcs shows its reason.
        (copy / "pages" / "second.md").write_text((copy / "pages" / "second.md").read_text() + "\nBot.\n")
        ok(gvcs("commit", "-m", "As bot", actor="bot", cwd=copy))
        with_token = f"http://mara:{token}@127.0.0.1:{server.port}/git"
        ok(gvcs("remote", "add", "direct", with_token, cwd=copy))
        assert token not in ok(gvcs("remote", "-v", cwd=copy)).out  # the password is not shown
        error = one_line_error(gvcs("push", "direct", cwd=copy), 1)
        assert f"127.0.0.1:{server.port}/git refused refs/heads/main: commit " in error
        assert "commits pushed by mara must be authored by mara" in error and "(rule: authorship)" in error
        assert token not in error


def test_git_remote_errors_are_one_line(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    (tmp_path / "plain-dir").mkdir()
    port = free_port()  # nothing listens there
    ok(gvcs("remote", "add", "down", f"http://127.0.0.1:{port}/git", cwd=story))
    assert "is not reachable" in one_line_error(gvcs("fetch", "down", cwd=story), 1)
    assert "is not reachable" in one_line_error(gvcs("push", "down", cwd=story), 1)
    assert "is not reachable" in one_line_error(gvcs("clone", f"git://127.0.0.1:{port}/x.git", "x"), 1)
    assert not (tmp_path / "x").exists()
    ok(gvcs("remote", "add", "gone", f"file://{tmp_path / 'nothing.git'}", cwd=story))
    assert "not a git repository" in one_line_error(gvcs("fetch", "gone", cwd=story), 2)
    git("init", "-q", "--bare", "-b", "main", str(tmp_path / "empty.git"))
    assert "holds no branches to clone" in one_line_error(gvcs("clone", "empty.git", "e"), 2)
    assert not (tmp_path / "e").exists()
    ok(gvcs("remote", "add", "empty", "../empty.git", cwd=story))
    assert "has no branch 'nope'" in one_line_error(gvcs("fetch", "empty", "nope", cwd=story), 2)
    error = one_line_error(gvcs("remote", "add", "x", "../plain-dir", cwd=story), 2)
    assert "a gvcs repository nor a git repository" in error
    # A host ssh would take for an option is no host (git's CVE-2017-1000117); nothing is run.
    for evil in ("ssh://-oProxyCommand=touch%20/tmp/gvcs-pwned/x", "git@-oProxyCommand=x:p"):
        assert "is not a host name" in one_line_error(gvcs("remote", "add", "evil", evil, cwd=story), 2)
    config = story / ".gvcs" / "gvcs.json"
    import json

    settings = json.loads(config.read_text())
    settings.setdefault("remotes", {})["evil"] = "ssh://git@-oProxyCommand=touch%20%2Ftmp%2Fgvcs-pwned/x"
    config.write_text(json.dumps(settings))  # kept by an older gvcs: refused when used, in one line
    assert "is not a host name" in one_line_error(gvcs("fetch", "evil", cwd=story), 2)
    assert not Path("/tmp/gvcs-pwned").exists()


def test_ssh_urls_go_through_the_ssh_command(gvcs: Gvcs, story: Path, tmp_path: Path) -> None:
    """``ssh://`` and ``user@host:path`` remotes run ``$GIT_SSH_COMMAND`` as git does; here a stand-in
    for ssh that logs its arguments and runs the remote command on this machine."""
    git("init", "-q", "--bare", "-b", "main", str(tmp_path / "hub.git"))
    fake = tmp_path / "fake-ssh"
    fake.write_text('#!/bin/sh\necho "$@" >> "$0.log"\nfor last; do :; done\nexec sh -c "$last"\n')
    fake.chmod(0o755)
    ssh = {"GIT_SSH_COMMAND": str(fake)}
    ok(gvcs("remote", "add", "hub", f"ssh://writer@story.example:2222{tmp_path / 'hub.git'}", cwd=story))
    ok(gvcs("push", "hub", cwd=story, env=ssh))
    assert git("rev-parse", "main", cwd=tmp_path / "hub.git").strip() == log_ids(gvcs, story)[0]
    ok(gvcs("clone", f"writer@story.example:{tmp_path / 'hub.git'}", "copy", env=ssh))
    assert log_ids(gvcs, tmp_path / "copy") == log_ids(gvcs, story)
    calls = (tmp_path / "fake-ssh.log").read_text().splitlines()
    assert any("-p 2222" in c and "writer@story.example" in c and "git-receive-pack" in c for c in calls)
    assert any("writer@story.example" in c and "git-upload-pack" in c for c in calls)
