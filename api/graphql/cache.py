"""Answers to reads, kept while the refs stay where they were.

A query's answer depends only on its text, its variables and the refs (every object it reads is
immutable), so a read is answered from this cache when all three are what they were, without running a
resolver. The refs are read for every query (one listing of the ref store), so commits made by any
process invalidate it at once. Mutations, subscriptions and answers with errors are never kept.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

__all__ = ["ReadCache"]


class _Store:
    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Any, ExecutionResult] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> ExecutionResult | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Any, result: ExecutionResult) -> None:
        with self.lock:
            self.entries[key] = result
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)


class ReadCache(SchemaExtension):
    """A schema extension; the context must have ``repo`` (a Repository) and ``read_cache`` (or None)."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        store: _Store | None = getattr(ctx.context, "read_cache", None)
        key = None
        if store is not None and ctx.operation_type is OperationType.QUERY and ctx.query is not None:
            try:
                variables = json.dumps(ctx.variables or {}, sort_keys=True)
            except (TypeError, ValueError):
                variables = None
            if variables is not None:
                key = (ctx.query, variables, ctx.operation_name, ctx.context.repo.refs_state())
                ctx.result = store.get(key)
        yield
        result = ctx.result
        if (
            key is not None
            and store is not None
            and isinstance(result, ExecutionResult)
            and not result.errors
            and getattr(ctx.context, "cacheable", True)
        ):
            store.put(key, result)

    @staticmethod
    def store(size: int = 256) -> _Store:
        """A cache for one server (pass it to every request's context)."""
        return _Store(size)
