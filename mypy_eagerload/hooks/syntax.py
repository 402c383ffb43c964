"""Small syntactic helpers over function bodies (mypy's traverser cannot be subclassed
from interpreted code when mypy is compiled, so the walk reads node attributes)."""

from __future__ import annotations

from collections.abc import Iterator

from mypy.nodes import CallExpr, Expression, FuncItem, MemberExpr, NameExpr, Node, Var

from mypy_eagerload.names import STATEMENT_REFINERS


def is_name(expr: Expression, name: str) -> bool:
    return isinstance(expr, NameExpr) and expr.name == name


def is_self(expr: Expression) -> bool:
    """``self`` (the first parameter of a method): what a model's own members read on it is
    their requirement, for their callers to meet, not something to report inside."""
    return isinstance(expr, NameExpr) and isinstance(expr.node, Var) and expr.node.is_self


def statement_origin(expr: Expression | None) -> Expression | None:
    """``select(User)`` in ``select(User).where(...).order_by(...)``: back through the
    methods that add no loader option (``names.STATEMENT_REFINERS``)."""
    while isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr) \
            and expr.callee.name in STATEMENT_REFINERS:
        expr = expr.callee.expr
    return expr


def walk_nodes(func: FuncItem) -> Iterator[Node]:
    """Every statement and expression in a function body (nested functions included).

    mypy's compiled traverser cannot be subclassed from interpreted code, so this walks
    node attributes generically. Callers use it only on rare paths (an error about to be
    reported), never per expression."""
    stack: list[object] = list(func.body.body)
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, Node) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        for attr in _CHILD_ATTRS:
            child = getattr(node, attr, None)
            if child is not None:
                stack.append(child)


# The attributes of mypy nodes that hold sub-nodes (statements and expressions).
_CHILD_ATTRS = ("body", "else_body", "lvalues", "rvalue", "expr", "exprs", "callee", "args",
                "left_expr", "key", "generator",
                "items", "index", "base", "left", "right", "operands", "cond", "if_expr",
                "else_expr", "value", "sequences", "condlist", "indices", "handlers",
                "finally_body", "target", "defs")
