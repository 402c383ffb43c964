"""``Loaded[User, "posts", "posts.comments"]``: what an annotation requires, as plain data.

An annotation names relationship paths (dotted names from the model). It means two things:

* for whoever holds such an object (the body of a function whose parameter has it, the
  caller of a function that returns it): the named paths are loaded; relationships it does
  not name are not, unless they are eager by default (those are left unknown: SQLAlchemy
  may skip an eager default at a cycle, so neither claim would be safe);
* for whoever passes or returns an object there: each named path must be loaded. What the
  plugin cannot tell about the object is accepted (or, in strict mode, taken from the
  model's defaults).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from mypy_eagerload.core.loadstate import (
    UNKNOWN,
    Loaded,
    NotLoaded,
    Slot,
    State,
    Unknown,
    default_state,
    relabel,
    resolve,
)
from mypy_eagerload.core.schema import (
    EAGER_STRATEGIES,
    MANY_TO_ONE,
    Model,
    Relationship,
    Schema,
    direction,
)

# NotLoaded reasons this module produces (see core.messages.why).
UNDECLARED_PREFIX = "undeclared:"  # undeclared:<Model>:<dotted path>
STRICT_PREFIX = "strict:"  # strict mode: a plain model type has its defaults only


Tree = dict[str, "Tree"]


@dataclass(frozen=True)
class Requirement:
    model: str  # fullname
    paths: tuple[str, ...]  # dotted relationship names, sorted, without duplicates

    @property
    def tree(self) -> Tree:
        return path_tree(self.paths)

    def encode(self) -> str:
        return ",".join(self.paths)

    @staticmethod
    def decode(model: str, text: str) -> Requirement:
        return Requirement(model, tuple(p for p in text.split(",") if p))


def normalize(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted and deduplicated (a path implies its prefixes; listing them changes nothing)."""
    return tuple(sorted({p.strip() for p in paths if p.strip()}))


def path_tree(paths: Iterable[str]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        for name in path.split("."):
            node = node.setdefault(name, {})
    return tree


def validate(schema: Schema, model: Model, path: str) -> str | None:
    """Why ``path`` is not a relationship path of ``model``; None when it is."""
    current = model
    for i, name in enumerate(path.split(".")):
        shown = ".".join(path.split(".")[: i + 1])
        if not name.isidentifier():
            return f'"{path}" is not a dotted path of relationship names'
        rel = current.relationship(name)
        if rel is None:
            if current.has_column(name):
                return (f'"{shown}" is a column of {current.name}: Loaded[...] lists '
                        "relationships (deferred columns are not tracked across functions)")
            known = [r.name for r in current.relationships]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            return f'{current.name} has no relationship "{name}" in "{path}"{hint}'
        target = schema.model(rel.target) if rel.target else None
        if target is None:
            if i + 1 < len(path.split(".")):
                return f'the target of {current.name}.{name} is not a mapped model the plugin knows'
            return None
        current = target
    return None


# ---------------------------------------------------------------------------------------
# What the holder may assume


def held_state(schema: Schema, model: Model, tree: Tree, root: str, prefix: str = "",
               via: tuple[Model, Relationship] | None = None) -> State:
    """The state an annotated object has for its holder (see the module docstring)."""
    slots: list[tuple[str, Slot]] = []
    for rel in model.relationships:
        path = f"{prefix}{rel.name}"
        if rel.name in tree:
            target = schema.model(rel.target) if rel.target else None
            sub = (held_state(schema, target, tree[rel.name], root, path + ".", (model, rel))
                   if target else None)
            slots.append((rel.name, Loaded(sub)))
        elif rel.lazy in EAGER_STRATEGIES:
            slots.append((rel.name, UNKNOWN))
        elif _back_to_parent(schema, model, rel, via):
            # The many-to-one back to the object we came through: found in the identity map
            # without SQL (as for query results, see core.loadstate), unless lazy="raise".
            slots.append((rel.name, Loaded(None)))
        else:
            slots.append((rel.name, NotLoaded(f"{UNDECLARED_PREFIX}{root}:{path}")))
    return State(model.fullname, tuple(slots), None)


def _back_to_parent(schema: Schema, model: Model, rel: Relationship,
                    via: tuple[Model, Relationship] | None) -> bool:
    if via is None or rel.lazy not in ("select", "raise_on_sql"):
        return False
    parent, parent_rel = via
    return parent.isa(rel.target) and (rel.back_populates == parent_rel.name
                                       or parent_rel.back_populates == rel.name) \
        and direction(schema, model, rel) == MANY_TO_ONE


def strict_state(schema: Schema, model: Model) -> State:
    """Strict mode's view of a plain model type: its defaults, with reasons that say so."""
    return relabel(default_state(schema, model), STRICT_PREFIX)


# ---------------------------------------------------------------------------------------
# What the giver must provide


@dataclass(frozen=True)
class Missing:
    hops: tuple[tuple[str, str], ...]  # (model fullname, relationship) from the root
    reason: str
    target: str  # the last hop's target model
    uselist: bool
    # How each hop before the last was loaded: its option's strategy, "" for a default or
    # where the state does not say (a fix note then walks it with defaultload()).
    strategies: tuple[str, ...] = ()


def missing(schema: Schema, state: State | None, tree: Tree) -> list[Missing]:
    """The required paths ``state`` does not load (the first unloaded hop of each).

    A None state, an unknown slot or a loaded slot whose target state is unknown meet the
    requirement: the plugin reports only what it knows is not loaded.
    """
    found: list[Missing] = []
    _walk(schema, state, tree, (), (), found)
    return found


def _walk(schema: Schema, state: State | None, tree: Tree, hops: tuple[tuple[str, str], ...],
          strategies: tuple[str, ...], found: list[Missing]) -> None:
    if state is None:
        return
    model = schema.model(state.model)
    for name, sub in sorted(tree.items()):
        slot = state.slot(name)
        rel = model.relationship(name) if model is not None else None
        here = (*hops, (state.model, name))
        if isinstance(slot, NotLoaded):
            found.append(Missing(here, slot.reason, rel.target if rel else "",
                                 rel.uselist if rel else False, strategies))
        elif isinstance(slot, Loaded) and sub:
            how = slot.default.route[-1][1] if slot.default is not None and slot.default.route else ""
            _walk(schema, resolve(schema, slot), sub, here, (*strategies, how), found)
        elif isinstance(slot, Unknown):
            continue
