"""The demo story, built through the repository API: pages, actors, three branches and a tag.

*The Library of Pages* is a small story of a library whose pages remember every edit, a vault sealed by
glyphs that mean something different at every rotation, two agents (the copyist ``cop-e-right`` and the
trickster ``london-fox``) and the Phoenix watchdog that burns corrupted pages and lets them rise again.

Commit times are fixed (from 2026-11-21 09:00 UTC, seven minutes apart), so every run builds the same
commits with the same ids. This module only calls :class:`~narrative_vcs.repository.Repository`; the
CLI opens the repository on disk and checks out the work tree.
"""

from __future__ import annotations

from collections.abc import Callable

from .objects import Actor, Glyph, Page, Story
from .records import record
from .repository import ChangeSet, Repository
from .types import ObjectId

__all__ = ["BASE_TIME", "DemoSummary", "build_demo"]

#: 2026-11-21T09:00:00Z
BASE_TIME = 1_795_251_600
STEP = 7 * 60

ACTORS = (
    Actor("imogen", "Imogen Vale", "human", "librarian"),
    Actor("cop-e-right", "Cop-E-Right", "agent", "copyist"),
    Actor("london-fox", "London Fox", "agent", "trickster"),
)

STORY = Story(
    "The Library of Pages",
    (
        # docs/governance.md: main is not protected in the demo, so its history can be made by commits;
        # `gvcs propose` and `gvcs vote` work on it with these rules.
        ("governance", {"quorum": 2, "threshold": 0.5, "window": 86400, "weight": "one-actor-one-vote"}),
        # docs/events.md: what turning each glyph does (gvcs ritual GLYPH --rotation DEG).
        (
            "glyphs",
            [
                {
                    "id": "key-of-margins",
                    "rotation": 90,
                    "opcode": "create_branch",
                    "args": {"name": "margin-{n}"},
                },
                {
                    "id": "key-of-margins",
                    "rotation": 180,
                    "opcode": "tag_head",
                    "args": {"name": "turned-{n}"},
                },
                {
                    "id": "ward-of-ink",
                    "rotation": 270,
                    "opcode": "emit",
                    "args": {"page": "fox-margin-notes", "body": "A ward of ink, turned by {actor}."},
                },
            ],
        ),
        ("gift", {"minters": ["imogen"]}),
        ("phoenix", {"restarts": 3, "minutes": 10}),
    ),
)


def _page(
    page_id: str,
    title: str,
    paragraphs: list[str],
    follows: tuple[str, ...] = (),
    alternate_of: str | None = None,
    tags: tuple[str, ...] = (),
    glyphs: tuple[Glyph, ...] = (),
) -> Page:
    return Page(page_id, title, "\n\n".join(paragraphs), follows, alternate_of, tags, glyphs)


PAGES: dict[str, Page] = {
    p.id: p
    for p in (
        _page(
            "prologue",
            "The Library of Pages",
            [
                "The Library of Pages has no books. It has pages: loose, numbered by nobody, shelved by "
                "whoever last touched them. Every page remembers every hand that ever changed it, and "
                "on quiet nights you can hear them whispering the names.",
                "Imogen Vale came to the Library as a night librarian with one rule from her predecessor: "
                "never write on a page you cannot put back. She did not understand it until the first "
                "page she corrected remembered the correction, and the one before it, and the one before "
                "that.",
                "Past the reading room, behind a door with no handle, is the vault. Nobody alive has "
                "opened it. Everybody alive has an opinion about what is inside. The story starts in "
                "[[the-catalogue]].",
            ],
            tags=("act-1",),
        ),
        _page(
            "the-catalogue",
            "The Catalogue That Reads Back",
            [
                "The catalogue is a wooden cabinet of four hundred and twelve drawers. Each drawer holds "
                "the history of one shelf, written as a chain of small cards: who changed what, when, "
                "and on which page it followed.",
                "When Imogen pulled the drawer for the vault, it was empty except for one card in an "
                "unfamiliar hand: *the copyist will wake when the count is wrong*.",
                "She counted the drawers twice. Four hundred and thirteen.",
            ],
            follows=("prologue",),
            tags=("act-1",),
        ),
        _page(
            "cop-e-right-wakes",
            "Cop-E-Right Wakes",
            [
                "Cop-E-Right had been folded into the thirteenth drawer like a letter nobody sent. It "
                "unfolded into a tall figure of ruled lines and margins, cleared its throat with the "
                "sound of a page turning, and asked to see everyone's sources.",
                "It was an agent of the oldest kind: a copyist. It could reproduce any page exactly, and "
                "it could tell, with a glance, whether a page had been copied from another without saying "
                "so. It found that second talent much more interesting than the first.",
                '"Someone has been borrowing pages," it said, "and not putting them back." It pointed '
                "toward [[the-vault-door]].",
            ],
            follows=("the-catalogue",),
            tags=("act-1",),
        ),
        _page(
            "the-vault-door",
            "The Vault Door",
            [
                "The vault door is a single page of iron, taller than the shelves. There is no lock. "
                "There is a glyph, pressed into the metal at eye level: a key drawn inside a margin.",
                "Cop-E-Right studied it for an hour and announced that the glyph was upside down. Imogen "
                "said a key has no upside. The copyist said that was exactly the kind of thing a "
                "forger would say.",
            ],
            follows=("cop-e-right-wakes",),
            tags=("act-1", "vault"),
            glyphs=(Glyph("key-of-margins", 90),),
        ),
        _page(
            "london-fox-arrives",
            "The London Fox",
            [
                "The London Fox arrived by the night train, which does not stop at the Library, so it "
                "simply stepped off while the train was still moving. It wore a coat the colour of old "
                "ink and carried a satchel full of pages that were not its own.",
                "It was an agent too, but of the newer kind: it wrote alternatives. Give it a page and "
                "it would give you the same page, told otherwise, and swear the second was the first.",
                '"I hear you have a vault," said the fox, "and a copyist who counts. I have come for '
                'one of those things."',
            ],
            follows=("the-catalogue",),
            tags=("act-1", "fox"),
        ),
        _page(
            "the-stacks",
            "Interlude in the Stacks",
            [
                "In the stacks, the pages shuffle when no one watches: a page that follows another "
                "will lean toward it, and alternates of the same page stand back to back like rivals.",
                "The fox walked the aisles reading only the first line of every page. That is how "
                "foxes read. It is also how they find the one page that does not belong.",
            ],
            follows=("london-fox-arrives",),
            tags=("interlude",),
        ),
        _page(
            "glyph-rotations",
            "Ninety Degrees of Meaning",
            [
                "Imogen found the answer in the margins of the catalogue: a glyph is not a picture but a "
                "hand on a clock. Turned to 0 it means *read*, to 90 *keep*, to 180 *open*, to 270 "
                "*burn*.",
                "The key on the vault door stood at ninety degrees: keep. Whoever sealed the vault had "
                "not locked it. They had asked it to keep something.",
                "She drew the ward of ink beside the key, turned to 270, and the iron grew warm under her "
                "hand. Somewhere in the building, something old opened one eye. See "
                "[[phoenix-watchdog]], later.",
            ],
            follows=("the-vault-door",),
            tags=("act-1", "glyphs"),
            glyphs=(Glyph("key-of-margins", 180), Glyph("ward-of-ink", 270)),
        ),
        _page(
            "the-heist",
            "The Heist of Chapter Nine",
            [
                "The fox's plan was simple, which is how Imogen knew it was dangerous. Turn the key to "
                "180, take chapter nine from the vault, and leave an alternate in its place so good that "
                "the catalogue would never know.",
                "Cop-E-Right refused to help and then, at the last moment, helped, because it could not "
                "bear to watch a copy made badly.",
                "The door opened. Inside the vault there was only one page, and it was blank, and it "
                "remembered everything.",
            ],
            follows=("london-fox-arrives", "glyph-rotations"),
            tags=("act-2",),
        ),
        _page(
            "phoenix-watchdog",
            "The Phoenix Watchdog",
            [
                "The Phoenix is the Library's watchdog. It sleeps in the chimney and wakes when a page's "
                "history no longer adds up: a checksum that fails, a follow that leads nowhere, a hand "
                "that was never there.",
                "It woke now, because a blank page that remembers everything is the most corrupt page "
                "there is. It came down the chimney in a roar of orange paper and settled on the vault "
                "door, and the iron began to glow.",
                '"It burns what is broken," said Cop-E-Right, very quietly, "and what rises from the '
                'ashes is whatever the history says should have been there."',
            ],
            follows=("the-heist",),
            tags=("act-2", "phoenix"),
        ),
        _page(
            "ashes",
            "Ashes and Checksums",
            [
                "The blank page burned. The fox watched its plan go up in sparks and, being a fox, "
                "started taking notes on how the fire spread.",
                "From the ashes rose chapter nine: every version of it, one after another, each signed by "
                "the hand that wrote it. The heist, the copy, the alternate the fox had prepared. The "
                "Phoenix had not chosen between them. It had kept them all.",
            ],
            follows=("phoenix-watchdog",),
            tags=("act-2", "phoenix"),
        ),
        _page(
            "the-reckoning",
            "The Reckoning",
            [
                "Imogen laid the versions of chapter nine on the reading-room table like a hand of cards. "
                '"This is what the vault was keeping," she said. "Not the chapter. The argument about '
                'it."',
                "The fox gave back its alternate. Cop-E-Right stamped each version with its true author. "
                "The Phoenix went back to the chimney, satisfied that the history added up again.",
                "The vault door, turned back to ninety degrees, kept all of it.",
            ],
            follows=("ashes", "glyph-rotations"),
            tags=("act-3",),
        ),
        _page(
            "epilogue",
            "Epilogue: Shelved",
            [
                "The thirteenth drawer is still there. It holds one card now, in Imogen's hand: *never "
                "write on a page you cannot put back, and never throw away a page you replaced.*",
                "On quiet nights, the pages whisper three names.",
            ],
            follows=("the-reckoning",),
            tags=("act-3",),
        ),
        _page(
            "the-reckoning-alt",
            "The Reckoning (as the Fox Tells It)",
            [
                "In the fox's version there is no table and no hand of cards. There is a fox, a satchel, "
                "and the night train, which does not stop at the Library and does not need to.",
                '"Every library keeps one page it cannot account for," says the fox, stepping onto the '
                'moving train. "I am only making sure it is a good one."',
            ],
            follows=("ashes",),
            alternate_of="the-reckoning",
            tags=("act-3", "fox"),
        ),
        _page(
            "epilogue-alt",
            "Epilogue: Unshelved",
            [
                "The thirteenth drawer is empty. The catalogue counts four hundred and twelve, and "
                "everybody agrees that is right, except Cop-E-Right, who counts again every night.",
                "Somewhere far away, a fox reads the first line of a page that was never written "
                "down, and smiles.",
            ],
            follows=("the-reckoning-alt",),
            alternate_of="epilogue",
            tags=("act-3", "fox"),
        ),
        _page(
            "cop-e-right-audit",
            "An Audit of Every Word",
            [
                "AUDIT, chapter nine, draft state: 1,204 words; 3 hands; 1 hand unaccounted for. "
                "Recommendation: find the hand.",
                "Further note: the fox's prose uses the word *simply* eleven times. Nothing the fox does "
                "is simple. Recommend striking all eleven.",
            ],
            follows=("the-heist",),
            tags=("draft", "audit"),
        ),
        _page(
            "fox-margin-notes",
            "Margin Notes, Strictly Unofficial",
            [
                "Things the copyist does not know: the night train stops for foxes; drawer four hundred "
                "and thirteen was mine first; a glyph at 180 opens more than doors.",
                "Things the copyist knows and pretends not to: that it helped. See [[the-heist]].",
            ],
            follows=("london-fox-arrives",),
            tags=("draft", "fox"),
        ),
    )
}


def _edit(page_id: str, old: str, new: str) -> Page:
    page = PAGES[page_id]
    if old not in page.body:
        raise ValueError(f"demo edit of {page_id}: text not found")
    return Page(
        page.id,
        page.title,
        page.body.replace(old, new),
        page.follows,
        page.alternate_of,
        page.tags,
        page.glyphs,
    )


def _with_pages(*page_ids: str) -> ChangeSet:
    changes = ChangeSet()
    for page_id in page_ids:
        changes.upsert_page(PAGES[page_id])
    return changes


def _first_commit() -> ChangeSet:
    changes = _with_pages("prologue", "the-catalogue").set_story(STORY)
    for actor in ACTORS:
        changes.upsert_actor(actor)
    return changes


@record
class Step:
    """One commit of the demo: on a branch, by an actor, with a message and a change set."""

    branch: str
    actor: str
    message: str
    changes: Callable[[], ChangeSet]
    kind: str = "edit"


AGENT = "agent.emit.v1"

STEPS: tuple[Step, ...] = (
    Step("main", "imogen", "Open the Library of Pages", _first_commit),
    Step(
        "main",
        "cop-e-right",
        "Draft: the copyist wakes and finds the vault",
        lambda: _with_pages("cop-e-right-wakes", "the-vault-door"),
    ),
    Step(
        "main",
        "london-fox",
        "Draft: the fox arrives by the night train",
        lambda: _with_pages("london-fox-arrives", "the-stacks"),
    ),
    Step(
        "main",
        "imogen",
        "Turn the glyphs: ninety degrees of meaning",
        lambda: _with_pages("glyph-rotations").upsert_page(
            _edit(
                "the-vault-door",
                "a forger would say.",
                "a forger would say.\n\nThe fox, watching from the stacks, said nothing at all, which "
                "worried them both far more.",
            )
        ),
    ),
    Step("main", "imogen", "Write the heist of chapter nine", lambda: _with_pages("the-heist")),
    Step(
        "agent-drafts",
        "cop-e-right",
        "Audit every word of the heist",
        lambda: _with_pages("cop-e-right-audit"),
        AGENT,
    ),
    Step("main", "cop-e-right", "Wake the Phoenix watchdog", lambda: _with_pages("phoenix-watchdog"), AGENT),
    Step(
        "agent-drafts",
        "london-fox",
        "Margin notes, strictly unofficial",
        lambda: _with_pages("fox-margin-notes"),
        AGENT,
    ),
    Step("main", "london-fox", "Ashes and checksums", lambda: _with_pages("ashes"), AGENT),
    Step(
        "main", "imogen", "The reckoning, and an epilogue", lambda: _with_pages("the-reckoning", "epilogue")
    ),
    Step(
        "alt-ending",
        "london-fox",
        "Alternate reckoning: the fox keeps the page",
        lambda: _with_pages("the-reckoning-alt"),
        AGENT,
    ),
    Step(
        "agent-drafts",
        "cop-e-right",
        "Copy-edit the heist: strike 'simple'",
        lambda: ChangeSet().upsert_page(
            _edit("the-heist", "The fox's plan was simple, which is", "The fox's plan was plain, which was")
        ),
        AGENT,
    ),
    Step(
        "main",
        "imogen",
        "Revise the prologue's rule",
        lambda: ChangeSet().upsert_page(
            _edit(
                "prologue",
                "never write on a page you cannot put back.",
                "never write on a page you cannot put back, and never throw one away.",
            )
        ),
    ),
    Step("alt-ending", "imogen", "Alternate epilogue: unshelved", lambda: _with_pages("epilogue-alt")),
    Step(
        "main",
        "cop-e-right",
        "Fix the catalogue's count",
        lambda: ChangeSet().upsert_page(
            _edit(
                "the-catalogue",
                "She counted the drawers twice.",
                "She counted the drawers twice, and Cop-E-Right, later, counted them a third time.",
            )
        ),
        AGENT,
    ),
    Step(
        "alt-ending",
        "london-fox",
        "Sharpen the fox's last line",
        lambda: ChangeSet().upsert_page(
            _edit(
                "the-reckoning-alt",
                "I am only making sure it is a good one.",
                "I am only making sure it is mine.",
            )
        ),
        AGENT,
    ),
)

#: Branches created from main after the step with this index (0-based) committed.
FORKS = {4: ("agent-drafts",), 9: ("alt-ending",)}
TAGS = {4: "first-act"}


@record
class DemoSummary:
    """What :func:`build_demo` made."""

    commits: int
    pages: int
    branches: dict[str, ObjectId]
    tags: dict[str, ObjectId]


def build_demo(repo: Repository) -> DemoSummary:
    """Write the demo story into an empty ``repo``, leaving HEAD on ``main``.

    The agents' steps are ``agent.emit.v1`` events, ingested as any event is (one page each); the other
    steps are edits."""
    heads: dict[str, ObjectId | None] = {"main": None}
    for index, step in enumerate(STEPS):
        when = BASE_TIME + index * STEP
        if step.kind == AGENT:
            heads[step.branch] = _emit(repo, index, step, when)
        else:
            heads[step.branch] = repo.commit(
                step.branch,
                step.changes(),
                actor=step.actor,
                message=step.message,
                expected_head=heads.get(step.branch),
                timestamp=when,
            )
        for branch in FORKS.get(index, ()):
            heads[branch] = repo.create_branch(branch, heads["main"], who="imogen")
        if index in TAGS:
            repo.create_tag(TAGS[index], str(heads["main"]), who="imogen")
    repo.set_head_branch("main")
    return DemoSummary(len(STEPS), len(PAGES), repo.branches(), repo.tags())


def _emit(repo: Repository, index: int, step: Step, when: int) -> ObjectId:
    """An agent's step as the ``agent.emit.v1`` event it is: its one page, with the step's message."""
    from .events import Event, ingest

    (page,) = [p for p in step.changes().pages.values() if p is not None]
    payload = {
        "page": page.id,
        "title": page.title,
        "body": page.body,
        "follows": list(page.follows),
        "alternate_of": page.alternate_of,
        "tags": list(page.tags),
        "message": step.message,
    }
    event = Event(AGENT, f"demo-{index:02d}", step.actor, payload, step.branch, when)
    result = ingest(repo, event)
    assert result.commit is not None
    return result.commit
