"""The object model: canonical, round-tripping serialisation and git-compatible ids."""

from __future__ import annotations

import hashlib
import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narrative_vcs.errors import BadInput, CorruptObject, InvalidFile
from narrative_vcs.objects import (
    MODE_BLOB,
    MODE_TREE,
    Actor,
    Commit,
    Glyph,
    Page,
    Signature,
    Story,
    Tree,
    TreeEntry,
    format_message,
    hash_object,
    page_parses,
    parse_trailers,
    validate_id,
)
from narrative_vcs.store import MemoryObjectStore

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -----------------------------------------------------------------------------------

ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,24}", fullmatch=True).filter(lambda s: ".." not in s)
tricky_words = st.sampled_from(
    [
        "yes", "no", "Yes", "NO", "on", "off", "true", "False", "null", "Null", "~", "y", "n",
        "123", "0x1f", "1e3", "1_000", "-1", "+1", ".5", ".inf", "-.inf", ".nan", "2024-01-02",
        "12:30", "1:20:30", "0o17", "'quoted'", '"double"', "it's", "a: b", "a #b", "#comment",
        "- item", "? key", "[list]", "{map}", "&anchor", "*alias", "!tag", "|", ">", "%directive",
        "@at", "`tick`", "a, b", "a,b", " leading", "trailing ", "two  spaces", "tab\there",
        "Ünïcødé ✨", "日本語", "emoji 🐉 dragon", "back\\slash", "<angle>", "---", "...", "Why?",
        "a?b", "del\x7f", "nel\x85", "line\u2028sep", "bom\ufeff", "nul\x00", "bell\x07", "\ufffe",
    ]
)  # fmt: skip
single_line = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and "\n" not in t)
titles = st.one_of(tricky_words, single_line)
bodies = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            [
                "# Heading", "Some *emphasis* and **strong** text.", "- a list item", "> a quote",
                "```python\ncode()\n```", "[[other-page]] links", "---", "", "   ", "\r\n", "| a | b |",
                "title: not front matter", "trailing spaces   ",
            ]
        ),
        max_size=8,
    ).map(lambda parts: "\n".join(parts)),
    st.builds(lambda b, crlf: b.replace("\n", "\r\n") if crlf else b, st.text(max_size=80), st.booleans()),
)  # fmt: skip
extra_keys = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), titles, st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(extra_keys | tricky_words, inner, max_size=3)
    ),
    max_leaves=6,
)


def extras(known: tuple[str, ...]) -> st.SearchStrategy[tuple[tuple[str, object], ...]]:
    return st.dictionaries(extra_keys.filter(lambda k: k not in known), yaml_values, max_size=3).map(
        lambda d: tuple(sorted(d.items()))
    )


glyphs = st.builds(Glyph, ids, st.sampled_from([0, 90, 180, 270]))
tags = st.one_of(tricky_words, single_line)


@st.composite
def pages(draw: st.DrawFn) -> Page:
    page_id = draw(ids)
    others = ids.filter(lambda x: x != page_id)
    return Page(
        id=page_id,
        title=draw(titles),
        body=draw(bodies),
        follows=tuple(draw(st.lists(others, max_size=3, unique=True))),
        alternate_of=draw(st.none() | others),
        tags=tuple(draw(st.lists(tags, max_size=4))),
        glyphs=tuple(draw(st.lists(glyphs, max_size=3))),
        extra=draw(extras(Page.KNOWN_KEYS)),
    )


names = titles.filter(lambda t: "<" not in t and ">" not in t)
actors = st.builds(
    Actor,
    id=ids,
    name=names,
    kind=st.sampled_from(["human", "agent"]),
    archetype=st.none() | titles,
    extra=extras(Actor.KNOWN_KEYS),
)
stories = st.builds(Story, title=titles, settings=extras(("title",)))


def assert_canonical(data: bytes) -> None:
    assert b"\r" not in data
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    data.decode("utf-8")


# --- round trips ----------------------------------------------------------------------------------


@FAST
@given(pages())
def test_page_round_trips_through_its_file(page: Page) -> None:
    data = page.serialise()
    assert Page.parse(page.id, data) == page
    assert Page.parse(page.id, data).serialise() == data
    assert_canonical(data)


@FAST
@given(actors)
def test_actor_round_trips_through_its_file(actor: Actor) -> None:
    data = actor.serialise()
    assert Actor.parse(actor.id, data) == actor
    assert Actor.parse(actor.id, data).serialise() == data
    assert_canonical(data)


@FAST
@given(stories)
def test_story_round_trips_through_its_file(story: Story) -> None:
    data = story.serialise()
    assert Story.parse(data) == story
    assert_canonical(data)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_glyph_rotations_round_trip(rotation: int) -> None:
    page = Page("vault", "Vault", "x", glyphs=(Glyph("sun", rotation), Glyph("moon")))
    assert Page.parse("vault", page.serialise()).glyphs == (Glyph("sun", rotation), Glyph("moon", 0))


@pytest.mark.parametrize("rotation", [45, -90, 360, "90"])
def test_glyph_rotation_outside_the_four_is_refused(rotation: object) -> None:
    with pytest.raises(BadInput, match="rotation"):
        Glyph("sun", rotation)  # type: ignore[arg-type]


# Regressions found by the round trips above.
@pytest.mark.parametrize(
    "page",
    [
        Page("p", "T", tags=("a, b", "Why?", "c")),
        Page("p", "del\x7f nel\x85 sep\u2028 bom\ufeff"),
        Page("p", "T", tags=("\x7f",)),
        Page("p", "T", extra=(("no", 1), ("on", {"yes": "A?"}), ("y", ["x, y"]))),
    ],
)
def test_round_trip_regressions(page: Page) -> None:
    assert Page.parse(page.id, page.serialise()) == page


@pytest.mark.parametrize(
    "parse",
    [
        lambda: Page.parse("p", b"---\ntitle: x\nyes: 1\nb: 2\n---\n"),
        lambda: Actor.parse("a", b"name: x\n1: a\nb: 2\n"),
        lambda: Story.parse(b"title: x\non: 1\nb: 2\n"),
    ],
)
def test_files_with_non_text_keys_are_invalid_files(parse: object) -> None:
    with pytest.raises(InvalidFile, match="keys must be text"):
        parse()  # type: ignore[operator]


# --- canonical form -------------------------------------------------------------------------------


def test_page_file_has_the_documented_layout() -> None:
    page = Page("vault-door", "The Vault Door", "Body.\n", follows=("prologue",), tags=("act-1",))
    assert page.serialise() == (
        b"---\ntitle: The Vault Door\nfollows: [prologue]\nalternate_of: null\ntags: [act-1]\n"
        b"glyphs: []\n---\nBody.\n"
    )


def test_front_matter_keys_come_in_a_fixed_order_with_extras_last() -> None:
    page = Page("p", "T", extra=(("mood", "dark"), ("zeta", 1)))
    keys = [line.split(":")[0] for line in page.serialise().decode().split("---\n")[1].splitlines()]
    assert keys == ["title", "follows", "alternate_of", "tags", "glyphs", "mood", "zeta"]
    assert Actor("a", "A", archetype="sage", extra=(("b", 1),)).serialise() == (
        b"name: A\nkind: human\narchetype: sage\nb: 1\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        "Line one\nLine two",
        "Line one\r\nLine two\r\n",
        "\n\nLine one\nLine two\n\n\n",
        "Line one\rLine two\r",
    ],
)
def test_equal_content_gives_an_equal_blob_id(body: str) -> None:
    reference = Page("p", "Title", "Line one\nLine two\n")
    page = Page("p", "Title", body)
    assert page.serialise() == reference.serialise()
    assert page.body == "Line one\nLine two\n"
    store = MemoryObjectStore()
    assert store.put("blob", page.serialise()) == hash_object("blob", reference.serialise())


def test_parse_accepts_crlf_files_and_gives_the_canonical_page() -> None:
    lf = Page("p", "Title", "One\n\nTwo", tags=("x",)).serialise()
    crlf = lf.replace(b"\n", b"\r\n") + b"\r\n\r\n"
    assert Page.parse("p", crlf) == Page.parse("p", lf)
    assert Page.parse("p", crlf).serialise() == lf


def test_empty_body_ends_with_the_closing_marker() -> None:
    assert Page("p", "T", "\n\n").serialise().endswith(b"glyphs: []\n---\n")


@pytest.mark.parametrize(
    "data",
    [
        b"no front matter",
        b"---\ntitle: x\n",
        b"---\ntitle: [unclosed\n---\n",
        b"---\n- a list\n---\n",
        b"---\nfollows: []\n---\n",
        b"---\ntitle: x\nfollows: [Bad Id]\n---\n",
        b"---\ntitle: x\nglyphs: [{id: sun, rotation: 45}]\n---\n",
        b"---\ntitle: x\ntags: nope\n---\n",
        b"\xff\xfe",
    ],
)
def test_malformed_page_files_are_refused_naming_the_path(data: bytes) -> None:
    with pytest.raises(InvalidFile) as info:
        Page.parse("p", data)
    assert info.value.path == "pages/p.md"
    assert "pages/p.md" in str(info.value)


def test_invalid_yaml_reports_the_line_in_the_file() -> None:
    with pytest.raises(InvalidFile) as info:
        Page.parse("p", b"---\ntitle: ok\ntags: [a\n---\nbody\n")
    assert info.value.line is not None and info.value.line >= 3


def test_page_links_are_the_referenced_ids_in_order_without_repeats() -> None:
    page = Page("p", "T", "See [[b]] and [[a]], then [[b]] again; [[Not An Id]].")
    assert page.links() == ("b", "a")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "two\nlines"},
        {"follows": ("p",)},
        {"alternate_of": "p"},
        {"tags": ("",)},
        {"follows": ("Bad",)},
    ],
)
def test_invalid_pages_are_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"title": "T", **kwargs}
    with pytest.raises(BadInput):
        Page("p", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"name": ""}, {"name": "a\nb"}, {"name": "Evil <x@y>"}, {"kind": "robot"}]
)
def test_invalid_actors_are_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "N", **kwargs}
    with pytest.raises(BadInput):
        Actor("a", **fields)  # type: ignore[arg-type]


def test_actor_email_is_the_id_at_actors_gvcs() -> None:
    assert Actor("ada", "Ada").email == "ada@actors.gvcs"


# --- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "A B", "", "x" * 101, "x/y", ".x", "-x", "a..b", "Abc", "a b", "é"])
def test_invalid_ids_are_refused_naming_the_id(bad: str) -> None:
    with pytest.raises(BadInput) as info:
        validate_id("page", bad)
    shown = bad if len(bad) <= 40 else bad[:37]
    assert repr(shown)[:-1] in str(info.value)
    assert "page" in str(info.value)


@pytest.mark.parametrize("good", ["a", "0", "x" * 100, "a.b", "a-b_c", "9lives", "a.b.c", "chapter-1.2"])
def test_valid_ids_are_accepted(good: str) -> None:
    assert validate_id("page", good) == good


def test_non_string_id_is_refused() -> None:
    with pytest.raises(BadInput):
        validate_id("actor", 12)


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + "._-/ ", max_size=110))
def test_validate_id_accepts_exactly_the_documented_language(value: str) -> None:
    allowed = (
        1 <= len(value) <= 100
        and value[0] in string.ascii_lowercase + string.digits
        and all(c in string.ascii_lowercase + string.digits + "._-" for c in value)
        and ".." not in value
    )
    if allowed:
        assert validate_id("page", value) == value
    else:
        with pytest.raises(BadInput):
            validate_id("page", value)


# --- git ids --------------------------------------------------------------------------------------


def git_hash_object(data: bytes, obj_type: str = "blob") -> str:
    result = subprocess.run(
        ["git", "hash-object", "-t", obj_type, "--stdin"], input=data, capture_output=True, check=True
    )
    return result.stdout.decode().strip()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello\n",
        Page("vault", 'The Vault: "Door"', "Body with [[link]].\n\nÜnïcødé ✨").serialise(),
        Actor("bot", "Loom Bot", "agent").serialise(),
        bytes(range(256)),
    ],
)
def test_blob_ids_agree_with_git_hash_object(data: bytes) -> None:
    expected = git_hash_object(data)
    assert hash_object("blob", data) == expected
    assert MemoryObjectStore().put("blob", data) == expected


def test_hash_object_is_sha1_of_header_and_data() -> None:
    assert hash_object("commit", b"xyz") == hashlib.sha1(b"commit 3\0xyz").hexdigest()


# --- trees ----------------------------------------------------------------------------------------

OIDS = st.binary(min_size=20, max_size=20).map(lambda b: b.hex())
entry_names = st.text(
    alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]), min_size=1, max_size=12
)


@FAST
@given(st.dictionaries(entry_names, st.tuples(st.sampled_from([MODE_BLOB, MODE_TREE]), OIDS), max_size=12))
def test_tree_round_trips_and_is_independent_of_insertion_order(
    entries: dict[str, tuple[str, str]],
) -> None:
    forward, backward = Tree(), Tree()
    items = [TreeEntry(name, mode, oid) for name, (mode, oid) in entries.items()]  # type: ignore[arg-type]
    for entry in items:
        forward.set(entry)
    for entry in reversed(items):
        backward.set(entry)
    data = forward.serialise()
    assert backward.serialise() == data
    parsed = Tree.parse(data)
    assert parsed.entries == forward.entries
    assert parsed.serialise() == data
    keys = [e.sort_key for e in parsed.entries.values()]
    assert keys == sorted(keys)


def test_tree_order_and_id_agree_with_git_mktree(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "g")], check=True)
    blob = hash_object("blob", b"x")
    sub = hash_object("tree", b"")
    tree = Tree()
    listing = []
    for name, mode in [("a", MODE_TREE), ("a.md", MODE_BLOB), ("a-b", MODE_BLOB), ("ab", MODE_TREE),
                       ("a0", MODE_BLOB), ("B", MODE_BLOB), ("é.md", MODE_BLOB)]:  # fmt: skip
        oid = sub if mode == MODE_TREE else blob
        tree.set(TreeEntry(name, mode, oid))  # type: ignore[arg-type]
        listing.append(f"{'040000' if mode == MODE_TREE else mode} {'tree' if mode == MODE_TREE else 'blob'} "
                       f"{oid}\t{name}\n")  # fmt: skip
    result = subprocess.run(
        ["git", f"--git-dir={tmp_path / 'g'}", "mktree", "--missing"],
        input="".join(reversed(listing)).encode(),
        capture_output=True,
        check=True,
    )
    assert hash_object("tree", tree.serialise()) == result.stdout.decode().strip()


def test_tree_edits_keep_git_order() -> None:
    tree = Tree.parse(Tree({"b": TreeEntry("b", MODE_BLOB, hash_object("blob", b"b"))}).serialise())  # type: ignore[arg-type]
    tree.set(TreeEntry("a", MODE_TREE, hash_object("tree", b"")))  # type: ignore[arg-type]
    tree.set(TreeEntry("a.x", MODE_BLOB, hash_object("blob", b"")))  # type: ignore[arg-type]
    tree.remove("b")
    assert list(Tree.parse(tree.serialise()).entries) == ["a.x", "a"]


@pytest.mark.parametrize("data", [b"100644 name", b"100644 name\0short", b"100644 a/b\0" + b"x" * 20])
def test_corrupt_tree_data_raises_corrupt_object(data: bytes) -> None:
    with pytest.raises(CorruptObject):
        Tree.parse(data)


# --- commits --------------------------------------------------------------------------------------

sig_names = single_line.filter(lambda t: "<" not in t and ">" not in t and t == t.strip())
signatures = st.builds(
    Signature,
    name=sig_names,
    email=ids.map(lambda i: f"{i}@actors.gvcs"),
    time=st.integers(0, 2**33),
    offset=st.integers(-12 * 60, 14 * 60),
)
messages = st.text(max_size=200)


@FAST
@given(OIDS, st.lists(OIDS, max_size=3), signatures, signatures, messages)
def test_commit_round_trips(tree: str, parents: list[str], author: Signature, committer: Signature,
                            message: str) -> None:  # fmt: skip
    commit = Commit(tree, tuple(parents), author, committer, message)  # type: ignore[arg-type]
    data = commit.serialise()
    assert Commit.parse(data) == commit
    assert Commit.parse(data).serialise() == data


def test_commit_layout_is_gits() -> None:
    sig = Signature("Ada Lovelace", "ada@actors.gvcs", 1_700_000_000, -90)
    commit = Commit("a" * 40, ("b" * 40,), sig, sig, "Subject\n")  # type: ignore[arg-type]
    assert commit.serialise() == (
        b"tree " + b"a" * 40 + b"\nparent " + b"b" * 40 + b"\n"
        b"author Ada Lovelace <ada@actors.gvcs> 1700000000 -0130\n"
        b"committer Ada Lovelace <ada@actors.gvcs> 1700000000 -0130\n\nSubject\n"
    )


@pytest.mark.parametrize("data", [b"", b"tree abc\n\nmsg", b"tree " + b"a" * 40 + b"\nauthor nobody\n\nx",
                                  b"\xff"])  # fmt: skip
def test_corrupt_commit_data_raises_corrupt_object(data: bytes) -> None:
    with pytest.raises(CorruptObject):
        Commit.parse(data)


def test_trailers_are_appended_and_parsed_back() -> None:
    message = format_message(
        "Open the vault\r\n\r\nLonger text.\n\n", {"Gvcs-Actor": "ada", "Gvcs-Kind": "edit"}
    )
    assert message == "Open the vault\n\nLonger text.\n\nGvcs-Actor: ada\nGvcs-Kind: edit\n"
    assert parse_trailers(message) == (
        "Open the vault\n\nLonger text.",
        {"Gvcs-Actor": "ada", "Gvcs-Kind": "edit"},
    )
    assert parse_trailers("Just text\n\nNot: a trailer\n") == ("Just text\n\nNot: a trailer", {})


@pytest.mark.parametrize("message, trailers", [("", {}), ("  \n\n", {}), ("ok", {"Gvcs-X": "a\nb"})])
def test_bad_messages_are_refused(message: str, trailers: dict[str, str]) -> None:
    with pytest.raises(BadInput):
        format_message(message, trailers)


@FAST
@given(pages())
def test_the_fast_front_matter_reader_agrees_with_yaml_on_canonical_pages(page: Page) -> None:
    import yaml

    from narrative_vcs.objects import _fast_front_matter

    lines = page.serialise().decode().split("\n")
    front = lines[1 : lines.index("---", 1)]
    fast = _fast_front_matter(front)
    if fast is not None:
        assert fast == yaml.safe_load("\n".join(front))


@FAST
@given(
    st.lists(
        st.tuples(
            extra_keys,
            st.one_of(
                titles,
                tricky_words,
                st.text(max_size=12),
                st.lists(st.one_of(ids, tricky_words, st.text(max_size=5)), max_size=3).map(
                    lambda xs: "[" + ", ".join(xs) + "]"
                ),
            ),
        ),
        max_size=5,
    )
)
def test_the_fast_front_matter_reader_never_reads_text_differently_from_yaml(
    items: list[tuple[str, str]],
) -> None:
    """Hand-written front matter: where the fast reader answers, YAML gives the same mapping."""
    import yaml

    from narrative_vcs.objects import _fast_front_matter

    lines = [f"{key}: {value}" for key, value in items]
    fast = _fast_front_matter(lines)
    if fast is None:
        return
    try:
        expected = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        raise AssertionError(f"the fast reader accepted what YAML refuses: {lines}") from None
    assert fast == (expected or {})


@FAST
@given(actors, stories)
def test_actor_and_story_files_read_without_yaml_as_yaml_reads_them(actor: Actor, story: Story) -> None:
    """Actors and story.yaml in the canonical form are read without PyYAML: the same values."""
    import yaml

    from narrative_vcs.objects import _fast_mapping

    assert Actor.parse(actor.id, actor.serialise()) == actor
    assert Story.parse(story.serialise()) == story
    for data in (actor.serialise(), story.serialise()):
        fast = _fast_mapping(data.decode())
        if fast is not None:
            assert fast == yaml.safe_load(data.decode())


def test_an_actor_file_written_by_hand_is_read_by_yaml() -> None:
    data = b"# Ann, who opened the vault\nname: 'Ann Vale'\nkind: agent\n"
    assert Actor.parse("ann", data) == Actor("ann", "Ann Vale", "agent")
    assert Actor.parse("ann", b"name: Ann\r\nkind: human\r\n") == Actor("ann", "Ann")


@FAST
@given(pages(), pages())
def test_front_matter_bytes_are_equal_only_for_pages_alike_but_for_their_bodies(a: Page, b: Page) -> None:
    from narrative_vcs.objects import front_matter_bytes

    body_only = Page(a.id, a.title, b.body, a.follows, a.alternate_of, a.tags, a.glyphs, a.extra)
    assert front_matter_bytes(a.serialise()) == front_matter_bytes(body_only.serialise())
    if front_matter_bytes(a.serialise()) == front_matter_bytes(b.serialise()):
        # Each read as its own id (a page may follow "x", but not itself).
        assert Page.parse(a.id, a.serialise()).follows == Page.parse(b.id, b.serialise()).follows
        assert (
            Page.parse(a.id, a.serialise()).front_matter() == Page.parse(b.id, b.serialise()).front_matter()
        )


def test_front_matter_bytes_end_at_the_closing_line_as_parse_reads_it() -> None:
    from narrative_vcs.objects import front_matter_bytes

    assert front_matter_bytes(b"---\ntitle: A\n---  \nbody\n---\n") == b"---\ntitle: A\n---  "
    assert (
        front_matter_bytes(b"---\ntitle: A\n----\nfollows: [b]\n---\n")
        == b"---\ntitle: A\n----\nfollows: [b]\n---"
    )
    assert front_matter_bytes(b"no front matter") == b"no front matter"


# --- the quick check that a page parses --------------------------------------------------------------


@FAST
@given(pages())
def test_only_a_page_without_glyphs_or_extras_parses_quickly(page: Page) -> None:
    if page_parses(page.id, page.serialise()):
        assert not page.glyphs and not page.extra


def test_a_plain_page_gvcs_wrote_parses_quickly() -> None:
    page = Page(
        "p2", "Page two, Folded", "Body.\n\nMore.", follows=("p1",), alternate_of="p0", tags=("act-1",)
    )
    assert page_parses("p2", page.serialise())
    assert page_parses("p2", Page("p2", "Two").serialise())
    assert not page_parses("p1", page.serialise())  # read as page p1, it would follow itself
    with pytest.raises(InvalidFile):
        Page.parse("p1", page.serialise())


raw_values = st.one_of(tricky_words, ids, st.text(max_size=12), st.just(""), st.just("null"))


@FAST
@given(
    st.one_of(ids, tricky_words, st.just("a..b"), st.just("Upper")),
    raw_values,
    st.lists(raw_values, max_size=3),
    raw_values,
    st.lists(raw_values, max_size=3),
    st.sampled_from(["---\n", "--- \n", "---\r\n", "---", "---\nbody\r\n", "---\n\nbody"]),
)
def test_a_page_said_to_parse_always_parses(
    page_id: str, title: str, follows: list[str], alternate: str, tag_list: list[str], end: str
) -> None:
    """Whatever the front matter holds, the quick check never says yes to a page Page.parse refuses."""
    if follows and follows[0] == "self":
        follows[0] = page_id
    text = (
        f"---\ntitle: {title}\nfollows: [{', '.join(follows)}]\nalternate_of: {alternate}\n"
        f"tags: [{', '.join(tag_list)}]\nglyphs: []\n{end}"
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    if page_parses(page_id, data):
        Page.parse(page_id, data)  # raises if the quick check was wrong


@pytest.mark.parametrize(
    ("page_id", "front"),
    [
        ("p1", "title: null\nfollows: []\nalternate_of: null\ntags: []"),
        ("p1", 'title: ""\nfollows: []\nalternate_of: null\ntags: []'),
        ("p1", "title: T\nfollows: [p1]\nalternate_of: null\ntags: []"),
        ("p1", "title: T\nfollows: []\nalternate_of: p1\ntags: []"),
        ("p1", "title: T\nfollows: [a..b]\nalternate_of: null\ntags: []"),
        ("p1", "title: T\nfollows: [yes]\nalternate_of: null\ntags: []"),
        ("p1", "title: T\nfollows: []\nalternate_of: null\ntags: [on]"),
        ("P1", "title: T\nfollows: []\nalternate_of: null\ntags: []"),
        ("p1", "title: T\r\nfollows: []\nalternate_of: null\ntags: []"),
    ],
)
def test_the_quick_check_leaves_doubtful_pages_to_the_parser(page_id: str, front: str) -> None:
    assert not page_parses(page_id, f"---\n{front}\nglyphs: []\n---\nBody.\n".encode())


_FRONTS = [
    "---\ntitle: One\nfollows: [a]\nalternate_of: null\ntags: [x]\nglyphs: []\n---\n",
    "---\r\ntitle: One\r\nfollows: [a]\r\nalternate_of: null\r\ntags: [x]\r\nglyphs: []\r\n---\r\n",
    "---\ntitle: 'Two: quoted'\nfollows: []\nextra: {k: 1}\n---\n",
    "---\ntitle: One\nfollows: [a]\n---  \n",
    "---\ntitle: One\nfollows: [p]\n---\n",  # the page following itself: refused
    "---\ntitle: ''\n---\n",  # no title: refused
    "title: none\n",  # no front matter: refused
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.none()
        | st.tuples(st.sampled_from(_FRONTS), st.text(alphabet="ab \n\r\u00e9-", max_size=30)).map(
            lambda fb: (fb[0] + fb[1]).encode()
        ),
        min_size=1,
        max_size=4,
    )
)
def test_parse_versions_is_parse_of_each(versions: list[bytes | None]) -> None:
    """Versions read together give what each read alone gives: the same pages, or the same error."""
    expected: list[object] = []
    for data in versions:
        try:
            expected.append(None if data is None else Page.parse("p", data))
        except BadInput as exc:
            expected.append(str(exc))
            break
    try:
        got: list[object] = list(Page.parse_versions("p", versions))
    except BadInput as exc:
        assert expected[-1] == str(exc)
        return
    assert got == expected
    assert [p.body if isinstance(p, Page) else p for p in got] == [
        p.body if isinstance(p, Page) else p for p in expected
    ]
