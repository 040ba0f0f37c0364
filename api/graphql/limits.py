"""Limits on what one GraphQL request may ask for: depth, cost and aliases.

The cost of a field is 1 plus its children's cost times how many items it returns: a field with a
``first`` argument returns at most ``first`` items (the variable's value or the argument's default), any
other list field counts as :data:`LIST_GUESS` items (or as many as :data:`SHORT_LISTS` says).
Introspection fields (``__schema``) are free and do not count towards the depth, so GraphiQL can load
the schema. Requests over a limit fail with ``BAD_INPUT`` before any resolver runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["LIST_GUESS", "MAX_ALIASES", "MAX_COST", "MAX_DEPTH", "Limits", "Parsed", "measure"]

MAX_DEPTH = 12
MAX_COST = 10_000
MAX_ALIASES = 50
LIST_GUESS = 10
# Lists known to be short: a commit has one or two parents, a merge one or two bases.
SHORT_LISTS = {"parents": 2, "bases": 2, "follows": 2}
MAX_FIRST = 200


class Measure:
    """Depth, cost and alias count of one operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.depth = 0
        self.aliases = 0
        self.total = 0

    def cost(self, selections: SelectionSetNode, parent: Any, depth: int, seen: frozenset[str]) -> int:
        total = 0
        for node, on in self._fields(selections, parent, seen):
            if node.name.value.startswith("__"):
                continue
            if node.alias is not None:
                self.aliases += 1
            fields = on.fields if isinstance(on, (GraphQLObjectType, GraphQLInterfaceType)) else {}
            field: GraphQLField | None = fields.get(node.name.value)
            if field is None:
                continue  # an unknown field: validation reports it
            self.depth = max(self.depth, depth + 1)
            children = 0
            if node.selection_set is not None:
                children = self.cost(node.selection_set, get_named_type(field.type), depth + 1, seen)
            total += 1 + self._items(node, field) * children
        return total

    def _fields(
        self, selections: SelectionSetNode, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any]]:
        """The fields of a selection set with the type each is selected on, fragments spread out."""
        for sel in selections.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent
            elif isinstance(sel, InlineFragmentNode):
                on = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                yield from self._fields(sel.selection_set, on, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # unknown or cyclic: validation reports it
                on = self.schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, on, seen | {name})

    def _items(self, node: FieldNode, field: GraphQLField) -> int:
        """How many items a field returns at most."""
        if "first" in field.args:
            value: Any = field.args["first"].default_value
            for arg in node.arguments or ():
                if arg.name.value != "first":
                    continue
                if isinstance(arg.value, IntValueNode):
                    value = int(arg.value.value)
                elif isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value, MAX_FIRST)
            return max(1, min(value, MAX_FIRST)) if isinstance(value, int) else MAX_FIRST
        if node.name.value != "edges" and _is_list(field.type):
            return SHORT_LISTS.get(node.name.value, LIST_GUESS)
        return 1


def _is_list(kind: GraphQLOutputType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def measure(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> Measure | None:
    """The depth, cost and aliases of the operation to run; None if there is no such operation."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    operation = operations[0]
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found = Measure(schema, fragments, variables)
    found.total = found.cost(operation.selection_set, root, 0, frozenset())
    return found


class Parsed(SchemaExtension):
    """Remembers the parsed document per query text (1,000 texts): agents send the same few queries.

    Only documents that parsed are kept; a query that does not parse goes through GraphQL's parser
    (and its error) every time.
    """

    _documents: ClassVar[OrderedDict[str, DocumentNode]] = OrderedDict()
    _cache_size: ClassVar[int] = 1000

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        query = ctx.query
        if query is not None and ctx.graphql_document is None:
            document = self._documents.get(query)
            if document is not None:
                self._documents.move_to_end(query)
                ctx.graphql_document = document
        yield
        if query is not None and ctx.graphql_document is not None and query not in self._documents:
            self._documents[query] = ctx.graphql_document
            if len(self._documents) > self._cache_size:
                self._documents.popitem(last=False)


class Limits(SchemaExtension):
    """Refuses operations deeper than ``MAX_DEPTH``, costlier than ``MAX_COST`` or with too many aliases.

    It also runs GraphQL's validation, and remembers its outcome per query text (the schema does not
    change while a server runs): agents send the same few queries again and again.
    """

    _validated: ClassVar[OrderedDict[tuple[int, str], list[GraphQLError]]] = OrderedDict()
    _cache_size: ClassVar[int] = 1000

    def _validate(self) -> list[GraphQLError]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        key = (id(ctx.schema), ctx.query) if ctx.query is not None else None
        if key is not None and key in self._validated:
            self._validated.move_to_end(key)
            return self._validated[key]
        errors = validate_document(ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
        if key is not None:
            self._validated[key] = errors
            if len(self._validated) > self._cache_size:
                self._validated.popitem(last=False)
        return errors

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            errors = self._validate()
            if not errors:
                errors = self._check(ctx.graphql_document, ctx.operation_name, ctx.variables or {})
            ctx.pre_execution_errors = errors
        yield

    def _check(
        self, document: DocumentNode, operation: str | None, variables: Mapping[str, Any]
    ) -> list[GraphQLError]:
        found = measure(self.execution_context.schema._schema, document, operation, variables)
        if found is None:
            return []
        cost = found.total
        if found.depth > MAX_DEPTH:
            return [GraphQLError(f"query too deep: {found.depth} levels, at most {MAX_DEPTH}")]
        if cost > MAX_COST:
            return [
                GraphQLError(f"query too costly: {cost} (at most {MAX_COST}); ask for fewer items with first")
            ]
        if found.aliases > MAX_ALIASES:
            return [GraphQLError(f"too many aliases: {found.aliases}, at most {MAX_ALIASES}")]
        return []
