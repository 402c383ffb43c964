"""What a statement loads: the load-state tree of each entity it returns.

The rules mirror SQLAlchemy 2.x (``sqlalchemy/orm/strategies.py``):

* An explicit option for a path always applies; a wildcard (``raiseload("*")``) applies to
  every relationship at its level that no explicit option names, eager defaults included.
* A relationship's own ``lazy=`` strategy applies otherwise, but an eager default is skipped
  when its target mapper already appears in the loader path (``Mapper.isa``), unless the
  relationship sets ``join_depth`` (then the path length decides). For ``joined`` the path is
  the current SELECT's (it restarts inside selectin/subquery/immediate sub-queries); for the
  other eager strategies it is the whole path from the statement's root.
* A skipped or lazy many-to-one that points back at the object it was loaded through is
  found in the identity map without SQL (``use_get``), so reading it works, unless its
  strategy is ``raise``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Union

from mypy_eagerload.core import options as opt
from mypy_eagerload.core.schema import EAGER_STRATEGIES, MANY_TO_ONE, Model, Relationship, Schema, direction

# Deeper than any real option chain; guards against pathological schemas.
MAX_DEPTH = 16
# How many hops what a sync lazy load brings back is followed (see ``_lazy_loaded``).
SYNC_EXPANSION = 2


Route = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DefaultRef:
    """A loaded subtree not built yet: the inputs of SQLAlchemy's path-dependent rules
    (cycles, back-references) and of the options that reach below it (``node``, the
    wildcards in force). It is expanded one level at a time, when something reads it: the
    tree of eager defaults grows exponentially with the relationships per model, and most
    option paths are never read past their first level; the reads do not grow."""

    target: str
    full: tuple[str, ...]  # every entity from the statement's root
    select: tuple[str, ...]  # the entities of the SELECT it is loaded by
    via: tuple[str, str] | None  # (model, relationship) that reached it
    via_immediate: bool
    depth: int
    joined_collection: bool  # a joined-eager collection in the root's SELECT (unique())
    sync: bool = False  # seen by a sync session (``sync_view``)
    label: str = ""  # prefix for the reasons inside (strict mode)
    node: FrozenNode | None = None  # the options below it (``freeze``); None: no option
    wildcard: str | None = None  # the statement-level wildcard in force below it
    column_wildcards: tuple[tuple[str, str], ...] = ()
    # The relationships from the statement's root to here, each with the strategy of the
    # option that named it ("" when none did): what a fix note extends (``full`` has the
    # entities).
    route: Route = ()

    @property
    def in_root_select(self) -> bool:
        return self.select == self.full


@dataclass(frozen=True, slots=True)
class Loaded:
    """The relationship is loaded; ``state`` is the target's own state, None if unknown or
    if ``default`` (a lazily expanded subtree) says what it is."""

    state: State | None
    default: DefaultRef | None = None


@dataclass(frozen=True, slots=True)
class NotLoaded:
    """Reading the relationship would emit SQL or raise. ``reason`` is for messages."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """The plugin cannot tell: never reported."""


UNKNOWN = Unknown()
Slot = Union[Loaded, NotLoaded, Unknown]  # noqa: UP007 (a runtime alias on Python 3.10)


# Unloaded columns as (name, reason) pairs, sorted; None when the plugin cannot tell.
Columns = Union[tuple[tuple[str, str], ...], None]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class State:
    model: str
    slots: tuple[tuple[str, Slot], ...]
    columns: Columns = ()
    # Reached by a joined eager load of a collection in the statement's own SELECT: its rows
    # repeat the parent's, so fetching them needs Result.unique().
    joined_collection: bool = False

    def column_reason(self, name: str) -> str | None:
        """Why column ``name`` is not loaded; None if it is (or the state cannot tell)."""
        for key, reason in self.columns or ():
            if key == name:
                return reason
        return None

    def slot(self, name: str) -> Slot:
        for key, value in self.slots:
            if key == name:
                return value
        return UNKNOWN

    @property
    def slot_map(self) -> dict[str, Slot]:
        return dict(self.slots)


def intersect(states: list[State], schema: Schema | None = None, depth: int = 0) -> State:
    """What holds for an object that may come from any of ``states`` (a join of types):
    a relationship is loaded only where every state loads it. One that some state leaves
    unloaded is not loaded (with the reason when every state gives that same one); one
    that any state cannot tell about is unknown."""
    first = states[0]
    if all(state == first for state in states[1:]):
        return first
    slots = []
    for name, _ in first.slots:
        found = [state.slot(name) for state in states]
        slots.append((name, _intersect_slot(found, schema, depth)))
    columns: Columns = None
    if all(state.columns is not None for state in states):
        merged = {name: reason for state in states for name, reason in state.columns or ()}
        columns = tuple(sorted(merged.items()))
    return State(first.model, tuple(slots), columns, any(s.joined_collection for s in states))


_INTERSECT_DEPTH = 4  # below this, targets loaded in every state are "loaded, unknown below"


def _intersect_slot(found: list[Slot], schema: Schema | None = None, depth: int = 0) -> Slot:
    if all(slot == found[0] for slot in found[1:]):
        return found[0]
    if any(isinstance(slot, Unknown) for slot in found):
        return UNKNOWN
    reasons = {slot.reason if isinstance(slot, NotLoaded) else None for slot in found}
    if reasons != {None}:
        # One reason when every state gives it; "" (some query does not load it) otherwise.
        return NotLoaded((reasons.pop() or "") if len(reasons) == 1 else "")
    # Loaded everywhere: what is below, where each state says (a ref is built, given a schema).
    below = [slot.state if slot.default is None else
             expand(schema, slot.default) if schema is not None and depth < _INTERSECT_DEPTH else None
             for slot in found if isinstance(slot, Loaded)]
    if len(below) == len(found) and all(state is not None for state in below):
        return Loaded(intersect([state for state in below if state is not None], schema, depth + 1))
    return Loaded(None)  # loaded everywhere, described differently below: unknown below


# Reasons, as shown in messages and carried in types.
def default_reason(lazy: str) -> str:
    return f"lazy={lazy}"


CYCLE_PREFIX = "cycle:"
# Label of what a sync Session fetched under allow_lazy_loads = "never" (held to the async
# rules): the message then says what happens there, an extra query, not a failure.
SYNC_STRICT_PREFIX = "sync:"
WITH_SUBOPTIONS = "+"  # reason suffix: the lazy path has options below it
OPTION_REASONS = {opt.LAZY: "lazyload()", opt.RAISE: "raiseload()",
                  opt.RAISE_ON_SQL: "raiseload(sql_only=True)"}


# ---------------------------------------------------------------------------------------
# Option tries


@dataclass(slots=True)
class _Node:
    strategy: str | None = None
    wildcard: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    unknown: bool = False  # the option addressing this node could not be understood
    columns: list[tuple[str, str]] = field(default_factory=list)  # (column op, attr), in order
    # A statement-level wildcard (``raiseload("*")`` not bound to a path or ``Load``): it
    # reaches every level of the tree, not just the root's (only set on the root node).
    propagating: str | None = None
    propagating_columns: list[tuple[str, str]] = field(default_factory=list)  # the same, for columns
    recursion: str = ""  # a level of ``selectinload(..., recursion_depth=N)``: N


def _chain_applies(chain: opt.Chain, root: Model) -> bool:
    for step in chain:
        if step.entity is None:
            return True  # a bare wildcard applies to every root entity
        return root.isa(step.entity)
    return False


def build_trie(chains: Iterable[opt.Chain], root: Model) -> _Node:
    top = _Node()
    for chain in chains:
        if not _chain_applies(chain, root):
            continue
        node = top
        recursive = chain[-2] if len(chain) > 1 and chain[-1].strategy == opt.RECURSION else None
        if _is_unbound_wildcard(chain):
            top.propagating = chain[0].strategy
        if _is_unbound_column_wildcard(chain):
            top.propagating_columns.append((chain[0].strategy, chain[0].attr))
        for step in chain:
            if step.strategy == opt.ROOT:
                continue
            if step.strategy == opt.RECURSION:
                break  # the end of a recursion's levels
            if opt.is_column_step(step):
                node.columns.append((step.strategy, step.attr))  # the path does not advance
                continue
            if step.attr == opt.WILDCARD:
                if step.strategy != opt.DEFAULT:
                    node.wildcard = step.strategy
                break
            node = node.children.setdefault(step.attr, _Node())
            if step.strategy != opt.DEFAULT:
                node.strategy = step.strategy
            if step == recursive:
                node.recursion = chain[-1].attr
    return top


def _is_unbound_wildcard(chain: opt.Chain) -> bool:
    return (len(chain) == 1 and chain[0].entity is None and chain[0].attr == opt.WILDCARD
            and chain[0].strategy != opt.DEFAULT and not opt.is_column_step(chain[0]))


def _is_unbound_column_wildcard(chain: opt.Chain) -> bool:
    """``defer("*")``/``undefer("*")``/``undefer_group("g")`` as options of their own."""
    return len(chain) == 1 and chain[0].entity is None and opt.is_column_step(chain[0])


# ---------------------------------------------------------------------------------------
# Building states


@dataclass(frozen=True, slots=True)
class _Path:
    full: tuple[str, ...]  # every entity from the statement's root
    select: tuple[str, ...]  # entities of the current SELECT (joined loading)
    via: tuple[Model, Relationship] | None = None  # the hop that reached this entity
    # The statement-level wildcard in force here. SQLAlchemy re-applies it at each level of
    # the same SELECT and inside selectin/subquery sub-queries, but an immediateload runs
    # like a lazy load, which does not carry wildcards: below one, it no longer applies.
    wildcard: str | None = None
    column_wildcards: tuple[tuple[str, str], ...] = ()  # likewise for defer("*") and friends
    # Reached through an immediateload: SQLAlchemy then sets the reverse many-to-one to
    # lazyload itself (a wildcard does not touch it; another option on it conflicts).
    via_immediate: bool = False
    route: Route = ()  # as in ``DefaultRef``

    def hop(self, rel: Relationship, node: _Node | None) -> Route:
        """The route one relationship further, with the strategy an option gave it."""
        if node is None:
            return self.route + ((rel.name, ""),)
        mark = opt.RECURSIVE_MARK + node.recursion if node.recursion else ""
        return self.route + ((rel.name, (node.strategy or "") + mark),)


def _in_path(schema: Schema, entities: tuple[str, ...], target: str) -> bool:
    if target in entities:
        return True  # without reading any mapping
    for name in entities:
        model = schema.model(name)
        if name == target or (model is not None and model.isa(target)):
            return True
    return False


def _is_backref_to_parent(schema: Schema, model: Model, rel: Relationship, path: _Path) -> bool:
    if path.via is None:
        return False
    parent, parent_rel = path.via
    if not (rel.back_populates == parent_rel.name or parent_rel.back_populates == rel.name):
        return False
    return parent.isa(rel.target) and direction(schema, model, rel) == MANY_TO_ONE


def _not_loaded(schema: Schema, model: Model, rel: Relationship, strategy: str, reason: str,
                path: _Path, columns: Columns) -> Slot:
    # The parent is in the identity map: no SQL, if the foreign key is there to find it
    # (load_only() and defer() can leave it out).
    if strategy in (opt.LAZY, opt.RAISE_ON_SQL) and _is_backref_to_parent(schema, model, rel, path):
        fk_unloaded = _fk_unloaded(model, rel, columns, schema)
        if fk_unloaded is None:
            return UNKNOWN
        if not fk_unloaded:
            return Loaded(None)
    return NotLoaded(reason)


def _fk_unloaded(model: Model, rel: Relationship, columns: Columns, schema: Schema) -> bool | None:
    """Whether a column holding ``rel``'s foreign key is unloaded; None if unknown."""
    if columns is None:
        return None
    target = schema.model(rel.target)
    unloaded = {name for name, _ in columns}
    return any(col.name in unloaded and (target is None or target.table in col.fk_tables)
               for col in model.columns)


def _slot_for(schema: Schema, model: Model, rel: Relationship, node: _Node | None,
              path: _Path, depth: int, columns: Columns) -> Slot:
    child = node.children.get(rel.name) if node is not None else None
    if child is not None and child.unknown:
        return UNKNOWN
    if path.via_immediate and _is_backref_to_parent(schema, model, rel, path):
        return Loaded(None)  # measured: readable, whatever a wildcard says
    strategy, reason, declared = _strategy(rel, node, path.wildcard)
    if declared and strategy in EAGER_STRATEGIES:  # defaultload() paths too (measured)
        entities = path.select if strategy == opt.JOINED else path.full
        skipped = (len(entities) > rel.join_depth if rel.join_depth
                   else _in_path(schema, entities, rel.target))
        if skipped:
            return _not_loaded(schema, model, rel, opt.LAZY, CYCLE_PREFIX + reason, path, columns)
    if strategy == opt.NOLOAD:
        return Loaded(None)  # reads give an empty collection / None, never SQL
    if strategy not in opt.LOADING and strategy not in EAGER_STRATEGIES:
        slot = _not_loaded(schema, model, rel, strategy, reason, path, columns)
        if isinstance(slot, NotLoaded) and child is not None and (
                child.children or child.wildcard or child.columns):
            # Options below a lazy path apply when a sync session loads it (measured); the
            # state does not keep them, so the sync view must not guess what they did.
            return NotLoaded(slot.reason + WITH_SUBOPTIONS)
        return slot
    if not rel.target or depth >= MAX_DEPTH:
        return Loaded(None)
    if _is_backref_to_parent(schema, model, rel, path):
        return Loaded(None)  # the parent identity: it may carry more than this path loads
    same_select = strategy in opt.SAME_SELECT
    child_path = _Path(
        full=path.full + (rel.target,),
        select=(path.select if same_select else ()) + (rel.target,),
        via=(model, rel),
        wildcard=None if strategy == opt.IMMEDIATE else path.wildcard,
        column_wildcards=() if strategy == opt.IMMEDIATE else path.column_wildcards,
        via_immediate=strategy == opt.IMMEDIATE,
        route=path.hop(rel, child),
    )
    joined = same_select and rel.uselist and path.select == path.full
    # Built when read (``expand``), with the target's mapping: most are never read.
    below = freeze(child) if child is not None and not _empty_below(child) else None
    return Loaded(None, DefaultRef(rel.target, child_path.full, child_path.select,
                                   (model.fullname, rel.name), child_path.via_immediate, depth + 1,
                                   joined, node=below, wildcard=child_path.wildcard,
                                   column_wildcards=child_path.column_wildcards,
                                   route=child_path.route))


def _strategy(rel: Relationship, node: _Node | None, wildcard: str | None) -> tuple[str, str, bool]:
    """(strategy, reason, whether it is the declared one) a slot starts from, before cycles
    and back-references: an option on the path, else a wildcard (this level's, else the
    statement's), else the relationship's ``lazy=``."""
    child = node.children.get(rel.name) if node is not None else None
    if child is not None and child.strategy is not None:
        return child.strategy, OPTION_REASONS.get(child.strategy, ""), False
    if node is not None and node.wildcard is not None:
        wildcard = node.wildcard
    if wildcard is not None:
        return wildcard, OPTION_REASONS.get(wildcard, "").replace("()", "('*')"), False
    return rel.lazy, default_reason(rel.lazy), True


def _empty_below(node: _Node | None) -> bool:
    """No option reaches below this node: what is under it is the target's defaults."""
    return node is None or not (node.children or node.wildcard or node.columns or node.unknown)


# An option subtree as plain tuples, so a ``DefaultRef`` stays hashable and encodable:
# (strategy, wildcard, unknown, columns, children as (name, node) pairs).
FrozenNode = tuple[
    Union[str, None], Union[str, None], bool, tuple[tuple[str, str], ...],  # noqa: UP007 (runtime alias)
    tuple[tuple[str, "FrozenNode"], ...],
]


def freeze(node: _Node) -> FrozenNode:
    return (node.strategy, node.wildcard, node.unknown, tuple(node.columns),
            tuple((name, freeze(child)) for name, child in node.children.items()))


def thaw(frozen: FrozenNode | None) -> _Node | None:
    if frozen is None:
        return None
    strategy, wildcard, unknown, columns, children = frozen
    return _Node(strategy=strategy, wildcard=wildcard, unknown=unknown, columns=list(columns),
                 children={name: _thawed(child) for name, child in children})


def _thawed(frozen: FrozenNode) -> _Node:
    node = thaw(frozen)
    assert node is not None
    return node


def root_ref(model: Model) -> DefaultRef:
    """``select(Model)`` with no options: the model's defaults from the statement's root."""
    return DefaultRef(model.fullname, (model.fullname,), (model.fullname,), None, False, 0, False)


def expand(schema: Schema, ref: DefaultRef) -> State | None:
    """The state a ``DefaultRef`` stands for (its slots may be lazy again)."""
    model = schema.model(ref.target)
    if model is None:
        return None
    state = _build(schema, model, thaw(ref.node), _ref_path(schema, ref), ref.depth)
    if ref.joined_collection:
        state = replace(state, joined_collection=True)
    if ref.sync:
        state = sync_view(schema, state)
    if ref.label:
        state = relabel(state, ref.label)
    return state


def expand_slot(schema: Schema, ref: DefaultRef, name: str) -> Slot:
    """``expand(schema, ref).slot(name)``, building only that slot (a read needs no more)."""
    model = schema.model(ref.target)
    rel = model.relationship(name) if model is not None else None
    if model is None or rel is None:
        return UNKNOWN
    node, path = thaw(ref.node), _ref_path(schema, ref)
    columns = _level_columns(model, node, path)
    shared = _root_slots(schema, model, node, path, ref.depth, columns)
    slot = _level_slot(schema, model, rel, node, path, ref.depth, columns, shared)
    if ref.sync:
        slot = _sync_slot(schema, rel, slot)
    return _relabel_slot(slot, ref.label) if ref.label else slot


def ref_columns(schema: Schema, ref: DefaultRef) -> Columns:
    """``expand(schema, ref).columns``, without building the slots."""
    model = schema.model(ref.target)
    if model is None:
        return None
    columns = _level_columns(model, thaw(ref.node), _ref_path(schema, ref))
    return _relabel_columns(_sync_columns(columns) if ref.sync else columns, ref.label)


def _ref_path(schema: Schema, ref: DefaultRef) -> _Path:
    via = None
    if ref.via is not None:
        owner = schema.model(ref.via[0])
        rel = owner.relationship(ref.via[1]) if owner is not None else None
        via = (owner, rel) if owner is not None and rel is not None else None
    return _Path(ref.full, ref.select, via, ref.wildcard, ref.column_wildcards, ref.via_immediate,
                 ref.route)


def refreshed(schema: Schema, state: State, model: Model, names: Iterable[str]) -> State | None:
    """The state after ``session.refresh(obj, names)``: each named column is loaded, and each
    named relationship is loaded, with what lies below it unknown (measured: a
    ``lazy="raise"`` relationship of the objects it brings still raises). None when a name is
    not the model's (refresh raises).

    SQLAlchemy loads a named lazy relationship with the immediate loader, whose cycle rule
    (``_setup_for_recursion``) skips SQL when the target's mapper is already in the path
    (a self-referential ``Node.parent``) unless ``join_depth`` is set: then only the
    identity map can fill it (measured unloaded on 2.0 and 2.1), so the plugin cannot tell."""
    wanted = set(names)
    known = {r.name for r in model.relationships} | {c.name for c in model.columns} | set(model.plain_columns)
    if not wanted <= known:
        return None

    def after(rel: Relationship) -> Slot:
        if rel.lazy in EAGER_STRATEGIES:
            return Loaded(None)
        if rel.lazy in ("select", "raise", "raise_on_sql") and not (
                rel.join_depth is None and _in_path(schema, (model.fullname,), rel.target)):
            return Loaded(None)
        return UNKNOWN

    rels = {r.name: r for r in model.relationships if r.name in wanted}
    present = {key for key, _ in state.slots}
    slots = tuple((key, after(rels[key]) if key in rels else value) for key, value in state.slots) + tuple(
        (name, after(rel)) for name, rel in rels.items() if name not in present)
    columns = None if state.columns is None else tuple(c for c in state.columns if c[0] not in wanted)
    return replace(state, slots=slots, columns=columns)


def resolve(schema: Schema, slot: Loaded) -> State | None:
    """A loaded slot's target state: explicit, expanded from its ``DefaultRef`` (through the
    schema's memo when it has one), or None when unknown."""
    if slot.default is None:
        return slot.state
    cached = getattr(schema, "expand", None)
    return cached(slot.default) if cached is not None else expand(schema, slot.default)


def relabel(state: State, prefix: str) -> State:
    """The same state with ``prefix`` before every reason, its columns' too (strict mode, a
    sync session held to the async rules: the message says why)."""
    return State(state.model, tuple((n, _relabel_slot(v, prefix)) for n, v in state.slots),
                 _relabel_columns(state.columns, prefix), state.joined_collection)


def _relabel_columns(columns: Columns, prefix: str) -> Columns:
    if columns is None or not prefix:
        return columns
    return tuple((name, prefix + reason) for name, reason in columns)


def _relabel_slot(value: Slot, prefix: str) -> Slot:
    if isinstance(value, NotLoaded):
        return NotLoaded(prefix + value.reason)
    if isinstance(value, Loaded) and value.default is not None:
        return Loaded(None, replace(value.default, label=prefix + value.default.label))
    if isinstance(value, Loaded) and value.state is not None:
        return Loaded(relabel(value.state, prefix))
    return value


def _level_columns(model: Model, node: _Node | None, path: _Path) -> Columns:
    # The statement-level column wildcards reach this level unless it has options of its own
    # at the root (where they are among the node's own options already).
    inherited = list(path.column_wildcards) if len(path.full) > 1 else []
    return apply_column_ops(model, default_columns(model), inherited + (node.columns if node else []))


def _build(schema: Schema, model: Model, node: _Node | None, path: _Path, depth: int) -> State:
    columns = _level_columns(model, node, path)
    shared = _root_slots(schema, model, node, path, depth, columns)
    return State(model.fullname, tuple(
        (rel.name, _level_slot(schema, model, rel, node, path, depth, columns, shared))
        for rel in model.relationships), columns)


def _level_slot(schema: Schema, model: Model, rel: Relationship, node: _Node | None, path: _Path,
                depth: int, columns: Columns, shared: dict[str, Slot] | None) -> Slot:
    """One slot of a level: from the shared root slots when no option names it."""
    if shared is not None and (node is None or rel.name not in node.children):
        return shared[rel.name]
    return _slot_for(schema, model, rel, node, path, depth, columns)


def _root_slots(schema: Schema, model: Model, node: _Node | None, path: _Path, depth: int,
                columns: Columns) -> dict[str, Slot] | None:
    """At a statement's root, a relationship no option names gets a slot that depends only
    on the model and the wildcards in force (no parent: the columns do not matter either),
    the same for every statement with those. A schema that can memoize (``root_slots``)
    computes them once; the others, and every other level, build each slot."""
    memo = getattr(schema, "root_slots", None)
    if memo is None or depth != 0 or path.via is not None:
        return None
    bare = _Node(wildcard=node.wildcard if node is not None else None)
    key = (bare.wildcard, path)

    def compute(recorder: Schema) -> dict[str, Slot]:
        return {rel.name: _slot_for(recorder, model, rel, bare, path, 0, columns)
                for rel in model.relationships}

    found: dict[str, Slot] = memo(model, key, compute)
    return found


# ---------------------------------------------------------------------------------------
# Columns

COLUMN_DEFAULT = "deferred"
COLUMN_DEFAULT_RAISE = "deferred_raiseload"


def default_columns(model: Model) -> Columns:
    return tuple(sorted((col.name, COLUMN_DEFAULT_RAISE if col.raiseload else COLUMN_DEFAULT)
                        for col in model.columns if col.deferred))


def apply_column_ops(model: Model, columns: Columns, ops: Iterable[tuple[str, str]],
                     merging: bool = False) -> Columns:
    """The columns after load_only/defer/undefer/undefer_group at one level.

    SQLAlchemy ranks them, not their order: an option naming a column beats a wildcard
    (load_only() is "undefer these, defer ``*``"; ``defer("*")``, ``undefer("*")``), which
    beats undefer_group(), which beats the declaration. ``merging`` is for a later
    ``.options()`` call: the state no longer tells which columns an earlier option named,
    so a new wildcard makes the result unknown unless nothing was changed before.
    """
    ops = list(ops)
    if columns is None or not ops:
        return columns
    explicit: dict[str, str | None] = {}  # column -> reason it is unloaded, None if loaded
    wildcard: tuple[str | None] | None = None
    groups: set[str] = set()
    for op, attr in ops:
        kind, _, flag = op.partition("+")
        reason = f"{kind}(raiseload=True)" if flag else f"{kind}()"
        if attr == opt.UNKNOWN_COLUMN:
            return None
        if kind == opt.UNDEFER_GROUP:
            groups.add(attr)
            continue
        loaded = kind in (opt.UNDEFER, opt.LOAD_ONLY)
        if attr == opt.WILDCARD:
            wildcard = (None if kind == opt.UNDEFER else reason,)
            continue
        for name in filter(None, attr.split(",")):
            explicit[name] = None if loaded else reason
        if kind == opt.LOAD_ONLY:
            wildcard = (reason,)
    if wildcard is not None and (groups or (merging and columns != default_columns(model))):
        return None  # how a group or an earlier option meets the wildcard: not modelled
    unloaded = dict(columns)
    for col in model.columns:
        if col.name in explicit:
            state = explicit[col.name]
        elif wildcard is not None:
            state = wildcard[0]
        elif col.group in groups or opt.WILDCARD in groups:
            state = None
        else:
            continue
        if state is None:
            unloaded.pop(col.name, None)
        else:
            unloaded[col.name] = state
    return tuple(sorted(unloaded.items()))


def default_state(schema: Schema, model: Model) -> State:
    """The state of ``select(Model)``: only the model's eager defaults."""
    return _build(schema, model, None, _Path((model.fullname,), (model.fullname,)), 0)


def state_with_options(schema: Schema, model: Model, chains: Iterable[opt.Chain]) -> State:
    trie = build_trie(chains, model)
    return _build(schema, model, trie, _root_path(model, trie), 0)


def _root_path(model: Model, trie: _Node | None) -> _Path:
    return _Path((model.fullname,), (model.fullname,),
                 wildcard=trie.propagating if trie is not None else None,
                 column_wildcards=tuple(trie.propagating_columns) if trie is not None else ())


def apply_options(schema: Schema, current: State, chains: Iterable[opt.Chain],
                  default: State | None = None) -> State | None:
    """The state after ``.options(*chains)`` on a statement whose entity is in ``current``.

    Types carry states, not the options that made them, so a second ``.options()`` call is
    merged into the state: explicit paths override, a wildcard overrides what came from a
    default. Where the state cannot tell a default from an earlier option, the slot becomes
    unknown. Returns None when the model is not in the schema. ``default`` is the model's
    default state, if the caller has it at hand. (A statement known to carry no options
    yet, its ``select()`` in sight, needs no merge: ``state_with_options``.)
    """
    model = schema.model(current.model)
    if model is None:
        return None
    chains = tuple(chains)
    # Nothing before, or options that only reproduced the defaults: start afresh. Unless a
    # wildcard comes: it loses to an earlier explicit option, and joinedload(Tag.posts) on
    # a lazy="joined" Tag.posts looks just like the default.
    if default is None:
        default = default_state(schema, model)
    if current == default and not any(step.attr == opt.WILDCARD for chain in chains for step in chain):
        return state_with_options(schema, model, chains)
    trie = build_trie(chains, model)
    return _merge(schema, model, current, trie, _root_path(model, trie), 0)


def _merge(schema: Schema, model: Model, current: State, node: _Node, path: _Path,
           depth: int) -> State:
    fresh = _build(schema, model, node, path, depth).slot_map
    defaults = _build(schema, model, None, replace(path, wildcard=None), depth).slot_map
    wildcard = node.wildcard if node.wildcard is not None else path.wildcard
    old = current.slot_map
    slots: list[tuple[str, Slot]] = []
    for rel in model.relationships:
        before = old.get(rel.name, UNKNOWN)
        child = node.children.get(rel.name)
        before_state = resolve(schema, before) if isinstance(before, Loaded) else None
        if child is not None and child.strategy is not None:
            slot = fresh[rel.name]  # an explicit option: SQLAlchemy uses it
            if before == defaults[rel.name]:
                pass  # nothing earlier touched this path: the new option alone decides
            elif isinstance(before, NotLoaded) and before.reason.endswith(WITH_SUBOPTIONS) \
                    and isinstance(slot, Loaded):
                # An earlier defaultload(User.posts).selectinload(Post.comments) on a lazy
                # path: its options below apply once this one loads the path, and the state
                # did not keep them (measured: they do apply).
                slot = Loaded(None)
            elif isinstance(slot, Loaded) and before_state is not None:
                target = schema.model(rel.target)
                slot_state = resolve(schema, slot)
                if target is not None and slot_state is not None:
                    child_path = _Path(path.full + (target.fullname,), (target.fullname,), (model, rel),
                                       None if child.strategy == opt.IMMEDIATE else path.wildcard,
                                       route=path.hop(rel, child))
                    merged = _merge(schema, target, before_state, child, child_path, depth + 1)
                    slot = Loaded(replace(merged, joined_collection=slot_state.joined_collection
                                          or merged.joined_collection))
        elif wildcard is not None:
            from_default = before == defaults[rel.name] and not (
                isinstance(before, Loaded) and rel.lazy in EAGER_STRATEGIES)
            from_wildcard = isinstance(before, NotLoaded) and "('*')" in before.reason
            if from_default or from_wildcard:
                slot = fresh[rel.name]
            elif isinstance(before, Loaded) and rel.lazy in EAGER_STRATEGIES:
                slot = UNKNOWN  # a default or an earlier option: cannot tell
            elif before_state is not None and path.wildcard:
                # Loaded by an earlier option, which wins; but whether the statement-level
                # wildcard reaches below it depends on that option's strategy (immediateload
                # stops it), which the state no longer records.
                slot = Loaded(None)
            else:
                slot = before
        elif child is not None and before_state is not None:
            target = schema.model(rel.target)
            if target is None:
                slot = before
            elif path.wildcard:
                slot = Loaded(None)  # as above: the wildcard's reach below it is unknown
            else:
                child_path = _Path(path.full + (target.fullname,), (target.fullname,), (model, rel),
                                   route=path.hop(rel, child))
                slot = Loaded(_merge(schema, target, before_state, child, child_path, depth + 1))
        else:
            slot = before
        slots.append((rel.name, slot))
    return State(model.fullname, tuple(slots),
                 apply_column_ops(model, current.columns, node.columns, merging=True),
                 current.joined_collection)


# ---------------------------------------------------------------------------------------
# Sync sessions


def sync_view(schema: Schema, state: State) -> State:
    """The state as a sync ``Session`` sees it: a lazy load there emits SQL and succeeds (the
    N+1 pattern), so only ``raise`` strategies still fail."""
    model = schema.model(state.model)
    slots = [(name, _sync_slot(schema, model.relationship(name) if model is not None else None, slot))
             for name, slot in state.slots]
    return State(state.model, tuple(slots), _sync_columns(state.columns), state.joined_collection)


def _sync_columns(columns: Columns) -> Columns:
    # A deferred column is loaded on access too; only the raiseload forms fail.
    return None if columns is None else tuple((name, reason) for name, reason in columns if "raise" in reason)


def _sync_slot(schema: Schema, rel: Relationship | None, slot: Slot) -> Slot:
    if isinstance(slot, NotLoaded) and "raise" not in slot.reason:
        # "" is a join of several reasons, perhaps of a raise: unknown, not reported.
        return (UNKNOWN if slot.reason == "" or slot.reason.endswith(WITH_SUBOPTIONS) or rel is None
                else _lazy_loaded(schema, rel, 1))
    if isinstance(slot, Loaded) and slot.default is not None:
        return Loaded(None, replace(slot.default, sync=True))
    if isinstance(slot, Loaded) and slot.state is not None:
        return Loaded(sync_view(schema, slot.state))
    return slot


def _lazy_loaded(schema: Schema, via: Relationship, hops: int) -> Slot:
    """What a sync lazy load of ``via`` brings back: its target's defaults, where certain.

    Eager defaults depend on the lazy query's own loader path (cycles), so they are unknown.
    The reverse of ``via`` leads back into the session (``post.author.posts`` holds ``post``
    itself): unknown below. Other many-to-one targets are taken as fresh objects; one that
    is already in the session may carry more (the case the core issue lets go either way).
    """
    target = schema.model(via.target)
    if target is None or hops > SYNC_EXPANSION:
        return Loaded(None)  # bounded like eager defaults: the tree grows exponentially
    slots: list[tuple[str, Slot]] = []
    for rel in target.relationships:
        reverse = (rel.back_populates == via.name or via.back_populates == rel.name) and (
            rel.target == via.owner or (schema.model(via.owner) or target).isa(rel.target))
        slot: Slot
        if rel.lazy == opt.RAISE or (rel.lazy == opt.RAISE_ON_SQL
                                     and direction(schema, target, rel) != MANY_TO_ONE):
            slot = NotLoaded(default_reason(rel.lazy))
        elif rel.lazy in (opt.RAISE_ON_SQL, opt.NOLOAD):
            slot = UNKNOWN  # a many-to-one that may be in the session; noload: empty
        elif reverse:
            slot = Loaded(None)  # leads back to the object loaded through: in the session
        else:
            # Lazy, or eager: loaded by the lazy query, or (skipped at a cycle) lazily on
            # access; either way readable, with the target's defaults.
            slot = _lazy_loaded(schema, rel, hops + 1)
        slots.append((rel.name, slot))
    raising = tuple(c for c in default_columns(target) or () if c[1] == COLUMN_DEFAULT_RAISE)
    return Loaded(State(target.fullname, tuple(slots), raising))


# ---------------------------------------------------------------------------------------
# unique()


def joined_path_below(schema: Schema, ref: DefaultRef) -> list[tuple[str, str]] | None:
    """``joined_collection_path(schema, expand(schema, ref))``, building only the slots that
    can answer: those whose strategy (an option's, a wildcard's, else the declared one)
    keeps the statement's SELECT. The others load by a query of their own, or not at all,
    and a sync view or a label changes none of them."""
    model = schema.model(ref.target)
    if model is None:
        return None
    node = thaw(ref.node)
    rels = [rel for rel in model.relationships if _strategy(rel, node, ref.wildcard)[0] in opt.SAME_SELECT]
    if not rels:
        return None
    path = _ref_path(schema, ref)
    columns = _level_columns(model, node, path)
    return joined_collection_path(schema, State(model.fullname, tuple(
        (rel.name, _slot_for(schema, model, rel, node, path, ref.depth, columns)) for rel in rels)))


def joined_collection_path(schema: Schema, state: State) -> list[tuple[str, str]] | None:
    """The first joined-eager collection in the statement's SELECT, as [(model, rel)] from
    the root; None when fetching rows does not need Result.unique()."""
    for name, slot in state.slots:
        if not isinstance(slot, Loaded):
            continue
        if slot.default is not None and not slot.default.in_root_select:
            continue  # loaded by a query of its own: its joins are not the root's rows
        if slot.default is not None and not slot.default.joined_collection:
            memo = getattr(schema, "joined_path", None)
            if memo is not None:
                below: list[tuple[str, str]] | None = memo(slot.default)
                if below is not None:
                    return [(state.model, name)] + below
                continue
        sub = resolve(schema, slot)
        if sub is None:
            continue
        if sub.joined_collection:
            return [(state.model, name)]
        deeper = joined_collection_path(schema, sub)
        if deeper is not None:
            return [(state.model, name)] + deeper
    return None
