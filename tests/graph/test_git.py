"""The git backend on disk: real git reads what gvcs writes, packs, gc, and corruption is found."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from narrative_vcs.errors import BadInput, BranchMoved, CorruptObject
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.graph.git import GitObjectStore, GitRefStore
from narrative_vcs.objects import Commit, Page, Tree, hash_object
from narrative_vcs.repository import ChangeSet, Repository
from narrative_vcs.snapshot import store_path
from narrative_vcs.types import ObjectId, RefName

from ..conftest import Writer

Git = Callable[..., str]


@pytest.fixture
def story(disk_repo: Repository, disk_writer: Writer) -> dict[str, ObjectId]:
    """Three commits by two actors, one of them an agent, plus a merge from a side branch."""
    ids = {"setup": disk_writer.setup(pages=[Page("prologue", "Prologue", "Once upon a time.")])}
    disk_repo.create_branch("side")
    ids["edit"] = disk_writer.page("vault", "The vault door opens.", follows=("prologue",))
    ids["side"] = disk_writer.page("aside", "Meanwhile.", actor="bot", branch="side", kind="agent.emit.v1")
    ids["merge"] = disk_writer.commit(
        ChangeSet().upsert_page(Page("aside", "Aside", "Meanwhile.")),
        actor="cal",
        kind="merge",
        message="Merge side into main",
        extra_parents=[ids["side"]],
    )
    return ids


def loose_path(git_dir: Path, oid: str) -> Path:
    """The loose file of an object. Commits write a pack each: make every object loose first."""
    if any((git_dir / "objects" / "pack").glob("pack-*.idx")):
        unpack_all(git_dir)
    return git_dir / "objects" / oid[:2] / oid[2:]


def unpack_all(git_dir: Path) -> None:
    """Write every object as a loose object and delete the packs."""
    store = GitObjectStore(git_dir)
    for oid in list(store):
        store.put(*store.get(oid))  # outside a batch, put writes a loose object
    for path in (git_dir / "objects" / "pack").glob("pack-*"):
        path.unlink()


# --- git interop ----------------------------------------------------------------------------------


def test_git_log_shows_messages_authors_and_trailers(
    git_dir: Path, story: dict[str, ObjectId], git_cli: Git
) -> None:
    out = git_cli(
        git_dir,
        "log",
        "--format=%H|%an <%ae>|%s|%(trailers:key=Gvcs-Actor,valueonly,separator=)|"
        "%(trailers:key=Gvcs-Kind,valueonly,separator=)",
        "main",
    )
    rows = [line.split("|") for line in out.strip().splitlines()]
    assert rows == [
        [story["merge"], "Cal Merger <cal@actors.gvcs>", "Merge side into main", "cal", "merge"],
        [story["side"], "Loom Bot <bot@actors.gvcs>", "Write aside", "bot", "agent.emit.v1"],
        [story["edit"], "Ada Lovelace <ada@actors.gvcs>", "Write vault", "ada", "edit"],
        [story["setup"], "Ada Lovelace <ada@actors.gvcs>", "Set up the story", "ada", "edit"],
    ]
    trailers = git_cli(git_dir, "log", "-1", "--format=%(trailers)", "main^2")
    assert "Gvcs-Event-Id: writer-1\n" in trailers and '"page":"aside"' in trailers
    assert git_cli(git_dir, "rev-parse", "main^2").strip() == story["side"]


def test_git_fsck_strict_is_clean(git_dir: Path, story: dict[str, ObjectId], git_cli: Git) -> None:
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_git_agrees_on_every_object_and_ref(git_dir: Path, disk_repo: Repository, story: dict[str, ObjectId],
                                            git_cli: Git) -> None:  # fmt: skip
    assert git_cli(git_dir, "rev-parse", "main", "side", "HEAD").split() == [
        story["merge"], story["side"], story["merge"]
    ]  # fmt: skip
    assert git_cli(git_dir, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    for oid in disk_repo.objects:
        obj_type, data = disk_repo.objects.get(oid)
        assert git_cli(git_dir, "cat-file", "-t", oid).strip() == obj_type
        raw = _git_bytes(git_dir, "cat-file", obj_type, oid)
        assert raw == data
        if obj_type == "tree":
            assert Tree.parse(data).serialise() == data
        elif obj_type == "commit":
            assert Commit.parse(data).serialise() == data
    listing = git_cli(git_dir, "ls-tree", "-r", "--name-only", "main").split()
    vault = store_path("pages/vault.md")
    assert vault in listing
    assert git_cli(git_dir, "show", f"main:{vault}").encode() == disk_repo.read_page("vault").serialise()


def _git_bytes(git_dir: Path, *args: str) -> bytes:
    import subprocess

    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True).stdout


def test_git_reads_the_reflog(git_dir: Path, story: dict[str, ObjectId], git_cli: Git) -> None:
    out = git_cli(git_dir, "reflog", "show", "--format=%H %gs", "refs/heads/main")
    assert out.splitlines() == [
        f"{story['merge']} commit: Merge side into main",
        f"{story['edit']} commit: Write vault",
        f"{story['setup']} commit: Set up the story",
    ]


def test_objects_read_back_from_a_full_pack(git_dir: Path, story: dict[str, ObjectId], git_cli: Git) -> None:
    store = GitObjectStore(git_dir)
    before = {oid: store.get(oid) for oid in store}
    assert store.pack_count() > 1  # a small pack per commit
    assert store.pack(full=True) == len(before)
    assert store.loose_object_paths() == []
    assert store.pack_count() == 1
    reopened = GitObjectStore(git_dir)
    assert {oid: reopened.get(oid) for oid in reopened} == before
    repo = open_repository(git_dir.parent)
    assert repo.read_page("vault").body == "The vault door opens.\n"
    assert repo.fsck().ok
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")
    # writing after packing adds a small pack next to the big one; a full pack merges them
    Writer(repo, start_time=1_800_000_000).page("after", "After the pack.")
    assert store.pack_count() == 2
    assert store.pack(full=True) > 0 and store.pack_count() == 1
    assert open_repository(git_dir.parent).read_page("after").body == "After the pack.\n"
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_reading_many_reads_the_same_objects_through_libgit2(
    git_dir: Path, story: dict[str, ObjectId]
) -> None:
    store = GitObjectStore(git_dir)
    plain = {oid: store.get(oid) for oid in store}
    with store.reading_many():
        assert {oid: store.get(oid) for oid in store} == plain  # loose and packed alike
        store.pack(full=True)
        assert {oid: store.get(oid) for oid in store} == plain
        written = store.put("blob", b"written inside the block\n")  # loose, after libgit2 looked
        assert store.get(written) == ("blob", b"written inside the block\n")
    assert store.get(written) == ("blob", b"written inside the block\n")


def test_reading_many_still_refuses_a_corrupt_object(git_dir: Path, story: dict[str, ObjectId]) -> None:
    oid = _page_blob(open_repository(git_dir.parent), "vault")
    path = loose_path(git_dir, oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    store = GitObjectStore(git_dir)
    with store.reading_many(), pytest.raises(CorruptObject):
        store.get(oid)


def test_listing_and_prefixes_see_loose_and_packed_objects_while_a_packer_runs(
    git_dir: Path, story: dict[str, ObjectId]
) -> None:
    store = GitObjectStore(git_dir)
    loose = store.put("blob", b"a loose object")
    everything = set(store)
    assert loose in everything and len(everything) > 20
    assert store.pack_count() > 1
    reader = GitObjectStore(git_dir)
    listing = iter(reader)  # the listing is taken when iteration starts
    first = next(listing)
    assert store.pack(full=True) > 0  # deletes every pack the reader had open
    assert {first, *listing} == everything
    assert set(reader) == everything == set(GitObjectStore(git_dir))
    for oid in list(everything)[:50]:
        assert reader.resolve_prefix(oid[:8]) == [oid]
        assert reader.resolve_prefix(oid[:39]) == [oid]


def test_automatic_packing_in_process(tmp_path: Path) -> None:
    from narrative_vcs.graph.git import init_git_dir

    git_dir = tmp_path / "g"
    init_git_dir(git_dir)
    store = GitObjectStore(git_dir, auto_pack_limit=1, background_pack=False)
    for i in range(3000):  # enough that the sampled fan-out directory holds an object
        store.put("blob", b"%d" % i)
    store.maintain()
    assert store.loose_object_paths() == []
    assert store.get(hash_object("blob", b"7")) == ("blob", b"7")


def test_branches_resolve_after_real_git_gc(git_dir: Path, story: dict[str, ObjectId], git_cli: Git) -> None:
    git_cli(git_dir, "gc", "--quiet")
    assert (git_dir / "packed-refs").is_file()
    assert not (git_dir / "refs" / "heads" / "main").exists()
    repo = open_repository(git_dir.parent)
    assert repo.branches() == {"main": story["merge"], "side": story["side"]}
    assert repo.resolve("main") == story["merge"] and repo.resolve("HEAD") == story["merge"]
    assert repo.read_page("aside").body == "Meanwhile.\n"
    # a CAS against a packed ref: stale refused, fresh accepted
    with pytest.raises(BranchMoved):
        repo.commit("side", ChangeSet().upsert_page(Page("x", "X")), actor="bot", message="m",
                    expected_head=story["setup"])  # fmt: skip
    new = Writer(repo, start_time=1_800_000_000).page("x", "X", branch="side", actor="bot")
    assert open_repository(git_dir.parent).branches()["side"] == new
    repo.delete_branch("side", new)
    assert "side" not in open_repository(git_dir.parent).branches()
    assert "refs/heads/side" not in (git_dir / "packed-refs").read_text()
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_refs_written_by_real_git_are_read(git_dir: Path, story: dict[str, ObjectId], git_cli: Git) -> None:
    git_cli(git_dir, "update-ref", "refs/tags/v1", story["edit"])
    git_cli(git_dir, "branch", "from-git", story["setup"])
    repo = open_repository(git_dir.parent)
    assert repo.tags() == {"v1": story["edit"]}
    assert repo.branches()["from-git"] == story["setup"]


# --- corruption -----------------------------------------------------------------------------------


def _page_blob(repo: Repository, page_id: str) -> ObjectId:
    oid = repo.snapshots.blob_id(repo.tree_of("HEAD"), f"pages/{page_id}.md")
    assert oid is not None
    return oid


@pytest.mark.parametrize(
    "content",
    [
        zlib.compress(b"blob 11\0other bytes"),  # valid zlib, a valid object, but not this id
        zlib.compress(b"blob 99\0short"),  # valid zlib, wrong size
        b"\x00garbage, not zlib at all\xff" * 3,
        b"",
    ],
    ids=["other-object", "bad-size", "garbage", "empty"],
)
def test_fsck_reports_a_corrupt_loose_object(
    git_dir: Path, story: dict[str, ObjectId], content: bytes
) -> None:
    oid = _page_blob(open_repository(git_dir.parent), "vault")
    path = loose_path(git_dir, oid)
    os.chmod(path, 0o644)
    path.write_bytes(content)
    report = open_repository(git_dir.parent).fsck()
    assert not report.ok
    assert any(oid in problem for problem in report.problems), report.problems


def test_reading_a_corrupt_object_raises_rather_than_returning_wrong_data(
    git_dir: Path, story: dict[str, ObjectId]
) -> None:
    oid = _page_blob(open_repository(git_dir.parent), "vault")
    path = loose_path(git_dir, oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptObject):
        GitObjectStore(git_dir).get(oid)


def test_fsck_reports_refs_at_a_missing_object_or_a_blob(git_dir: Path, story: dict[str, ObjectId]) -> None:
    repo = open_repository(git_dir.parent)
    blob = _page_blob(repo, "vault")
    missing = ObjectId("deadbeef" * 5)
    (git_dir / "refs" / "heads" / "to-blob").write_text(blob + "\n")
    (git_dir / "refs" / "tags" / "gone").write_text(missing + "\n")
    problems = open_repository(git_dir.parent).fsck().problems
    assert any("refs/heads/to-blob" in p and blob in p for p in problems), problems
    assert any("refs/tags/gone" in p and missing in p for p in problems), problems


def test_fsck_reports_a_deleted_object(git_dir: Path, story: dict[str, ObjectId]) -> None:
    oid = _page_blob(open_repository(git_dir.parent), "prologue")
    loose_path(git_dir, oid).unlink()
    problems = open_repository(git_dir.parent).fsck().problems
    assert any(oid in p and "missing" in p for p in problems), problems


# --- the ref store's own file format --------------------------------------------------------------


def test_a_ref_file_that_is_not_an_id_is_corrupt(git_dir: Path, story: dict[str, ObjectId]) -> None:
    (git_dir / "refs" / "heads" / "broken").write_text("not an id\n")
    with pytest.raises(CorruptObject):
        GitRefStore(git_dir).get(RefName("refs/heads/broken"))


def test_a_bare_name_in_the_reflog_is_written_as_an_ident_git_reads(
    git_dir: Path, story: dict[str, ObjectId], git_cli: Git
) -> None:
    refs = GitRefStore(git_dir)
    refs.set_if_equals(RefName("refs/heads/side"), story["side"], story["edit"], who="imogen", message="")
    line = (git_dir / "logs" / "refs" / "heads" / "side").read_text().splitlines()[-1]
    assert line.startswith(f"{story['side']} {story['edit']} imogen <> ") and "\t" not in line
    assert refs.reflog(RefName("refs/heads/side"))[-1].who == "imogen"  # read back as it was given
    assert git_cli(git_dir, "reflog", "show", "--format=%gn|%H", "side").splitlines()[0] == (
        f"imogen|{story['edit']}"
    )


def test_deleting_a_packed_ref_keeps_the_others_as_git_wrote_them(
    git_dir: Path, story: dict[str, ObjectId], git_cli: Git
) -> None:
    git_cli(git_dir, "-c", "user.name=A", "-c", "user.email=a@b", "tag", "-a", "-m", "m", "v1", "main")
    git_cli(git_dir, "pack-refs", "--all")
    before = (git_dir / "packed-refs").read_text()
    assert "\n^" in before  # the annotated tag's peeled line
    GitRefStore(git_dir).remove_if_equals(RefName("refs/heads/side"), story["side"])
    after = (git_dir / "packed-refs").read_text()
    assert after == "".join(
        line for line in before.splitlines(True) if not line.endswith(" refs/heads/side\n")
    )
    assert git_cli(git_dir, "rev-parse", "v1^{commit}").strip() == story["merge"]
    git_cli(git_dir, "fsck", "--strict", "--no-dangling")


def test_git_object_store_refuses_malformed_ids(git_dir: Path, story: dict[str, ObjectId]) -> None:
    with pytest.raises(BadInput):
        GitObjectStore(git_dir).get(ObjectId("xyz"))
    with pytest.raises(BadInput):
        GitRefStore(git_dir).set_if_equals(RefName("refs/heads/x"), None, ObjectId("abc"))


@pytest.mark.parametrize(
    "name", ["refs/heads/../../../escaped", "refs//x", "refs/heads/./x", "objects/x", "/tmp/x", "refs/a\x01"]
)
def test_git_ref_store_writes_no_file_outside_the_refs(
    git_dir: Path, story: dict[str, ObjectId], name: str
) -> None:
    refs = GitRefStore(git_dir)
    with pytest.raises(BadInput, match="invalid ref name"):
        refs.set_if_equals(RefName(name), None, story["merge"])
    refs.close()
    assert not (git_dir.parent / "escaped").exists() and not (git_dir / "tmp").exists()
    assert not (git_dir / "objects" / "x.lock").exists()


def _eight_writers_from_one_head(git_dir: Path) -> None:
    import threading

    from narrative_vcs.graph.git import init_git_dir
    from narrative_vcs.objects import Actor

    init_git_dir(git_dir)
    repo = Repository(GitObjectStore(git_dir), GitRefStore(git_dir))
    repo.set_head_branch("main")
    head = repo.commit(
        "main", ChangeSet().upsert_actor(Actor("ada", "Ada")), actor="ada", message="a", expected_head=None
    )
    start = threading.Barrier(8)
    problems: list[BaseException] = []
    done: list[ObjectId] = []

    def write(n: int) -> None:
        start.wait()
        try:
            oid, _ = repo.commit_independent(
                "main",
                ChangeSet().upsert_page(Page(f"p{n}", "P")),
                expected_head=head,
                actor="ada",
                message="m",
            )
            repo.commit_info(oid)
            done.append(oid)
        except BaseException as exc:  # reported below
            problems.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not problems, problems[0]
    assert len(done) == 8 and set(done) <= {c.id for c in repo.walk(["main"])}
    repo.close()


def test_threads_sharing_one_store_read_back_what_the_others_wrote(tmp_path: Path) -> None:
    """A rescan that listed the pack directory before another thread's pack arrived must not hide that
    pack from a read (it once made a fresh branch head "not found")."""
    for trial in range(10):
        _eight_writers_from_one_head(tmp_path / f"s{trial}.git")
