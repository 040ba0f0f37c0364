"""A seeded story generator: pages of prose linked by FOLLOWS and ALTERNATE_OF, human and agent actors,
branches and commits. The same seed and sizes give the same pages, the same commits and (because every
commit carries a generated timestamp) the same commit ids, on every backend.

Used as a library by the benchmarks and the tests::

    from bench.generate import StoryGenerator
    gen = StoryGenerator(seed=7, pages=1000)
    head = gen.populate(repo)                  # one commit adding every actor and page on main
    for edit in gen.edits(100):                # single-page edits, ready to commit
        head = gen.apply(repo, edit, head)
    gen.generate(repo, commits=200, branches=3)  # or a whole history with branches
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from narrative_vcs.objects import Actor, Page, Signature, Story, event_trailer, format_message
from narrative_vcs.refs import branch_ref
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.snapshot import store_path
from narrative_vcs.types import ObjectId

__all__ = ["BASE_TIME", "Edit", "GeneratedHistory", "StoryGenerator", "build_history", "fast_import_stream"]

#: Commit time of the first generated commit (2024-01-01T00:00:00Z); each later commit is a minute on.
BASE_TIME = 1_704_067_200

_WORDS = [
    "the",
    "vault",
    "door",
    "lantern",
    "river",
    "archive",
    "keeper",
    "tide",
    "ember",
    "glass",
    "orchard",
    "signal",
    "thread",
    "harbour",
    "whisper",
    "cartographer",
    "ledger",
    "spore",
    "mycelium",
    "glyph",
    "ritual",
    "compass",
    "salt",
    "winter",
    "copper",
    "bell",
    "moth",
    "ferry",
    "stair",
    "garden",
    "mirror",
    "ash",
    "echo",
    "fox",
    "loom",
    "quarry",
    "raven",
    "silt",
    "thorn",
    "umber",
    "vessel",
    "willow",
    "yarrow",
    "and",
    "of",
    "in",
    "under",
    "over",
    "beyond",
    "toward",
    "against",
    "between",
    "beneath",
    "across",
    "was",
    "were",
    "had",
    "carried",
    "opened",
    "remembered",
    "forgot",
    "answered",
    "burned",
    "drifted",
    "folded",
    "gathered",
    "hid",
    "kept",
    "listened",
    "measured",
    "quietly",
    "slowly",
    "again",
    "never",
    "always",
    "once",
    "still",
    "old",
    "new",
    "cold",
    "bright",
    "hollow",
    "distant",
    "small",
]
_NAMES = [
    "Ada",
    "Basil",
    "Cora",
    "Dmitri",
    "Esme",
    "Felix",
    "Greta",
    "Hugo",
    "Iris",
    "Jonah",
    "Kit",
    "Lena",
    "Milo",
    "Nadia",
    "Otto",
    "Pia",
    "Quinn",
    "Rosa",
    "Silas",
    "Tove",
    "Ugo",
    "Vera",
    "Wren",
    "Xan",
    "Yusuf",
    "Zora",
]
_ARCHETYPES = ("scribe", "trickster", "archivist", "oracle", "gardener")


@dataclass(frozen=True)
class Edit:
    """One single-page edit: commit ``page`` on ``branch`` as ``actor``."""

    branch: str
    page: Page
    actor: str
    kind: str
    message: str
    timestamp: int
    number: int = 0  # the edit's number in its generator: its event id, for an agent's edit


@dataclass
class GeneratedHistory:
    """What :meth:`StoryGenerator.generate` made: the branch heads and the number of commits."""

    heads: dict[str, ObjectId] = field(default_factory=dict)
    commits: int = 0


class StoryGenerator:
    """Deterministic story content for a seed. Nothing here reads the clock or the environment."""

    def __init__(
        self,
        seed: int = 0,
        pages: int = 1000,
        humans: int = 4,
        agents: int = 2,
        paragraphs: tuple[int, int] = (2, 5),
    ) -> None:
        if pages < 1 or humans < 1:
            raise ValueError("a story needs at least one page and one human")
        self.seed = seed
        self.rng = random.Random(seed)
        self.paragraphs = paragraphs
        self.actors = [
            Actor(f"human-{i}", f"{_NAMES[i % len(_NAMES)]} {i}", "human") for i in range(humans)
        ] + [
            Actor(f"agent-{i}", f"Agent {_NAMES[-1 - i % len(_NAMES)]} {i}", "agent", _ARCHETYPES[i % 5])
            for i in range(agents)
        ]
        self.pages: dict[str, Page] = {}
        ids = [f"p{i:06d}" for i in range(pages)]
        for i, pid in enumerate(ids):
            follows: tuple[str, ...] = ()
            alternate_of = None
            if i > 0:
                # Mostly a reading chain, with the odd fork back to an earlier page.
                follows = (ids[i - 1],) if self.rng.random() < 0.9 else (ids[self.rng.randrange(i)],)
                if i > 2 and self.rng.random() < 0.05:
                    alternate_of = ids[self.rng.randrange(i - 1)]
            self.pages[pid] = Page(
                id=pid,
                title=f"Page {i} {self._word().title()}",
                body=self._body(ids[:i]),
                follows=follows,
                alternate_of=alternate_of,
                tags=(f"act-{1 + i * 3 // pages}",),
            )
        self._clock = BASE_TIME
        self._edits = 0

    # --- content ----------------------------------------------------------------------------------

    def _word(self) -> str:
        return self.rng.choice(_WORDS)

    def _sentence(self) -> str:
        words = [self._word() for _ in range(self.rng.randint(6, 16))]
        return " ".join(words).capitalize() + "."

    def _paragraph(self, earlier: list[str]) -> str:
        text = " ".join(self._sentence() for _ in range(self.rng.randint(2, 5)))
        if earlier and self.rng.random() < 0.2:
            text += f" See [[{self.rng.choice(earlier[-50:])}]]."
        return text

    def _body(self, earlier: list[str]) -> str:
        low, high = self.paragraphs
        return "\n\n".join(self._paragraph(earlier) for _ in range(self.rng.randint(low, high)))

    def story_record(self) -> Story:
        return Story(f"Generated story {self.seed}")

    def tick(self) -> int:
        """The next commit time: one minute after the previous one."""
        self._clock += 60
        return self._clock

    # --- commits ----------------------------------------------------------------------------------

    def initial_changes(self) -> ChangeSet:
        changes = ChangeSet().set_story(self.story_record())
        for actor in self.actors:
            changes.upsert_actor(actor)
        for page in self.pages.values():
            changes.upsert_page(page)
        return changes

    def populate(self, repo: Repository, branch: str = "main") -> ObjectId:
        """Commit the story record, every actor and every page on a new ``branch``."""
        return repo.commit(
            branch,
            self.initial_changes(),
            actor=self.actors[0].id,
            message=f"Start the story with {len(self.pages)} pages",
            expected_head=repo.branch_head(branch),
            timestamp=self.tick(),
        )

    def edit(self, branch: str = "main") -> Edit:
        """A new version of one random page (one paragraph rewritten) by a random actor."""
        pid = self.rng.choice(list(self.pages)) if len(self.pages) < 64 else self._random_page_id()
        page = self.pages[pid]
        paragraphs = page.body.rstrip("\n").split("\n\n")
        index = self.rng.randrange(len(paragraphs))
        paragraphs[index] = self._paragraph([])
        self._edits += 1
        page = replace(page, body="\n\n".join(paragraphs))
        self.pages[pid] = page
        actor = self.rng.choice(self.actors)
        kind = "agent.emit.v1" if actor.kind == "agent" else "edit"
        message = f"Revise {pid}: paragraph {index + 1}"
        return Edit(branch, page, actor.id, kind, message, self.tick(), self._edits)

    def _random_page_id(self) -> str:
        # list(self.pages) per edit would cost O(pages); ids are dense, so draw an index.
        return f"p{self.rng.randrange(len(self.pages)):06d}"

    def edits(self, count: int, branch: str = "main") -> Iterator[Edit]:
        for _ in range(count):
            yield self.edit(branch)

    def apply(self, repo: Repository, edit: Edit, head: ObjectId | None) -> ObjectId:
        """Commit ``edit`` on top of ``head`` (the branch's current head)."""
        event = _agent_event(edit)
        return repo.commit(
            edit.branch,
            ChangeSet(pages={edit.page.id: edit.page}),
            actor=edit.actor,
            message=edit.message,
            expected_head=head,
            kind=edit.kind,
            event=event,
            event_id=f"gen-{self.seed}-{edit.number}" if event else None,
            timestamp=edit.timestamp,
        )

    def generate(self, repo: Repository, commits: int, branches: int = 2) -> GeneratedHistory:
        """A history of ``commits`` commits in all: the initial one, then single-page edits spread over
        ``main`` and ``branches`` side branches forked from main along the way."""
        history = GeneratedHistory()
        history.heads["main"] = self.populate(repo)
        history.commits = 1
        names = ["main"]
        for i in range(commits - 1):
            if len(names) <= branches and i % max(1, commits // (branches + 1)) == 0 and i:
                name = f"draft-{len(names)}"
                repo.create_branch(name, "main")
                history.heads[name] = history.heads["main"]
                names.append(name)
            branch = "main" if self.rng.random() < 0.6 else self.rng.choice(names)
            history.heads[branch] = self.apply(repo, self.edit(branch), history.heads[branch])
            history.commits += 1
        return history


# --- a long history, fast ---------------------------------------------------------------------------


def _signature(actor: Actor, when: int) -> str:
    return Signature(actor.name, actor.email, when, 0).serialise()


def fast_import_stream(gen: StoryGenerator, commits: int, branch: str = "main") -> Iterator[bytes]:
    """A ``git fast-import`` stream of a linear gvcs history: the commit :meth:`StoryGenerator.populate`
    makes, then ``commits - 1`` single-page edits, each byte for byte the commit ``Repository.commit``
    writes for it (same store layout, signatures, message and ``Gvcs-*`` trailers)."""
    actors = {a.id: a for a in gen.actors}
    ref = f"refs/heads/{branch}"

    def data(payload: bytes) -> bytes:
        return b"data %d\n%s\n" % (len(payload), payload)

    def commit(actor: Actor, when: int, message: str, trailers: dict[str, str], mark: int) -> bytes:
        sig = _signature(actor, when).encode()
        head = b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref.encode(), mark, sig, sig)
        body = data(format_message(message, trailers).encode())
        return head + body + (b"from :%d\n" % (mark - 1) if mark > 1 else b"")

    def modify(path: str, payload: bytes) -> bytes:
        return b"M 100644 inline %s\n" % store_path(path).encode() + data(payload)

    first = gen.actors[0]
    parts = [commit(first, gen.tick(), f"Start the story with {len(gen.pages)} pages", _facts(first.id), 1)]
    parts.append(modify(Story.PATH, gen.story_record().serialise()))
    parts += [modify(a.path, a.serialise()) for a in gen.actors]
    parts += [modify(p.path, p.serialise()) for p in gen.pages.values()]
    yield b"".join(parts)
    for mark in range(2, commits + 1):
        edit = gen.edit(branch)
        event = _agent_event(edit)
        facts = _facts(edit.actor, edit.kind, f"gen-{gen.seed}-{edit.number}" if event else None, event)
        actor = actors[edit.actor]
        yield commit(actor, edit.timestamp, edit.message, facts, mark) + modify(
            edit.page.path, edit.page.serialise()
        )


def _agent_event(edit: Edit) -> dict[str, str] | None:
    """An agent's edit is the ``agent.emit.v1`` event it is: the page's new text (and the message)."""
    if edit.kind == "edit":
        return None
    return {"page": edit.page.id, "body": edit.page.body, "message": edit.message}


def _facts(
    actor: str, kind: str = "edit", event_id: str | None = None, event: dict[str, str] | None = None
) -> dict[str, str]:
    # The trailers Repository.commit writes, in its order.
    facts = {"Gvcs-Actor": actor, "Gvcs-Kind": kind}
    if event_id is not None:
        facts["Gvcs-Event-Id"] = event_id
    if event is not None:
        facts["Gvcs-Event"] = event_trailer(event)
    return facts


def build_history(
    root: Path, gen: StoryGenerator, commits: int, branch: str = "main", *, verify: bool = False
) -> ObjectId:
    """A new gvcs repository at ``root`` with a linear history of ``commits`` commits, made in seconds
    by ``git fast-import`` (which writes one delta-compressed pack) from :func:`fast_import_stream`.
    The branch ref is then set through the gvcs ref store, with its reflog entry: past the rules gate
    (a trusted import), or with ``verify`` through it, which checks every commit."""
    from narrative_vcs.graph.factory import init_repository, open_repository
    from narrative_vcs.graph.git import GitRefStore

    init_repository(root, branch=branch).close()
    git_dir = root / ".gvcs"
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    # fast-import writes the ref itself, without a reflog; gvcs sets it again below.
    for chunk in fast_import_stream(gen, commits, branch):
        proc.stdin.write(chunk)
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    err = b""
    if proc.stderr is not None:
        err = proc.stderr.read()
        proc.stderr.close()
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed: {err.decode()[-500:]}")
    ref = git_dir / "refs" / "heads" / branch
    head = ObjectId(ref.read_text(encoding="ascii").strip())
    ref.unlink()
    who, message = "gvcs bench <bench@actors.gvcs>", "bench: history"
    if not verify:
        refs = GitRefStore(git_dir)
        try:
            refs.set_if_equals(branch_ref(branch), None, head, who=who, message=message)
        finally:
            refs.close()
        return head
    repo = open_repository(root)
    try:
        repo.refs.set_if_equals(branch_ref(branch), None, head, who=who, message=message)
    finally:
        repo.close()
    return head
