"""Small syntactic helpers over function bodies (mypy's traverser cannot be subclassed
from interpreted code when mypy is compiled, so the walk reads node attributes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mypy.nodes import (
    AssignmentExpr,
    AssignmentStmt,
    CallExpr,
    DictionaryComprehension,
    Expression,
    ForStmt,
    FuncItem,
    GeneratorExpr,
    IndexExpr,
    ListComprehension,
    ListExpr,
    MemberExpr,
    NameExpr,
    Node,
    OperatorAssignmentStmt,
    SetComprehension,
    StarExpr,
    SuperExpr,
    TryStmt,
    TupleExpr,
    Var,
    WithStmt,
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
        if isinstance(node, (list, tuple)):  # tuples: a dict display's (key, value) items
            stack.extend(node)
            continue
        if not isinstance(node, Node) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        for attr in child_attrs(node):
            child = getattr(node, attr, None)
            if child is not None:
                stack.append(child)


def child_attrs(node: Node) -> tuple[str, ...]:
    """The names in ``_CHILD_ATTRS`` that ``node``'s class has (found once per class)."""
    cls = type(node)
    found = _ATTRS_BY_CLASS.get(cls)
    if found is None:
        found = _ATTRS_BY_CLASS[cls] = tuple(attr for attr in _CHILD_ATTRS if hasattr(cls, attr))
    return found


_ATTRS_BY_CLASS: dict[type, tuple[str, ...]] = {}


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
    in user.posts``, comprehension variables (to a fixpoint, a few rounds).

    The walk is not flow-sensitive, so a name is an alias only if every binding of it is the
    same chain: ``customer = checkout.customer`` then ``customer = Customer(...)``, or a loop
    variable over two roots' collections, makes the name no alias at all (its reads are not
    a root's, whichever binding they follow)."""
    sources: dict[str, list[Expression | None]] = {}
    for node in nodes:
        for name, source in _bindings(node):
            sources.setdefault(name, []).append(source)
    env: dict[str, Chain] = {root: (root, ()) for root in roots}
    fixed = set(env)
    for _ in range(4):
        for name, bound in sources.items():
            if name in fixed:
                continue
            chains = {attribute_chain(s, env) if s is not None else None for s in bound}
            found = chains.pop() if len(chains) == 1 else None
            if found is not None:
                env[name] = found
            else:
                env.pop(name, None)
    return env


def binds(func: FuncItem, name: str) -> bool:
    """Whether ``func``'s body binds ``name`` anywhere (assignment, loop, ``with``, walrus,
    ``except ... as``): a parameter that does is not the argument everywhere."""
    return any(bound == name for node in walk_nodes(func) for bound, _ in _bindings(node))


def only_binding(func: FuncItem, name: str) -> tuple[Expression, bool] | None:
    """What ``func`` binds ``name`` to, when it binds it exactly once to an expression the
    chain rules follow, and whether that is an element of it (a loop or comprehension
    variable) rather than the value itself; None otherwise."""
    found = [(node, source) for node in walk_nodes(func)
             for bound, source in _bindings(node) if bound == name]
    # A list comprehension and its generator both report the generator's binding.
    found = list({id(source) if source is not None else id(node): (node, source)
                  for node, source in found}.values())
    if len(found) != 1 or found[0][1] is None:
        return None
    node, source = found[0]
    assert source is not None
    return source, not isinstance(node, (AssignmentStmt, AssignmentExpr))


def _bindings(node: object) -> list[tuple[str, Expression | None]]:
    """The names ``node`` binds, each with the expression it binds it to (None: a value the
    chain rules cannot follow, such as one item of a tuple, a ``with`` target, an exception)."""
    if isinstance(node, AssignmentStmt):
        if len(node.lvalues) == 1 and isinstance(node.lvalues[0], NameExpr):
            return [(node.lvalues[0].name, node.rvalue)]
        return [(name, None) for name in _target_names(node.lvalues)]
    if isinstance(node, ForStmt):
        if isinstance(node.index, NameExpr):
            return [(node.index.name, node.expr)]
        return [(name, None) for name in _target_names([node.index])]
    if isinstance(node, (ListComprehension, SetComprehension)):
        node = node.generator
    if isinstance(node, (GeneratorExpr, DictionaryComprehension)):
        return [(index.name, seq) if isinstance(index, NameExpr) else (name, None)
                for index, seq in zip(node.indices, node.sequences)
                for name in ([index.name] if isinstance(index, NameExpr) else _target_names([index]))]
    if isinstance(node, OperatorAssignmentStmt):
        return [(name, None) for name in _target_names([node.lvalue])]
    if isinstance(node, AssignmentExpr):
        return [(node.target.name, node.value)]
    if isinstance(node, WithStmt):
        return [(name, None) for target in node.target if target is not None
                for name in _target_names([target])]
    if isinstance(node, TryStmt):
        return [(var.name, None) for var in node.vars if var is not None]
    return []


def _target_names(targets: list[Expression]) -> list[str]:
    """Names an assignment target binds (``a``, ``a, (b, *c)``); attributes and items bind none."""
    names: list[str] = []
    for target in targets:
        if isinstance(target, NameExpr):
            names.append(target.name)
        elif isinstance(target, (TupleExpr, ListExpr)):
            names.extend(_target_names(target.items))
        elif isinstance(target, StarExpr):
            names.extend(_target_names([target.expr]))
    return names


def written(nodes: list[Node]) -> set[int]:
    """The ids of assignment targets (a write is not a read)."""
    return {id(lv) for node in nodes if isinstance(node, AssignmentStmt) for lv in node.lvalues}


def awaited_attrs(nodes: list[Node]) -> set[str]:
    """Names read through ``awaitable_attrs`` (loaded by the await, not by the query)."""
    return {node.name for node in nodes if isinstance(node, MemberExpr)
            and isinstance(node.expr, MemberExpr) and node.expr.name == "awaitable_attrs"}


# The attributes of mypy nodes that hold sub-nodes (statements, expressions, match patterns),
# checked against mypy.nodes: a name missing here is a blind spot of every walk (issue 20
# found comprehension conditions, slices and dict displays unread). tests/test_syntax.py
# has a case per shape.
_CHILD_ATTRS = ("body", "else_body", "lvalues", "rvalue", "lvalue", "expr", "exprs", "callee", "args",
                "left_expr", "key", "generator",
                "items", "index", "base", "left", "right", "operands", "cond", "if_expr",
                "else_expr", "value", "sequences", "condlists", "indices", "handlers", "types",
                "finally_body", "target", "defs", "bodies", "subject", "guards", "patterns", "pattern",
                "keys", "values", "positionals", "keyword_values", "begin_index", "end_index", "stride",
                "from_expr", "msg", "func", "decorators")
