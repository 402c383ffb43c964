"""Where an object meets a ``Loaded[...]`` annotation: call arguments and returned values.

mypy accepts any ``User`` there (see ``hooks.loaded_annotation``); these hooks compare the
object's load state with the annotation's paths and report what is known to be missing.
What the plugin cannot tell is accepted, except that strict mode gives a plain model type
its model's defaults.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import (
    AssignmentExpr,
    AssignmentStmt,
    AwaitExpr,
    Context,
    Decorator,
    Expression,
    ForStmt,
    FuncDef,
    FuncItem,
    ListExpr,
    NameExpr,
    ReturnStmt,
    SetExpr,
    SymbolTableNode,
    TupleExpr,
    TypeInfo,
    WithStmt,
)
from mypy.plugin import CheckerPluginInterface, FunctionContext, MethodContext
from mypy.types import CallableType, Instance, NoneType, Type, UnionType, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages, requirements
from mypy_eagerload.core.loadstate import State, sync_view
from mypy_eagerload.core.requirements import Requirement
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.compat import current_function, depend_on_mappings, expression_type, report
from mypy_eagerload.hooks.errorcodes import UNLOADED_RELATIONSHIP
from mypy_eagerload.hooks.loaded_annotation import (
    annotation_text,
    has_contracts,
    is_new_object,
    requirement_of,
)
from mypy_eagerload.hooks.query_sites import requirement_fix
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, default_info, loaded_info, model_info
from mypy_eagerload.hooks.syntax import is_name, is_self, walk_nodes
from mypy_eagerload.hooks.types import type_to_state

# Containers whose element type is what a ``list[Loaded[...]]`` parameter checks.
CONTAINERS = frozenset({"builtins.list", "builtins.set", "builtins.frozenset", "builtins.tuple",
                         "typing.Sequence", "typing.MutableSequence", "typing.Collection",
                         "typing.Iterable", "typing.Iterator", "typing.AbstractSet"})


# ---------------------------------------------------------------------------------------
# Finding requirements in a declared type


# How deep the walks below look into a declared type. Recursive type aliases (``JSON =
# dict[str, JSON] | list[JSON] | ...``) would otherwise never end.
_MAX_NESTING = 4


def requirements_in(typ: Type, depth: int = 0) -> list[Requirement]:
    """The requirements in ``Loaded[...]``, ``X | None``, ``list[...]``, ``Sequence[...]``."""
    if depth > _MAX_NESTING:
        return []
    proper = get_proper_type(typ)
    found = requirement_of(proper)
    if found is not None:
        return [found]
    if isinstance(proper, UnionType):
        return [r for item in proper.items for r in requirements_in(item, depth + 1)]
    if isinstance(proper, Instance) and proper.args and proper.type.fullname in CONTAINERS:
        return requirements_in(proper.args[0], depth + 1)
    return []


def callee_with_requirements(node: SymbolTableNode | None, modules: Callable[[str], object],
                             method: str | None = None) -> CallableType | None:
    """The signature of a function (or of ``method`` of a class) if a parameter of it is
    annotated with ``Loaded[...]``. ``modules`` finds the defining module, which carries a
    marker when it has any such annotation (most callees are rejected by that alone)."""
    target = node.node if node is not None else None
    if isinstance(target, TypeInfo) and method is not None:
        found = target.get(method)
        target = found.node if found is not None else None
    if isinstance(target, Decorator):
        target = target.func if not target.decorators else None  # decorators may change it
    if not isinstance(target, FuncDef):
        return None  # an overload, or not a function
    module = target.info.module_name if target.info else target.fullname.rpartition(".")[0]
    if not has_contracts(modules(module)):
        return None
    sig = target.type
    if not isinstance(sig, CallableType):
        return None
    return sig if any(requirements_in(t) for t in sig.arg_types) else None


# ---------------------------------------------------------------------------------------
# The load state of an object that meets a requirement


def state_of(schema: CheckerSchema, settings: Settings, typ: Type) -> tuple[State | None, bool]:
    """(state, known) for one object type; ``known`` is False when nothing can be said."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance):
        return None, False
    info = model_info(proper)
    model = schema.model(info.fullname) if info is not None else None
    if info is None or model is None:
        return None, False
    if loaded_info(proper) is not None or default_info(proper) is not None:
        return type_to_state(proper, schema), True
    req = requirement_of(proper)
    if req is not None:
        return requirements.held_state(schema, model, req.tree, model.name), True
    if settings.strict and not is_new_object(proper):
        state = requirements.strict_state(schema, model)
        if settings.allow_lazy_loads == "always":
            state = sync_view(schema, state)
        return state, True
    return None, False


def objects(typ: Type, depth: int = 0) -> list[Type]:
    """The model objects a value holds: itself, a union's items, a container's elements."""
    proper = get_proper_type(typ)
    if isinstance(proper, NoneType) or depth > _MAX_NESTING:
        return []
    if isinstance(proper, UnionType):
        return [o for item in proper.items for o in objects(item, depth + 1)]
    if isinstance(proper, Instance) and model_info(proper) is None and proper.args:
        return objects(proper.args[0], depth + 1)
    return [proper]


def check_value(api: CheckerPluginInterface, schema: CheckerSchema, settings: Settings,
                value: Type, expected: Type, where: str, context: Context) -> None:
    """Report each required path the value's objects are known not to load."""
    reqs = requirements_in(expected)
    if not reqs:
        return
    for obj in objects(value):
        info = model_info(obj)
        if info is None:
            continue
        actual = schema.model(info.fullname)
        for req in reqs:
            if actual is None or not actual.isa(req.model):
                continue
            state, known = state_of(schema, settings, obj)
            if not known:
                continue
            for miss in requirements.missing(schema, state, req.tree):
                proper = get_proper_type(obj)
                fix = requirement_fix(api, schema, proper, miss, context) if isinstance(proper, Instance) \
                    else messages.requirement_fix(miss)
                report(api, context, messages.requirement_unmet(where, annotation_text(req), miss),
                       fix, UNLOADED_RELATIONSHIP)
            break
    depend_on_mappings(api, schema.consulted())


# ---------------------------------------------------------------------------------------
# Call sites


def call_hook(lookup: Lookup, settings: Settings, signature: CallableType, callee: str
              ) -> Callable[[FunctionContext | MethodContext], Type]:
    # By name: at a method call mypy passes the formals without ``self``.
    formals = {name: typ for name, typ in zip(signature.arg_names, signature.arg_types)
               if name is not None and requirements_in(typ)}

    def hook(ctx: FunctionContext | MethodContext) -> Type:
        schema = CheckerSchema(lookup)
        for i, name in enumerate(ctx.callee_arg_names):
            formal = formals.get(name) if name is not None else None
            if formal is None or i >= len(ctx.args):
                continue
            where = f'argument "{name}" of "{callee}"'
            for expr, actual in zip(ctx.args[i], ctx.arg_types[i]):
                for value, value_expr in argument_values(ctx.api, schema, expr, actual):
                    if settings.strict and value_expr is expr and is_self(expr) \
                            and requirement_of(value) is None:
                        continue  # a model passing itself on: not strict mode's guess to make
                    check_value(ctx.api, schema, settings, value, formal, where, value_expr)
        return ctx.default_return_type

    return hook


# ---------------------------------------------------------------------------------------
# Returned values: checked where the plugin produces them (fetches, session.get)


def argument_values(api: CheckerPluginInterface, schema: CheckerSchema, expr: Expression, actual: Type
                    ) -> list[tuple[Type, Expression]]:
    """What an argument passes, with the expression to report at. A list, tuple or set
    display's type is inferred from the parameter's (``list[Any]`` for an ``Any``
    parameter), so its items' own types are read instead."""
    if isinstance(expr, (ListExpr, TupleExpr, SetExpr)):
        found = [(expression_type(api, item), item) for item in expr.items]
        return [(flow.fresh(api, schema, item, t), item) for t, item in found if t is not None]
    return [(flow.fresh(api, schema, expr, actual), expr)]


def returns_requirement(api: CheckerPluginInterface) -> bool:
    """Whether the function being checked declares a ``Loaded[...]`` return type."""
    func = current_function(api)
    sig = func.type if func is not None else None
    return isinstance(sig, CallableType) and func is not None \
        and bool(requirements_in(declared_return(sig.ret_type, func.is_coroutine)))


def check_returned(api: CheckerPluginInterface, lookup: Lookup, settings: Settings,
                   call: Context, produced: Type) -> None:
    """``return <call>`` or ``x = <call>; ...; return x`` in a function whose declared return
    type holds ``Loaded[...]``: the produced object must cover it."""
    func = current_function(api)
    sig = func.type if func is not None else None
    if func is None or not isinstance(sig, CallableType):
        return
    declared = declared_return(sig.ret_type, func.is_coroutine)
    if not requirements_in(declared):
        return
    returned = returned_expression(func, call)
    if returned is None:
        return
    check_value(api, CheckerSchema(lookup), settings, produced, declared,
                f'the return type of "{func.name}"', returned)


def declared_return(ret_type: Type, coroutine: bool) -> Type:
    """What ``return`` statements must give: an ``async def``'s type is a Coroutine."""
    proper = get_proper_type(ret_type)
    if coroutine and isinstance(proper, Instance) and proper.type.fullname == "typing.Coroutine" \
            and len(proper.args) == 3:
        return proper.args[2]
    return ret_type


def _strip(expr: Expression) -> Expression:
    return expr.expr if isinstance(expr, AwaitExpr) else expr


def returned_expression(func: FuncItem, call: Context) -> Expression | None:
    """The ``return`` that gives back ``call``'s value: directly, or through a variable
    assigned once from it."""
    return _returned_directly(func, call) or _returned_through_name(func, call)


def _returned_directly(func: FuncItem, call: Context) -> Expression | None:
    for node in walk_nodes(func):
        if isinstance(node, ReturnStmt) and node.expr is not None and _strip(node.expr) is call:
            return node.expr
    return None


def _returned_through_name(func: FuncItem, call: Context) -> Expression | None:
    """``x = <call>`` (the only assignment to ``x``) and ``return x``."""
    name: str | None = None
    assignments = 0
    nodes = list(walk_nodes(func))
    for node in nodes:
        if isinstance(node, AssignmentStmt) and len(node.lvalues) == 1 \
                and isinstance(node.lvalues[0], NameExpr) and _strip(node.rvalue) is call:
            name = node.lvalues[0].name
    if name is None:
        return None
    returned: Expression | None = None
    for node in nodes:
        if isinstance(node, AssignmentStmt) and any(is_name(lv, name) for lv in node.lvalues):
            assignments += 1
        elif isinstance(node, (ForStmt, WithStmt, AssignmentExpr)) and _binds(node, name):
            assignments += 2  # rebound by a loop, a with or a walrus: not followed
        if isinstance(node, ReturnStmt) and node.expr is not None and is_name(node.expr, name):
            returned = node.expr
    return returned if assignments == 1 else None


def _binds(node: ForStmt | WithStmt | AssignmentExpr, name: str) -> bool:
    if isinstance(node, ForStmt):
        targets: list[Expression | None] = [node.index]
    elif isinstance(node, WithStmt):
        targets = list(node.target)
    else:
        targets = [node.target]
    return any(t is not None and is_name(t, name) for t in targets)
