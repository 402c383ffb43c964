"""Give loader options a type that remembers their path.

``selectinload(User.posts)`` is typed ``_AbstractLoad`` by SQLAlchemy, which forgets the
path. The hooks here return SQLAlchemy's own type carrying the encoded chains in
``Instance.extra_attrs`` (``OPTION_KEY``, invisible to mypy, like load states), and extend
them through chained calls. Anything not understood carries nothing, which the statement
hooks read as "unknown".
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import (
    ARG_POS,
    ARG_STAR,
    Expression,
    IntExpr,
    MemberExpr,
    RefExpr,
    StrExpr,
    TypeInfo,
    UnaryExpr,
)
from mypy.plugin import FunctionContext, MethodContext
from mypy.types import Instance, LiteralType, Type, get_proper_type

from mypy_eagerload.core import options as opt
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.schema import relationship_type, unwrap_relationship, with_extra_attr

LookupInfo = Callable[[str], "TypeInfo | None"]
_ARGS_WITH_UNKNOWN_EFFECT = frozenset({"recursion_depth"})  # unless _recursion reads it
_RECURSIVE_LOADERS = frozenset({"selectinload", "immediateload"})


def attribute_step(expr: Expression, strategy: str) -> opt.Step | None:
    """``User.posts`` -> Step(strategy, "app.User", "posts"); ``"*"`` -> a wildcard step."""
    if isinstance(expr, StrExpr):
        return opt.Step(strategy, None, opt.WILDCARD) if expr.value == opt.WILDCARD else None
    if not isinstance(expr, MemberExpr) or not isinstance(expr.expr, RefExpr):
        return None
    owner = expr.expr.node
    if not isinstance(owner, TypeInfo) or (metadata(owner) or {}).get("kind") != "model":
        return None
    if expr.name not in (metadata(owner) or {}).get("slots", []):
        return None  # not a tracked relationship: SQLAlchemy rejects it or we cannot follow
    return opt.Step(strategy, owner.fullname, expr.name)


OPTION_KEY = "<eagerload:option>"  # not an identifier: no attribute read can reach it


def decode_option_type(typ: Type) -> opt.Option | None:
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or proper.extra_attrs is None:
        return None
    arg = proper.extra_attrs.attrs.get(OPTION_KEY)
    arg = get_proper_type(arg) if arg is not None else None
    if isinstance(arg, LiteralType) and isinstance(arg.value, str):
        return opt.decode(arg.value)
    return None


def encode_option_type(lookup: LookupInfo, option: opt.Option | None, fallback: Type) -> Type:
    """``fallback`` (SQLAlchemy's type for the call) carrying ``option``; with None, carrying
    nothing (a chained call's type is the receiver's, hint included, through ``Self``)."""
    proper = get_proper_type(fallback)
    str_info = lookup("builtins.str")
    if not isinstance(proper, Instance) or str_info is None:
        return fallback
    value = None if option is None else LiteralType(opt.encode(option), Instance(str_info, []))
    return with_extra_attr(proper, OPTION_KEY, value)


def _strategy_for(name: str, ctx: FunctionContext | MethodContext) -> str | None:
    strategy = opt.OPTION_STRATEGIES.get(name)
    for arg_names, args in zip(ctx.arg_names, ctx.args):
        for arg_name, arg in zip(arg_names, args):
            if arg_name in _ARGS_WITH_UNKNOWN_EFFECT:
                return None
            if name == "raiseload" and arg_name == "sql_only":
                if _is_true(arg):
                    strategy = opt.RAISE_ON_SQL
                elif not _is_false(arg):
                    return None
            if name in ("load_only", "defer") and arg_name == "raiseload" and strategy is not None:
                if _is_true(arg):
                    strategy += opt.RAISE_SUFFIX
                elif not _is_false(arg):
                    return None
    return strategy


def _is_true(expr: Expression) -> bool:
    return isinstance(expr, RefExpr) and expr.fullname == "builtins.True"


def _is_false(expr: Expression) -> bool:
    return isinstance(expr, RefExpr) and expr.fullname == "builtins.False"


def _column_step(strategy: str, exprs: list[Expression]) -> opt.Step | None:
    """``load_only(User.name, User.email)`` -> Step("load_only", "app.User", "name,email")."""
    kind = strategy.split("+", 1)[0]
    if kind == opt.WITH_EXPRESSION:
        return opt.Step(strategy, None, "")  # query_expression() reads never fail
    if exprs and isinstance(exprs[0], StrExpr):
        # undefer_group("name"), or a wildcard: defer("*"), undefer("*")
        value = exprs[0].value
        if kind == opt.UNDEFER_GROUP or value == opt.WILDCARD:
            return opt.Step(strategy, None, value)
        return None
    owner: TypeInfo | None = None
    names: list[str] = []
    for expr in exprs:
        if not isinstance(expr, MemberExpr) or not isinstance(expr.expr, RefExpr):
            return opt.Step(strategy, None, opt.UNKNOWN_COLUMN)
        node = expr.expr.node
        if not isinstance(node, TypeInfo) or (owner is not None and node is not owner):
            return opt.Step(strategy, None, opt.UNKNOWN_COLUMN)
        owner = node
        data = metadata(node) or {}
        if any(c["name"] == expr.name for c in data.get("columns", ())):
            names.append(expr.name)
        elif any(r["name"] == expr.name for r in data.get("rels", ())):
            return None  # a relationship passed to a column option: not ours to judge
        # else: a primary key or an untracked attribute, always loaded
    if owner is None or (metadata(owner) or {}).get("kind") != "model":
        return None
    return opt.Step(strategy, owner.fullname, ",".join(names))


def _positional(ctx: FunctionContext | MethodContext) -> list[Expression] | None:
    """The attribute arguments, or None when one is spread from a variable."""
    exprs: list[Expression] = []
    for kinds, args, arg_names in zip(ctx.arg_kinds, ctx.args, ctx.arg_names):
        for kind, arg, arg_name in zip(kinds, args, arg_names):
            if kind == ARG_STAR:
                return None
            if kind == ARG_POS and arg_name is None:
                exprs.append(arg)
    return exprs


def _recursion(name: str, ctx: FunctionContext | MethodContext) -> tuple[opt.Step, ...] | None:
    """``selectinload(Node.children, recursion_depth=2)``: the levels it loads, when the
    depth is a literal and the relationship refers to its own model (SQLAlchemy raises for
    any other); None for anything else (the option stays unknown)."""
    depth: int | None = None
    for arg_names, args in zip(ctx.arg_names, ctx.args):
        for arg_name, arg in zip(arg_names, args):
            if arg_name == "recursion_depth":
                depth = _int_literal(arg)
                if depth is None:
                    return None
            elif arg_name is not None:
                return None  # chunksize and the like: not followed with a recursion
    exprs = _positional(ctx)
    if name not in _RECURSIVE_LOADERS or depth is None or depth < -1 or exprs is None or len(exprs) != 1:
        return None
    step = attribute_step(exprs[0], opt.OPTION_STRATEGIES[name])
    owner = exprs[0].expr.node if step is not None and isinstance(exprs[0], MemberExpr) \
        and isinstance(exprs[0].expr, RefExpr) else None
    if step is None or not isinstance(owner, TypeInfo):
        return None
    target, _ = unwrap_relationship(relationship_type(owner, step.attr))
    if target is None or not owner.has_base(target.type.fullname):
        return None  # not self-referential
    return opt.recursion(step, depth)


def _int_literal(expr: Expression) -> int | None:
    if isinstance(expr, IntExpr):
        return expr.value
    if isinstance(expr, UnaryExpr) and expr.op == "-" and isinstance(expr.expr, IntExpr):
        return -expr.expr.value
    return None


def _steps(name: str, ctx: FunctionContext | MethodContext) -> tuple[opt.Step, ...] | None:
    if any(arg_name == "recursion_depth" for arg_names in ctx.arg_names for arg_name in arg_names):
        return _recursion(name, ctx)
    strategy = _strategy_for(name, ctx)
    exprs = _positional(ctx)
    if strategy is None or exprs is None:
        return None
    if strategy.split("+", 1)[0] in opt.COLUMN_OPS:
        step = _column_step(strategy, exprs)
        return (step,) if step is not None else None
    steps = []
    for i, expr in enumerate(exprs):
        # Leading keys are walked with defaultload(); the strategy goes on the last one.
        step = attribute_step(expr, strategy if i == len(exprs) - 1 else opt.DEFAULT)
        if step is None:
            return None
        steps.append(step)
    return tuple(steps) or None


def option_function_hook(name: str, lookup: LookupInfo) -> Callable[[FunctionContext], Type]:
    def hook(ctx: FunctionContext) -> Type:
        steps = _steps(name, ctx)
        if steps is None:
            return ctx.default_return_type
        return encode_option_type(lookup, (steps,), ctx.default_return_type)

    return hook


def load_constructor_hook(lookup: LookupInfo) -> Callable[[FunctionContext], Type]:
    """``Load(User)``: a chain bound to an entity, with no step yet."""

    def hook(ctx: FunctionContext) -> Type:
        if len(ctx.args) != 1 or len(ctx.args[0]) != 1:
            return ctx.default_return_type
        entity = ctx.args[0][0]
        if not isinstance(entity, RefExpr) or not isinstance(entity.node, TypeInfo):
            return ctx.default_return_type
        if (metadata(entity.node) or {}).get("kind") != "model":
            return ctx.default_return_type
        root = ((opt.Step(opt.ROOT, entity.node.fullname, ""),),)
        return encode_option_type(lookup, root, ctx.default_return_type)

    return hook


def chain_method_hook(name: str, lookup: LookupInfo) -> Callable[[MethodContext], Type]:
    """``<known option>.joinedload(Post.author)`` and friends."""

    def hook(ctx: MethodContext) -> Type:
        fallback = encode_option_type(lookup, None, ctx.default_return_type)
        current = decode_option_type(ctx.type)
        if current is None or opt.closed(current):
            return fallback
        if name == "options":
            children = [decode_option_type(t) for types in ctx.arg_types for t in types]
            if any(c is None for c in children) or any(k == ARG_STAR for ks in ctx.arg_kinds for k in ks):
                return fallback
            return encode_option_type(lookup, opt.suboptions(current, [c for c in children if c]),
                                      fallback)
        steps = _steps(name, ctx)
        if steps is None:
            return fallback
        return encode_option_type(lookup, opt.extend(current, steps), fallback)

    return hook
