"""Statements: ``select(...)``, ``Select.options(...)`` and ``Session.get(..., options=)``.

The load state rides in the entity types of ``Select[...]`` (2.1: ``Select[User, Post]``;
2.0: ``Select[tuple[User, Post]]``), so it flows unchanged through ``execute``, ``scalars``,
``scalar_one``, rows and loops without further hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mypy.nodes import ARG_STAR, CallExpr, Expression, ListExpr, MemberExpr, NameExpr, TupleExpr
from mypy.plugin import CheckerPluginInterface, FunctionContext, MethodContext
from mypy.types import (
    AnyType,
    Instance,
    ProperType,
    TupleType,
    Type,
    UnionType,
    get_proper_type,
)

from mypy_eagerload import names
from mypy_eagerload.config import Settings
from mypy_eagerload.core import loadstate, messages
from mypy_eagerload.core import options as opt
from mypy_eagerload.core.conflicts import find_conflicts
from mypy_eagerload.core.patches import Site
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.compat import depend_on_mappings, expression_type, report
from mypy_eagerload.hooks.conflict_sites import conflict_fixes, get_site, statement_site
from mypy_eagerload.hooks.errorcodes import LOADER_CONFLICT
from mypy_eagerload.hooks.loader_options import decode_option_type
from mypy_eagerload.hooks.routes import check_returned
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, default_info, loaded_info, model_info
from mypy_eagerload.hooks.syntax import statement_origin
from mypy_eagerload.hooks.types import (
    default_to_type,
    plain_type,
    state_to_type,
    type_to_ref,
    type_to_state,
)

EntityMap = Callable[[Instance], Type]


def map_entities(typ: Type, fn: EntityMap, depth: int = 0) -> Type:
    """Apply ``fn`` to each model instance among a statement's or result's entity types
    (a few levels deep: a recursive type alias has no bottom)."""
    if depth > _MAX_NESTING:
        return typ
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        if model_info(proper) is not None:
            return fn(proper)
        if not proper.args:
            return typ
        new_args = [map_entities(a, fn, depth + 1) for a in proper.args]
        return proper.copy_modified(args=new_args)
    if isinstance(proper, TupleType):
        return proper.copy_modified(items=[map_entities(i, fn, depth + 1) for i in proper.items])
    if isinstance(proper, UnionType):
        return UnionType.make_union([map_entities(i, fn, depth + 1) for i in proper.items], proper.line)
    return typ


_MAX_NESTING = 6


def _narrow_default(api: CheckerPluginInterface, schema: CheckerSchema) -> EntityMap:
    """``select(User)``: the model's defaults, as one ``Default@User[<root ref>]`` (expanded
    when read or when options are added). A fresh instance: ``hooks.context`` may widen it."""

    def narrow(entity: Instance) -> Type:
        info = model_info(entity)
        model = schema.model_of(info) if info is not None else None
        if model is None or entity.type is not info:
            return entity  # already loaded (select() of a loaded type) or not a model
        typ = default_to_type(api, schema, loadstate.root_ref(model))
        return typ or state_to_type(api, schema, schema.default_state(model)) or entity

    return narrow


def select_hook(lookup: Lookup, legacy_query: bool = False
                ) -> Callable[[FunctionContext | MethodContext], Type]:
    """``select(User)`` (or, with ``legacy_query``, ``session.query(User)``): the entities
    get the model's default state."""
    remap = map_entities if legacy_query else _select_args

    def hook(ctx: FunctionContext | MethodContext) -> Type:
        schema = CheckerSchema(lookup)
        narrowed = remap(ctx.default_return_type, _narrow_default(ctx.api, schema))
        depend_on_mappings(ctx.api, schema.consulted())
        return flow.produced(ctx.api, ctx.context, narrowed)

    return hook


def _is_pristine(ctx: MethodContext) -> bool:
    """``select(User).where(...).options(...)``: no earlier ``.options()`` on the way."""
    callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
    expr = statement_origin(callee.expr if isinstance(callee, MemberExpr) else None)
    if not isinstance(expr, CallExpr):
        return False
    callee = expr.callee
    return isinstance(callee, (NameExpr, MemberExpr)) and callee.name in ("select", "query")


def _select_args(typ: Type, fn: EntityMap) -> Type:
    """Map the entity arguments of a ``Select`` instance only (not its other generics)."""
    proper = get_proper_type(typ)
    if isinstance(proper, Instance) and proper.type.fullname == names.SELECT_CLASS:
        return proper.copy_modified(args=[map_entities(a, fn) for a in proper.args])
    return typ


def collect_chains(ctx: MethodContext | FunctionContext, arg_index: int) -> tuple[opt.Chain, ...] | None:
    """The chains of every option passed at ``arg_index``; None if any is not understood."""
    types: list[Type] = []
    if not all(flow.stable(ctx.api, arg) for arg in ctx.args[arg_index]):
        return None  # an option variable re-bound on the way: its type may be stale
    for typ, kind in zip(ctx.arg_types[arg_index], ctx.arg_kinds[arg_index]):
        items = _spread(typ) if kind == ARG_STAR else [typ]
        if items is None:
            return None
        types.extend(items)
    return chains_of(types)


def chains_of(types: list[Type]) -> tuple[opt.Chain, ...] | None:
    """Decode option types; None as soon as one is a loader option we cannot read."""
    chains: list[opt.Chain] = []
    for typ in types:
        option = decode_option_type(typ)
        if option is None:
            if is_loader_option(typ):
                return None
            continue  # with_loader_criteria(), execution options...: no load effect
        chains.extend(option)
    return tuple(chains)


def _spread(typ: Type) -> list[Type] | None:
    proper = get_proper_type(typ)
    if isinstance(proper, TupleType):
        return list(proper.items)
    if isinstance(proper, Instance) and len(proper.args) == 1:
        return [proper.args[0]]
    return None


def is_loader_option(typ: Type) -> bool:
    proper: ProperType = get_proper_type(typ)
    if isinstance(proper, AnyType):
        return True
    return isinstance(proper, Instance) and (
        proper.type.has_base(names.ABSTRACT_LOAD) or proper.type.fullname.endswith("ExecutableOption")
        or proper.type.fullname.endswith("ORMOption"))


def _apply(api: CheckerPluginInterface, schema: CheckerSchema,
           chains: tuple[opt.Chain, ...] | None, pristine: bool = False) -> EntityMap:
    def apply(entity: Instance) -> Type:
        info = model_info(entity)
        assert info is not None
        if chains is None:
            return plain_type(info)  # an option we cannot read: the state becomes unknown
        if loaded_info(entity) is None and default_info(entity) is None:
            return entity  # a plain model: unknown origin
        model = schema.model_of(info)
        if model is None:
            return plain_type(info)
        if pristine:  # no earlier options: nothing to merge with, nor to read back
            new_state: loadstate.State | None = schema.with_options(model, chains)
        else:
            state = type_to_state(entity, schema)
            if state is None:
                return plain_type(info)
            default = schema.default_state(model)
            new_state = loadstate.apply_options(schema, state, chains, default)
        if new_state is None:
            return plain_type(info)
        return state_to_type(api, schema, new_state) or plain_type(info)

    return apply


def options_hook(lookup: Lookup, legacy_query: bool = False, conflicts: bool = True
                 ) -> Callable[[MethodContext], Type]:
    """``Select.options(...)``; with ``legacy_query``, ``Query.options(...)``."""
    remap = map_entities if legacy_query else _select_args

    def hook(ctx: MethodContext) -> Type:
        if not ctx.arg_types:
            return ctx.default_return_type
        schema = CheckerSchema(lookup)
        chains = collect_chains(ctx, 0)
        if conflicts:
            callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
            starred = any(k == ARG_STAR for k in ctx.arg_kinds[0])
            report_conflicts(ctx, chains, None if starred else ctx.args[0],
                             statement_site(callee) if callee is not None and not legacy_query else None)
        # The receiver's states as they really reach this call (``stmt = stmt.options(...)``:
        # mypy's type for ``stmt`` is its first binding's).
        callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
        base = ctx.default_return_type
        if isinstance(callee, MemberExpr):
            base = flow.fresh(ctx.api, schema, callee.expr, base)
        narrowed = remap(base, _apply(ctx.api, schema, chains, _is_pristine(ctx)))
        depend_on_mappings(ctx.api, schema.consulted())
        return flow.produced(ctx.api, ctx.context, narrowed)

    return hook


def sync_result_hook(lookup: Lookup, settings: Settings, method: str) -> Callable[[MethodContext], Type]:
    """``Session.execute/scalars/scalar``: what would fail under AsyncSession only by emitting
    SQL is a lazy load that succeeds in a sync session (see ``loadstate.sync_view``). Under
    ``allow_lazy_loads = "never"`` those lazy loads stay errors, labelled as a sync session's
    (the message says "an extra query", not "fails under AsyncSession")."""
    never = settings.allow_lazy_loads == "never"

    def hook(ctx: MethodContext) -> Type:
        schema = CheckerSchema(lookup)

        def entity(inst: Instance) -> Type:
            ref = type_to_ref(inst)
            if ref is not None:  # not built yet: the sync view stays lazy too
                seen = replace(ref, label=loadstate.SYNC_STRICT_PREFIX + ref.label) if never \
                    else replace(ref, sync=True)
                return default_to_type(ctx.api, schema, seen) or inst
            state = type_to_state(inst)
            if state is None:
                return inst
            seen_state = loadstate.relabel(state, loadstate.SYNC_STRICT_PREFIX) if never \
                else loadstate.sync_view(schema, state)
            return state_to_type(ctx.api, schema, seen_state) or inst

        # ``session.execute(stmt)`` is this hook's own call; for ``for obj in query`` the
        # context is the iterated expression, another hook's producer.
        own = isinstance(ctx.context, CallExpr) and isinstance(ctx.context.callee, MemberExpr) \
            and ctx.context.callee.name == method
        source = flow.fresh(ctx.api, schema, ctx.context, ctx.default_return_type, computing=own)
        result = map_entities(source, entity)
        flow.produced(ctx.api, ctx.context, result, iterating=not own)
        depend_on_mappings(ctx.api, schema.consulted())
        if not never or method == "scalar":  # as for AsyncSession (returned_hook)
            check_returned(ctx.api, lookup, settings, ctx.context, result)
        return result

    return hook


def returned_hook(lookup: Lookup, settings: Settings) -> Callable[[MethodContext], Type]:
    """``return await session.scalar(stmt)`` under a ``Loaded[...]`` return type."""

    def hook(ctx: MethodContext) -> Type:
        check_returned(ctx.api, lookup, settings, ctx.context, ctx.default_return_type)
        return ctx.default_return_type

    return hook


def session_get_hook(lookup: Lookup, sync: bool, settings: Settings,
                     never_sync: bool = False) -> Callable[[MethodContext], Type]:
    """``session.get(User, 1, options=[...])``: the options apply when a query is emitted.
    ``sync``: the sync view; ``never_sync``: a sync session held to the async rules."""

    def hook(ctx: MethodContext) -> Type:
        schema = CheckerSchema(lookup)
        chains: tuple[opt.Chain, ...] | None = ()
        for i, name in enumerate(ctx.callee_arg_names):
            if name == "options" and ctx.args[i]:
                chains = chains_from_sequence(ctx, i)
                if settings.enabled("loader-conflict"):
                    display = ctx.args[i][0]
                    items = display.items if isinstance(display, (ListExpr, TupleExpr)) else None
                    report_conflicts(ctx, chains, items, get_site(ctx.context))

        def entity(inst: Instance) -> Type:
            info = model_info(inst)
            model = schema.model_of(info) if info is not None else None
            if info is None or model is None or chains is None:
                return inst  # plain: unknown state
            state = schema.with_options(model, chains)
            if sync:
                state = loadstate.sync_view(schema, state)
            elif never_sync:
                state = loadstate.relabel(state, loadstate.SYNC_STRICT_PREFIX)
            return state_to_type(ctx.api, schema, state) or inst

        result = flow.produced(ctx.api, ctx.context, map_entities(ctx.default_return_type, entity))
        depend_on_mappings(ctx.api, schema.consulted())
        check_returned(ctx.api, lookup, settings, ctx.context, result)
        return result

    return hook


def report_conflicts(ctx: MethodContext, chains: tuple[opt.Chain, ...] | None,
                     written: list[Expression] | None = None, site: Site | None = None) -> None:
    """Two strategies for one path among the options of this call (``loader-conflict``);
    ``written``: the option expressions as given, and ``site`` the query they are given to
    (the note is then a patch, when one option can be named)."""
    if not chains:
        return
    found = find_conflicts(chains)
    for conflict, note in zip(found, conflict_fixes(ctx.api, found, written or [], site)):
        report(ctx.api, ctx.context, messages.conflict(list(conflict.path), conflict.first, conflict.second),
               note, LOADER_CONFLICT)


def chains_from_sequence(ctx: MethodContext, index: int) -> tuple[opt.Chain, ...] | None:
    """``options=[a, b]``: read each list item's type; a variable's element type otherwise."""
    from mypy.nodes import ListExpr, TupleExpr

    expr = ctx.args[index][0]
    if not flow.stable(ctx.api, expr):
        return None
    if isinstance(expr, (ListExpr, TupleExpr)):
        # Item by item: the list's own element type is a join that forgets the paths.
        # Already checked as part of the argument: read the type map (checking them again
        # would run the option hooks again).
        return chains_of([expression_type(ctx.api, item) or ctx.api.get_expression_type(item)
                           for item in expr.items])
    items = _spread(ctx.arg_types[index][0])
    return None if items is None else chains_of(items)
