"""Limits on what one GraphQL request may ask for: size, depth, cost and aliases.

The cost of a field is 1 plus its children's cost times how many items it returns: a field with a
``first`` argument returns at most ``first`` items (the variable's value or the argument's default), any
other list field counts as :data:`LIST_GUESS` items (or as many as :data:`SHORT_LISTS` says).
Introspection fields (``__schema``) are free and do not count towards the depth, so GraphiQL can load
the schema; they count towards :data:`MAX_FIELDS` like every field.

No document costs the server much before it is refused, whatever its shape:

- the parser stops at :data:`MAX_QUERY` characters or :data:`MAX_TOKENS` tokens;
- the limits are measured in time linear in the document, each selection set (a fragment's included)
  once however many places it is spread in (:class:`Measurer`), and before GraphQL's validation, which
  would otherwise walk a fragment bomb (each fragment spreading the previous one twice) spread out;
- validation itself is bounded (:func:`validate`): its rule that compares fields of the same name
  pairwise gets :data:`MAX_COMPARISONS` units of work, and it stops after :data:`MAX_ERRORS` errors.

Requests over a limit fail with ``BAD_INPUT`` and a one-line message before any resolver runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
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
from graphql import validate as graphql_validate
from graphql.validation import (
    ASTValidationRule,
    MaxIntrospectionDepthRule,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

__all__ = [
    "LIST_GUESS",
    "MAX_ALIASES",
    "MAX_COST",
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_ERRORS",
    "MAX_FIELDS",
    "MAX_QUERY",
    "MAX_TOKENS",
    "Limits",
    "Parsed",
    "Size",
    "check_document",
    "measure",
    "validate",
]

MAX_DEPTH = 12
MAX_COST = 10_000
MAX_ALIASES = 50
LIST_GUESS = 10
# Lists known to be short: a commit has one or two parents, a merge one or two bases.
SHORT_LISTS = {"parents": 2, "bases": 2, "follows": 2}
MAX_FIRST = 200

#: Characters of a document (GraphiQL's introspection query has 1,600).
MAX_QUERY = 64 * 1024
#: Tokens of a document, comments included (the introspection query has 183).
MAX_TOKENS = 1_000
#: Fields of a definition once its fragments are spread out, introspection included (the introspection
#: query has about 170): what validation and execution walk.
MAX_FIELDS = 2_000
#: Work GraphQL's rule "overlapping fields can be merged" may do, in its units (about a field compared
#: with another): it compares fields of the same name pairwise, which the queries of a client seldom
#: need and thousands of copies of one field would make quadratic. graphql-core's own is 500,000.
MAX_COMPARISONS = 2_000
#: Validation errors reported before validation stops (each may look for suggestions).
MAX_ERRORS = 10

# Sums are kept at most this large, so that a bomb's figures stay small integers.
_CAP = 1 << 40


@dataclass
class Size:
    """What a selection set (or an operation) asks for, its fragments spread out.

    ``cost``, ``depth`` and ``aliases`` leave introspection out; ``fields`` counts every field.
    """

    cost: int = 0
    depth: int = 0
    aliases: int = 0
    fields: int = 0

    def add(self, other: Size) -> None:
        """Add the size of a fragment spread (or inline) in this selection set."""
        self.cost = min(self.cost + other.cost, _CAP)
        self.depth = max(self.depth, other.depth)
        self.aliases = min(self.aliases + other.aliases, _CAP)
        self.fields = min(self.fields + other.fields, _CAP)


@dataclass
class _Frame:
    """A selection set being measured: its type (None: only its fields are counted) and its size so far."""

    selections: SelectionSetNode
    on: GraphQLNamedType | None
    size: Size = field(default_factory=Size)
    pending: Iterator[tuple[SelectionSetNode, GraphQLNamedType | None, FieldNode | None]] | None = None
    field_node: FieldNode | None = None  # the field whose selection set this is (None: a fragment's)


class Measurer:
    """Measures selection sets of one document, each once: a fragment spread a million times over is
    measured once and its size added a million times.

    ``visited`` counts the selections looked at, so tests can check that the work is linear.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.visited = 0
        self._sizes: dict[tuple[int, bool], Size] = {}
        self._open: set[tuple[int, bool]] = set()  # being measured: a spread of one of these is a cycle

    def size(self, selections: SelectionSetNode, on: GraphQLNamedType | None) -> Size:
        """The size of a selection set selected on ``on``; without recursion, so any nesting is fine."""
        known = self._sizes.get(_key(selections, on))
        if known is not None:
            return known
        root = _Frame(selections, on)
        self._enter(root)
        stack = [root]
        while stack:
            frame = stack[-1]
            assert frame.pending is not None
            child = next(frame.pending, None)
            if child is None:
                stack.pop()
                self._leave(frame)
                if stack:
                    self._fold(stack[-1], frame)
                continue
            child_selections, child_on, node = child
            known = self._sizes.get(_key(child_selections, child_on))
            if known is not None:
                self._fold_known(frame, known, node)
            elif _key(child_selections, child_on) not in self._open:  # else a fragment cycle: counts 0
                child_frame = _Frame(child_selections, child_on, field_node=node)
                self._enter(child_frame)
                stack.append(child_frame)
        return self._sizes[_key(selections, on)]

    def _enter(self, frame: _Frame) -> None:
        self._open.add(_key(frame.selections, frame.on))
        frame.pending = self._children(frame)

    def _leave(self, frame: _Frame) -> None:
        key = _key(frame.selections, frame.on)
        self._open.discard(key)
        self._sizes[key] = frame.size

    def _children(
        self, frame: _Frame
    ) -> Iterator[tuple[SelectionSetNode, GraphQLNamedType | None, FieldNode | None]]:
        """Counts the fields of a selection set and yields what must be measured to finish it: the
        selection sets of its fields (with the field), of its inline fragments and of the fragments it
        spreads (without)."""
        on, size = frame.on, frame.size
        for sel in frame.selections.selections:
            self.visited += 1
            if isinstance(sel, FieldNode):
                self._count_field(sel, on, size)
                if sel.selection_set is not None:
                    yield sel.selection_set, self._field_type(sel, on), sel
            elif isinstance(sel, InlineFragmentNode):
                inner = on
                if sel.type_condition is not None:
                    inner = self._type(sel.type_condition.name.value, on)
                yield sel.selection_set, inner, None
            elif isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments.get(sel.name.value)
                if fragment is not None:  # else unknown: validation reports it
                    yield fragment.selection_set, self._type(fragment.type_condition.name.value, on), None

    def _count_field(self, node: FieldNode, on: GraphQLNamedType | None, size: Size) -> None:
        size.fields = min(size.fields + 1, _CAP)
        if on is None or _field(on, node) is None:
            return  # introspection, or an unknown field (validation reports it)
        size.depth = max(size.depth, 1)
        size.cost = min(size.cost + 1, _CAP)
        if node.alias is not None:
            size.aliases = min(size.aliases + 1, _CAP)

    def _fold(self, parent: _Frame, child: _Frame) -> None:
        self._fold_known(parent, self._sizes[_key(child.selections, child.on)], child.field_node)

    def _fold_known(self, parent: _Frame, child: Size, node: FieldNode | None) -> None:
        """Add a measured selection set to the one it is in: a field's children once per item it
        returns and one level down, a fragment's fields as they are."""
        if node is None:
            parent.size.add(child)
            return
        field_def = _field(parent.on, node) if parent.on is not None else None
        if field_def is None:  # introspection or unknown: only its fields count
            parent.size.fields = min(parent.size.fields + child.fields, _CAP)
            return
        items = self._items(node, field_def)
        parent.size.cost = min(parent.size.cost + items * child.cost, _CAP)
        parent.size.depth = max(parent.size.depth, child.depth + 1)
        parent.size.aliases = min(parent.size.aliases + child.aliases, _CAP)
        parent.size.fields = min(parent.size.fields + child.fields, _CAP)

    def _field_type(self, node: FieldNode, on: GraphQLNamedType | None) -> GraphQLNamedType | None:
        field_def = _field(on, node) if on is not None else None
        return None if field_def is None else get_named_type(field_def.type)

    def _type(self, name: str, fallback: GraphQLNamedType | None) -> GraphQLNamedType | None:
        # Below introspection (fallback None) a fragment's fields are only counted.
        return self.schema.get_type(name) if fallback is not None else None

    def _items(self, node: FieldNode, field_def: GraphQLField) -> int:
        """How many items a field returns at most."""
        if "first" in field_def.args:
            value: Any = field_def.args["first"].default_value
            for arg in node.arguments or ():
                if arg.name.value != "first":
                    continue
                if isinstance(arg.value, IntValueNode):
                    value = int(arg.value.value)
                elif isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value, MAX_FIRST)
            return max(1, min(value, MAX_FIRST)) if isinstance(value, int) else MAX_FIRST
        if node.name.value != "edges" and _is_list(field_def.type):
            return SHORT_LISTS.get(node.name.value, LIST_GUESS)
        return 1


def _key(selections: SelectionSetNode, on: GraphQLNamedType | None) -> tuple[int, bool]:
    # A selection set is always selected on the same type (its fragment's, its field's): measured typed
    # (for cost) or, below introspection, untyped (fields only).
    return id(selections), on is not None


def _field(on: GraphQLNamedType, node: FieldNode) -> GraphQLField | None:
    """The schema's field ``node`` selects on ``on``; None for introspection and unknown fields."""
    if node.name.value.startswith("__") or not isinstance(on, GraphQLObjectType | GraphQLInterfaceType):
        return None
    found: GraphQLField | None = on.fields.get(node.name.value)
    return found


def _is_list(kind: GraphQLOutputType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


@dataclass
class Measure:
    """Depth, cost and alias count of one operation (see :class:`Size`), and the selections looked at."""

    depth: int
    total: int
    aliases: int
    fields: int
    visited: int


def measure(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> Measure | None:
    """The depth, cost and aliases of the operation to run; None if there is no such operation."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    measurer = Measurer(schema, _fragments(document), variables)
    size = measurer.size(operation.selection_set, _root(schema, operation))
    return Measure(size.depth, size.cost, size.aliases, size.fields, measurer.visited)


def check_document(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> str | None:
    """Why ``document`` is refused (one line), or None: the limits of this module that come after the
    parser's and before validation.

    The fields of every definition are counted (validation walks them all); the depth, cost and aliases
    are those of the operation to run.
    """
    measurer = Measurer(schema, _fragments(document), variables)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            on: GraphQLNamedType | None = _root(schema, definition)
        elif isinstance(definition, FragmentDefinitionNode):
            on = schema.get_type(definition.type_condition.name.value)
        else:
            continue  # a type definition: validation refuses it
        fields = measurer.size(definition.selection_set, on).fields
        if fields > MAX_FIELDS:
            spread = _figure(fields)
            return f"query too large: {spread} fields once fragments are spread out, at most {MAX_FIELDS}"
    operation = _operation(document, operation_name)
    if operation is None:
        return None  # no operation or several: validation says so
    found = measurer.size(operation.selection_set, _root(schema, operation))
    if found.depth > MAX_DEPTH:
        return f"query too deep: {found.depth} levels, at most {MAX_DEPTH}"
    if found.cost > MAX_COST:
        cost = _figure(found.cost)
        return f"query too costly: {cost} (at most {MAX_COST}); ask for fewer items with first"
    if found.aliases > MAX_ALIASES:
        return f"too many aliases: {_figure(found.aliases)}, at most {MAX_ALIASES}"
    return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation named ``name`` (the only one when None); None if there is not exactly one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
    return operations[0] if len(operations) == 1 else None


def _figure(n: int) -> str:
    return f"more than {_CAP}" if n >= _CAP else str(n)


class _BoundedOverlaps(OverlappingFieldsCanBeMergedRule):
    """The rule with :data:`MAX_COMPARISONS` units of work instead of graphql-core's 500,000."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = MAX_COMPARISONS


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: Collection[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """GraphQL's validation with ``rules``, strawberry's own rules and the one that bounds
    introspection's depth, bounded: at most :data:`MAX_ERRORS` errors, and a document whose fields
    overlap too much to compare them all is refused rather than compared."""
    bounded = [_BoundedOverlaps if r is OverlappingFieldsCanBeMergedRule else r for r in rules]
    bounded += [MaybeNullValidationRule, OneOfInputValidationRule, MaxIntrospectionDepthRule]
    errors = graphql_validate(schema, document, bounded, max_errors=MAX_ERRORS)
    return [GraphQLError(_ABORTED) if _aborted(e) else e for e in errors]


_ABORTED = "query too complex to validate: too many fields of the same name to compare"


def _aborted(error: GraphQLError) -> bool:
    """Whether validation stopped over its work (not over its count of errors)."""
    return isinstance(error, ValidationAbortedError) and error.message == "Validation aborted."


class Parsed(SchemaExtension):
    """Parses at most :data:`MAX_QUERY` characters and :data:`MAX_TOKENS` tokens, and remembers the
    parsed document per query text (1,000 texts): agents send the same few queries.

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
            else:
                # Passed on to graphql-core's parse, which stops at the first token or character over.
                options = cast(dict[str, Any], ctx.parse_options)
                options["max_tokens"] = MAX_TOKENS
                options["max_source_length"] = MAX_QUERY
        yield
        if query is not None and ctx.graphql_document is not None and query not in self._documents:
            self._documents[query] = ctx.graphql_document
            if len(self._documents) > self._cache_size:
                self._documents.popitem(last=False)


class Limits(SchemaExtension):
    """Refuses documents over the limits of this module, then runs GraphQL's validation (with the rule
    that bounds introspection's depth) and remembers its outcome per query text (the schema does not
    change while a server runs): agents send the same few queries again and again.

    The limits come first: they take linear time on any document, validation does not.
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
        errors = validate(ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
        if key is not None:
            self._validated[key] = errors
            if len(self._validated) > self._cache_size:
                self._validated.popitem(last=False)
        return errors

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            problem = check_document(
                ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables or {}
            )
            ctx.pre_execution_errors = [GraphQLError(problem)] if problem is not None else self._validate()
        yield
