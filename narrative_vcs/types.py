"""Type aliases shared by every layer. Imports nothing at runtime but typing."""

from __future__ import annotations

from typing import NewType

__all__ = ["ZERO_ID", "ObjectId", "ObjectType", "RefName"]

#: A git object id: 40 lowercase hex digits (SHA-1).
ObjectId = NewType("ObjectId", str)
#: A full ref name such as ``refs/heads/main`` or ``HEAD``.
RefName = NewType("RefName", str)
#: The id git uses for "no object" (a ref that does not exist).
ZERO_ID = ObjectId("0" * 40)
#: The git object types gvcs writes: "blob", "tree", "commit" ("tag" is read only).
ObjectType = str
