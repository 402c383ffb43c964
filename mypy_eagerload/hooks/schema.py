"""The mapping as the type checker sees it: core ``Model``s built from ``TypeInfo``s.

Relationship declarations come from the metadata that ``hooks.models`` stored during
semantic analysis; targets and ``uselist`` come from the declared ``Mapped[...]`` types,
which are fully resolved by the time hooks in the checker run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Generic, TypeVar

from mypy.nodes import Decorator, SymbolTableNode, TypeInfo, Var
from mypy.plugin import CheckerPluginInterface
from mypy.types import (
    CallableType,
    ExtraAttrs,
    Instance,
    LiteralType,
    NoneType,
    ProperType,
    Type,
    UnionType,
    get_proper_type,
)

from mypy_eagerload import names
from mypy_eagerload.core import loadstate
from mypy_eagerload.core.loadstate import DefaultRef, Slot, State
from mypy_eagerload.core.options import Chain
from mypy_eagerload.core.schema import (
    MANY_TO_MANY,
    MANY_TO_ONE,
    ONE_TO_MANY,
    UNKNOWN_DIRECTION,
    Column,
    Model,
    Relationship,
)
from mypy_eagerload.hooks.declarations import Json
from mypy_eagerload.hooks.models import GENERATION, metadata

Lookup = Callable[[str], "SymbolTableNode | None"]

MAPPED_WRAPPERS = frozenset({names.MAPPED, names.WRITE_ONLY_MAPPED, names.DYNAMIC_MAPPED,
                             names.DECLARED_ATTR, "sqlalchemy.orm.base._MappedAnnotationBase"})
COLLECTIONS = frozenset({"builtins.list", "builtins.set", "builtins.frozenset", "typing.Sequence",
                         "typing.MutableSequence", "typing.Collection", "typing.AbstractSet",
                         "typing.MutableSet", "typing.Iterable"})


def model_info(typ: Type) -> TypeInfo | None:
    """The mapped class of a model type."""
    typ = get_proper_type(typ)
    return mapped_class(typ.type) if isinstance(typ, Instance) else None


def mapped_class(info: TypeInfo) -> TypeInfo | None:
    data = metadata(info)
    return info if data is not None and data.get("kind") == "model" else None


STATE_KEY = "<eagerload:state>"  # the hint's key in extra_attrs (see hooks.types)


def hint_of(typ: Type) -> str | None:
    """The encoded state a model type carries (``hooks.types``), if any."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or proper.extra_attrs is None:
        return None
    value = proper.extra_attrs.attrs.get(STATE_KEY)
    if value is None:
        return None
    value = get_proper_type(value)
    return value.value if isinstance(value, LiteralType) and isinstance(value.value, str) else None


def with_extra_attr(typ: Instance, key: str, value: Type | None) -> Instance:
    """A new ``typ`` with ``key`` set to ``value`` (removed with None) in its
    ``extra_attrs``. Always a new instance: mypy's union simplification erases inconsistent
    extra attributes in place, so a shared one could lose what it carries elsewhere."""
    attrs = dict(typ.extra_attrs.attrs) if typ.extra_attrs is not None else {}
    attrs.pop(key, None)
    if value is not None:
        attrs[key] = value
    new = typ.copy_modified()
    new.extra_attrs = ExtraAttrs(attrs, set(), None) if attrs else None
    return new


def loaded_info(typ: Type) -> TypeInfo | None:
    """The model of a type that carries a built state."""
    hint = hint_of(typ)
    proper = get_proper_type(typ)
    return proper.type if hint is not None and hint.startswith("L") and isinstance(proper, Instance) else None


def default_info(typ: Type) -> TypeInfo | None:
    """The model of a type that carries a ref (a state not built yet)."""
    hint = hint_of(typ)
    proper = get_proper_type(typ)
    return proper.type if hint is not None and hint.startswith("D") and isinstance(proper, Instance) else None


def relationship_type(owner: TypeInfo, name: str) -> Type | None:
    """The declared ``Mapped[...]`` (or ``declared_attr`` return) type of a relationship."""
    for cls in owner.mro:
        sym = cls.names.get(name)
        if sym is None:
            continue
        node = sym.node
        if isinstance(node, Var):
            return node.type
        if isinstance(node, Decorator):
            func_type = node.func.type  # a FunctionLike (proper) or None
            return func_type.ret_type if isinstance(func_type, CallableType) else None
        return None
    return None


def unwrap_relationship(typ: Type | None) -> tuple[Instance | None, bool]:
    """(target model instance, is a collection) from ``Mapped[list[Post]]`` and friends."""
    proper: ProperType | None = get_proper_type(typ)
    while isinstance(proper, Instance) and proper.type.fullname in MAPPED_WRAPPERS and proper.args:
        proper = get_proper_type(proper.args[0])
    uselist = False
    if isinstance(proper, Instance) and proper.type.fullname in COLLECTIONS and proper.args:
        uselist = True
        proper = get_proper_type(proper.args[0])
    if isinstance(proper, UnionType):
        items = [get_proper_type(i) for i in proper.items if not isinstance(get_proper_type(i), NoneType)]
        proper = items[0] if len(items) == 1 else None
    if isinstance(proper, Instance) and model_info(proper) is not None:
        return proper, uselist
    return None, uselist


class _Memoized:
    """Memoized computations a schema offers ``core.loadstate``, through ``_Memo`` with the
    schema itself (a hook's, or a computation's recorder) so that what they read is
    recorded where they are used."""

    def model(self, fullname: str) -> Model | None:
        raise NotImplementedError

    def direction(self, model: Model, rel: Relationship) -> str:
        raise NotImplementedError

    def consult(self, seen: dict[str, Model | None]) -> None:
        """Count models a memoized computation read as read here too (for dependencies),
        without looking them up again: ``_Memo.get`` has just found them current."""
        raise NotImplementedError

    def root_slots(self, model: Model, key: Hashable, compute: Callable[[_Recorder], object]) -> object:
        """``loadstate._root_slots``."""
        return _ROOT_SLOTS.get(self, (model.fullname, key), [model.fullname], compute)

    def joined_path(self, ref: DefaultRef) -> list[tuple[str, str]] | None:
        """``loadstate.joined_path_below``."""
        return _JOINED.get(self, ref, [ref.target], lambda schema: loadstate.joined_path_below(schema, ref))


class CheckerSchema(_Memoized):
    """Builds core ``Model``s on demand for one hook call (no state kept across calls)."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._bare_models: dict[str, Model | None] = {}
        self._literals: dict[str, LiteralType] = {}
        self._directions: dict[tuple[str, str], str] = {}
        self._str: Instance | None = None

    @property
    def lookup(self) -> Lookup:
        return self._lookup

    def literal(self, api: CheckerPluginInterface, value: str) -> LiteralType:
        """``Literal["value"]``, one object per value and hook call."""
        found = self._literals.get(value)
        if found is None:
            if self._str is None:
                self._str = api.named_generic_type("builtins.str", [])
            found = self._literals[value] = LiteralType(value, self._str)
        return found

    def info(self, fullname: str) -> TypeInfo | None:
        sym = self._lookup(fullname)
        return sym.node if sym is not None and isinstance(sym.node, TypeInfo) else None

    def model(self, fullname: str) -> Model | None:
        """The model; relationship directions are worked out on demand (``direction``),
        since they need each target's mapping and most checks never ask."""
        return self._bare(fullname)

    def model_of(self, info: TypeInfo) -> Model | None:
        """``model(info.fullname)`` for a class already in hand (no lookup)."""
        if info.fullname not in self._bare_models:
            self._bare_models[info.fullname] = _memoized_build(info)
        return self._bare_models[info.fullname]

    def consult(self, seen: dict[str, Model | None]) -> None:
        for name, model in seen.items():
            self._bare_models.setdefault(name, model)

    def direction(self, model: Model, rel: Relationship) -> str:
        key = (model.fullname, rel.name)
        found = self._directions.get(key)
        if found is None:
            info = self.info(model.fullname)
            data = (metadata(info) if info is not None else None) or {}
            found = self._directions[key] = _with_direction(self, data, rel).direction
        return found

    def _bare(self, fullname: str) -> Model | None:
        """The model without relationship directions (those need the targets' models)."""
        if fullname not in self._bare_models:
            info = self.info(fullname)
            self._bare_models[fullname] = _memoized_build(info) if info is not None else None
        return self._bare_models[fullname]

    def default_state(self, model: Model) -> State:
        """``loadstate.default_state``, memoized (see ``_Memo``)."""
        return _DEFAULTS.get(self, model.fullname, [model.fullname],
                             lambda schema: loadstate.default_state(schema, model))

    def expand(self, ref: DefaultRef) -> State | None:
        """``loadstate.expand``, memoized (see ``_Memo``)."""
        return _EXPANDED.get(self, ref, [], lambda schema: loadstate.expand(schema, ref))

    def expand_slot(self, ref: DefaultRef, name: str) -> Slot:
        """``loadstate.expand_slot``, memoized (see ``_Memo``): a read builds one slot."""
        return _SLOTS.get(self, (ref, name), [ref.target],
                          lambda schema: loadstate.expand_slot(schema, ref, name))

    def with_options(self, model: Model, chains: tuple[Chain, ...]) -> State:
        """``loadstate.state_with_options``, memoized (see ``_Memo``): the same options recur
        across a code base (repository calls, shared option constants)."""
        return _WITH_OPTIONS.get(self, (model.fullname, chains), [model.fullname],
                                 lambda schema: loadstate.state_with_options(schema, model, chains))

    def consulted(self) -> list[str]:
        """The models whose mapping this schema has read (for dependencies)."""
        return [name for name, model in self._bare_models.items() if model is not None]



# Building a Model reads the class's metadata and its relationships' declared types; every
# hook needs it, so rebuilding it per call dominated the plugin's cost. The memo is checked
# against its inputs on each use, by identity: the TypeInfo, its metadata record (semantic
# analysis writes a new one whenever the class is analysed again) and each relationship's
# declared type object. Any change, in any mode (dmypy included), rebuilds; the result is
# what a fresh build would give, so this is a cache, not state.
# Each entry ends with the mapping generation it was last checked in (see hooks.models).
_MEMO: dict[int, tuple[TypeInfo, object, tuple[Type | None, ...], Model | None, int]] = {}


class _Recorder(_Memoized):
    """A schema that remembers which models a computation read. Nested computations (a
    memo used inside another's) read through the hook's own schema directly; ``_Memo.get``
    hands what an inner one read to the outer recorder when it is done."""

    def __init__(self, schema: _Memoized) -> None:
        self.schema: _Memoized = schema.schema if isinstance(schema, _Recorder) else schema
        self.seen: dict[str, Model | None] = {}

    def model(self, fullname: str) -> Model | None:
        found = self.schema.model(fullname)
        self.seen[fullname] = found
        return found

    def direction(self, model: Model, rel: Relationship) -> str:
        if rel.target:
            self.model(rel.target)  # the answer depends on the target's mapping
        return self.schema.direction(model, rel)

    def consult(self, seen: dict[str, Model | None]) -> None:
        self.seen.update(seen)
        self.schema.consult(seen)


K = TypeVar("K")
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """Results of a computation over the mapping, keyed by its other inputs.

    An entry is valid while every model the computation read (recorded through a
    ``_Recorder``, plus the ``seed`` names: the models it was asked about) is the same
    memoized ``Model`` object. Within the mapping generation it was last checked in (see
    ``hooks.models.GENERATION``) only the seeds are compared. A hit still registers the
    models with the calling schema, for dependencies."""

    def __init__(self) -> None:
        self._table: dict[K, tuple[dict[str, Model | None], V, int]] = {}

    def get(self, schema: _Memoized, key: K, seed: list[str],
            compute: Callable[[_Recorder], V]) -> V:
        hit = self._table.get(key)
        if hit is not None and all(hit[0].get(n) is schema.model(n) for n in seed):
            if hit[2] == GENERATION[0]:
                schema.consult(hit[0])  # for dependencies
                return hit[1]
            if all(schema.model(n) is m for n, m in hit[0].items()):  # consulted as well
                self._table[key] = (hit[0], hit[1], GENERATION[0])
                return hit[1]
        recorder = _Recorder(schema)
        for name in seed:
            recorder.model(name)
        value = compute(recorder)
        self._table[key] = (recorder.seen, value, GENERATION[0])
        schema.consult(recorder.seen)  # an enclosing computation read them too
        return value


_DEFAULTS: _Memo[str, State] = _Memo()
_EXPANDED: _Memo[DefaultRef, State | None] = _Memo()
_WITH_OPTIONS: _Memo[tuple[str, tuple[Chain, ...]], State] = _Memo()
_ROOT_SLOTS: _Memo[tuple[str, Hashable], object] = _Memo()
_JOINED: _Memo[DefaultRef, list[tuple[str, str]] | None] = _Memo()
_SLOTS: _Memo[tuple[DefaultRef, str], Slot] = _Memo()


def _memoized_build(info: TypeInfo) -> Model | None:
    data = metadata(info)
    hit = _MEMO.get(id(info))
    if hit is not None and hit[0] is info and hit[1] is data and hit[4] == GENERATION[0]:
        return hit[3]
    types = tuple(relationship_type(info, slot) for slot in (data or {}).get("slots", ()))
    if (hit is not None and hit[0] is info and hit[1] is data
            and len(hit[2]) == len(types) and all(a is b for a, b in zip(hit[2], types))):
        _MEMO[id(info)] = (*hit[:4], GENERATION[0])
        return hit[3]
    model = _build(info)
    _MEMO[id(info)] = (info, data, types, model, GENERATION[0])
    return model


def _build(info: TypeInfo) -> Model | None:
    data = metadata(info)
    if data is None or data.get("kind") != "model":
        return None
    records = {rel["name"]: rel for rel in data["rels"]}
    rels = []
    for slot in data["slots"]:
        rec = records[slot]
        target, uselist = unwrap_relationship(relationship_type(info, slot))
        if rec.get("uselist") is not None:
            uselist = bool(rec["uselist"])
        rels.append(Relationship(
            name=slot,
            owner=rec.get("owner", info.fullname),
            target=target.type.fullname if target is not None else "",
            uselist=uselist,
            lazy=rec["lazy"],
            back_populates=rec.get("back_populates"),
            join_depth=rec.get("join_depth"),
            direction=UNKNOWN_DIRECTION,
        ))
    columns = tuple(Column(name=c["name"], deferred=bool(c.get("deferred")),
                           raiseload=bool(c.get("raiseload")), group=c.get("group"),
                           fk_tables=tuple(c.get("fks", ())))
                    for c in data.get("columns", ()))
    return Model(info.fullname, tuple(rels), tuple(data.get("bases", ())), columns, data.get("table"),
                 tuple(data.get("plain", ())))


def _with_direction(schema: CheckerSchema, data: Json, rel: Relationship) -> Relationship:
    target_info = schema.info(rel.target) if rel.target else None
    target_data = (metadata(target_info) if target_info is not None else None) or {}
    partner = _partner(schema, rel)
    if rel.uselist:
        direction = MANY_TO_MANY if partner is not None and partner.uselist else ONE_TO_MANY
    elif partner is not None and partner.uselist:
        direction = MANY_TO_ONE
    else:
        mine = target_data.get("table") in data.get("own_fks", [])
        theirs = data.get("table") in target_data.get("own_fks", [])
        direction = MANY_TO_ONE if mine and not theirs else UNKNOWN_DIRECTION
    return replace(rel, direction=direction)


def _partner(schema: CheckerSchema, rel: Relationship) -> Relationship | None:
    target = schema._bare(rel.target) if rel.target else None
    if target is None:
        return None
    for other in target.relationships:
        if other.name == rel.back_populates or other.back_populates == rel.name:
            return other
    return None
