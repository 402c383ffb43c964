"""Small syntactic helpers over function bodies (mypy's traverser cannot be subclassed
from interpreted code when mypy is compiled, so the walk reads node attributes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mypy.nodes import (
    AssignmentStmt,
    CallExpr,
    Expression,
    ForStmt,
    FuncItem,
    GeneratorExpr,
    IndexExpr,
    ListComprehension,
    MemberExpr,
    NameExpr,
    Node,
    SetComprehension,
    SuperExpr,
    Var,
)

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
    node attributes generically. The plugin uses it once per member while a class is
    analysed and on rare paths (an error about to be reported), never per expression;
    ``annotate`` walks every function once."""
    return walk(func.body.body)


def walk(roots: Iterable[Node]) -> Iterator[Node]:
    """Every statement and expression under ``roots`` (see ``walk_nodes``)."""
    stack: list[object] = list(roots)
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


# ---------------------------------------------------------------------------------------
# Attribute chains: ``user.posts[0].comments`` is ("user", ("posts", "comments"))

Chain = tuple[str, tuple[str, ...]]  # (root variable, attribute names read from it)
SUPER_ROOT = "super()"  # the root of ``super().name``: not a variable


def attribute_chain(expr: Expression, env: dict[str, Chain]) -> Chain | None:
    """The root and the attribute names read to reach ``expr``, through indexing, calls of
    a read attribute (``self.total()``: the member's name is the read) and the local
    aliases in ``env``; None when ``expr`` does not start at a name in ``env``."""
    names: list[str] = []
    while True:
        if isinstance(expr, IndexExpr):
            expr = expr.base
        elif isinstance(expr, CallExpr) and isinstance(expr.callee, (MemberExpr, SuperExpr)):
            expr = expr.callee
        elif isinstance(expr, SuperExpr):
            return SUPER_ROOT, (expr.name, *reversed(names))
        elif isinstance(expr, MemberExpr):
            names.append(expr.name)
            expr = expr.expr
        elif isinstance(expr, NameExpr) and expr.name in env:
            root, base = env[expr.name]
            return root, (*base, *reversed(names))
        else:
            return None


def alias_env(nodes: list[Node], roots: Iterable[str]) -> dict[str, Chain]:
    """Local names bound to something reached from a root: ``x = user.posts``, ``for post
    in user.posts``, comprehension variables (to a fixpoint, a few rounds)."""
    env: dict[str, Chain] = {root: (root, ()) for root in roots}
    fixed = set(env)
    for _ in range(4):
        for node in nodes:
            for name, source in _bindings(node):
                found = attribute_chain(source, env)
                if found is not None and name not in fixed and env.get(name) != found:
                    env[name] = found
    return env


def _bindings(node: object) -> list[tuple[str, Expression]]:
    if isinstance(node, AssignmentStmt) and len(node.lvalues) == 1 and isinstance(node.lvalues[0], NameExpr):
        return [(node.lvalues[0].name, node.rvalue)]
    if isinstance(node, ForStmt) and isinstance(node.index, NameExpr):
        return [(node.index.name, node.expr)]
    if isinstance(node, (ListComprehension, SetComprehension)):
        node = node.generator
    if isinstance(node, GeneratorExpr):
        return [(index.name, seq) for index, seq in zip(node.indices, node.sequences)
                if isinstance(index, NameExpr)]
    return []


def written(nodes: list[Node]) -> set[int]:
    """The ids of assignment targets (a write is not a read)."""
    return {id(lv) for node in nodes if isinstance(node, AssignmentStmt) for lv in node.lvalues}


def awaited_attrs(nodes: list[Node]) -> set[str]:
    """Names read through ``awaitable_attrs`` (loaded by the await, not by the query)."""
    return {node.name for node in nodes if isinstance(node, MemberExpr)
            and isinstance(node.expr, MemberExpr) and node.expr.name == "awaitable_attrs"}


# The attributes of mypy nodes that hold sub-nodes (statements and expressions).
_CHILD_ATTRS = ("body", "else_body", "lvalues", "rvalue", "expr", "exprs", "callee", "args",
                "left_expr", "key", "generator",
                "items", "index", "base", "left", "right", "operands", "cond", "if_expr",
                "else_expr", "value", "sequences", "condlist", "indices", "handlers",
                "finally_body", "target", "defs", "bodies", "subject", "guards")
