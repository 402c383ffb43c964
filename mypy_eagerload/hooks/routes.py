"""FastAPI routes: the response model reads what the route returns.

FastAPI validates a route's return value against ``response_model`` with
``from_attributes=True``, so ``@app.get("/users/{id}", response_model=UserOut)`` reads on the
returned ORM object everything ``UserOut.model_validate`` would. Two checks:

* at the decorator, against the route's declared return type: ``-> Loaded[User, "posts"]``
  must list what ``UserOut`` reads; ``-> User`` says nothing (unless strict mode); ``-> Any``
  or no annotation cannot be verified, which ``unverified-serializer`` (off by default) says;
* at a ``return`` of a fetch in the route's body (as for ``Loaded[...]`` return types): the
  query must load what ``UserOut`` reads.

mypy checks a decorator before the body it decorates and gives no hook the body's return
types, so these are the two places a plugin can see both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from mypy.nodes import (
    FUNC_NO_INFO,
    CallExpr,
    Context,
    Decorator,
    Expression,
    FuncDef,
    IndexExpr,
    MemberExpr,
    MypyFile,
    RefExpr,
    TypeApplication,
    TypeInfo,
    Var,
)
from mypy.plugin import CheckerPluginInterface, MethodContext
from mypy.types import AnyType, CallableType, Instance, Type, get_proper_type
from mypy.typevars import fill_typevars_with_any

from mypy_eagerload import names
from mypy_eagerload.config import Settings
from mypy_eagerload.hooks import contracts, flow, serializers
from mypy_eagerload.hooks.compat import current_function, expression_type, report
from mypy_eagerload.hooks.errorcodes import UNVERIFIED_SERIALIZER
from mypy_eagerload.hooks.query_sites import returned_annotation
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup


def decorator_hook(lookup: Lookup, settings: Settings) -> Callable[[MethodContext], Type]:
    """``app.get(..., response_model=UserOut)`` (and ``add_api_route(path, endpoint, ...)``)."""

    def hook(ctx: MethodContext) -> Type:
        model_type = _argument_type(ctx, "response_model")
        targets = serializers.schema_types(model_type) if model_type is not None else []
        func = _endpoint(ctx)
        if targets and func is not None:
            _check_declared(ctx.api, lookup, settings, targets, func, ctx.context)
        return ctx.default_return_type

    return hook


def _argument_type(ctx: MethodContext, name: str) -> Type | None:
    for i, formal in enumerate(ctx.callee_arg_names):
        if formal == name and ctx.arg_types[i]:
            return serializers.class_object_type(ctx.arg_types[i][0])
    return None


def _endpoint(ctx: MethodContext) -> FuncDef | None:
    """The decorated function, or ``add_api_route``'s ``endpoint``."""
    for i, formal in enumerate(ctx.callee_arg_names):
        if formal == "endpoint" and ctx.args[i]:
            arg = ctx.args[i][0]
            node = arg.node if isinstance(arg, RefExpr) else None
            return node.func if isinstance(node, Decorator) else node if isinstance(node, FuncDef) else None
    tree = getattr(ctx.api, "tree", None)
    if not isinstance(tree, MypyFile):
        return None
    return _decorated_by(tree.defs, ctx.context, 0)


def _decorated_by(defs: Sequence[object], call: Context, depth: int) -> FuncDef | None:
    for node in defs:
        if isinstance(node, Decorator) and any(d is call for d in node.decorators):
            return node.func
        body = getattr(getattr(node, "defs", None), "body", None)  # a class body
        if isinstance(body, list) and depth < 2:
            found = _decorated_by(body, call, depth + 1)
            if found is not None:
                return found
    return None


def _check_declared(api: CheckerPluginInterface, lookup: Lookup, settings: Settings,
                    targets: list[Instance], func: FuncDef, context: Context) -> None:
    sig = func.type
    declared = contracts.declared_return(sig.ret_type, func.is_coroutine) \
        if isinstance(sig, CallableType) else None
    shown = serializers.shown(targets[0])
    schema = CheckerSchema(lookup)
    if declared is not None and settings.strict and not _states_written(schema, settings, declared):
        from mypy_eagerload.hooks import layers  # layers checks returns through this module

        if layers.body_returns_known(api, schema, func):
            return  # the body shows what it returns; its returns are checked where they are
    if declared is None or isinstance(get_proper_type(declared), AnyType):
        report(api, context, f'route "{func.name}" returns Any: what response_model={shown} reads on '
               "the objects it returns cannot be checked",
               'declare what it returns, e.g. -> Loaded[User, "posts"]', UNVERIFIED_SERIALIZER)
        return
    serializers.check(api, schema, settings, targets, declared, context,
                      f'route "{func.name}" (response_model={shown})', annotation=returned_annotation(func))


def _states_written(schema: CheckerSchema, settings: Settings, typ: Type) -> bool:
    """Whether a declared type says how its objects were loaded (``Loaded[...]``), rather
    than leaving it to strict mode's rule for objects of unknown origin."""
    lenient = replace(settings, strict=False)
    return any(contracts.state_of(schema, lenient, obj)[1] for obj in contracts.objects(typ))


def check_returned(api: CheckerPluginInterface, lookup: Lookup, settings: Settings,
                   call: Context, produced: Type, made_here: bool = False) -> None:
    """A fetch returned from a function: its ``Loaded[...]`` return type, and, in a route,
    what the response model reads. With ``made_here``, ``produced`` is the state the caller
    just computed for ``call`` from its own inputs (already fresh)."""
    func = current_function(api)
    targets = _response_model(api, func) if isinstance(func, FuncDef) else []
    if not targets and not contracts.returns_requirement(api):
        return  # most fetches: nothing to check, so no need to know what reaches them
    if isinstance(call, Expression) and not made_here:
        produced = flow.fresh(api, CheckerSchema(lookup), call, produced)
    contracts.check_returned(api, lookup, settings, call, produced)
    if not targets or func is None:
        return
    returned = contracts.returned_expression(func, call)
    if returned is not None:
        serializers.check(api, CheckerSchema(lookup), settings, targets, produced, returned,
                          f'route "{func.name}" (response_model={serializers.shown(targets[0])})')


def _response_model(api: CheckerPluginInterface, func: FuncDef) -> list[Instance]:
    """The schema types of a route decorator's ``response_model`` on ``func``."""
    if not func.is_decorated:
        return []
    # A module-level function's ``info`` is a placeholder that raises on any attribute.
    table = func.info.names if func.info is not FUNC_NO_INFO else None
    if table is None:
        tree = getattr(api, "tree", None)
        table = tree.names if isinstance(tree, MypyFile) else None
    sym = table.get(func.name) if table is not None else None
    node = sym.node if sym is not None else None
    if not isinstance(node, Decorator) or node.func is not func:
        return []
    for dec in node.decorators:
        if not (isinstance(dec, CallExpr) and isinstance(dec.callee, MemberExpr)
                and dec.callee.name in names.ROUTE_METHODS and _is_router(api, dec.callee.expr)):
            continue
        for name, arg in zip(dec.arg_names, dec.args):
            model = _written_type(arg) if name == "response_model" else None
            if model is not None:
                return serializers.schema_types(model)
    return []


# mypy 1.x checks a function's body before its decorators, so the decorator's expressions
# have no types yet when a ``return`` in the body is checked (and dmypy, which has them from
# an earlier run, would answer differently): what the route needs is read from the names.


def _written_type(expr: Expression) -> Type | None:
    """``UserOut``, ``list[UserOut]``, ``Page[UserOut]`` as written in ``response_model=``."""
    if isinstance(expr, RefExpr) and isinstance(expr.node, TypeInfo):
        return fill_typevars_with_any(expr.node)
    if isinstance(expr, IndexExpr) and isinstance(expr.analyzed, TypeApplication) \
            and isinstance(expr.base, RefExpr) and isinstance(expr.base.node, TypeInfo):
        info = expr.base.node
        if len(expr.analyzed.types) == len(info.type_vars):
            return Instance(info, expr.analyzed.types)
    return None


def _is_router(api: CheckerPluginInterface, expr: Expression) -> bool:
    """``app`` or ``router`` in ``@app.get(...)``: by the variable's declared or inferred
    type (set when its assignment was checked), else by the expression's type."""
    node = expr.node if isinstance(expr, RefExpr) else None
    typ = get_proper_type(node.type) if isinstance(node, Var) and node.type is not None \
        else get_proper_type(expression_type(api, expr))
    return isinstance(typ, Instance) and any(typ.type.has_base(c) for c in names.ROUTE_CLASSES)
