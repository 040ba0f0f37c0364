"""Limits on structured input from outside (JSON and YAML): how deep it may nest and how large it may be.

Python's JSON and YAML readers, and every walk of what they return, recurse once per level of nesting: a
few kilobytes of ``[[[[...]]]]`` would end in a RecursionError. So JSON text is measured before it is
parsed (a linear scan of its brackets, strings skipped), values already parsed are measured without
recursion, and input over a limit is refused with one :class:`BadInput` line that names it, such as
``--payload: nested deeper than 64 levels``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import BadInput

__all__ = ["MAX_DEPTH", "check_depth", "check_size", "load_json", "too_deep"]

#: The deepest nesting of lists and objects (mappings) accepted anywhere: ``{}`` is one level.
MAX_DEPTH = 64

# A JSON string (escapes included) or one bracket; written so that a long string costs no backtracking.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def load_json(text: str | bytes, what: str, *, max_bytes: int | None, max_depth: int = MAX_DEPTH) -> Any:
    """``text`` parsed as JSON, if it is at most ``max_bytes`` (UTF-8) and nests at most ``max_depth``
    levels; else BadInput, one line starting with ``what``. Text that is not JSON is BadInput too.

    ``max_bytes`` None is for text already held whose size is checked elsewhere (a commit's trailer,
    whose payload the events check again): only the depth is measured then.
    """
    if isinstance(text, bytes):
        if max_bytes is not None:
            check_size(len(text), max_bytes, what)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{what} is not UTF-8 text ({exc.reason})") from None
    elif max_bytes is not None:
        check_size(_utf8_length(text), max_bytes, what)
    if _json_too_deep(text, max_depth):
        raise BadInput(f"{what}: nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{what} is not JSON: {exc}") from None
    except RecursionError:  # a stack already deep when called; the scan keeps this rare
        raise BadInput(f"{what}: nested too deeply") from None


def check_size(size: int, max_bytes: int, what: str) -> None:
    """BadInput when ``size`` bytes is more than ``max_bytes``."""
    if size > max_bytes:
        raise BadInput(f"{what}: larger than {_bytes(max_bytes)}")


def check_depth(value: object, what: str, max_depth: int = MAX_DEPTH) -> None:
    """BadInput when ``value`` (plain data: dicts, lists, tuples, scalars) nests deeper than ``max_depth``."""
    if too_deep(value, max_depth):
        raise BadInput(f"{what}: nested deeper than {max_depth} levels")


def too_deep(value: object, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and mappings deeper than ``max_depth``, found without recursion.

    A container met again (one object held in several places) is walked again only when it is met
    deeper than before, so shared parts cost at most ``max_depth`` walks each; a value that contains
    itself is too deep.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    deepest: dict[int, int] = {}  # id of a container -> the deepest level it was walked at
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        if depth > max_depth:
            return True
        if deepest.get(id(current), 0) >= depth:
            continue
        deepest[id(current)] = depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def _json_too_deep(text: str, max_depth: int) -> bool:
    """Whether JSON ``text`` opens more than ``max_depth`` brackets at once (brackets in strings skipped)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False  # the usual case: too few brackets to nest that deep
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _utf8_length(text: str) -> int:
    # Without a copy when every character is ASCII (the usual case).
    return len(text) if text.isascii() else len(text.encode("utf-8", errors="surrogatepass"))


def _bytes(n: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
