"""The static picture of a mapping: models and their relationships."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

# Relationship ``lazy=`` values, grouped by what a plain ``select(Model)`` does with them.
EAGER_STRATEGIES = frozenset({"joined", "selectin", "subquery", "immediate"})
LAZY_STRATEGIES = frozenset({"select", "raise", "raise_on_sql", "noload"})
# Never loaded as a whole and never lazy-loaded on attribute access: not tracked.
UNTRACKED_STRATEGIES = frozenset({"dynamic", "write_only"})
ALL_STRATEGIES = EAGER_STRATEGIES | LAZY_STRATEGIES | UNTRACKED_STRATEGIES

# Relationship directions, as far as they can be told from source.
MANY_TO_ONE = "manytoone"
ONE_TO_MANY = "onetomany"
MANY_TO_MANY = "manytomany"
UNKNOWN_DIRECTION = "unknown"


@dataclass(frozen=True, slots=True)
class Relationship:
    name: str
    owner: str  # fullname of the class that declares it
    target: str  # fullname of the related model
    uselist: bool
    lazy: str = "select"
    back_populates: str | None = None
    join_depth: int | None = None
    direction: str = UNKNOWN_DIRECTION

    @property
    def tracked(self) -> bool:
        return self.lazy not in UNTRACKED_STRATEGIES


@dataclass(frozen=True, slots=True)
class Column:
    """A mapped column the plugin tracks (primary keys are always loaded: not tracked)."""

    name: str
    deferred: bool = False  # mapped_column(deferred=True), deferred(), deferred_group=...
    raiseload: bool = False  # deferred_raiseload=True / deferred(..., raiseload=True)
    group: str | None = None
    fk_tables: tuple[str, ...] = ()  # tables its ForeignKey points at


@dataclass(frozen=True, slots=True)
class Model:
    fullname: str
    # Tracked relationships in slot order (declaration order, bases first).
    relationships: tuple[Relationship, ...]
    # Fullnames of this model and its mapped bases (for SQLAlchemy's ``Mapper.isa``).
    mro: tuple[str, ...] = field(default=())
    columns: tuple[Column, ...] = ()
    table: str | None = None
    # Mapped columns the plugin does not track (primary keys: always loaded), by name.
    plain_columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.fullname.rsplit(".", 1)[-1]

    def relationship(self, name: str) -> Relationship | None:
        for rel in self.relationships:
            if rel.name == name:
                return rel
        return None

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    def has_column(self, name: str) -> bool:
        return self.column(name) is not None or name in self.plain_columns

    def isa(self, other: str) -> bool:
        return other == self.fullname or other in self.mro


class Schema(Protocol):
    def model(self, fullname: str) -> Model | None: ...


def direction(schema: Schema, model: Model, rel: Relationship) -> str:
    """``rel``'s direction as seen from ``model``. A schema may work it out only when asked
    (it needs the target's mapping); otherwise the relationship records it."""
    find = getattr(schema, "direction", None)
    return str(find(model, rel)) if find is not None else rel.direction


def relationship_prefix(schema: Schema, model: Model, names: tuple[str, ...]
                        ) -> tuple[tuple[str, ...], Model | None, tuple[str, ...]]:
    """The relationships at the start of the attribute chain ``names`` (``posts``,
    ``comments`` in ``posts.comments.body``), the model they reach (None when a target is
    not a known model), and the names left."""
    path: list[str] = []
    current: Model | None = model
    for i, name in enumerate(names):
        rel = current.relationship(name) if current is not None else None
        if rel is None:
            return tuple(path), current, names[i:]
        path.append(name)
        current = schema.model(rel.target) if rel.target else None
    return tuple(path), current, ()


@dataclass
class DictSchema:
    """A schema held in memory: used by tests and by the mypy side per lookup."""

    models: Mapping[str, Model]

    def model(self, fullname: str) -> Model | None:
        return self.models.get(fullname)
