"""Fit a narrowed statement type to what its context expects.

``Select`` is invariant, so ``stmt = stmt.options(...)`` would be an ``[assignment]`` error
whenever the new state differs from the variable's (inferred from its first assignment), and
``def q() -> Select[User]: return select(User)`` would fail too. Code that is clean without
the plugin must stay clean, so where the context names the same statement type:
  * a plain model in the context makes ours plain (unknown state);
  * a different loaded state makes each differing relationship unknown, and the two types
    equal (mypy compares ``Select``'s argument for equivalence).
"""

from __future__ import annotations

from mypy.maptype import map_instance_to_supertype
from mypy.nodes import COVARIANT
from mypy.subtypes import is_subtype
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    TupleType,
    Type,
    TypeOfAny,
    UninhabitedType,
    UnionType,
    get_proper_type,
)

from mypy_eagerload.core import loadstate
from mypy_eagerload.hooks.schema import default_info, loaded_info, model_info
from mypy_eagerload.hooks.types import encode_state, plain_type, type_to_state


def fit(ours: Type, expected: Type | None) -> Type:
    if expected is None:
        return ours
    o, e = get_proper_type(ours), get_proper_type(expected)
    if isinstance(o, Instance) and isinstance(e, Instance):
        if model_info(o) is not None and model_info(e) is not None:
            return _fit_entity(o, e)
        if o.type is e.type and len(o.args) == len(e.args):
            return o.copy_modified(args=[fit(a, b) for a, b in zip(o.args, e.args)])
        return ours
    if isinstance(o, TupleType) and isinstance(e, TupleType) and len(o.items) == len(e.items):
        return o.copy_modified(items=[fit(a, b) for a, b in zip(o.items, e.items)])
    return ours


def _stateful(typ: Instance) -> bool:
    return loaded_info(typ) is not None or default_info(typ) is not None


def _fit_entity(ours: Instance, expected: Instance) -> Type:
    if not _stateful(ours):
        return ours
    if not _stateful(expected):
        info = model_info(ours)
        return plain_type(info) if info is not None and model_info(expected) is info else ours
    if ours == expected:
        return ours
    if model_info(ours) is not model_info(expected):
        return ours
    ours_state, expected_state = type_to_state(ours), type_to_state(expected)
    literal = get_proper_type(ours.args[0]) if ours.args else None
    if ours.type is not expected.type or ours_state is None or expected_state is None \
            or not isinstance(literal, LiteralType):
        # Loaded@ against Default@ (options added to a plain select()), or a state already
        # lost: nothing to compare slot by slot, so the whole state becomes unknown.
        args: list[Type] = [AnyType(TypeOfAny.special_form)] * len(expected.args)
    else:
        fitted = loadstate.agreement(ours_state, expected_state)
        args = [LiteralType(encode_state(fitted), literal.fallback)]
    _widen(expected, args)
    return expected.copy_modified(args=args)


def _widen(expected: Instance, args: list[Type]) -> None:
    """The variable keeps the type of its first assignment, and mypy does not narrow an
    invariant ``Select[...]`` on reassignment, so reads after this one would still see the
    old state. The expected type is an instance our own hook created for this variable's
    statement (never a shared one): widen it in place, so every later read sees "unknown"
    where the two assignments disagree instead of a stale claim."""
    if args != list(expected.args):
        expected.args = tuple(args)
        expected._hash = -1


def fit_object(ours: Type, expected: Type | None, depth: int = 0) -> Type:
    """Fit a fetched or read object to a variable that already holds another state.

    ``user = <query 1>`` then ``user = <query 2>``: mypy keeps the variable's first type and
    would report an ``[assignment]`` error where the states differ. Where ours is not a
    subtype of it, return the variable's own type with ``Never`` as its state: a subtype
    (the argument is covariant) that claims nothing, read as unknown. After the branches
    merge the variable is back to its first state, whose claims hold for that branch; the
    other branch's claims are lost, never invented. Covariant containers and ``X | None``
    are fitted item by item; anything else is left to mypy."""
    if expected is None or depth > 4:
        return ours
    o, e = get_proper_type(ours), get_proper_type(expected)
    if isinstance(o, Instance) and isinstance(e, Instance):
        if _stateful(o) and _stateful(e) and model_info(o) is model_info(e) is not None:
            return ours if is_subtype(o, e) else e.copy_modified(args=[UninhabitedType()] * len(e.args))
        if not o.args or (o.type is not e.type and not o.type.has_base(e.type.fullname)) \
                or is_subtype(o, e):
            return ours
        # ``await session.get(...)``: the context is ``Awaitable[<variable's type>]``, ours a
        # ``Coroutine[...]``; fit the arguments that map onto the context's.
        mapped = map_instance_to_supertype(o, e.type)
        variances = [getattr(v, "variance", None) for v in e.type.defn.type_vars]
        args = list(o.args)
        for mine, theirs, variance in zip(mapped.args, e.args, variances):
            for i, arg in enumerate(o.args):
                if arg is mine and variance == COVARIANT:
                    args[i] = fit_object(arg, theirs, depth + 1)
        return o.copy_modified(args=args)
    if isinstance(o, UnionType) and isinstance(e, UnionType) and len(o.items) == len(e.items) \
            and not is_subtype(o, e):
        return UnionType.make_union([fit_object(a, b, depth + 1) for a, b in zip(o.items, e.items)])
    return ours
