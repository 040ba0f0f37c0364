"""Shared fixtures of the core tests.

Backends: every implementation of the ObjectStore/RefStore contract is a fixture that yields a
:class:`Backend`; ``BACKENDS`` lists them and the parametrised ``backend`` fixture runs a test once per
entry. A new backend (Neo4j) joins the shared suite by adding its fixture and its name to ``BACKENDS``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from narrative_vcs.access import AccessStore, MemoryAccessStore
from narrative_vcs.graph.access_file import FileAccessStore
from narrative_vcs.graph.factory import GVCS_DIR, init_repository
from narrative_vcs.graph.git import GitObjectStore, GitRefStore, init_git_dir
from narrative_vcs.objects import Actor, Page
from narrative_vcs.refs import MemoryRefStore, RefStore
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.rules import story_rules
from narrative_vcs.store import MemoryObjectStore, ObjectStore
from narrative_vcs.types import ObjectId
from tests import services

GIT = shutil.which("git")


@dataclass
class Backend:
    name: str
    objects: ObjectStore
    refs: RefStore
    git_dir: Path | None = None  # set for backends that real git can read
    access: AccessStore = field(default_factory=MemoryAccessStore)


@pytest.fixture
def memory_backend() -> Iterator[Backend]:
    yield Backend("memory", MemoryObjectStore(), MemoryRefStore())


@pytest.fixture
def neo4j_backend(neo4j_uri: str) -> Iterator[Backend]:
    """The real Neo4j server of ``scripts/neo4j``, emptied for each test (one story per database)."""
    from narrative_vcs.graph.neo4j import open_neo4j

    objects, refs, access = open_neo4j(neo4j_uri)
    objects.server.clear()
    yield Backend("neo4j", objects, refs, access=access)
    objects.close()


@pytest.fixture
def git_backend(tmp_path: Path) -> Iterator[Backend]:
    git_dir = tmp_path / "store.git"
    init_git_dir(git_dir)
    backend = Backend("git", GitObjectStore(git_dir), GitRefStore(git_dir), git_dir, FileAccessStore(git_dir))
    yield backend
    backend.objects.close()
    backend.refs.close()


#: Every backend of the shared suite, by fixture name.
BACKENDS = ["memory_backend", "git_backend", "neo4j_backend"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def objects(backend: Backend) -> ObjectStore:
    return backend.objects


@pytest.fixture
def refs(backend: Backend) -> RefStore:
    return backend.refs


@pytest.fixture
def repo(backend: Backend) -> Iterator[Repository]:
    """A repository over each backend, HEAD on ``main``, no commits."""
    repository = Repository(backend.objects, backend.refs, backend.access, rules=story_rules())
    repository.set_head_branch("main")
    yield repository


@pytest.fixture
def bare_repo(backend: Backend) -> Iterator[Repository]:
    """The same backend without the story's rules: the core's own mechanics, which the rules would
    otherwise stand in front of (an event that is not one, a state file written by hand)."""
    repository = Repository(backend.objects, backend.refs, backend.access)
    repository.set_head_branch("main")
    yield repository


@pytest.fixture
def disk_repo(tmp_path: Path) -> Iterator[Repository]:
    """A repository on disk made by ``init_repository`` (work tree ``tmp_path/story``)."""
    repository = init_repository(tmp_path / "story")
    yield repository
    repository.close()


@pytest.fixture
def git_dir(tmp_path: Path, disk_repo: Repository) -> Path:
    return tmp_path / "story" / GVCS_DIR


# --- writing stories ----------------------------------------------------------------------------

ADA = Actor("ada", "Ada Lovelace", "human")
BOT = Actor("bot", "Loom Bot", "agent", archetype="weaver")
CAL = Actor("cal", "Cal Merger", "human")


class Writer:
    """Commits to a branch with fewer words: pages by id and body, times that only go forward."""

    def __init__(self, repo: Repository, branch: str = "main", start_time: int = 1_700_000_000) -> None:
        self.repo = repo
        self.branch = branch
        self.time = start_time
        self.events = 0

    def setup(self, *actors: Actor, pages: Sequence[Page] = ()) -> ObjectId:
        """The first commit: the actors (ada, bot and cal unless given) and some pages."""
        changes = ChangeSet()
        for actor in actors or (ADA, BOT, CAL):
            changes.upsert_actor(actor)
        for page in pages:
            changes.upsert_page(page)
        return self.commit(changes, actor=(actors or (ADA,))[0].id, message="Set up the story")

    def commit(
        self,
        changes: ChangeSet,
        *,
        actor: str = "ada",
        message: str = "Edit",
        branch: str | None = None,
        **kwargs: object,
    ) -> ObjectId:
        branch = branch or self.branch
        self.time += 60
        kwargs.setdefault("timestamp", self.time)
        return self.repo.commit(
            branch,
            changes,
            actor=actor,
            message=message,
            expected_head=self.repo.branch_head(branch),
            **kwargs,  # type: ignore[arg-type]
        )

    def page(
        self, page_id: str, body: str, *, actor: str = "ada", title: str | None = None, **fields: object
    ) -> ObjectId:
        """Commit one page (``title`` defaults to the id; ``fields``: follows, tags, timestamp ...).

        With ``kind="agent.emit.v1"`` the page is an agent's event, ingested as events are."""
        commit_args = {k: fields.pop(k) for k in ("timestamp", "branch", "kind") if k in fields}
        page = Page(page_id, title or page_id.title(), body, **fields)  # type: ignore[arg-type]
        if commit_args.get("kind") == "agent.emit.v1":
            payload = {
                "page": page.id,
                "title": page.title,
                "body": page.body,
                "follows": list(page.follows),
                "alternate_of": page.alternate_of,
                "tags": list(page.tags),
                "message": f"Write {page_id}",
            }
            branch = str(commit_args.get("branch") or self.branch)
            return self.event(
                "agent.emit.v1", payload, actor=actor, branch=branch, timestamp=commit_args.get("timestamp")
            )
        return self.commit(
            ChangeSet().upsert_page(page), actor=actor, message=f"Write {page_id}", **commit_args
        )

    def event(
        self,
        topic: str,
        payload: dict[str, object],
        *,
        actor: str = "ada",
        branch: str | None = None,
        timestamp: object = None,
    ) -> ObjectId:
        """Commit one event through the intake (its commit time: the writer's next time)."""
        from narrative_vcs.events import Event, ingest

        self.time += 60
        when = self.time if timestamp is None else int(timestamp)  # type: ignore[call-overload]
        self.events += 1
        event = Event(topic, f"writer-{self.events}", actor, payload, branch or self.branch, when)
        result = ingest(self.repo, event)
        assert result.commit is not None
        return result.commit

    def mint(self, balances: dict[str, int], *, minter: str = "ada", branch: str | None = None) -> ObjectId:
        """Mint tokens for each actor of ``balances`` (gift.txn.v1 events by ``minter``)."""
        last = None
        for to, amount in balances.items():
            if amount:
                last = self.event(
                    "gift.txn.v1", {"op": "mint", "to": to, "amount": amount}, actor=minter, branch=branch
                )
        assert last is not None
        return last


@pytest.fixture
def writer(repo: Repository) -> Writer:
    return Writer(repo)


@pytest.fixture
def disk_writer(disk_repo: Repository) -> Writer:
    return Writer(disk_repo)


# --- real git ------------------------------------------------------------------------------------


def _git(git_dir: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    assert GIT is not None, "git is needed for the interop tests"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
    with _no_packer(git_dir) if args[:1] == ("fsck",) else contextlib.nullcontext():
        result = subprocess.run(
            [GIT, f"--git-dir={git_dir}", *args], input=input, capture_output=True, env=env, check=False
        )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}")
    return result.stdout.decode()


@contextlib.contextmanager
def _no_packer(git_dir: Path) -> Iterator[None]:
    """Hold the packer's lock: wait for a background packer to finish and keep others out.

    gvcs packs in a detached process (like ``git gc --auto``), which may outlive the writer that
    started it; a ``git fsck`` running while it swaps packs would see a pack vanish, as it would
    during a concurrent ``git gc``.
    """
    fd = os.open(git_dir / "gvcs-pack.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def git_cli() -> object:
    """``git_cli(git_dir, *args, input=None, check=True)``: run real git on a store, return stdout."""
    return _git


# --- services ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[str]:
    """The URI of the Neo4j server that ``make test`` starts (``GVCS_TEST_NEO4J_URI``).

    Without a server the test is skipped, except under ``CI=true``, where it fails: CI must run them.
    """
    uri = services.neo4j_uri()
    if uri is None:
        problem = services.neo4j_problem()
        if services.in_ci():
            pytest.fail(f"Neo4j is needed under CI=true: {problem}", pytrace=False)
        pytest.skip("Neo4j is not running: scripts/neo4j start")
    # The tests empty the database as they go: two test runs on one server would disturb each other,
    # so a run holds the server for the whole session (a second run waits for it).
    import tempfile

    lock_path = Path(tempfile.gettempdir()) / f"gvcs-tests-{services.parse_neo4j_uri(uri).port}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield uri


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the Redis server that ``make test`` starts (``GVCS_TEST_REDIS_URL``).

    Without a server the test is skipped, except under ``CI=true``, where it fails. Tests share the
    server with anything else on it: every key and queue of a story is named after its store id, and
    each test's story is new, so nothing needs emptying.
    """
    url = services.redis_url()
    if url is None:
        problem = services.redis_problem()
        if services.in_ci():
            pytest.fail(f"Redis is needed under CI=true: {problem}", pytrace=False)
        pytest.skip(f"Redis is not running: scripts/redis start ({problem})")
    return url
