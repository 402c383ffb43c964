"""Fetching rows of a statement that joined-eager-loads a collection needs ``unique()``.

The requirement rides in the entity types (``State.joined_collection``); whether
``unique()`` was called is not in any type (it returns ``self``), so it is read from the
syntax: the receiver chain of the fetching call (``(await s.execute(q)).scalars().all()``)
and, when the chain starts at a local variable, that variable's uses in the function.
Where neither tells, nothing is reported.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import (
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    Expression,
    MemberExpr,
    NameExpr,
)
from mypy.plugin import MethodContext
from mypy.types import Instance, TupleType, Type, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import loadstate, messages
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.compat import current_function, expression_type, report
from mypy_eagerload.hooks.errorcodes import MISSING_UNIQUE
from mypy_eagerload.hooks.routes import check_returned
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, default_info, loaded_info
from mypy_eagerload.hooks.syntax import is_name, walk_nodes
from mypy_eagerload.hooks.types import type_to_ref, type_to_state

# Result methods that only reshape the result: the chain goes on through them.
_PASS_THROUGH = frozenset({"scalars", "mappings", "tuples", "columns", "yield_per",
                           "execution_options", "freeze"})
# Session methods that produce a result from a statement.
_ORIGINS = frozenset({"execute", "scalars", "stream", "stream_scalars"})


def fetch_hook(lookup: Lookup, settings: Settings, method: str) -> Callable[[MethodContext], Type]:
    unique = settings.enabled("missing-unique")
    iterated = method in _ITERATION

    def hook(ctx: MethodContext) -> Type:
        check_returned(ctx.api, lookup, settings, ctx.context, ctx.default_return_type)
        if unique:
            _check_unique(ctx, CheckerSchema(lookup), iterated)
        return ctx.default_return_type

    return hook


# ``for row in x`` / ``async for``, in a statement or a comprehension: mypy calls
# ``x.__iter__()`` with ``x`` itself as the context, not a call of ``__iter__``.
_ITERATION = frozenset({"__iter__", "__aiter__"})


def _check_unique(ctx: MethodContext, schema: CheckerSchema, iterated: bool) -> None:
    receiver = _receiver(ctx, iterated)
    if receiver is None:
        return
    path = _needs_unique(flow.fresh(ctx.api, schema, receiver, ctx.type), schema)
    verdict = _walk(ctx, schema, receiver, path)
    if verdict is not None:
        report(ctx.api, ctx.context, messages.missing_unique(verdict),
               messages.missing_unique_fix(ctx.context.line), MISSING_UNIQUE)


def _receiver(ctx: MethodContext, iterated: bool) -> Expression | None:
    """``x`` in ``x.all()``; for ``for row in x`` the context is ``x`` itself (which may be a
    call: ``for u in (await s.scalars(q)).unique()``)."""
    context = ctx.context
    if not iterated and isinstance(context, CallExpr) and isinstance(context.callee, MemberExpr):
        return context.callee.expr
    return context if isinstance(context, Expression) else None


def _needs_unique(typ: Type | None, schema: CheckerSchema, depth: int = 0
                  ) -> list[tuple[str, str]] | None:
    """The joined collection path recorded in a result's (or statement's) entity types."""
    if depth > 6:  # a recursive alias has no bottom
        return None
    proper = get_proper_type(typ) if typ is not None else None
    if isinstance(proper, Instance):
        if loaded_info(proper) is not None or default_info(proper) is not None:
            return _joined_in(proper, schema)
        for arg in proper.args:
            found = _needs_unique(arg, schema, depth + 1)
            if found is not None:
                return found
    if isinstance(proper, TupleType):
        for item in proper.items:
            found = _needs_unique(item, schema, depth + 1)
            if found is not None:
                return found
    return None


def _joined_in(entity: Instance, schema: CheckerSchema) -> list[tuple[str, str]] | None:
    """``loadstate.joined_collection_path`` of the entity's state; a subtree not built yet
    answers from its ref where it can, without being expanded."""
    ref = type_to_ref(entity)
    if ref is not None:
        if ref.joined_collection:
            return []
        return schema.joined_path(ref) if ref.in_root_select else None
    state = type_to_state(entity)
    if state is None:
        return None
    if state.joined_collection:
        return []
    return loadstate.joined_collection_path(schema, state)


def _walk(ctx: MethodContext, schema: CheckerSchema, expr: Expression,
          path: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
    """The collection path to report, or None (unique() seen, or cannot tell)."""
    while True:
        if path is None:
            path = _needs_unique(expression_type(ctx.api, expr), schema)
        if isinstance(expr, AwaitExpr):
            expr = expr.expr
        elif isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr):
            name = expr.callee.name
            if name == "unique":
                return None
            if name in _ORIGINS and expr.args:
                if path is None:
                    path = _needs_unique(expression_type(ctx.api, expr.args[0]), schema)
                return path
            if name not in _PASS_THROUGH:
                return None
            expr = expr.callee.expr
        elif isinstance(expr, NameExpr):
            return path if path is not None and _local_result_without_unique(ctx, expr.name) else None
        else:
            return None


def _local_result_without_unique(ctx: MethodContext, name: str) -> bool:
    """``name`` is assigned in this function from a session call without ``unique()``, and
    ``name.unique()`` appears nowhere in it (flow-insensitive: any use counts)."""
    func = current_function(ctx.api)
    if func is None:
        return False
    assigned = False
    for node in walk_nodes(func):
        if (isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr)
                and node.callee.name == "unique" and is_name(node.callee.expr, name)):
            return False
        if isinstance(node, AssignmentStmt) and any(is_name(lv, name) for lv in node.lvalues):
            if not _is_session_call(node.rvalue):
                return False  # assigned from something we do not follow
            assigned = True
    return assigned


def _is_session_call(expr: Expression) -> bool:
    if isinstance(expr, AwaitExpr):
        expr = expr.expr
    return (isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr)
            and expr.callee.name in _ORIGINS and bool(expr.args))
