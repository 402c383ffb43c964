"""Options passed into a repository method: ``repo.get_by_id(1, options=[joinedload(...)])``.

A method qualifies when its body, read during semantic analysis, shows that the object it
returns comes from a statement whose only loader options are the ones the caller passed:

    async def get_by_id(self, id: int, options: Sequence[ExecutableOption] = ()) -> Order | None:
        stmt = select(Order).where(Order.id == id).options(*options)
        return (await self.session.execute(stmt)).scalar_one_or_none()

or ``return await self.session.get(Order, id, options=options)``. Precisely:

* one parameter is used exactly once in the body: as the only argument of ``.options(*p)``
  on a chain that starts at ``select(<one entity>)`` and otherwise only filters, orders,
  joins or limits; or as ``options=p`` of ``session.get``/``get_one``;
* no other ``.options()`` call and no reassignment of the statement variable;
* every ``return`` gives a fetch of that statement (``scalar_one``, ``scalar_one_or_none``,
  ``first``, ``one``, ``one_or_none``, ``all``, ``scalars()...``, ``session.scalar(stmt)``)
  or the ``session.get`` call itself;
* the declared return type is the model, ``Model | None``, or ``Sequence``/``list`` of it.

At a call site the return type then gets the state of ``select(Model).options(<the call's
options>)``; an ``await``-less execute means a sync session (lazy loads allowed). Anything
else leaves the result plain: unknown. The summary is stored in the class's metadata, and a
digest of it in its symbol table (as for models), so every mode sees the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mypy.nodes import (
    ARG_STAR,
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    FuncDef,
    ListExpr,
    MemberExpr,
    NameExpr,
    Node,
    ReturnStmt,
    TupleExpr,
    TypeInfo,
)
from mypy.plugin import ClassDefContext, MethodContext
from mypy.types import Instance, NoneType, Type, UnionType, get_proper_type

from mypy_eagerload import names
from mypy_eagerload.config import Settings
from mypy_eagerload.core import loadstate
from mypy_eagerload.core import options as opt
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.compat import depend_on_mappings
from mypy_eagerload.hooks.declarations import Json
from mypy_eagerload.hooks.models import expose_digest, is_declarative, metadata
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, model_info
from mypy_eagerload.hooks.syntax import statement_origin, walk_nodes
from mypy_eagerload.hooks.types import state_to_type

# Result methods between the session call and the returned object.
_FETCHES = frozenset({"scalar_one", "scalar_one_or_none", "first", "one", "one_or_none", "all",
                      "scalars", "unique", "fetchall"})
_SESSION_RUN = frozenset({"execute", "scalars", "scalar"})
_SESSION_GET = frozenset({"get", "get_one"})
_COLLECTIONS = frozenset({"builtins.list", "typing.Sequence", "builtins.tuple"})


# ---------------------------------------------------------------------------------------
# Semantic analysis: which methods qualify


def record_repository(ctx: ClassDefContext) -> None:
    """Store the qualifying methods of a class (not a model) in its metadata."""
    info = ctx.cls.info
    if is_declarative(info):
        return  # a model: hooks.models describes it
    methods = scan_class(ctx.cls)
    if methods:
        record: Json = {"kind": "repository", "repository": methods}
        info.metadata[names.PLUGIN_KEY] = record
        expose_digest(ctx, info, record)
    elif (metadata(info) or {}).get("kind") == "repository":
        del info.metadata[names.PLUGIN_KEY]  # an edit removed the last one (dmypy)


def scan_class(defn: ClassDef) -> dict[str, Json]:
    """{method: {"param": name, "index": position, "sync": bool}} for qualifying methods."""
    found: dict[str, Json] = {}
    for stmt in defn.defs.body:
        func = stmt.func if isinstance(stmt, Decorator) else stmt
        if not isinstance(func, FuncDef) or not _has_option_like_param(func):
            continue
        record = _qualifies(func)
        if record is not None:
            found[func.name] = record
    return found


def _has_option_like_param(func: FuncDef) -> bool:
    """A cheap filter before walking the body: a parameter whose annotation names options."""
    for arg in func.arguments:
        text = str(arg.type_annotation) if arg.type_annotation is not None else ""
        if "Option" in text or "Load" in text:
            return True
    return False


def _qualifies(func: FuncDef) -> Json | None:
    params = [arg.variable.name for arg in func.arguments]
    nodes = list(walk_nodes(func))
    uses = {p: [n for n in nodes if isinstance(n, NameExpr) and n.name == p] for p in params}
    options_calls = [n for n in nodes if isinstance(n, CallExpr) and isinstance(n.callee, MemberExpr)
                     and n.callee.name == "options"]
    for index, param in enumerate(params):
        if len(uses[param]) != 1:
            continue
        use = uses[param][0]
        spread = [c for c in options_calls if len(c.args) == 1 and c.args[0] is use
                  and c.arg_kinds == [ARG_STAR]]
        if spread and len(options_calls) == 1 and _is_select_chain(spread[0]):
            source = _statement_source(nodes, spread[0])
            if source is not None and _returns_fetch_of(nodes, source):
                return _record(func, index, not _awaited(nodes, source))
        get = _session_get_with(nodes, use)
        if get is not None and not options_calls and _returns_only(nodes, get):
            return _record(func, index, not _awaited(nodes, get))
    return None


def _record(func: FuncDef, index: int, sync: bool) -> Json:
    arg = func.arguments[index]
    init = arg.initializer
    empty = init is None or (isinstance(init, (TupleExpr, ListExpr)) and not init.items)
    return {"param": arg.variable.name, "index": index, "sync": sync, "empty_default": empty}


def _is_select_chain(options_call: CallExpr) -> bool:
    assert isinstance(options_call.callee, MemberExpr)
    expr = statement_origin(options_call.callee.expr)
    return (isinstance(expr, CallExpr) and isinstance(expr.callee, (NameExpr, MemberExpr))
            and expr.callee.name == "select" and len(expr.args) == 1)


def _outermost_chain(nodes: Sequence[Node], call: CallExpr) -> Expression:
    """The whole ``select(...).options(*p).order_by(...)`` expression containing ``call``."""
    current: Expression = call
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr) \
                    and node.callee.expr is current and node.callee.name in names.STATEMENT_REFINERS:
                current, changed = node, True
                break
    return current


def _statement_source(nodes: Sequence[Node], options_call: CallExpr) -> Expression | None:
    """What session calls receive: the chain itself, or the one variable assigned from it."""
    chain = _outermost_chain(nodes, options_call)
    for node in nodes:
        if isinstance(node, AssignmentStmt) and node.rvalue is chain:
            if len(node.lvalues) != 1 or not isinstance(node.lvalues[0], NameExpr):
                return None
            name = node.lvalues[0].name
            assignments = [n for n in nodes if isinstance(n, AssignmentStmt)
                           and any(isinstance(lv, NameExpr) and lv.name == name for lv in n.lvalues)]
            return node.lvalues[0] if len(assignments) == 1 else None
    return chain


def _runs(expr: Expression, source: Expression) -> bool:
    """``session.execute(source)`` (or scalars/scalar), ``source`` by identity or by name."""
    if not (isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr)
            and expr.callee.name in _SESSION_RUN and len(expr.args) >= 1):
        return False
    arg = expr.args[0]
    if isinstance(source, NameExpr):
        return isinstance(arg, NameExpr) and arg.name == source.name
    return arg is source


def _fetches(expr: Expression, source: Expression) -> bool:
    while True:
        if isinstance(expr, AwaitExpr):
            expr = expr.expr
        if _runs(expr, source):
            return True
        if isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr) \
                and expr.callee.name in _FETCHES:
            expr = expr.callee.expr
            continue
        return False


def _returns_fetch_of(nodes: Sequence[Node], source: Expression) -> bool:
    returns = [n for n in nodes if isinstance(n, ReturnStmt)]
    return bool(returns) and all(r.expr is not None and _fetches(r.expr, source) for r in returns)


def _session_get_with(nodes: Sequence[Node], use: NameExpr) -> CallExpr | None:
    for node in nodes:
        if isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr) \
                and node.callee.name in _SESSION_GET and len(node.args) >= 2:
            for name, arg in zip(node.arg_names, node.args):
                if name == "options" and arg is use:
                    return node
    return None


def _returns_only(nodes: Sequence[Node], call: CallExpr) -> bool:
    returns = [n for n in nodes if isinstance(n, ReturnStmt)]
    return bool(returns) and all(
        r.expr is not None and (r.expr is call or (isinstance(r.expr, AwaitExpr) and r.expr.expr is call))
        for r in returns)


def _awaited(nodes: Sequence[Node], target: Expression) -> bool:
    """Whether the session call that runs ``target`` is awaited (an async session)."""
    for node in nodes:
        if isinstance(node, AwaitExpr) and (node.expr is target or _runs(node.expr, target)):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Type checking: a call site


def find_method(info: TypeInfo, method: str) -> Json | None:
    """The record of ``method`` in the class that defines it (following the MRO)."""
    for base in info.mro:
        if method in base.names:
            data = metadata(base) or {}
            record = (data.get("repository") or {}).get(method)
            return record if isinstance(record, dict) else None
    return None


def call_hook(lookup: Lookup, settings: Settings, owner: str, record: Json
              ) -> Callable[[MethodContext], Type]:
    from mypy_eagerload.hooks.queries import chains_from_sequence

    param, index = record["param"], record["index"]
    wide = bool(record.get("sync")) and settings.allow_lazy_loads != "never"

    def hook(ctx: MethodContext) -> Type:
        # ``index`` counts ``self``; the callee's arg names at a bound call do not.
        position = next((i for i, name in enumerate(ctx.callee_arg_names) if name == param),
                        index - 1)
        chains: tuple[opt.Chain, ...] | None = ()
        if 0 <= position < len(ctx.args) and ctx.args[position]:
            chains = chains_from_sequence(ctx, position)
        elif not record.get("empty_default"):
            chains = None  # the method's own default options: not followed
        schema = CheckerSchema(lookup)

        def entity(inst: Instance) -> Type:
            info = model_info(inst)
            model = schema.model_of(info) if info is not None else None
            if model is None or chains is None or inst.type is not info:
                return inst
            state = schema.with_options(model, chains)
            if wide:
                state = loadstate.sync_view(schema, state)
            return state_to_type(ctx.api, schema, state) or inst

        result = _map_result(ctx.default_return_type, entity)
        depend_on_mappings(ctx.api, [owner, *schema.consulted()])
        return flow.produced(ctx.api, ctx.context, result)

    return hook


def _map_result(typ: Type, fn: Callable[[Instance], Type], depth: int = 0) -> Type:
    """Apply ``fn`` to the model in ``Model``, ``Model | None``, ``Sequence[Model]``, and
    the same inside an ``async def``'s Coroutine."""
    if depth > 3:  # deeper is none of those shapes (and a recursive alias has no bottom)
        return typ
    proper = get_proper_type(typ)
    if isinstance(proper, Instance) and proper.type.fullname == "typing.Coroutine" \
            and len(proper.args) == 3:
        return proper.copy_modified(args=[*proper.args[:2], _map_result(proper.args[2], fn, depth + 1)])
    if isinstance(proper, Instance) and model_info(proper) is not None:
        return fn(proper)
    if isinstance(proper, UnionType):
        items = [get_proper_type(i) for i in proper.items]
        if len(items) == 2 and any(isinstance(i, NoneType) for i in items):
            return UnionType.make_union([_map_result(i, fn, depth + 1) for i in proper.items])
    if isinstance(proper, Instance) and proper.type.fullname in _COLLECTIONS and len(proper.args) == 1:
        return proper.copy_modified(args=[_map_result(proper.args[0], fn, depth + 1)])
    return typ
