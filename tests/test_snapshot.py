"""Snapshots: logical paths over sharded git trees, copy-on-write writes and tree diffs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import BadInput
from narrative_vcs.objects import Tree
from narrative_vcs.snapshot import EMPTY_TREE, Snapshots, TreeDiff, check_path, logical_path, store_path
from narrative_vcs.store import MemoryObjectStore, ObjectStore
from narrative_vcs.types import ObjectId


@pytest.fixture
def snaps(objects: ObjectStore) -> Snapshots:
    return Snapshots(objects)


def shard_dirs(page_id: str) -> list[str]:
    """The fan-out directories between ``pages/`` and a page file in the store."""
    parts = store_path(f"pages/{page_id}.md").split("/")
    assert parts[0] == "pages" and parts[-1] == f"{page_id}.md"
    return parts[1:-1]


def test_pages_are_sharded_in_the_store_and_flat_in_logical_paths() -> None:
    for page_id in ["vault", "a", "chapter-1.2"]:
        dirs = shard_dirs(page_id)
        digits = "".join(dirs)
        # the shards are leading hex digits of SHA-1 of the id: even, stable fan-out
        assert dirs and digits == hashlib.sha1(page_id.encode()).hexdigest()[: len(digits)]
        assert logical_path(store_path(f"pages/{page_id}.md")) == f"pages/{page_id}.md"
    for path in ["story.yaml", "actors/ada.yaml", "ledger.yaml", "infra/spores/a.yaml", "pages"]:
        assert store_path(path) == path
        assert logical_path(path) == path


def test_written_pages_land_in_their_shard(snaps: Snapshots) -> None:
    root = snaps.write(None, {"pages/vault.md": b"v", "story.yaml": b"title: T\n"})
    tree = snaps.tree(root)
    assert sorted(tree.entries) == ["pages", "story.yaml"]
    tree = snaps.tree(tree.entries["pages"].oid)
    for name in shard_dirs("vault"):
        assert list(tree.entries) == [name]  # only the one shard on the way exists
        tree = snaps.tree(tree.entries[name].oid)
    assert list(tree.entries) == ["vault.md"]
    assert snaps.read(root, "pages/vault.md") == b"v"


def test_read_list_and_walk(snaps: Snapshots, objects: ObjectStore) -> None:
    files = {
        "story.yaml": b"title: T\n",
        "pages/a.md": b"a",
        "pages/b.md": b"b",
        "pages/c.md": b"c",
        "actors/ada.yaml": b"name: Ada\n",
        "infra/spores/s1.yaml": b"health: 3\n",
    }
    root = snaps.write(None, files)
    assert {path: objects.get(oid)[1] for path, oid in snaps.walk(root)} == files
    assert list(snaps.list_dir(root, "pages")) == ["a.md", "b.md", "c.md"]
    assert list(snaps.list_dir(root, "actors")) == ["ada.yaml"]
    assert list(snaps.list_dir(root, "")) == ["story.yaml"]
    assert snaps.list_dir(root, "nowhere") == {}
    assert snaps.list_dir(root, "story.yaml") == {}
    assert snaps.read(root, "pages/zzz.md") is None
    assert snaps.read(root, "story.yaml/x") is None
    assert snaps.blob_id(root, "pages") is None  # a directory is not a blob


def test_removing_the_last_file_removes_empty_directories(snaps: Snapshots) -> None:
    root = snaps.write(None, {"pages/a.md": b"a", "story.yaml": b"t"})
    root = snaps.write(root, {"pages/a.md": None})
    assert list(snaps.tree(root).entries) == ["story.yaml"]
    assert snaps.write(root, {"story.yaml": None}) == EMPTY_TREE


def test_writing_equal_content_gives_the_same_tree(snaps: Snapshots) -> None:
    one = snaps.write(None, {"pages/a.md": b"a", "pages/b.md": b"b"})
    two = snaps.write(snaps.write(None, {"pages/b.md": b"b"}), {"pages/a.md": b"a"})
    assert one == two
    assert snaps.write(one, {"pages/a.md": b"a"}) == one
    assert snaps.write(one, {"pages/a.md": snaps.blob_id(one, "pages/a.md")}) == one  # type: ignore[dict-item]


def test_empty_tree_is_gits_empty_tree(snaps: Snapshots, objects: ObjectStore) -> None:
    assert snaps.write(None, {}) == EMPTY_TREE
    assert objects.get(EMPTY_TREE) == ("tree", b"")


@pytest.mark.parametrize(
    "path", ["", "/abs", "a//b", "./a", "a/../b", "..", ".git/config", "x/.gvcs/y", "a/", "tab\there"]
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(BadInput):
        check_path(path)


def test_a_path_cannot_be_both_a_file_and_a_directory(snaps: Snapshots) -> None:
    root = snaps.write(None, {"infra": b"file"})
    with pytest.raises(BadInput):
        snaps.write(root, {"infra/x.yaml": b"x"})
    with pytest.raises(BadInput):
        snaps.write(None, {"infra": b"file", "infra/x.yaml": b"x"})
    with pytest.raises(BadInput):
        snaps.write(None, {"infra/x.yaml": b"x", "infra": b"file"})


def test_reading_a_blob_as_a_tree_is_refused(snaps: Snapshots, objects: ObjectStore) -> None:
    with pytest.raises(BadInput, match="not a tree"):
        snaps.tree(objects.put("blob", b"x"))


def test_diff_reports_logical_paths_added_removed_and_modified(snaps: Snapshots) -> None:
    old = snaps.write(None, {"pages/a.md": b"a", "pages/b.md": b"b", "story.yaml": b"t"})
    new = snaps.write(old, {"pages/a.md": b"A", "pages/b.md": None, "pages/c.md": b"c"})
    diff = snaps.diff(old, new)
    assert [(d.path, d.old is None, d.new is None) for d in diff] == [
        ("pages/a.md", False, False),
        ("pages/b.md", False, True),
        ("pages/c.md", True, False),
    ]
    assert snaps.diff(new, new) == []
    assert [d.path for d in snaps.diff(None, old)] == ["pages/a.md", "pages/b.md", "story.yaml"]
    assert all(d.old is None for d in snaps.diff(None, old))


def test_diff_handles_a_file_replaced_by_a_directory(snaps: Snapshots) -> None:
    old = snaps.write(None, {"infra": b"file"})
    new = snaps.write(None, {"infra/x.yaml": b"x"})
    assert [(d.path, d.old is not None, d.new is not None) for d in snaps.diff(old, new)] == [
        ("infra", True, False),
        ("infra/x.yaml", False, True),
    ]


def test_diff_does_not_read_equal_subtrees() -> None:
    store = MemoryObjectStore()
    big = Snapshots(store).write(
        None, {f"pages/p{i}.md": b"%d" % i for i in range(300)} | {"story.yaml": b"t"}
    )
    edited = Snapshots(store).write(big, {"story.yaml": b"u"})
    reads: list[ObjectId] = []

    class Counting(MemoryObjectStore):
        def get(self, oid: ObjectId) -> tuple[str, bytes]:
            reads.append(oid)
            return store.get(oid)

    assert [d.path for d in Snapshots(Counting()).diff(big, edited)] == ["story.yaml"]
    assert sorted(reads) == sorted([big, edited])  # the two roots; `pages/` is equal and skipped


# --- a model-based law: a snapshot behaves like a dict of paths -----------------------------------

paths = st.one_of(
    st.from_regex(r"pages/[a-z0-9]{1,6}\.md", fullmatch=True),
    st.from_regex(r"actors/[a-z]{1,4}\.yaml", fullmatch=True),
    st.sampled_from(["story.yaml", "ledger.yaml", "infra/a.yaml", "infra/deep/b.yaml"]),
)
edits = st.lists(st.dictionaries(paths, st.none() | st.binary(max_size=8), max_size=6), max_size=6)


@settings(max_examples=100, deadline=None)
@given(edits)
def test_snapshots_behave_like_a_dict_of_paths(batches: list[dict[str, bytes | None]]) -> None:
    store = MemoryObjectStore()
    snaps = Snapshots(store)
    model: dict[str, bytes] = {}
    root: ObjectId | None = None
    for batch in batches:
        before, previous = dict(model), root
        for path, data in batch.items():
            if data is None:
                model.pop(path, None)
            else:
                model[path] = data
        root = snaps.write(root, batch)  # type: ignore[arg-type]
        assert {p: store.get(o)[1] for p, o in snaps.walk(root)} == model
        expected = {
            p: (before.get(p), model.get(p))
            for p in before.keys() | model.keys()
            if before.get(p) != model.get(p)
        }
        got = {d.path: d for d in snaps.diff(previous, root)}
        assert got.keys() == expected.keys()
        for path, change in got.items():
            assert isinstance(change, TreeDiff)
            assert (change.old is None) == (expected[path][0] is None)
            assert (change.new is None) == (expected[path][1] is None)
        # The same content written from scratch gives the same root: trees are canonical.
        assert Snapshots(MemoryObjectStore()).write(None, model) == root  # type: ignore[arg-type]
        for oid in [root]:
            assert Tree.parse(store.get(oid)[1]).serialise() == store.get(oid)[1]


def _exact(diffs: list[TreeDiff]) -> list[tuple[str, ObjectId | None, ObjectId | None, str | None, str]]:
    return [(d.path, d.old, d.new, d.mode, d.stored) for d in diffs]


anything = st.one_of(paths, st.sampled_from(["infra", "pages", "infra/deep", "pages/0/1/x.md"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(anything, st.none() | st.binary(max_size=4), max_size=5), max_size=5))
def test_the_diff_a_write_remembers_is_the_diff_of_its_trees(batches: list[dict[str, bytes | None]]) -> None:
    """What write() keeps for diff() (so that a commit just built is not read back) is exactly what
    walking the two trees gives, whatever was written: files over directories, directories removed."""
    store = MemoryObjectStore()
    snaps = Snapshots(store)
    root: ObjectId | None = None
    for batch in batches:
        try:
            new = snaps.write(root, batch)  # type: ignore[arg-type]
        except BadInput:
            continue
        assert _exact(snaps.diff(root, new)) == _exact(Snapshots(store).diff(root, new))
        root = new


def test_preload_reads_every_tree_a_level_at_a_time(objects: ObjectStore) -> None:
    """A server reads the trees of HEAD ahead: afterwards a read of any page's path reads no tree."""
    root = Snapshots(objects).write(None, {f"pages/p{i}.md": f"page {i}".encode() for i in range(40)})
    bulk: list[int] = []
    get_many = objects.get_many

    def counting(oids: object) -> dict[ObjectId, tuple[str, bytes]]:
        wanted = list(oids)  # type: ignore[call-overload]
        bulk.append(len(wanted))
        return get_many(wanted)

    objects.get_many = counting  # type: ignore[method-assign]
    fresh = Snapshots(objects)
    trees = fresh.preload(root)
    assert trees == 1 + 1 + len({store_path(f"pages/p{i}.md").rsplit("/", 2)[-3] for i in range(40)}) + len(
        {store_path(f"pages/p{i}.md").rsplit("/", 1)[0] for i in range(40)}
    )
    assert len(bulk) == 4  # root, pages/, the first shard level, the second
    objects.get = lambda oid: pytest.fail(f"read {oid}")  # type: ignore[method-assign]
    for i in range(40):
        assert fresh.entry(root, f"pages/p{i}.md") is not None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(anything, st.none() | st.binary(max_size=4), max_size=5), max_size=6))
def test_a_write_on_records_is_the_write_on_parsed_trees(batches: list[dict[str, bytes | None]]) -> None:
    """A tree not parsed yet is rewritten on its records (only the entries changed are made): the same
    trees, the same remembered diff and the same refusals as through parsed trees."""
    store = MemoryObjectStore()
    root: ObjectId | None = None
    for batch in batches:
        parsed, raw = Snapshots(store), Snapshots(store)
        if root is not None:
            parsed.preload(root)  # every tree parsed: written through Tree
        try:
            new = parsed.write(root, batch)  # type: ignore[arg-type]
        except BadInput as refused:
            with pytest.raises(BadInput) as also:
                raw.write(root, batch)  # type: ignore[arg-type]
            assert str(also.value) == str(refused)
            continue
        assert raw.write(root, batch) == new  # type: ignore[arg-type]
        assert _exact(raw.diff(root, new)) == _exact(parsed.diff(root, new))
        assert _exact(raw.diff(root, new)) == _exact(Snapshots(store).diff(root, new))
        root = new
