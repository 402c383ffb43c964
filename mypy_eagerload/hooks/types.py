"""Load states to mypy types and back, invisibly.

A narrowed object's type is the plain model type, ``User``, exactly as mypy infers it; the
load state rides in ``Instance.extra_attrs`` under a key no attribute can have
(``STATE_KEY``). mypy ignores that field in subtyping, joins, messages and ``reveal_type``,
so its own output is the same with and without the plugin (issue 16; DESIGN-NOTES section
2). The field is only a hint that a value came from one of the plugin's producers by plain
propagation: mypy keeps a variable's first type on re-binding and picks one branch at
merges, so whoever decides a verdict asks ``hooks.flow`` which producers really reach.
The value is a ``Literal[str]``:
  * ``"L<json>"``: a ``State``: per slot loaded (with the target's own state, unknown, or a
    ref to build it from), not loaded (with the reason), or unknown (never reported);
  * ``"D<json>"``: a ``DefaultRef``, a loaded target whose state is not built yet (expanded
    when read).
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
    get_proper_type,
)
from mypy.typevars import fill_typevars_with_any

from mypy_eagerload.core import loadstate
from mypy_eagerload.core.loadstate import UNKNOWN, DefaultRef, Loaded, NotLoaded, Slot, State
from mypy_eagerload.hooks.schema import STATE_KEY, CheckerSchema, hint_of, with_extra_attr

_STATE, _REF = "L", "D"


def plain_type(info: TypeInfo) -> Instance:
    typ = fill_typevars_with_any(info)
    assert isinstance(typ, Instance)
    return typ


def with_hint(typ: Instance, hint: str | None, str_type: Instance) -> Instance:
    """``typ`` carrying ``hint`` (None: carrying none), a new instance."""
    return with_extra_attr(typ, STATE_KEY, None if hint is None else LiteralType(hint, str_type))


def state_hint(state: State) -> str:
    return _STATE + encode_state(state)


def ref_hint(ref: DefaultRef) -> str:
    return _REF + encode_ref(ref)


def state_to_type(api: CheckerPluginInterface, schema: CheckerSchema, state: State) -> Instance | None:
    """The model type carrying ``state``; None when the model is not in the build."""
    model = schema.info(state.model)
    if model is None:
        return None
    return with_hint(plain_type(model), state_hint(state), api.named_generic_type("builtins.str", []))


def default_to_type(api: CheckerPluginInterface, schema: CheckerSchema, ref: DefaultRef) -> Instance | None:
    """The target model type carrying ``ref`` (a loaded target, not built yet)."""
    target = schema.info(ref.target)
    if target is None:
        return None
    return with_hint(plain_type(target), ref_hint(ref), api.named_generic_type("builtins.str", []))


def decode_hint(hint: str, schema: CheckerSchema | None = None) -> State | None:
    """The state a hint records (a ref is expanded with ``schema``; None without one)."""
    if hint.startswith(_STATE):
        return decode_state(hint[1:])
    if hint.startswith(_REF) and schema is not None:
        ref = decode_ref(hint[1:])
        return schema.expand(ref) if ref is not None else None
    return None


def intersect_hints(hints: list[str], schema: CheckerSchema) -> str | None:
    """One hint for values that may hold any of ``hints`` (what all of them load)."""
    unique = sorted(set(hints))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    states = [decode_hint(h, schema) for h in unique]
    if any(s is None for s in states):
        return None
    return state_hint(loadstate.intersect([s for s in states if s is not None], schema))


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
            ref.joined_collection, ref.sync, ref.label, ref.node, ref.wildcard, ref.column_wildcards,
            ref.route]


def _ref_from_json(data: list[Any]) -> DefaultRef:
    t, full, select, via, imm, depth, joined, sync, label, node, wildcard, column_wildcards, route = data
    return DefaultRef(t, tuple(full), tuple(select), tuple(via) if via else None, imm, depth,
                      joined, sync, label, _tuples(node), wildcard,
                      tuple((c[0], c[1]) for c in column_wildcards), tuple((r[0], r[1]) for r in route))


def _tuples(value: Any) -> Any:
    """JSON arrays back to the tuples a frozen option node is made of (hashable)."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def type_to_ref(typ: Type) -> DefaultRef | None:
    """The ``DefaultRef`` a type carries, if its hint is one."""
    hint = hint_of(typ)
    return decode_ref(hint[1:]) if hint is not None and hint.startswith(_REF) else None


def type_to_state(typ: Type, schema: CheckerSchema | None = None) -> State | None:
    """The state a type carries; None for a plain model type (unknown origin). A ref needs
    ``schema`` to be expanded."""
    hint = hint_of(typ)
    return decode_hint(hint, schema) if hint is not None else None


def merge_states(items: list[Type]) -> list[Type]:
    """The items of a union, with the stateful ones of each model merged into one that
    carries the intersection of their states (``a if flag else b`` kept as a union)."""
    merged: list[Type] = []
    by_class: dict[str, int] = {}
    hints: dict[str, list[str]] = {}
    for item in items:
        proper = get_proper_type(item)
        hint = hint_of(proper)
        if isinstance(proper, Instance) and hint is not None:
            name = proper.type.fullname
            hints.setdefault(name, []).append(hint)
            if name in by_class:
                continue
            by_class[name] = len(merged)
        merged.append(item)
    for name, found in hints.items():
        if len(set(found)) > 1:
            first = get_proper_type(merged[by_class[name]])
            assert isinstance(first, Instance)
            combined = _intersect_texts(found)
            str_type = get_proper_type(first.extra_attrs.attrs[STATE_KEY]) if first.extra_attrs else None
            fallback = str_type.fallback if isinstance(str_type, LiteralType) else None
            merged[by_class[name]] = with_hint(first, combined, fallback) if fallback is not None \
                else first
    return merged


def _intersect_texts(hints: list[str]) -> str | None:
    """The intersection of plain states (a ref cannot be expanded here: unknown)."""
    states = [decode_state(h[1:]) if h.startswith(_STATE) else None for h in hints]
    if any(s is None for s in states):
        return None
    return state_hint(loadstate.intersect([s for s in states if s is not None]))
