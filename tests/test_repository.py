"""The repository API over every backend (the ``repo`` fixture is parametrised)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from narrative_vcs.errors import BadInput, BranchMoved, MergeConflicts, NotFound, NothingToCommit
from narrative_vcs.gate import RuleBroken
from narrative_vcs.merge.text import split_paragraphs
from narrative_vcs.objects import Actor, Commit, Page, Signature, Story, hash_object
from narrative_vcs.refs import MemoryRefStore
from narrative_vcs.repository import ChangeSet, PendingCommit, Repository
from narrative_vcs.snapshot import EMPTY_TREE, store_path
from narrative_vcs.store import MemoryObjectStore, ObjectStore
from narrative_vcs.types import ObjectId, RefName

from .conftest import Backend, Writer


def page(page_id: str, body: str = "", **fields: Any) -> Page:
    return Page(page_id, fields.pop("title", page_id.title()), body, **fields)


# --- committing -----------------------------------------------------------------------------------


def test_first_commit_needs_no_head_and_records_actor_and_kind(repo: Repository, writer: Writer) -> None:
    oid = writer.setup(pages=[page("prologue", "Once.")])
    assert repo.branch_head("main") == oid
    assert repo.resolve("HEAD") == oid
    info = repo.commit_info(oid)
    assert (info.actor, info.actor_name, info.kind, info.parents) == ("ada", "Ada Lovelace", "edit", ())
    assert info.trailers["Gvcs-Actor"] == "ada"
    assert repo.read_page("prologue").body == "Once.\n"
    assert [a.id for a in repo.list_actors()] == ["ada", "bot", "cal"]


def test_a_change_set_upserts_and_deletes_pages_actors_and_files(repo: Repository, writer: Writer) -> None:
    writer.setup(pages=[page("a", "A"), page("b", "B")])
    changes = (
        ChangeSet()
        .upsert_page(page("a", "A2"))
        .delete_page("b")
        .upsert_page(page("c", "C", follows=("a",)))
        .upsert_actor(Actor("dot", "Dot", "agent"))
        .delete_actor("bot")
        .put_file("notes/plan.txt", b"ada: 10\n")
        .set_story(Story("The Vault", (("protected", ["release"]),)))
    )
    oid = writer.commit(changes, actor="bot", message="Big change")  # bot leaves, in its own commit
    assert repo.list_pages() == ["a", "c"]
    assert repo.read_page("a").body == "A2\n"
    assert repo.read_actor("dot").kind == "agent"
    with pytest.raises(NotFound):
        repo.read_actor("bot")
    assert repo.read_file("notes/plan.txt") == b"ada: 10\n"
    assert repo.read_story_record() == Story("The Vault", (("protected", ["release"]),))
    statuses = {c.path: c.status for c in repo.changes(oid)}
    assert statuses == {
        "pages/a.md": "modified",
        "pages/b.md": "removed",
        "pages/c.md": "added",
        "actors/dot.yaml": "added",
        "actors/bot.yaml": "removed",
        "notes/plan.txt": "added",
        "story.yaml": "added",
    }
    writer.commit(ChangeSet().delete_file("notes/plan.txt"))
    assert repo.read_file("notes/plan.txt") is None


def test_what_a_commit_keeps_as_built_is_what_reading_it_back_gives(repo: Repository, writer: Writer) -> None:
    """A commit keeps its pages and its header as it built them (the gate reads them back without
    parsing): they equal what a fresh repository on the same store parses from the objects."""
    writer.setup()
    oid = writer.commit(
        ChangeSet()
        .upsert_page(page("door", "The door.\r\nIt opens", tags=("act-1",)))
        .upsert_page(page("hall", "", follows=("door",))),
        message="Two pages",
    )
    fresh = Repository(repo.objects, repo.refs)
    assert repo.commits.get(oid).to_json() == fresh.commits.get(oid).to_json()
    tree = repo.commits.get(oid).tree
    for page_id in ("door", "hall"):
        blob = repo.snapshots.blob_id(tree, f"pages/{page_id}.md")
        assert blob is not None
        assert repo.page_record(page_id, blob) == fresh.page_record(page_id, blob)
        assert repo.page_record(page_id, blob) == Page.parse(page_id, repo.read_blob(blob))


def test_stale_expected_head_raises_branch_moved_and_the_branch_stays(
    repo: Repository, writer: Writer
) -> None:
    first = writer.setup()
    second = writer.page("a", "A")
    with pytest.raises(BranchMoved):
        repo.commit("main", ChangeSet().upsert_page(page("b")), actor="ada", message="m", expected_head=first)
    with pytest.raises(BranchMoved):
        repo.commit("main", ChangeSet().upsert_page(page("b")), actor="ada", message="m", expected_head=None)
    assert repo.branch_head("main") == second
    assert repo.list_pages() == ["a"]
    assert [e.new for e in repo.refs.reflog(repo.refs.get_symbolic("HEAD"))] == [first, second]  # type: ignore[arg-type]


def test_unknown_actor_is_refused(repo: Repository, writer: Writer) -> None:
    with pytest.raises(NotFound, match="unknown actor"):
        repo.commit("main", ChangeSet().upsert_page(page("a")), actor="ada", message="m", expected_head=None)
    writer.setup()
    with pytest.raises(NotFound, match="zed"):
        writer.commit(ChangeSet().upsert_page(page("a")), actor="zed")
    with pytest.raises(BadInput):
        writer.commit(ChangeSet().upsert_page(page("a")), actor="Not An Id")
    assert repo.list_pages() == []
    writer.commit(ChangeSet().delete_actor("cal"), actor="cal")  # an actor may leave, in their own commit
    with pytest.raises(NotFound):
        repo.read_actor("cal")


@pytest.mark.parametrize(
    "changes, error",
    [
        (lambda: ChangeSet().delete_page("ghost"), NotFound),
        (lambda: ChangeSet().delete_actor("ghost"), NotFound),
        (lambda: ChangeSet().delete_file("ghost.yaml"), NotFound),
        (lambda: ChangeSet().upsert_page(page("a", follows=("ghost",))), BadInput),
        (lambda: ChangeSet().upsert_page(page("a", alternate_of="ghost")), BadInput),
        (lambda: ChangeSet().upsert_page(page("a", follows=("base",))).delete_page("base"), BadInput),
        (lambda: ChangeSet().put_file("story.yaml", b"- not a mapping\n"), BadInput),
    ],
)
def test_changes_that_do_not_fit_the_story_are_refused(
    repo: Repository, writer: Writer, changes: Any, error: type[Exception]
) -> None:
    head = writer.setup(pages=[page("base")])
    with pytest.raises(error):
        writer.commit(changes())
    assert repo.branch_head("main") == head


def test_links_to_pages_in_the_same_commit_or_existing_are_accepted(repo: Repository, writer: Writer) -> None:
    writer.setup(pages=[page("one"), page("two", follows=("one",)), page("alt", alternate_of="one")])
    writer.commit(ChangeSet().upsert_page(page("three", follows=("two", "one"))))
    assert repo.read_page("three").follows == ("two", "one")


@pytest.mark.parametrize("path", ["pages/x.md", "actors/x.yaml", "../x", "/abs", ".gvcs/HEAD"])
def test_files_cannot_bypass_pages_actors_or_escape(path: str) -> None:
    with pytest.raises(BadInput):
        ChangeSet().put_file(path, b"x")


def test_empty_change_is_nothing_to_commit(repo: Repository, writer: Writer) -> None:
    head = writer.setup(pages=[page("a", "A")])
    with pytest.raises(NothingToCommit):
        writer.commit(ChangeSet())
    with pytest.raises(NothingToCommit):
        writer.commit(ChangeSet().upsert_page(page("a", "A\n\n")))  # same content after normalising
    assert repo.branch_head("main") == head
    empty = writer.commit(ChangeSet(), allow_empty=True)
    assert repo.commit_info(empty).tree == repo.commit_info(head).tree


def test_commits_on_a_new_branch_leave_main_alone(repo: Repository, writer: Writer) -> None:
    base = writer.setup(pages=[page("a", "A")])
    assert repo.create_branch("side") == base
    side = writer.page("a", "Side", branch="side")
    assert repo.read_page("a", "side").body == "Side\n"
    assert repo.read_page("a", "main").body == "A\n"
    assert repo.branches() == {"main": base, "side": side}
    with pytest.raises(BadInput):
        repo.create_branch("side")
    with pytest.raises(BadInput):
        repo.delete_branch("main")  # the current branch
    repo.delete_branch("side")
    assert repo.branches() == {"main": base}
    with pytest.raises(NotFound):
        repo.delete_branch("side")


def test_tags(repo: Repository, writer: Writer) -> None:
    first = writer.setup()
    writer.page("a", "A")
    repo.create_tag("v1", "HEAD~1")
    assert repo.tags() == {"v1": first}
    assert repo.resolve("v1") == first and repo.resolve("refs/tags/v1") == first
    with pytest.raises(BadInput):
        repo.create_tag("v1")
    repo.delete_tag("v1")
    assert repo.tags() == {}
    with pytest.raises(NotFound):
        repo.delete_tag("v1")


# --- reading at any revision and time -------------------------------------------------------------


@pytest.fixture
def timeline(writer: Writer) -> list[ObjectId]:
    """Commits at t=1000, 2000, 3000, 4000 writing versions of page `a` and adding `b` at 3000."""
    return [
        writer.commit(
            ChangeSet().upsert_actor(Actor("ada", "Ada")).upsert_page(page("a", "v1")), timestamp=1000
        ),
        writer.page("a", "v2", timestamp=2000),
        writer.commit(ChangeSet().upsert_page(page("b", "B")), timestamp=3000),
        writer.page("a", "v4", timestamp=4000),
    ]


def test_read_a_page_at_any_revision(repo: Repository, timeline: list[ObjectId]) -> None:
    bodies = [repo.read_page("a", oid).body for oid in timeline]
    assert bodies == ["v1\n", "v2\n", "v2\n", "v4\n"]
    assert repo.read_page("a", "HEAD~3").body == "v1\n"
    assert repo.read_page("a", timeline[1][:8]).body == "v2\n"
    with pytest.raises(NotFound):
        repo.read_page("b", timeline[1])
    with pytest.raises(BadInput):
        repo.read_page("../etc")


@pytest.mark.parametrize(
    "when, body, pages",
    [(1000, "v1\n", ["a"]), (2999, "v2\n", ["a"]), (3500, "v2\n", ["a", "b"]), (10**10, "v4\n", ["a", "b"])],
)
def test_read_as_of_a_timestamp(
    repo: Repository, timeline: list[ObjectId], when: int, body: str, pages: list[str]
) -> None:
    assert repo.read_page("a", as_of=when).body == body
    assert repo.list_pages(as_of=when) == pages
    assert sorted(repo.read_story(as_of=when).pages) == pages


def test_as_of_before_the_history_is_not_found(repo: Repository, timeline: list[ObjectId]) -> None:
    with pytest.raises(NotFound):
        repo.read_page("a", as_of=999)


def test_read_story_returns_everything(repo: Repository, writer: Writer) -> None:
    oid = writer.commit(
        ChangeSet()
        .upsert_actor(Actor("ada", "Ada"))
        .upsert_page(page("a", "A"))
        .put_file("notes/plan.txt", b"ada: 1\n")
        .set_story(Story("Title"))
    )
    story = repo.read_story()
    assert story.commit == oid
    assert story.story == Story("Title")
    assert list(story.pages) == ["a"] and list(story.actors) == ["ada"]
    assert story.files == {"notes/plan.txt": b"ada: 1\n"}


def test_reading_an_empty_repository(repo: Repository) -> None:
    with pytest.raises(NotFound):
        repo.resolve("HEAD")
    assert repo.branches() == {} and repo.tags() == {}
    assert repo.head_branch() == "main"


# --- log --------------------------------------------------------------------------------------------


@pytest.fixture
def history(repo: Repository, writer: Writer) -> dict[str, ObjectId]:
    ids = {"setup": writer.setup()}  # t0+60
    ids["a1"] = writer.page("a", "A1")  # ada
    ids["b1"] = writer.page("b", "B1", actor="bot", kind="agent.emit.v1")
    ids["a2"] = writer.page("a", "A2", actor="bot", kind="agent.emit.v1")
    ids["c1"] = writer.page("c", "C1", actor="cal")
    ids["a3"] = writer.page("a", "A3", actor="cal")
    return ids


def ids_of(log: Any) -> list[ObjectId]:
    return [c.id for c in log.commits]


def test_log_is_newest_first(repo: Repository, history: dict[str, ObjectId]) -> None:
    assert ids_of(repo.log()) == [history[k] for k in ["a3", "c1", "a2", "b1", "a1", "setup"]]
    assert repo.log().next_cursor is None


def test_log_filters(repo: Repository, history: dict[str, ObjectId]) -> None:
    h = history
    assert ids_of(repo.log(actor="bot")) == [h["a2"], h["b1"]]
    assert ids_of(repo.log(kind="agent.emit.v1")) == [h["a2"], h["b1"]]
    assert ids_of(repo.log(kind="edit", actor="cal")) == [h["a3"], h["c1"]]
    assert ids_of(repo.log(page="a")) == [h["a3"], h["a2"], h["a1"]]
    assert ids_of(repo.log(page="nothing")) == []
    times = {k: repo.commit_info(v).time for k, v in h.items()}
    assert ids_of(repo.log(since=times["a2"])) == [h["a3"], h["c1"], h["a2"]]
    assert ids_of(repo.log(until=times["b1"])) == [h["b1"], h["a1"], h["setup"]]
    assert ids_of(repo.log(since=times["a1"], until=times["a2"], page="a")) == [h["a2"], h["a1"]]
    assert ids_of(repo.log(["HEAD~2"])) == [h[k] for k in ["a2", "b1", "a1", "setup"]]
    with pytest.raises(BadInput):
        repo.log(page="Bad Page")
    with pytest.raises(BadInput):
        repo.log(first=-1)


def test_log_page_filter_sees_deletion(
    repo: Repository, history: dict[str, ObjectId], writer: Writer
) -> None:
    gone = writer.commit(ChangeSet().delete_page("b"))
    assert ids_of(repo.log(page="b")) == [gone, history["b1"]]


def paginate(repo: Repository, size: int, **filters: Any) -> list[ObjectId]:
    out: list[ObjectId] = []
    page_ = repo.log(first=size, **filters)
    out += ids_of(page_)
    while page_.next_cursor:
        page_ = repo.log(first=size, after=page_.next_cursor, **filters)
        out += ids_of(page_)
    return out


@pytest.mark.parametrize("size", [1, 2, 4, 6, 7])
def test_cursor_pages_concatenate_to_the_full_log(
    repo: Repository, history: dict[str, ObjectId], size: int
) -> None:
    full = ids_of(repo.log())
    assert paginate(repo, size) == full
    assert paginate(repo, size, actor="bot") == ids_of(repo.log(actor="bot"))
    assert len(set(paginate(repo, size))) == len(full)


def test_cursor_is_stable_when_new_commits_land(
    repo: Repository, history: dict[str, ObjectId], writer: Writer
) -> None:
    full = ids_of(repo.log())
    first = repo.log(first=2)
    writer.page("a", "A4")
    writer.page("d", "D")
    rest = repo.log(first=100, after=first.next_cursor)
    assert ids_of(first) + ids_of(rest) == full
    assert rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "", "!!!!", "YWJj", "a" * 200])
def test_bad_cursor_is_bad_input(repo: Repository, history: dict[str, ObjectId], cursor: str) -> None:
    with pytest.raises(BadInput):
        repo.log(after=cursor)


def test_cursor_from_another_history_is_bad_input(repo: Repository, history: dict[str, ObjectId]) -> None:
    other = Repository.memory()
    Writer(other).setup()
    Writer(other).page("x", "x")
    cursor = other.log(first=1).next_cursor
    assert cursor is not None
    with pytest.raises(BadInput, match="cursor"):
        repo.log(after=cursor)
    # a cursor whose heads exist but whose last commit was filtered out of this walk
    own = repo.log(first=1, actor="cal").next_cursor
    with pytest.raises(BadInput):
        repo.log(after=own, actor="bot")


# --- show, changes, diff ----------------------------------------------------------------------------


def test_changes_and_diff(repo: Repository, history: dict[str, ObjectId]) -> None:
    h = history
    (change,) = repo.changes(h["a2"])
    assert (change.path, change.status, change.kind, change.item_id) == (
        "pages/a.md",
        "modified",
        "page",
        "a",
    )
    assert change.to_json()["status"] == "modified"
    root_paths = {c.path for c in repo.changes(h["setup"])}
    assert root_paths == {"actors/ada.yaml", "actors/bot.yaml", "actors/cal.yaml"}
    diff = {c.path: c.status for c in repo.diff(h["a1"], h["a3"])}
    assert diff == {"pages/a.md": "modified", "pages/b.md": "added", "pages/c.md": "added"}
    assert {c.path: c.status for c in repo.diff(h["a3"], h["a1"])} == {
        "pages/a.md": "modified", "pages/b.md": "removed", "pages/c.md": "removed"
    }  # fmt: skip
    assert repo.diff("HEAD", "HEAD") == []
    assert len(repo.diff(None, "HEAD")) == 6
    lines = repo.line_diff(next(c for c in repo.diff(h["a1"], h["a3"]) if c.path == "pages/a.md"))
    assert "-A1\n" in lines and "+A3\n" in lines and lines[0].startswith("--- a/pages/a.md")


# --- revisions --------------------------------------------------------------------------------------


@pytest.fixture
def merged(repo: Repository, writer: Writer) -> dict[str, ObjectId]:
    r"""
    base - m1 - m2 ------ merge   (main, merge made by cal)
        \- s1 - s2 ----/          (side)
    """
    body = "Intro.\n\nMiddle.\n\nEnd."
    ids = {"base": writer.setup(pages=[page("p", body)])}
    repo.create_branch("side")
    ids["m1"] = writer.page("p", "Intro, rewritten by Ada.\n\nMiddle.\n\nEnd.")
    ids["s1"] = writer.page("p", "Intro.\n\nMiddle.\n\nEnd, rewritten by Bot.", actor="bot", branch="side")
    ids["m2"] = writer.page("q", "Another page.")
    ids["s2"] = writer.page("r", "Side page.", actor="bot", branch="side")
    merged_body = (
        "Intro, rewritten by Ada.\n\nMiddle.\n\nA paragraph only the merge wrote.\n\nEnd, rewritten by Bot."
    )
    ids["merge"] = writer.commit(
        ChangeSet().upsert_page(page("p", merged_body)).upsert_page(page("r", "Side page.")),
        actor="cal",
        kind="merge",
        message="Merge side",
        extra_parents=[ids["s2"]],
    )
    return ids


def test_revision_syntax(repo: Repository, merged: dict[str, ObjectId]) -> None:
    m = merged
    assert repo.resolve("main") == m["merge"]
    assert repo.resolve("refs/heads/side") == m["s2"]
    assert repo.resolve("@") == m["merge"]
    assert repo.resolve("HEAD^") == m["m2"]
    assert repo.resolve("HEAD^1") == m["m2"]
    assert repo.resolve("HEAD^2") == m["s2"]
    assert repo.resolve("main^2~1") == m["s1"]
    assert repo.resolve("main~2") == m["m1"]
    assert repo.resolve("main~3") == m["base"]
    assert repo.resolve("HEAD^^") == m["m1"]
    assert repo.resolve("HEAD~0") == m["merge"] and repo.resolve("HEAD^0") == m["merge"]
    assert repo.resolve(m["s1"]) == m["s1"]
    assert repo.resolve(m["s1"][:7]) == m["s1"]
    assert repo.resolve(m["s1"][:7].upper()) == m["s1"]
    assert repo.resolve(m["s1"][:7] + "~1") == m["base"]


@pytest.mark.parametrize(
    "rev, error",
    [
        ("nope", NotFound),
        ("main~9", NotFound),
        ("HEAD^3", NotFound),
        ("side^2", NotFound),
        ("0000000", NotFound),
        ("", BadInput),
        ("a\nb", BadInput),
    ],
)
def test_bad_revisions(
    repo: Repository, merged: dict[str, ObjectId], rev: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        repo.resolve(rev)


def test_a_blob_prefix_is_not_a_commit(repo: Repository, merged: dict[str, ObjectId]) -> None:
    blob = repo.snapshots.blob_id(repo.tree_of("HEAD"), "pages/p.md")
    assert blob is not None
    with pytest.raises((NotFound, BadInput)):
        repo.commit_info(blob[:10])


def test_ambiguous_commit_prefix_is_refused(repo: Repository) -> None:
    sig = Signature("A", "a@actors.gvcs", 1)
    seen: dict[str, bytes] = {}
    for n in range(100_000):  # a birthday search for two commits with the same 4-digit prefix
        data = Commit(EMPTY_TREE, (), sig, sig, f"c{n}\n").serialise()
        oid = hash_object("commit", data)
        if oid[:4] in seen:
            other = repo.objects.put("commit", seen[oid[:4]])
            repo.objects.put("commit", data)
            break
        seen[oid[:4]] = data
    with pytest.raises(BadInput, match="ambiguous"):
        repo.resolve(oid[:4])
    assert repo.resolve(oid[:12]) == oid
    assert repo.resolve(other[:12]) == other


# --- blame ----------------------------------------------------------------------------------------


def test_blame_attributes_each_paragraph_to_its_last_change(repo: Repository, writer: Writer) -> None:
    c1 = writer.setup(pages=[page("p", "One.\n\nTwo.\n\nThree.")])
    c2 = writer.page("p", "One.\n\nTwo, by Bot.\n\nThree.", actor="bot")
    c3 = writer.page("p", "Zero, by Cal.\n\nOne.\n\nTwo, by Bot.\n\nThree.", actor="cal")
    c4 = writer.page("p", "Zero, by Cal.\n\nOne.\n\nTwo, by Bot.", actor="ada", tags=("edited",))
    blame = repo.blame("p")
    assert [(b.text, b.commit.id) for b in blame] == [
        ("Zero, by Cal.", c3),
        ("One.", c1),
        ("Two, by Bot.", c2),
    ]
    assert [b.commit.actor for b in blame] == ["cal", "ada", "bot"]
    assert [b.to_json()["paragraph"] for b in blame] == [0, 1, 2]
    assert [b.commit.id for b in repo.blame("p", c2)] == [c1, c2, c1]
    assert c4 == repo.resolve("HEAD")


def test_blame_across_a_merge(repo: Repository, merged: dict[str, ObjectId]) -> None:
    m = merged
    blame = {b.text: (b.commit.id, b.commit.actor) for b in repo.blame("p")}
    assert blame == {
        "Intro, rewritten by Ada.": (m["m1"], "ada"),
        "Middle.": (m["base"], "ada"),
        "A paragraph only the merge wrote.": (m["merge"], "cal"),
        "End, rewritten by Bot.": (m["s1"], "bot"),
    }


def test_blame_of_a_missing_page(repo: Repository, writer: Writer) -> None:
    writer.setup()
    with pytest.raises(NotFound):
        repo.blame("ghost")


def test_split_paragraphs() -> None:
    assert split_paragraphs("a\nb\n\n\n c \n \t\nd\n") == ["a\nb", " c ", "d"]
    assert split_paragraphs("") == []


# --- integrity --------------------------------------------------------------------------------------


def test_fsck_is_clean_on_a_good_repository(repo: Repository, merged: dict[str, ObjectId]) -> None:
    report = repo.fsck()
    assert report.ok, report.problems
    assert report.objects == len(list(repo.objects))
    assert report.refs == 2


def test_fsck_reports_refs_at_missing_objects_and_blobs(
    repo: Repository, backend: Backend, merged: dict[str, ObjectId]
) -> None:
    blob = repo.snapshots.blob_id(repo.tree_of("HEAD"), "pages/p.md")
    assert blob is not None
    missing = ObjectId("ab" * 20)
    with pytest.raises(RuleBroken, match="must point at a commit, not a blob"):  # the gate refuses it
        repo.refs.add_if_new(RefName("refs/heads/to-blob"), blob)
    # what a broken store might hold anyway, written past the gate
    backend.refs.add_if_new(RefName("refs/heads/to-blob"), blob)
    backend.refs.add_if_new(RefName("refs/tags/to-nothing"), missing)
    problems = repo.fsck().problems
    assert any("refs/heads/to-blob" in p and blob in p and "blob" in p for p in problems), problems
    assert any("refs/tags/to-nothing" in p and missing in p for p in problems), problems
    assert len(problems) == 2


def test_fsck_reports_missing_and_broken_objects() -> None:
    good = Repository.memory()
    Writer(good).setup(pages=[page("a", "A")])
    tree = good.tree_of("HEAD")
    blob = good.snapshots.blob_id(tree, "pages/a.md")
    # copy every object but the page blob into a second store, and add a commit pointing at a bad page
    store = MemoryObjectStore()
    for oid in good.objects:
        if oid != blob:
            store.put(*good.objects.get(oid))
    broken = Repository(store, MemoryRefStore())
    broken.refs.add_if_new("refs/heads/main", good.resolve("HEAD"))  # type: ignore[arg-type]
    problems = broken.fsck().problems
    assert any(str(blob) in p and "pages/a.md" in p for p in problems), problems
    bad_page = store.put("blob", b"no front matter")
    bad_tree = broken.snapshots.write(tree, {"pages/a.md": bad_page})
    sig = Signature("Ada", "ada@actors.gvcs", 1)
    bad_commit = store.put("commit", Commit(bad_tree, (), sig, sig, "x\n").serialise())
    broken.refs.add_if_new("refs/heads/bad", bad_commit)  # type: ignore[arg-type]
    assert any("pages/a.md" in p and "front matter" in p for p in broken.fsck().problems)


# --- O(1) objects per commit ----------------------------------------------------------------------


class CountingStore(ObjectStore):
    """Wraps a store and counts the objects each put adds (objects already stored do not count)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.new: Counter[str] = Counter()

    def get(self, oid: ObjectId) -> tuple[str, bytes]:
        return self.inner.get(oid)

    def put(self, obj_type: str, data: bytes) -> ObjectId:
        if not self.inner.has(hash_object(obj_type, data)):
            self.new[obj_type] += 1
        return self.inner.put(obj_type, data)

    def has(self, oid: ObjectId) -> bool:
        return self.inner.has(oid)

    def __iter__(self) -> Any:
        return iter(self.inner)


def objects_for_one_page_edit(n_pages: int) -> Counter[str]:
    store = CountingStore(MemoryObjectStore())
    repo = Repository(store, MemoryRefStore())
    repo.set_head_branch("main")
    writer = Writer(repo)
    changes = ChangeSet().upsert_actor(Actor("ada", "Ada"))
    for i in range(n_pages):
        changes.upsert_page(page(f"page-{i}", f"Body {i}."))
    writer.commit(changes)
    assert len(repo.list_pages()) == n_pages
    store.new.clear()
    writer.page(f"page-{n_pages // 2}", "Edited.")
    return store.new


def test_a_one_page_edit_writes_a_bounded_number_of_objects() -> None:
    small = objects_for_one_page_edit(200)
    large = objects_for_one_page_edit(2000)
    # one tree per directory on the page's path in the store: the root, pages/ and its shard(s)
    trees = store_path("pages/page-1000.md").count("/") + 1
    assert trees <= 4
    assert small == large == Counter({"blob": 1, "tree": trees, "commit": 1})


# --- merging with resolutions -----------------------------------------------------------------------


def test_merge_resolved_settles_each_conflict(repo: Repository, writer: Writer) -> None:
    base = writer.setup(pages=[page("p", "One."), page("q", "Two.")])
    repo.create_branch("side")
    ours = writer.page("p", "One, ours.")
    writer.page("q", "Two, ours.")
    theirs = writer.page("p", "One, theirs.", actor="bot", branch="side")
    theirs = writer.page("q", "Two, theirs.", actor="bot", branch="side")
    head = repo.branch_head("main")
    assert head is not None and ours != head
    with pytest.raises(MergeConflicts, match=r"pages/q\.md"):
        repo.merge_resolved("main", "side", {"pages/p.md": "theirs"}, actor="ada", expected_head=head)
    with pytest.raises(BranchMoved):
        repo.merge_resolved("main", "side", {}, actor="ada", expected_head=base)
    resolutions = {"pages/p.md": b"---\ntitle: P\n---\nSettled.\n", "pages/q.md": None}
    outcome = repo.merge_resolved("main", "side", resolutions, actor="ada", expected_head=head)
    assert outcome.status == "merged" and outcome.commit == repo.branch_head("main")
    info = repo.commit_info("main")
    assert (info.kind, info.parents) == ("merge", (head, theirs))
    assert repo.read_page("p", "main").body == "Settled.\n"
    assert repo.list_pages("main") == ["p"]


# --- group commits ----------------------------------------------------------------------------------


def test_commit_group_applies_each_change_set_in_order(repo: Repository, writer: Writer) -> None:
    base = writer.setup(pages=[page("p", "One."), page("q", "Two.")])
    moved = writer.page("q", "Two, moved.")  # the branch moved past `base`
    items = [
        PendingCommit(ChangeSet().upsert_page(page("a", "A.")), base, "ada", "Add a"),  # independent: rebased
        PendingCommit(
            ChangeSet().upsert_page(page("q", "Mine.")), base, "bot", "Edit q"
        ),  # q moved: conflict
        PendingCommit(ChangeSet().upsert_page(page("b", "B.")), moved, "bot", "Add b"),  # stale after a
        PendingCommit(ChangeSet().upsert_page(page("c", "C.")), moved, "nobody", "Add c"),  # unknown actor
        PendingCommit(ChangeSet().upsert_page(page("x", "X.", follows=("nowhere",))), moved, "ada", "Bad"),
    ]
    reflog_before = len(repo.refs.reflog(RefName("refs/heads/main")))
    outcomes = repo.commit_group("main", items)
    first, clash, second, unknown, bad = outcomes
    assert first.commit is not None and first.parent == moved and first.rebased and first.error is None
    assert (
        isinstance(clash.error, BranchMoved) and clash.error.paths == ["pages/q.md"] and clash.commit is None
    )
    assert second.commit is not None and second.parent == first.commit and second.rebased
    assert isinstance(unknown.error, NotFound) and isinstance(bad.error, BadInput)
    assert repo.branch_head("main") == second.commit
    assert [c.id for c in repo.walk(["main"])][:3] == [second.commit, first.commit, moved]
    assert repo.read_page("q", "main").body == "Two, moved.\n"
    log = repo.refs.reflog(RefName("refs/heads/main"))
    assert len(log) == reflog_before + 1  # one ref update for the whole group
    assert (log[-1].old, log[-1].new) == (moved, second.commit)


def test_commit_group_starts_over_when_another_writer_moved_the_branch(
    repo: Repository, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = writer.setup(pages=[page("p", "One.")])
    real_set, real_with_batch = repo.refs.set_if_equals, repo.refs.move_with_batch
    interfered: list[ObjectId] = []
    started: list[bool] = []

    def interfere() -> None:
        if not started:  # another writer (another thread: a batch of its own) gets in first, once
            started.append(True)
            worker = threading.Thread(target=lambda: interfered.append(writer.page("p", "Theirs.")))
            worker.start()
            worker.join()

    def set_if_equals(name: RefName, old: ObjectId | None, new: ObjectId, **kwargs: Any) -> None:
        interfere()
        real_set(name, old, new, **kwargs)

    def move_with_batch(moves: Any, **kwargs: Any) -> bool:  # a store that moves refs with the batch
        interfere()
        return real_with_batch(moves, **kwargs)

    monkeypatch.setattr(repo.refs, "set_if_equals", set_if_equals)
    monkeypatch.setattr(repo.refs, "move_with_batch", move_with_batch)
    (outcome,) = repo.commit_group(
        "main", [PendingCommit(ChangeSet().upsert_page(page("a", "A.")), base, "ada", "A")]
    )
    assert outcome.commit == repo.branch_head("main") and outcome.parent == interfered[0] and outcome.rebased
    assert [c.subject for c in repo.walk(["main"])][:2] == [
        "A",
        interfered and repo.commit_info(interfered[0]).subject,
    ]
