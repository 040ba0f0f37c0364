"""Value classes: :func:`record`, a dataclass that costs a command nothing until it is used.

``@dataclass(frozen=True)`` compiles six functions from source for every class (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``), and importing
:mod:`dataclasses` imports :mod:`inspect`: about 0.4 ms a class and 7 ms more, where a command
imports some forty such classes before it does anything (a tenth of a cold ``gvcs merge``).

A record reads its fields from its annotations, as dataclasses does, with the same defaults,
``field(default_factory=..., compare=..., repr=..., init=..., kw_only=...)`` options, inheritance and
``__post_init__``. Its ``__init__`` is compiled from source (it runs for every instance) the first
time the class is instantiated; equality, hashing, ``repr`` and frozenness are shared functions that
behave as the generated ones do. It is still a dataclass to the standard library:
``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` work on it (its
``__dataclass_fields__`` are made, importing :mod:`dataclasses`, when first asked for), and mypy
checks it as one. :func:`replace` does what ``dataclasses.replace`` does without that import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["asdict", "field", "record", "replace"]

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a record: what :func:`field` said about it, and its name and annotation."""

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "kw_only", "name", "repr", "type")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        init: bool = True,
        repr: bool = True,
        hash: bool | None = None,
        compare: bool = True,
        kw_only: bool = False,
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default, self.default_factory = default, default_factory
        self.init, self.repr, self.hash, self.compare, self.kw_only = init, repr, hash, compare, kw_only
        self.name = ""
        self.type: Any = None


def field(
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
    kw_only: bool = False,
) -> Any:
    """As :func:`dataclasses.field`, for a record."""
    return Field(default, default_factory, init, repr, hash, compare, kw_only)


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = True, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[T] | None = None, /, *, frozen: bool = True, slots: bool = False) -> Any:
    """Make ``cls`` a record: frozen (unless ``frozen=False``), compared and hashed by its fields as
    ``@dataclass(frozen=True)`` does (a mutable record is unhashable, as a mutable dataclass is)."""

    def wrap(klass: type[T]) -> type[T]:
        return _make(klass, frozen, slots)

    return wrap if cls is None else wrap(cls)


def _make(klass: type[T], frozen: bool, slots: bool) -> type[T]:
    own = dict(klass.__dict__)  # what the class defines itself is kept, as dataclasses keeps it
    fields: dict[str, Field] = {}
    for base in reversed(klass.__mro__[1:]):
        fields.update(getattr(base, "__record_fields__", {}))
    for name, annotation in own.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.replace("typing.", "").startswith("ClassVar"):
            continue
        value = own.get(name, MISSING)
        if type(value).__name__ == "Field" and type(value).__module__ == "dataclasses":
            value = _from_dataclasses(value)  # a dataclasses.field() is read the same
        spec = value if isinstance(value, Field) else Field(default=value)
        spec.name, spec.type = name, annotation
        fields[name] = spec
        if isinstance(value, Field):  # as dataclasses: the default stays a class attribute, a field() goes
            if spec.default is MISSING:
                delattr(klass, name)
            else:
                setattr(klass, name, spec.default)
    made: Any = _with_slots(klass, fields) if slots else klass
    made.__record_fields__ = fields
    made.__dataclass_fields__ = _DataclassFields()
    matched = tuple(n for n, f in fields.items() if f.init and not f.kw_only)
    setattr(made, "__match_args__", matched)  # noqa: B010 (mypy will not have it assigned)
    if not made.__doc__:
        made.__doc__ = f"{made.__name__}({', '.join(fields)})"
    if "__init__" not in own:
        made.__init__ = _lazy_init(made, frozen)
    if "__repr__" not in own:
        made.__repr__ = _repr(tuple(n for n, f in fields.items() if f.repr))
    if "__eq__" not in own:
        made.__eq__ = _eq(tuple(n for n, f in fields.items() if f.compare))
    if own.get("__hash__") is None:  # none of its own (a class with __eq__ alone gets None)
        hashed = tuple(n for n, f in fields.items() if (f.compare if f.hash is None else f.hash))
        made.__hash__ = _hash(hashed) if frozen else None
    if frozen:
        made.__setattr__, made.__delattr__ = _frozen(made, set(fields))
    return made  # type: ignore[no-any-return]


def _from_dataclasses(spec: Any) -> Field:
    def given(value: Any) -> Any:
        return MISSING if type(value).__name__ == "_MISSING_TYPE" else value

    return Field(
        given(spec.default),
        given(spec.default_factory),
        spec.init,
        spec.repr,
        spec.hash,
        spec.compare,
        given(spec.kw_only) is True,
    )


def _with_slots(klass: type, fields: dict[str, Field]) -> type:
    """The class made again with ``__slots__`` for its fields (a class's slots are fixed when it is
    made), as ``dataclass(slots=True)`` makes it."""
    body = {k: v for k, v in klass.__dict__.items() if k not in ("__dict__", "__weakref__", *fields)}
    inherited = {n for base in klass.__mro__[1:] for n in getattr(base, "__slots__", ())}
    body["__slots__"] = tuple(n for n in fields if n not in inherited)
    made = type(klass)(klass.__name__, klass.__bases__, body)
    made.__qualname__ = klass.__qualname__
    return made


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes`` (as :func:`dataclasses.replace`)."""
    fields: dict[str, Field] = type(obj).__record_fields__  # type: ignore[attr-defined]
    for name, spec in fields.items():
        if not spec.init:
            if name in changes:
                raise ValueError(
                    f"field {name} is declared with init=False, it cannot be specified with replace()"
                )
        elif name not in changes:
            changes[name] = getattr(obj, name)
    return type(obj)(**changes)


def asdict(obj: Any) -> dict[str, Any]:
    """:func:`dataclasses.asdict` (of a record or any dataclass), importing :mod:`dataclasses` only
    when called."""
    import dataclasses

    found: dict[str, Any] = dataclasses.asdict(obj)
    return found


class _DataclassFields:
    """``__dataclass_fields__``, made from the record's fields the first time the standard library
    asks (``dataclasses.fields``, ``replace``, ``asdict``): only then is :mod:`dataclasses` imported."""

    def __get__(self, obj: object, owner: type) -> dict[str, Any]:
        import dataclasses

        made: dict[str, Any] = {}
        for name, spec in owner.__record_fields__.items():  # type: ignore[attr-defined]
            f: Any = dataclasses.field(
                default=spec.default if spec.default is not MISSING else dataclasses.MISSING,
                default_factory=(
                    spec.default_factory if spec.default_factory is not MISSING else dataclasses.MISSING
                ),
                init=spec.init,
                repr=spec.repr,
                hash=spec.hash,
                compare=spec.compare,
                kw_only=spec.kw_only,
            )
            f.name, f.type = name, spec.type
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]  # what fields() selects
            made[name] = f
        type.__setattr__(owner, "__dataclass_fields__", made)
        return made


def _lazy_init(cls: type, frozen: bool) -> Callable[..., None]:
    """An ``__init__`` that compiles the class's real one when first called, and puts it in its place:
    a class never instantiated by a command costs it no compiling."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = cls.__dict__.get("__init__")
        if init is __init__:
            init = _init(cls, cls.__record_fields__, frozen)  # type: ignore[attr-defined]
            type.__setattr__(cls, "__init__", init)
        assert init is not None
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init(cls: type, fields: dict[str, Field], frozen: bool) -> Callable[..., None]:
    """The class's ``__init__``, compiled from source as dataclasses compiles it."""
    names: dict[str, Any] = {"__set": object.__setattr__, "__factory": _HAS_FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for name, f in fields.items():
        if f.default is not MISSING:
            names[f"__d_{name}"] = f.default
        if f.default_factory is not MISSING:
            names[f"__f_{name}"] = f.default_factory
        if f.init:
            if f.default is not MISSING:
                param = f"{name}=__d_{name}"
            elif f.default_factory is not MISSING:
                param = f"{name}=__factory"
            else:
                param = name
            (keyword if f.kw_only else positional).append(param)
            value = (
                f"__f_{name}() if {name} is __factory else {name}"
                if f.default_factory is not MISSING
                else name
            )
        elif f.default_factory is not MISSING:
            value = f"__f_{name}()"
        elif f.default is not MISSING:
            value = f"__d_{name}"
        else:
            continue
        body.append(f"  __set(self, {name!r}, {value})" if frozen else f"  self.{name} = {value}")
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


def _refuse(message: str) -> None:
    import dataclasses  # only when refusing: the error a frozen dataclass raises

    raise dataclasses.FrozenInstanceError(message)


def _frozen(
    cls: type[Any], names: set[str]
) -> tuple[Callable[[Any, str, Any], None], Callable[[Any, str], None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            _refuse(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            _refuse(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__
