"""``reveal_loads(obj)`` (``mypy_eagerload.reveal``): the load state as a note."""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import FunctionContext
from mypy.types import Instance, TupleType, Type, UnionType, get_proper_type

from mypy_eagerload.core import reveal
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, model_info
from mypy_eagerload.hooks.types import type_to_state


def hook_for(lookup: Lookup) -> Callable[[FunctionContext], Type]:
    """``reveal_loads(obj)``: a note with the load state of each model object in ``obj``
    (what reaches it, as ``hooks.flow`` decides), or that it is unknown."""

    def hook(ctx: FunctionContext) -> Type:
        if len(ctx.args) != 1 or len(ctx.args[0]) != 1:
            return ctx.default_return_type
        schema = CheckerSchema(lookup)
        expr, typ = ctx.args[0][0], ctx.arg_types[0][0]
        fresh = flow.fresh(ctx.api, schema, expr, typ)
        shown = False
        for inst in _models_in(fresh):
            state = type_to_state(inst, schema)
            found = reveal.paths(schema, state) if state is not None else None
            ctx.api.msg.note(reveal.describe(inst.type.fullname, found), ctx.context)
            shown = True
        if not shown:
            ctx.api.msg.note("load state: no mapped object in this expression", ctx.context)
        return ctx.default_return_type

    return hook


def _models_in(typ: Type, depth: int = 0) -> list[Instance]:
    proper = get_proper_type(typ)
    if depth > 4:
        return []
    if isinstance(proper, Instance):
        if model_info(proper) is not None:
            return [proper]
        return [i for a in proper.args for i in _models_in(a, depth + 1)]
    if isinstance(proper, (TupleType, UnionType)):
        return [i for a in proper.items for i in _models_in(a, depth + 1)]
    return []
