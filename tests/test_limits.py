"""Limits on structured input: JSON measured before it is parsed, values and YAML without recursion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from narrative_vcs.errors import BadInput, InvalidFile
from narrative_vcs.limits import MAX_DEPTH, check_depth, load_json, too_deep
from narrative_vcs.objects import MAX_YAML, Page, Story, load_yaml


def nested(depth: int) -> str:
    """JSON lists nested ``depth`` levels: ``[[...]]``."""
    return "[" * depth + "]" * depth


def test_json_as_deep_as_the_limit_is_read() -> None:
    assert load_json(nested(MAX_DEPTH), "x", max_bytes=1000) is not None
    text = '{"a": ' * (MAX_DEPTH - 1) + "[]" + "}" * (MAX_DEPTH - 1)
    assert load_json(text, "x", max_bytes=1000) is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deeper_json_is_one_line_and_never_recursion(depth: int) -> None:
    with pytest.raises(BadInput) as caught:
        load_json(nested(depth), "--payload", max_bytes=1_000_000)
    assert str(caught.value) == f"--payload: nested deeper than {MAX_DEPTH} levels"


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 500 + '\\"{' * 300, "b": ["]" * 100]})
    assert load_json(text, "x", max_bytes=100_000)["b"] == ["]" * 100]


def test_size_is_measured_in_utf8_bytes() -> None:
    text = json.dumps("é" * 60, ensure_ascii=False)  # 62 characters, 122 bytes
    with pytest.raises(BadInput, match=r"^x: larger than 100 bytes$"):
        load_json(text, "x", max_bytes=100)
    with pytest.raises(BadInput, match=r"^x: larger than 1 KiB$"):
        load_json(b" " * 1025 + b"1", "x", max_bytes=1024)
    assert load_json(text, "x", max_bytes=122) == "é" * 60


def test_what_is_not_json_says_so() -> None:
    with pytest.raises(BadInput, match=r"^event is not JSON: "):
        load_json("{nope", "event", max_bytes=100)
    with pytest.raises(BadInput, match=r"^event is not UTF-8 text"):
        load_json(b'"\xff"', "event", max_bytes=100)


@given(st.recursive(st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_the_scan_agrees_with_the_parsed_value(value: Any) -> None:
    text = json.dumps(value)
    deep = too_deep(value, 3)
    try:
        load_json(text, "x", max_bytes=None, max_depth=3)
    except BadInput:
        assert deep
    else:
        assert not deep


def test_values_are_measured_without_recursion() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(BadInput, match=r"^payload: nested deeper than 64 levels$"):
        check_depth(value, "payload")
    check_depth({"a": [{"b": 1}]}, "payload")


def test_a_shared_part_is_measured_where_it_is_deepest() -> None:
    part: list[Any] = [[1]]
    for _ in range(30):
        part = [part, part]  # 2**30 paths, 31 containers
    assert not too_deep(part, 40)
    assert too_deep([[[part]]], 33)
    loop: list[Any] = []
    loop.append(loop)
    assert too_deep(loop)


# --- YAML ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 1000, 100_000])
def test_deep_flow_yaml_is_refused_in_one_line(depth: int) -> None:
    with pytest.raises(InvalidFile) as caught:
        load_yaml("title: T\ntags: " + nested(depth) + "\n", "story.yaml")
    assert "nested deeper than 64 levels" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_deep_block_yaml_is_refused() -> None:
    text = "".join("  " * i + "- \n" for i in range(200))
    with pytest.raises(InvalidFile, match=r"^actors/a\.yaml: nested deeper than 64 levels$"):
        load_yaml(text, "actors/a.yaml")


def test_yaml_as_deep_as_the_limit_is_read() -> None:
    value = load_yaml("x: " + nested(MAX_DEPTH - 1) + "\n", "story.yaml")
    assert not too_deep(value)


def test_front_matter_nested_too_deep_names_the_page() -> None:
    data = ("---\ntitle: T\ntags: " + nested(500) + "\n---\nBody.\n").encode()
    with pytest.raises(InvalidFile, match=r"^pages/p.md: nested deeper than 64 levels$"):
        Page.parse("p", data)


def test_a_yaml_file_larger_than_the_limit_is_refused() -> None:
    text = "title: T\nnote: " + "x" * MAX_YAML + "\n"
    with pytest.raises(InvalidFile, match=r"^story.yaml: larger than 8 MiB$"):
        Story.parse(text.encode())
