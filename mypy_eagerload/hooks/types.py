"""Load states to mypy types and back.

``Loaded@User[Literal["<state>"]]``: one argument, the whole ``State`` encoded as a string
(see ``encode_state``). Types stay as small as a plain model type, whatever the number of
relationships: mypy's own work (subtype checks, expansion, its type visitors) grows with the
size of the types it is handed (on the benchmark, one argument per relationship made mypy
run 9% more of its own functions; one argument, under 3%). Inside the state a slot is
  * loaded, with the target's own state (unknown, explicit, or a ref to build it from);
  * not loaded, with the reason;
  * unknown, never reported.
The literal's fallback is an enum (``_types.LoadState``), so mypy joins two states into
``Loaded@User[Literal[<a>, <b>]]``, which reads as their intersection (``loadstate.intersect``);
anything else in the argument (``str``, the enum itself) reads as unknown, never a guess.
``Default@Post[Literal["<ref>"]]`` stands for a loaded target not built yet (a ``DefaultRef``).
"""

from __future__ import annotations

import json
from typing import Any

from mypy.nodes import TypeInfo
from mypy.plugin import CheckerPluginInterface
from mypy.types import (
    Instance,
    LiteralType,
    Type,
    UnionType,
    get_proper_type,
)
from mypy.typevars import fill_typevars_with_any

from mypy_eagerload import names
from mypy_eagerload.core import loadstate
from mypy_eagerload.core.loadstate import UNKNOWN, DefaultRef, Loaded, NotLoaded, Slot, State
from mypy_eagerload.hooks.schema import CheckerSchema, default_info, loaded_info


def plain_type(info: TypeInfo) -> Instance:
    typ = fill_typevars_with_any(info)
    assert isinstance(typ, Instance)
    return typ


def state_to_type(api: CheckerPluginInterface, schema: CheckerSchema, state: State) -> Instance | None:
    """The loaded type for ``state``; None when the model has no loaded class."""
    model = schema.info(state.model)
    loaded = schema.loaded_class(model) if model is not None else None
    if model is None or loaded is None or len(loaded.type_vars) != 1:
        return None
    return Instance(loaded, [state_literal(api, schema, encode_state(state))])


def state_literal(api: CheckerPluginInterface, schema: CheckerSchema, text: str) -> LiteralType:
    """``Literal[<state>]`` on ``LoadState`` (``_types.py`` says why an enum); on ``str``
    where that class is not in the build (joins then lose the state: unknown)."""
    enum = schema.info(names.LOAD_STATE)
    if enum is None:
        return schema.literal(api, text)
    return LiteralType(text, Instance(enum, []))


# States are shared objects (memoized builds, decoded types), so encodings are memoized by
# identity; the entry keeps the state alive, so its id cannot be reused meanwhile.
_ENCODED: dict[int, tuple[State, str]] = {}
_DECODED: dict[str, State | None] = {}


def encode_state(state: State) -> str:
    hit = _ENCODED.get(id(state))
    if hit is not None and hit[0] is state:
        return hit[1]
    text = json.dumps(_state_json(state), separators=(",", ":"))
    _ENCODED[id(state)] = (state, text)
    _DECODED.setdefault(text, state)
    return text


def decode_state(text: str) -> State | None:
    if text not in _DECODED:
        try:
            _DECODED[text] = _state_from_json(json.loads(text))
        except (ValueError, TypeError, KeyError, IndexError):
            _DECODED[text] = None
    return _DECODED[text]


def _state_json(state: State) -> list[object]:
    return [state.model, [[name, _slot_json(slot)] for name, slot in state.slots],
            None if state.columns is None else [list(c) for c in state.columns],
            state.joined_collection]


def _slot_json(slot: Slot) -> object:
    """0: unknown; a string: not loaded, for that reason; 1: loaded, target state unknown;
    ``["d", ref]``: loaded, defaults below; ``["s", state]``: loaded, with its own state."""
    if isinstance(slot, NotLoaded):
        return slot.reason
    if isinstance(slot, Loaded):
        if slot.default is not None:
            return ["d", _ref_json(slot.default)]
        return 1 if slot.state is None else ["s", _state_json(slot.state)]
    return 0


def _state_from_json(data: list[Any]) -> State:
    model, slots, columns, joined = data
    return State(model, tuple((name, _slot_from_json(value)) for name, value in slots),
                 None if columns is None else tuple((c[0], c[1]) for c in columns), bool(joined))


def _slot_from_json(value: Any) -> Slot:
    if isinstance(value, str):
        return NotLoaded(value)
    if value == 1:
        return Loaded(None)
    if isinstance(value, list) and value[0] == "d":
        return Loaded(None, _ref_from_json(value[1]))
    if isinstance(value, list) and value[0] == "s":
        return Loaded(_state_from_json(value[1]))
    return UNKNOWN


def merge_states(items: list[Type]) -> list[Type]:
    """The items of a union, with the ``Loaded@`` ones of each model merged into one whose
    argument is the union of their states: what mypy makes of a join, read as their
    intersection. ``a if flag else b`` then reads the same whether mypy joined the two
    types or kept their union."""
    merged: list[Type] = []
    by_class: dict[str, int] = {}
    for item in items:
        proper = get_proper_type(item)
        if isinstance(proper, Instance) and loaded_info(proper) is not None and len(proper.args) == 1:
            seen = by_class.get(proper.type.fullname)
            if seen is not None:
                first = get_proper_type(merged[seen])
                assert isinstance(first, Instance)
                merged[seen] = first.copy_modified(args=[UnionType.make_union([*first.args, *proper.args])])
                continue
            by_class[proper.type.fullname] = len(merged)
        merged.append(item)
    return merged


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


# Like states: a text encoded here decodes to the ref it came from without parsing it.
_REF_TEXT: dict[DefaultRef, str] = {}
_TEXT_REF: dict[str, DefaultRef | None] = {}


def encode_ref(ref: DefaultRef) -> str:
    text = _REF_TEXT.get(ref)
    if text is None:
        text = _REF_TEXT[ref] = json.dumps(_ref_json(ref), separators=(",", ":"))
        _TEXT_REF.setdefault(text, ref)
    return text


def decode_ref(text: str) -> DefaultRef | None:
    if text not in _TEXT_REF:
        try:
            _TEXT_REF[text] = _ref_from_json(json.loads(text))
        except (ValueError, TypeError):
            _TEXT_REF[text] = None
    return _TEXT_REF[text]


def _ref_json(ref: DefaultRef) -> list[object]:
    return [ref.target, ref.full, ref.select, ref.via, ref.via_immediate, ref.depth,
            ref.joined_collection, ref.sync, ref.label, ref.node, ref.wildcard, ref.column_wildcards]


def _ref_from_json(data: list[Any]) -> DefaultRef:
    t, full, select, via, imm, depth, joined, sync, label, node, wildcard, column_wildcards = data
    return DefaultRef(t, tuple(full), tuple(select), tuple(via) if via else None, imm, depth,
                      joined, sync, label, _tuples(node), wildcard,
                      tuple((c[0], c[1]) for c in column_wildcards))


def _tuples(value: Any) -> Any:
    """JSON arrays back to the tuples a frozen option node is made of (hashable)."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


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
    """The state a type records; None for a plain model type (unknown origin) or a join of
    two states. A ``Default@`` type needs ``schema`` to be expanded."""
    proper = get_proper_type(typ)
    if schema is not None and default_info(proper) is not None:
        ref = type_to_ref(proper)
        return schema.expand(ref) if ref is not None else None
    if loaded_info(proper) is None or not isinstance(proper, Instance) or len(proper.args) != 1:
        return None
    arg = get_proper_type(proper.args[0])
    items = [get_proper_type(item) for item in arg.items] if isinstance(arg, UnionType) else [arg]
    states = []
    for item in items:
        state = decode_state(item.value) if isinstance(item, LiteralType) \
            and isinstance(item.value, str) else None
        if state is None:
            return None  # widened to the enum or to str: unknown
        states.append(state)
    return loadstate.intersect(states) if len(states) > 1 else states[0]
