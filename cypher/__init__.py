"""Every Cypher statement of gvcs, one per ``.cypher`` file, shipped as package data.

``statement("refs/lock")`` returns the text of ``refs/lock.cypher``. Python code never builds Cypher
from strings: values travel as parameters.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["schema_statements", "statement"]


@cache
def statement(name: str) -> str:
    """The Cypher of ``<name>.cypher`` (``name`` like ``"objects/find"``), comments and all."""
    return resources.files(__name__).joinpath(f"{name}.cypher").read_text(encoding="utf-8")


def schema_statements() -> list[tuple[str, str]]:
    """``(name, cypher)`` of every constraint and index in ``schema/``, in name order."""
    folder = resources.files(__name__).joinpath("schema")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".cypher"))
    return [(n.removesuffix(".cypher"), statement("schema/" + n.removesuffix(".cypher"))) for n in names]
