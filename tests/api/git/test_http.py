"""``/git`` of a real ``gvcs serve``: the stock ``git`` client clones, fetches and lists the story over
smart HTTP (api/git/http.py, narrative_vcs/gitwire.py), from the embedded store and from Neo4j."""

from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from api.git.http import basic_token
from narrative_vcs.access import READS, create_token
from narrative_vcs.graph.factory import init_repository, open_repository
from narrative_vcs.repository import Repository
from narrative_vcs.types import RefName
from tests.conftest import Backend, Writer

from ..serving import serve

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done


def make_story(root: Path, store: str | None = None) -> list[str]:
    """A story with a few commits, a second branch and a tag; the commit ids of main, newest first."""
    repo = init_repository(root, store=store)
    w = Writer(repo)
    w.setup()
    w.page("intro", "Once.")
    repo.create_branch("drafts")
    w.page("vault", "The door.")
    repo.create_tag("v1", "main")
    heads = [c.id for c in repo.walk(["main"])]
    repo.close()
    return heads


def check_clone(clone: Path, heads: list[str]) -> None:
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == heads[0]
    assert git("log", "--format=%H", cwd=clone).stdout.split() == heads
    assert git("tag", cwd=clone).stdout.split() == ["v1"]
    assert "origin/drafts" in git("branch", "-r", cwd=clone).stdout
    git("fsck", "--strict", "--no-dangling", cwd=clone)


def test_git_clones_fetches_and_lists_an_embedded_story(tmp_path: Path) -> None:
    heads = make_story(tmp_path / "story")
    with serve(tmp_path / "story") as server:
        url = f"{server.base}/git"
        git("clone", "-q", url, str(tmp_path / "clone"))
        check_clone(tmp_path / "clone", heads)
        listed = dict(reversed(line.split("\t")) for line in git("ls-remote", url).stdout.splitlines())
        assert listed["refs/heads/main"] == heads[0] and listed["HEAD"] == heads[0]
        assert "refs/tags/v1" in listed
        # Someone else commits; a fetch brings it, and a shallow clone takes one commit.
        repo = open_repository(tmp_path / "story")
        newer = Writer(repo, start_time=1_800_000_000).page("intro", "Twice.")
        repo.close()
        git("fetch", "-q", "origin", cwd=tmp_path / "clone")
        assert git("rev-parse", "origin/main", cwd=tmp_path / "clone").stdout.strip() == newer
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "clone")
        git("clone", "-q", "--depth", "1", f"{url}/story.git", str(tmp_path / "shallow"))
        assert git("log", "--format=%H", cwd=tmp_path / "shallow").stdout.split() == [newer]
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "shallow")
        # A partial clone is not offered (the objects it would fetch later could not be had): the
        # clone is whole, and its work tree is checked out.
        git("clone", "-q", "--filter=blob:none", url, str(tmp_path / "partial"))
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "partial")
        assert (tmp_path / "partial" / "actors" / "ada.yaml").is_file()
        assert git("status", "--porcelain", cwd=tmp_path / "partial").stdout == ""


def test_a_closed_story_needs_a_token_as_the_password(tmp_path: Path) -> None:
    heads = make_story(tmp_path / "story")
    repo: Repository = open_repository(tmp_path / "story")
    repo.access.set_setting(READS, "token")
    _record, token = create_token(repo.access, "ada")
    repo.close()
    with serve(tmp_path / "story") as server:
        refused = git("clone", "-q", f"{server.base}/git", str(tmp_path / "anon"), check=False)
        assert refused.returncode != 0 and not (tmp_path / "anon").exists()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.base}/git/info/refs?service=git-upload-pack", timeout=10)
        assert info.value.code == 401 and "Basic" in info.value.headers["www-authenticate"]
        assert "password" in info.value.read().decode()
        bad = base64.b64encode(b"ada:not-a-token").decode()
        request = urllib.request.Request(
            f"{server.base}/git/info/refs?service=git-upload-pack", headers={"Authorization": f"Basic {bad}"}
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 401 and "invalid or revoked API token" in info.value.read().decode()
        port = server.base.rsplit(":", 1)[1]
        git("clone", "-q", f"http://ada:{token}@127.0.0.1:{port}/git", str(tmp_path / "clone"))
        check_clone(tmp_path / "clone", heads)


def commit_as(clone: Path, name: str, email: str, message: str, path: str = "notes.txt") -> str:
    (clone / path).write_text(message + "\n")
    git("add", path, cwd=clone)
    git("-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-q", "-m", message, cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).stdout.strip()


def token_for(story: Path, actor: str) -> str:
    repo = open_repository(story)
    _record, token = create_token(repo.access, actor)
    repo.close()
    return token


def test_a_push_with_a_token_lands_as_its_actor_and_the_gate_refuses_the_rest(tmp_path: Path) -> None:
    heads = make_story(tmp_path / "story")
    token = token_for(tmp_path / "story", "ada")
    with serve(tmp_path / "story") as server:
        port = server.base.rsplit(":", 1)[1]
        url = f"http://ada:{token}@127.0.0.1:{port}/git"
        clone = tmp_path / "clone"
        git("clone", "-q", url, str(clone))
        mine = commit_as(clone, "Ada Lovelace", "ada@actors.gvcs", "Notes by git")
        # Anonymous: asked for credentials (401), and git has none to give.
        anonymous = git("push", f"{server.base}/git", "main", cwd=clone, check=False)
        assert anonymous.returncode != 0
        git("push", "-q", "origin", "main", cwd=clone)
        repo = open_repository(tmp_path / "story")
        assert repo.branch_head("main") == mine
        assert next(iter(repo.walk(["main"]))).actor == "ada"
        repo.close()
        # In another actor's name: refused, with the reason git shows.
        forged = commit_as(clone, "Bot", "bot@actors.gvcs", "Not mine")
        refused = git("push", "origin", "main", cwd=clone, check=False)
        assert refused.returncode != 0
        assert "! [remote rejected] main -> main" in refused.stderr
        assert "must be authored by ada" in refused.stderr and "rule: authorship" in refused.stderr
        # A page at a path the story does not use (flat, where the store shards): refused, naming the
        # path to use.
        git("reset", "-q", "--hard", mine, cwd=clone)
        (clone / "pages" / "flat.md").write_text("---\ntitle: Flat\n---\nA flat page.\n")
        git("add", "pages/flat.md", cwd=clone)
        git(
            "-c", "user.name=Ada", "-c", "user.email=ada@actors.gvcs", "commit", "-q", "-m", "Flat", cwd=clone
        )
        flat = git("push", "origin", "main", cwd=clone, check=False)
        assert flat.returncode != 0 and "page flat is stored at pages/" in flat.stderr
        # A force push that would drop commits: refused too.
        git("reset", "-q", "--hard", heads[0], cwd=clone)
        commit_as(clone, "Ada", "ada@actors.gvcs", "Rewrite", path="other.txt")
        forced = git("push", "-f", "origin", "main", cwd=clone, check=False)
        assert forced.returncode != 0 and "not a fast-forward" in forced.stderr
        # --atomic: one bad ref, nothing lands.
        atomic = git("push", "--atomic", "origin", "HEAD:refs/heads/side", "HEAD:refs/remotes/x", cwd=clone,
                     check=False)  # fmt: skip
        assert atomic.returncode != 0 and "atomic push failed" in atomic.stderr
        listed = git("ls-remote", "origin", cwd=clone).stdout
        assert "refs/heads/side" not in listed and forged not in listed
        # Without --atomic each ref on its own: a new branch and a tag land.
        git("push", "-q", "origin", "HEAD:refs/heads/side", cwd=clone)
        git("tag", "v2", cwd=clone)
        git("push", "-q", "origin", "v2", cwd=clone)
    repo = open_repository(tmp_path / "story")
    assert repo.branch_head("main") == mine
    assert repo.refs.get(RefName("refs/tags/v2")) == repo.refs.get(RefName("refs/heads/side"))
    assert repo.fsck().ok
    repo.close()


@pytest.mark.neo4j
def test_git_clones_and_pushes_a_story_kept_in_neo4j(
    tmp_path: Path, neo4j_backend: Backend, neo4j_uri: str
) -> None:
    heads = make_story(tmp_path / "story", store=neo4j_uri)
    token = token_for(tmp_path / "story", "ada")
    with serve(tmp_path / "story") as server:
        git("clone", "-q", f"{server.base}/git", str(tmp_path / "clone"))
        check_clone(tmp_path / "clone", heads)
        git("clone", "-q", "--depth", "1", f"{server.base}/git", str(tmp_path / "shallow"))
        assert git("log", "--format=%H", cwd=tmp_path / "shallow").stdout.split() == heads[:1]
        port = server.base.rsplit(":", 1)[1]
        clone = tmp_path / "clone"
        git("remote", "set-url", "origin", f"http://ada:{token}@127.0.0.1:{port}/git", cwd=clone)
        mine = commit_as(clone, "Ada Lovelace", "ada@actors.gvcs", "Notes by git")
        git("push", "-q", "origin", "main", cwd=clone)
        commit_as(clone, "Cal", "cal@actors.gvcs", "Not mine")
        refused = git("push", "origin", "main", cwd=clone, check=False)
        assert refused.returncode != 0 and "rule: authorship" in refused.stderr
        git("clone", "-q", f"{server.base}/git", str(tmp_path / "again"))
        assert git("rev-parse", "HEAD", cwd=tmp_path / "again").stdout.strip() == mine
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "again")


def test_basic_credentials_carry_the_token_as_the_password() -> None:
    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert basic_token(None) is None
    assert basic_token(basic("ada:gvcs_secret")) == "gvcs_secret"
    assert basic_token(basic("anything:gvcs_secret:with:colons")) == "gvcs_secret:with:colons"
    assert basic_token("Bearer gvcs_secret") == "gvcs_secret"
    assert basic_token(basic("ada")) == "" and basic_token(basic("ada:")) == ""
    assert basic_token("Basic !!!") == "" and basic_token("Digest x") == ""
