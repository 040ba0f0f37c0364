"""The JSON Schema of each topic's payload (``schemas/<topic>.json``) and of the story.yaml settings that
events read, checked with the ``jsonschema`` library.

Verifying a long history checks thousands of payloads: once a schema has checked a few in a process it
is also compiled to Python by ``fastjsonschema``, which says "valid" about twenty times faster. Only that
answer is taken from it, and only for payloads without floats or booleans (where the two libraries read
``integer`` and ``enum`` differently) and schemas whose keywords both read alike; anything else, and
every error message, is jsonschema's.

Every problem is one line naming the topic, the JSON path and what is wrong, for example
``gift.txn.v1: payload.amount: -5 is less than the minimum of 1``. A schema may give a friendlier
message for a keyword in ``errorMessages`` (``{value}`` stands for the offending value).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from ..limits import MAX_DEPTH, check_depth

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = ["MAX_PAYLOAD", "check_payload", "check_settings", "schema_of"]

#: The largest payload, as compact JSON (bytes): a page body fits, a whole story does not.
MAX_PAYLOAD = 256 * 1024
SETTINGS_SCHEMA = "story-settings"


@functools.cache
def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema ``schemas/<name>.json`` shipped with the package."""
    from importlib import resources

    text = resources.files(__package__ or "narrative_vcs.events").joinpath(f"schemas/{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> Validator:
    from jsonschema import Draft202012Validator, validators

    # JSON has one kind of number: 5.0 passes the standard "integer" check. Balances, counts and
    # rotations are whole numbers in YAML and trailers too, so only ints (never bools) are integers.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(Draft202012Validator, type_checker=checker)  # type: ignore[no-untyped-call]
    return strict(schema_of(name))  # type: ignore[no-any-return]


def check_payload(topic: str, payload: object) -> dict[str, Any]:
    """``payload`` as plain JSON, its keys sorted as a ``Gvcs-Event`` trailer keeps them, if it fits the
    schema of ``topic`` (a known topic); else BadInput."""
    if not isinstance(payload, Mapping):
        raise BadInput(f"{topic}: payload must be a JSON object, not {_kind(payload)}")
    check_depth(dict(payload), f"{topic}: payload")  # before json.dumps, which recurses once per level
    try:
        text = json.dumps(payload, allow_nan=False, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{topic}: payload is not JSON: {exc}") from None
    except RecursionError:  # a mapping type check_depth does not walk into
        raise BadInput(f"{topic}: payload: nested deeper than {MAX_DEPTH} levels") from None
    if len(text.encode()) > MAX_PAYLOAD:
        raise BadInput(f"{topic}: payload is too large: at most {MAX_PAYLOAD} bytes of JSON")
    _checked(topic, text)
    plain: dict[str, Any] = json.loads(text)
    return plain


@functools.lru_cache(maxsize=4096)
def _checked(topic: str, text: str) -> None:
    """Check a payload given as canonical JSON text, once per text: an event's payload is checked when
    the event is made and again when its commit is verified (by replay), with the same text."""
    _check(topic, json.loads(text), f"{topic}: ", "payload")


def check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse story.yaml settings of events (``glyphs``, ``gift``, ``phoenix``) that do not fit."""
    _check(SETTINGS_SCHEMA, dict(settings), "story.yaml: ", "")


#: Keywords ``fastjsonschema`` reads as draft 2020-12 does (``items`` only as one schema for every item).
_FAST_KEYWORDS = frozenset(
    {
        "$schema", "$defs", "$ref", "title", "description", "errorMessages", "type", "properties",
        "required", "additionalProperties", "pattern", "minLength", "maxLength", "minimum", "maximum",
        "enum", "const", "items", "maxItems", "uniqueItems", "not", "anyOf", "allOf", "if", "then",
    }
)  # fmt: skip
#: Checks of a schema with jsonschema alone before it is compiled (compiling costs a few ms).
_FAST_AFTER = 32
_uses: dict[str, int] = {}


@functools.cache
def _fast(name: str) -> Callable[[Any], Any] | None:
    """The schema compiled by fastjsonschema, or None when it uses a keyword fastjsonschema reads
    otherwise than jsonschema."""
    schema = schema_of(name)
    if not _fast_keywords_only(schema):
        return None
    import fastjsonschema

    return fastjsonschema.compile(schema)  # type: ignore[no-any-return]


def _fast_keywords_only(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    for key, value in schema.items():
        if key not in _FAST_KEYWORDS or (key == "items" and not isinstance(value, dict)):
            return False
        if key in ("properties", "$defs"):
            if not all(_fast_keywords_only(v) for v in value.values()):
                return False
        elif key in ("not", "items", "if", "then", "additionalProperties"):
            if not _fast_keywords_only(value):
                return False
        elif key in ("anyOf", "allOf") and not all(_fast_keywords_only(v) for v in value):
            return False
    return True


def _plain(value: Any) -> bool:
    """Whether ``value`` holds no float and no boolean anywhere."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return not isinstance(value, (float, bool))


def _quickly_valid(name: str, instance: Any) -> bool:
    """True when fastjsonschema can vouch for ``instance`` (False says nothing: ask jsonschema)."""
    uses = _uses.get(name, 0)
    if uses < _FAST_AFTER:
        _uses[name] = uses + 1
        return False
    fast = _fast(name)
    if fast is None or not _plain(instance):
        return False
    from fastjsonschema import JsonSchemaException

    try:
        fast(instance)
    except JsonSchemaException:
        return False
    return True


def _check(name: str, instance: Any, prefix: str, root: str) -> None:
    # The validators (and _plain) recurse once per level of the instance. Payloads were measured
    # (check_depth) and YAML is measured when it is read, so this only guards against a deep stack.
    try:
        _check_once(name, instance, prefix, root)
    except RecursionError:
        raise BadInput(f"{prefix}{root or 'settings'}: nested too deeply to check") from None


def _check_once(name: str, instance: Any, prefix: str, root: str) -> None:
    if _quickly_valid(name, instance):
        return
    validator = _validator(name)
    if validator.is_valid(instance):  # the usual case, and much cheaper than ranking the errors
        return
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is not None:
        path, problem = _describe(error, root)
        raise BadInput(f"{prefix}{path}: {problem}" if path else f"{prefix}{problem}")


def _describe(error: ValidationError, root: str) -> tuple[str, str]:
    """The JSON path of an error and its problem in a few words, on one line."""
    path = _path(root, list(error.absolute_path))
    keyword = error.validator
    expected: Any = error.validator_value
    value: Any = error.instance
    custom = error.schema.get("errorMessages", {}) if isinstance(error.schema, dict) else {}
    if keyword == "required" and isinstance(value, dict):
        missing = next((k for k in expected if k not in value), expected[0])
        return _path(root, [*error.absolute_path, missing]), custom.get("required", "is required")
    if keyword == "additionalProperties" and isinstance(value, dict):
        known = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
        extra = next((k for k in value if k not in known), "?")
        fields = f" (use {', '.join(known)})" if known else ""
        return _path(root, [*error.absolute_path, extra]), f"is not a known field{fields}"
    if isinstance(keyword, str) and keyword in custom:
        return path, str(custom[keyword]).replace("{value}", _short(value))
    if keyword == "type":
        shown = _short(value) if value is None or isinstance(value, bool | int | float) else _kind(value)
        return path, f"must be {_article(expected)}, not {shown}"
    if keyword == "maxLength":
        return path, f"is too long ({len(value)} characters; at most {expected})"
    if keyword == "minLength":
        return (
            path,
            "must not be empty" if expected == 1 else f"is too short (at least {expected} characters)",
        )
    if keyword == "enum":
        return path, f"{_short(value)} is not one of {', '.join(_short(v) for v in expected)}"
    if keyword == "uniqueItems":
        return path, "must not repeat an item"
    message = " ".join(error.message.split())
    return path, message if len(message) <= 200 else message[:197] + "..."


def _path(root: str, parts: list[Any]) -> str:
    out = root
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "a").replace("-", "a").isalnum():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _article(expected: Any) -> str:
    names = {"object": "an object", "array": "a list", "string": "text", "integer": "a whole number"}
    kinds = expected if isinstance(expected, list) else [expected]
    return " or ".join(names.get(str(k), str(k)) for k in kinds)
