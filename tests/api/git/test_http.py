"""``/git`` of a real ``gvcs serve``: the stock ``git`` client clones, fetches and lists the story over
smart HTTP (api/git/http.py, narrative_vcs/gitwire.py), from the embedded store and from Neo4j."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
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

from ..serving import EventStream, get_json, serve, wait_for_subscribers
from ..vault import build_vault

BOB_GIT = {
    "GIT_AUTHOR_NAME": "Bob Builder",
    "GIT_AUTHOR_EMAIL": "bob@actors.gvcs",
    "GIT_COMMITTER_NAME": "Bob Builder",
    "GIT_COMMITTER_EMAIL": "bob@actors.gvcs",
}
PROTECTED = "main is protected: open a proposal (gvcs propose SOURCE --into main) (rule: protected-branches)"

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(
    *args: str, cwd: Path | None = None, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **GIT_ENV, **(env or {})}
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


def test_a_packed_story_goes_out_with_the_deltas_its_packs_keep(tmp_path: Path) -> None:
    repo = init_repository(tmp_path / "story")
    w = Writer(repo)
    w.setup()
    text = "\n\n".join(
        f"Paragraph {n}, long enough for git to keep its versions as deltas." for n in range(40)
    )
    for n in range(8):
        w.page("long", f"{text}\n\nEdit {n}.")
    repo.objects.pack(full=True)  # type: ignore[attr-defined]
    heads = [c.id for c in repo.walk(["main"])]
    repo.close()
    with serve(tmp_path / "story") as server:
        url = f"{server.base}/git"
        # (the pack is kept as it came, not unpacked into loose objects)
        git("-c", "transfer.unpackLimit=1", "clone", "-q", url, str(tmp_path / "clone"))
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "clone")
        assert git("log", "--format=%H", cwd=tmp_path / "clone").stdout.split() == heads
        (pack,) = (tmp_path / "clone" / ".git" / "objects" / "pack").glob("*.idx")
        listing = git("verify-pack", "-v", str(pack)).stdout
        assert "chain length = " in listing  # objects arrived as deltas, and git resolved them
        # A shallow clone: deltas whose base stays behind go whole.
        git("clone", "-q", "--depth", "1", url, str(tmp_path / "shallow"))
        git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "shallow")
        assert git("log", "--format=%H", cwd=tmp_path / "shallow").stdout.split() == heads[:1]
        # The shallow clone fetches a newer commit with a depth, deeper, then the whole history.
        repo = open_repository(tmp_path / "story")
        newer = Writer(repo, start_time=1_800_000_000).page("long", f"{text}\n\nEdit 9.")
        repo.close()
        shallow = tmp_path / "shallow"
        plain = git("fetch", "-q", "origin", cwd=shallow, check=False)  # dulwich needs a depth here
        assert (
            plain.returncode != 0
            and "remote error: a shallow clone fetches from this server with a depth" in plain.stderr
        )
        for args, listed in (
            (["--depth", "1"], [newer]),
            (["--depth", "3"], [newer, *heads[:2]]),
            (["--unshallow"], [newer, *heads]),
        ):
            git("fetch", "-q", *args, "origin", cwd=shallow)
            git("fsck", "--strict", "--no-dangling", cwd=shallow)
            assert git("log", "--format=%H", "origin/main", cwd=shallow).stdout.split() == listed


def _request(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{base}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_requests_that_are_not_git_get_answers_and_leave_no_trace(tmp_path: Path) -> None:
    """Dumb-protocol paths, bodies that are not pkt-lines, wants of objects nobody advertised,
    random bytes: each answered below 500, protocol errors as git's ERR line; the server logs no
    traceback (``serve`` checks its stderr) and still clones."""
    import random

    heads = make_story(tmp_path / "story")
    token = token_for(tmp_path / "story", "ada")
    auth = {"authorization": "Basic " + base64.b64encode(f"ada:{token}".encode()).decode()}
    upload = {"content-type": "application/x-git-upload-pack-request"}
    receive = {"content-type": "application/x-git-receive-pack-request", **auth}
    zero = "0" * 40
    with serve(tmp_path / "story") as server:
        base = server.base
        assert _request(base, "GET", "/git/HEAD") == (200, b"ref: refs/heads/main\n")
        for path in ("/git/objects/info/alternates", "/git/objects/ab/cdef", "/git/info/refs?service=nope"):
            assert _request(base, "GET", path)[0] < 500
        status, body = _request(base, "POST", "/git/git-upload-pack", b"garbage", upload)
        assert status == 200 and b"ERR not git's protocol: " in body
        status, body = _request(base, "POST", "/git/git-upload-pack", f"0032want {zero}\n".encode(), upload)
        assert status == 200 and b"ERR " in body
        status, body = _request(base, "POST", "/git/git-receive-pack", b"0004", receive)
        assert status < 500
        status, _ = _request(base, "POST", "/git/git-upload-pack", b"0000", {"content-type": "text/plain"})
        assert status == 403  # not git's content type
        rnd = random.Random(14)
        for n in range(40):
            noise = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
            if n % 2:
                noise = b"%04x" % min(len(noise) + 4, 0xFFFF) + noise
            path, headers = (("/git/git-upload-pack", upload), ("/git/git-receive-pack", receive))[n % 3 == 0]
            assert _request(base, "POST", path, noise, headers)[0] < 500
        git("clone", "-q", f"{base}/git", str(tmp_path / "clone"))
        assert git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == heads[0]
    assert _head(tmp_path / "story") == heads[0]


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
def _head(story: Path, branch: str = "main") -> str | None:
    repo = open_repository(story)
    try:
        return repo.branch_head(branch)
    finally:
        repo.close()


def _big_pages(clone: Path, names: list[str], seed: int) -> None:
    """Pages of about 800 KB of words that do not compress much: their push is megabytes."""
    import random
    import string

    from narrative_vcs.snapshot import store_path

    rnd = random.Random(seed)
    for name in names:
        words = " ".join("".join(rnd.choices(string.ascii_letters, k=8)) for _ in range(90_000))
        path = clone / store_path(f"pages/{name}.md")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {name}\n---\n{words}\n")
    git("add", "-A", cwd=clone)
    git("-c", "user.name=Ada", "-c", "user.email=ada@actors.gvcs", "commit", "-qm", "Big pages", cwd=clone)


def test_a_push_of_megabytes_lands_and_one_past_max_push_is_refused_with_the_reason(tmp_path: Path) -> None:
    make_story(tmp_path / "story")
    token = token_for(tmp_path / "story", "ada")
    clone = tmp_path / "clone"
    with serve(tmp_path / "story") as server:
        port = server.base.rsplit(":", 1)[1]
        git("clone", "-q", f"http://ada:{token}@127.0.0.1:{port}/git", str(clone))
        _big_pages(clone, ["big-one", "big-two"], seed=1)  # git sends it chunked, past 1 MiB
        git("push", "-q", "origin", "main", cwd=clone)
        landed = git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    assert _head(tmp_path / "story") == landed
    with serve(tmp_path / "story", "--max-push", "1") as server:
        port = server.base.rsplit(":", 1)[1]
        git("remote", "set-url", "origin", f"http://ada:{token}@127.0.0.1:{port}/git", cwd=clone)
        _big_pages(clone, ["big-three", "big-four"], seed=2)
        refused = git("push", "origin", "main", cwd=clone, check=False)
        assert refused.returncode != 0
        assert (
            "! [remote rejected] main -> main (the push is larger than this server takes (1 MiB"
            in refused.stderr
        )
    assert _head(tmp_path / "story") == landed
    bad = subprocess.run(
        [
            str(Path(sys.executable).with_name("gvcs")),
            "-C",
            str(tmp_path / "story"),
            "serve",
            "--max-push",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr == "gvcs: error: --max-push must be at least 1 (MiB), not 0\n"


def test_git_clones_and_pushes_a_story_kept_in_neo4j(
    tmp_path: Path, neo4j_backend: Backend, neo4j_uri: str
) -> None:
    heads = make_story(tmp_path / "story", store=neo4j_uri)
    token = token_for(tmp_path / "story", "ada")
    with serve(tmp_path / "story") as server:
        git("clone", "-q", f"{server.base}/git", str(tmp_path / "clone"))
        check_clone(tmp_path / "clone", heads)
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
        # Shallow: a clone of one commit, then fetches with a depth and of the whole history.
        shallow = tmp_path / "shallow"
        git("clone", "-q", "--depth", "1", f"{server.base}/git", str(shallow))
        assert git("log", "--format=%H", cwd=shallow).stdout.split() == [mine]
        repo = open_repository(tmp_path / "story")
        newer = Writer(repo, start_time=1_800_000_000).page("intro", "Later.")
        repo.close()
        for args, listed in (
            (["--depth", "2"], [newer, mine]),
            (["--unshallow"], [newer, mine, *heads]),
        ):
            git("fetch", "-q", *args, "origin", cwd=shallow)
            git("fsck", "--strict", "--no-dangling", cwd=shallow)
            assert git("log", "--format=%H", "origin/main", cwd=shallow).stdout.split() == listed


def test_basic_credentials_carry_the_token_as_the_password() -> None:
    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert basic_token(None) is None
    assert basic_token(basic("ada:gvcs_secret")) == "gvcs_secret"
    assert basic_token(basic("anything:gvcs_secret:with:colons")) == "gvcs_secret:with:colons"
    assert basic_token("Bearer gvcs_secret") == "gvcs_secret"
    assert basic_token(basic("ada")) == "" and basic_token(basic("ada:")) == ""
    assert basic_token("Basic !!!") == "" and basic_token("Digest x") == ""


@pytest.mark.parametrize("store", ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_git_pushes_meet_the_storys_rules_and_reach_the_event_stream(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """The vault (tests/api/vault.py): main protected, ada holds 5 gift tokens. bob clones with his
    token; a push into main, a hand-made ledger, a commit in ada's name, a force push and a push
    without a token are refused with their reasons; an honest page edit on draft lands as bob, shows in
    ``gvcs log`` and on ``/events``."""
    uri = None
    if store == "neo4j":
        request.getfixturevalue("neo4j_backend")  # the server, emptied for this test
        uri = request.getfixturevalue("neo4j_uri")
    built = build_vault(tmp_path, store=uri)
    clone = tmp_path / "clone"
    with serve(built.root) as server:
        git("clone", "-q", f"http://bob:{built.tokens['bob']}@127.0.0.1:{server.port}/git", str(clone))
        assert git("branch", "--show-current", cwd=clone).stdout.strip() == "main"
        # Straight into the protected main: refused by the gate, as the GraphQL API refuses it.
        commit_as(clone, "Bob Builder", "bob@actors.gvcs", "Straight into main")
        into_main = git("push", "origin", "main", cwd=clone, check=False)
        assert into_main.returncode != 0
        assert "! [remote rejected] main -> main (commit " in into_main.stderr
        assert f" by bob: {PROTECTED})" in into_main.stderr
        # A ledger written by hand (bob mints himself tokens): refused; only gift events write it.
        git("switch", "-q", "-c", "work", "origin/draft", cwd=clone)
        (clone / "ledger.yaml").write_text("balances: {ada: 5, bob: 1000000}\n")
        git("commit", "-q", "-am", "Riches", cwd=clone, env=BOB_GIT)
        forged = git("push", "origin", "HEAD:draft", cwd=clone, check=False)
        assert forged.returncode != 0 and "! [remote rejected] HEAD -> draft (" in forged.stderr
        assert "ledger.yaml is written only by gift.txn.v1 events (gvcs gift)" in forged.stderr
        # An edit of door in ada's name: refused.
        git("reset", "-q", "--hard", "origin/draft", cwd=clone)
        (door,) = git("ls-files", "pages/*/*/door.md", cwd=clone).stdout.split()
        text = (clone / door).read_text()
        (clone / door).write_text(text.replace("Nobody came.", "Bob came."))
        git(
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@actors.gvcs",
            "commit",
            "-q",
            "-am",
            "As ada",
            cwd=clone,
        )
        as_ada = git("push", "origin", "HEAD:draft", cwd=clone, check=False)
        assert as_ada.returncode != 0 and "must be authored by bob" in as_ada.stderr
        # A force push that drops draft's last commit: refused, history is never rewritten.
        git("reset", "-q", "--hard", "origin/draft~1", cwd=clone)
        commit_as(clone, "Bob Builder", "bob@actors.gvcs", "Another past")
        forced = git("push", "-f", "origin", "HEAD:draft", cwd=clone, check=False)
        assert forced.returncode != 0 and "! [remote rejected] HEAD -> draft (" in forced.stderr
        assert "would lose commits (not a fast-forward)" in forced.stderr
        # Without a token: git is asked for credentials and has none.
        anonymous = git("push", f"{server.base}/git", "HEAD:draft", cwd=clone, check=False)
        assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
        git("reset", "-q", "--hard", "origin/draft", cwd=clone)
        (clone / door).write_text(text.replace("Nobody came.", "Bob came."))
        git("commit", "-q", "-am", "Door", cwd=clone, env=BOB_GIT)  # bob's own, pushed below
        assert get_json(f"{server.base}/health")["ok"]
        repo = open_repository(built.root)
        assert repo.branches() == built.heads  # nothing moved
        repo.close()
        # The honest edit, as bob: lands, and reaches a reader of /events.
        stream = EventStream(
            server, "/events?branch=draft", {"authorization": f"Bearer {built.tokens['cal']}"}
        )
        try:
            wait_for_subscribers(server, 1)
            git("commit", "-q", "--amend", "--reset-author", "-m", "Bob came", cwd=clone, env=BOB_GIT)
            mine = git("rev-parse", "HEAD", cwd=clone).stdout.strip()
            git("push", "-q", "origin", "HEAD:draft", cwd=clone)
            event = stream.next()
        finally:
            stream.close()
        assert (event["event"], event["id"]) == ("commit", f"draft:{mine}")
        sent = json.loads(event["data"])
        assert (sent["actor"], sent["subject"]) == ("bob", "Bob came")
        logged = gvcs_cli(built.root, "log", "draft", "-n", "1")
        assert mine[:7] in logged and "Bob came" in logged and "bob" in logged
        # Someone else commits on draft through GraphQL; git fetch brings it.
        edit = {"upsertPage": {"id": "hall", "title": "Hall", "body": "A hall of mirrors."}}
        body = server.graphql(
            "mutation($input: CommitInput!) { commit(input: $input) { commit { id } } }",
            {"input": {"branch": "draft", "expectedHead": mine, "message": "Mirrors", "changes": [edit]}},
            authorization=f"Bearer {built.tokens['ada']}",
        )
        theirs = body["data"]["commit"]["commit"]["id"]
        git("fetch", "-q", "origin", cwd=clone)
        assert git("rev-parse", "origin/draft", cwd=clone).stdout.strip() == theirs
        assert "A hall of mirrors." in git("show", "origin/draft", cwd=clone).stdout
    git("fsck", "--strict", "--no-dangling", cwd=clone)
    repo = open_repository(built.root)
    assert repo.branch_head("draft") == theirs and repo.branch_head("main") == built.heads["main"]
    assert repo.fsck().ok
    repo.close()


def gvcs_cli(story: Path, *args: str) -> str:
    """``gvcs -C STORY ARGS`` as its own process, which must succeed; its output."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GVCS_")}
    command = [str(Path(sys.executable).with_name("gvcs")), "-C", str(story), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout
