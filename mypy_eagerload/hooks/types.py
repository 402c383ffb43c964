"""Load states to mypy types and back.

``Loaded@User[<posts>, <profile>]``: one argument per tracked relationship, in slot order:
  * a model type (``Post``, ``Loaded@Post[...]`` or ``Default@Post[Literal["<ref>"]]``):
    loaded, with the target's own state (unknown, explicit, or its defaults under a ref);
  * ``Literal["<reason>"]`` or any other non-model type: not loaded;
  * ``Any``: unknown, never reported.
"""

from __future__ import annotations

import functools
import json

from mypy.nodes import TypeInfo
from mypy.plugin import CheckerPluginInterface
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    Type,
    TypeOfAny,
    UninhabitedType,
    UnionType,
    get_proper_type,
)
from mypy.typevars import fill_typevars_with_any

from mypy_eagerload.core.loadstate import UNKNOWN, Columns, DefaultRef, Loaded, NotLoaded, Slot, State
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.schema import CheckerSchema, default_info, loaded_info, model_info


def plain_type(info: TypeInfo) -> Instance:
    typ = fill_typevars_with_any(info)
    assert isinstance(typ, Instance)
    return typ


def state_to_type(api: CheckerPluginInterface, schema: CheckerSchema, state: State) -> Instance | None:
    """The loaded type for ``state``; None when the model has no loaded class."""
    model = schema.info(state.model)
    loaded = schema.loaded_class(model) if model is not None else None
    if model is None or loaded is None:
        return None
    slots = state.slot_map
    args = [_slot_to_type(api, schema, name, slots.get(name, UNKNOWN), model)
            for name in (metadata(model) or {}).get("slots", [])]
    args.append(_columns_to_type(api, schema, state.columns, state.joined_collection))
    if len(args) != len(loaded.type_vars):
        return None
    return Instance(loaded, args)


def _columns_to_type(api: CheckerPluginInterface, schema: CheckerSchema, columns: Columns,
                     joined: bool) -> Type:
    """``Literal["bio|deferred", ...]`` for the unloaded columns; ``Never`` for none.

    The same argument carries ``Literal["#joined"]`` when the entity was reached by a
    joined-eager collection (see ``State.joined_collection``)."""
    marker = [schema.literal(api, JOINED_MARKER)] if joined else []
    if columns is None:
        return AnyType(TypeOfAny.special_form)  # unknown columns: the marker is lost too
    return UnionType.make_union(
        marker + [schema.literal(api, f"{name}|{reason}") for name, reason in columns])


JOINED_MARKER = "#joined"


def _literals(typ: Type) -> list[str] | None:
    proper = get_proper_type(typ)
    if isinstance(proper, UninhabitedType):
        return []
    items = proper.items if isinstance(proper, UnionType) else [proper]
    values = []
    for item in items:
        item = get_proper_type(item)
        if not (isinstance(item, LiteralType) and isinstance(item.value, str)):
            return None  # Any, or a join that widened to str: unknown
        values.append(item.value)
    return values


def type_to_columns(typ: Type) -> Columns:
    """The unloaded columns a columns argument records; None when it cannot tell."""
    values = _literals(typ)
    if values is None:
        return None
    return tuple(sorted(tuple(v.split("|", 1)) for v in values if "|" in v))  # type: ignore[misc]


def joined_marker(typ: Type) -> bool:
    return JOINED_MARKER in (_literals(typ) or [])


def _slot_to_type(api: CheckerPluginInterface, schema: CheckerSchema, name: str, slot: Slot,
                  model: TypeInfo) -> Type:
    if isinstance(slot, NotLoaded):
        return schema.literal(api, slot.reason)
    if isinstance(slot, Loaded):
        if slot.default is not None:
            typ = default_to_type(api, schema, slot.default)
            if typ is not None:
                return typ
        if slot.state is not None:
            typ = state_to_type(api, schema, slot.state)
            if typ is not None:
                return typ
        target_model = schema.model(model.fullname)
        rel = target_model.relationship(name) if target_model is not None else None
        target = schema.info(rel.target) if rel is not None and rel.target else None
        if target is not None:
            return plain_type(target)
    return AnyType(TypeOfAny.special_form)


def default_to_type(api: CheckerPluginInterface, schema: CheckerSchema, ref: DefaultRef,
                    shared: bool = True) -> Instance | None:
    """``Default@Target[Literal["<ref>"]]``. Shared between expressions unless ``shared`` is
    False (a statement's entity, which ``hooks.context`` may widen in place)."""
    target = schema.info(ref.target)
    cls = schema.default_class(target) if target is not None else None
    if cls is None or len(cls.type_vars) != 1:
        return None
    if not shared:
        return Instance(cls, [schema.literal(api, encode_ref(ref))])
    hit = _DEFAULT_TYPES.get(ref)
    if hit is not None and hit.type is cls:
        return hit
    typ = Instance(cls, [schema.literal(api, encode_ref(ref))])
    _DEFAULT_TYPES[ref] = typ
    return typ


_DEFAULT_TYPES: dict[DefaultRef, Instance] = {}


@functools.cache
def encode_ref(ref: DefaultRef) -> str:
    return json.dumps([ref.target, ref.full, ref.select, ref.via, ref.via_immediate, ref.depth,
                       ref.joined_collection, ref.sync, ref.label], separators=(",", ":"))


@functools.cache
def decode_ref(text: str) -> DefaultRef | None:
    try:
        t, full, select, via, imm, depth, joined, sync, label = json.loads(text)
        return DefaultRef(t, tuple(full), tuple(select), tuple(via) if via else None, imm, depth,
                          joined, sync, label)
    except (ValueError, TypeError):
        return None


def type_to_ref(typ: Type) -> DefaultRef | None:
    """The ``DefaultRef`` of a ``Default@Model[Literal["<ref>"]]``; None if lost (a join)."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or default_info(proper) is None or len(proper.args) != 1:
        return None
    arg = get_proper_type(proper.args[0])
    if isinstance(arg, LiteralType) and isinstance(arg.value, str):
        return decode_ref(arg.value)
    return None


def type_to_state(typ: Type, schema: CheckerSchema | None = None) -> State | None:
    """The state a type records; None for a plain model type (unknown origin). A
    ``Default@`` type needs ``schema`` to be expanded."""
    proper = get_proper_type(typ)
    if schema is not None and default_info(proper) is not None:
        ref = type_to_ref(proper)
        return schema.expand(ref) if ref is not None else None
    loaded = loaded_info(proper)
    model = model_info(proper)
    if loaded is None or model is None or not isinstance(proper, Instance):
        return None
    names = (metadata(model) or {}).get("slots", [])
    if len(names) + 1 != len(proper.args):
        return None
    return State(model.fullname, tuple(
        (name, type_to_slot(arg)) for name, arg in zip(names, proper.args)),
        type_to_columns(proper.args[-1]), joined_marker(proper.args[-1]))


def type_to_slot(typ: Type, deep: bool = True) -> Slot:
    """The slot a type argument records; ``deep=False`` leaves a loaded target's own state
    out (``Loaded(None)``), which is all a single attribute read needs."""
    proper = get_proper_type(typ)
    if isinstance(proper, AnyType):
        return UNKNOWN
    if default_info(proper) is not None:
        return Loaded(None, type_to_ref(proper))
    if model_info(proper) is not None:
        return Loaded(type_to_state(proper) if deep else None)
    if isinstance(proper, LiteralType) and isinstance(proper.value, str):
        return NotLoaded(proper.value)
    if isinstance(proper, Instance) and isinstance(proper.last_known_value, LiteralType):
        return NotLoaded(str(proper.last_known_value.value))
    if isinstance(proper, Instance):
        return NotLoaded("")  # a join of different reasons, or of loaded and not loaded
    return UNKNOWN
