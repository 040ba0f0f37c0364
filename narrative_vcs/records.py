"""Value classes: :func:`record`, a dataclass made at a sixth of the cost.

``@dataclass(frozen=True)`` compiles six functions from source for every class (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``): about 0.4 ms a class, and a
command imports some forty of them before it does anything, a tenth of a cold ``gvcs merge``. A
record is a real dataclass (``dataclasses.fields``, ``replace`` and ``asdict`` work on it, mypy
checks it as one) whose ``__init__`` alone is compiled, once; equality, hashing, ``repr`` and
frozenness are shared functions that read the class's fields, and behave as the generated ones do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["record"]

T = TypeVar("T")

_MISSING = dataclasses.MISSING


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = True, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T] | None = None, /, *, frozen: bool = True, slots: bool = False) -> Any:
    """Make ``cls`` a dataclass: frozen (unless ``frozen=False``), compared and hashed by its fields
    as ``@dataclass(frozen=True)`` does (a mutable record is unhashable, as a mutable dataclass is)."""

    def wrap(klass: type[T]) -> type[T]:
        # Fields only: nothing compiled here.
        own = dict(klass.__dict__)  # what the class defines itself is kept, as dataclasses keeps it
        undocumented = not klass.__doc__
        if undocumented:  # else dataclasses writes one from inspect.signature, 0.3 ms a class
            klass.__doc__ = klass.__name__
        made: Any = dataclasses.dataclass(klass, init=False, repr=False, eq=False, slots=slots)
        fields = dataclasses.fields(made)
        if undocumented:
            made.__doc__ = f"{klass.__name__}({', '.join(f.name for f in fields)})"
        if "__init__" not in own:
            made.__init__ = _init(made, fields, frozen)
        if "__repr__" not in own:
            made.__repr__ = _repr(tuple(f.name for f in fields if f.repr))
        if "__eq__" not in own:
            made.__eq__ = _eq(tuple(f.name for f in fields if f.compare))
        explicit_hash = own.get("__hash__") is not None
        if not explicit_hash:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            made.__hash__ = _hash(hashed) if frozen else None
        if frozen:
            made.__setattr__, made.__delattr__ = _frozen(made, {f.name for f in fields})
        return made  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Callable[..., None]:
    """The class's ``__init__``, compiled from source as dataclasses does (the one function a record
    compiles: it runs for every instance, and a generic one would be several times slower)."""
    names: dict[str, Any] = {"__set": object.__setattr__, "__factory": _HAS_FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields:
        if f.default is not _MISSING:
            names[f"__d_{f.name}"] = f.default
        if f.default_factory is not _MISSING:
            names[f"__f_{f.name}"] = f.default_factory
        if f.init:
            if f.default is not _MISSING:
                param = f"{f.name}=__d_{f.name}"
            elif f.default_factory is not _MISSING:
                param = f"{f.name}=__factory"
            else:
                param = f.name
            (keyword if f.kw_only else positional).append(param)
            value = (
                f"__f_{f.name}() if {f.name} is __factory else {f.name}"
                if f.default_factory is not _MISSING
                else f.name
            )
        elif f.default_factory is not _MISSING:
            value = f"__f_{f.name}()"
        elif f.default is not _MISSING:
            value = f"__d_{f.name}"
        else:
            continue
        body.append(f"  __set(self, {f.name!r}, {value})" if frozen else f"  self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n"
    space: dict[str, Any] = {}
    exec(compile(source, f"<record {cls.__qualname__}>", "exec"), names, space)
    init: Callable[..., None] = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _Factory()


def _eq(names: tuple[str, ...]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        # As tuples, as dataclasses compares (identity first, then ==, field by field).
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    return __eq__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    return __hash__


def _frozen(
    cls: type[Any], names: set[str]
) -> tuple[Callable[[Any, str, Any], None], Callable[[Any, str], None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__
