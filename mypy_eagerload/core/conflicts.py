"""Two loader strategies for one path in one statement: SQLAlchemy raises at execution.

Measured (SQLAlchemy 2.0 and 2.1): any two different relationship strategies for the same
path conflict (``raiseload`` and ``raiseload(sql_only=True)`` too); ``defaultload`` and
wildcards never do; for columns, deferring and undeferring the same column conflict
(``load_only(x)`` undefers ``x``), as do ``defer(x)`` and ``defer(x, raiseload=True)``.
``selectinload(x, recursion_depth=N)`` conflicts with ``selectinload(x)`` and with another
depth, not with itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mypy_eagerload.core import options as opt

Key = tuple[tuple[str, str], ...]  # ((entity, attribute), ...) from the statement's root

# Strategy tokens back to the option that sets them, for messages.
_OPTION_NAMES = {strategy: name for name, strategy in opt.OPTION_STRATEGIES.items()}
_OPTION_NAMES[opt.RAISE_ON_SQL] = "raiseload(sql_only=True)"


@dataclass(frozen=True)
class Conflict:
    path: Key
    first: str  # the option names, as a person would write them
    second: str


def find_conflicts(chains: Iterable[opt.Chain]) -> list[Conflict]:
    seen: dict[Key, str] = {}
    found: list[Conflict] = []
    for chain in chains:
        key: Key = ()
        # A recursion's first level is its own setting: SQLAlchemy raises for the same
        # loader without it, or with another depth (measured).
        recursion = chain[-1].attr if chain and chain[-1].strategy == opt.RECURSION else None
        first_level = chain.index(chain[-2]) if recursion is not None and len(chain) > 1 else -1
        for index, step in enumerate(chain):
            if step.strategy == opt.RECURSION:
                break
            if index == first_level:
                key = key + ((step.entity or "", step.attr),)
                name = _OPTION_NAMES.get(step.strategy, step.strategy).removesuffix("()")
                _record(seen, found, key, f"{name}(recursion_depth={recursion})")
                continue
            if step.strategy == opt.ROOT or step.attr == opt.WILDCARD:
                continue
            if opt.is_column_step(step):
                for column, setting in _column_settings(step):
                    _record(seen, found, key + ((step.entity or "", column),), setting)
                continue
            key = key + ((step.entity or "", step.attr),)
            if step.strategy != opt.DEFAULT:
                name = _OPTION_NAMES.get(step.strategy, step.strategy)
                _record(seen, found, key, name if name.endswith(")") else name + "()")
    return found


def _column_settings(step: opt.Step) -> list[tuple[str, str]]:
    kind, _, flag = step.strategy.partition("+")
    if kind in (opt.UNDEFER_GROUP, opt.WITH_EXPRESSION) or step.attr in (opt.UNKNOWN_COLUMN, ""):
        return []
    setting = "undefer()" if kind in (opt.UNDEFER, opt.LOAD_ONLY) else (
        "defer(raiseload=True)" if flag else "defer()")
    return [(name, setting) for name in step.attr.split(",") if name]


def _record(seen: dict[Key, str], found: list[Conflict], key: Key, setting: str) -> None:
    before = seen.setdefault(key, setting)
    if before != setting and not any(c.path == key for c in found):
        found.append(Conflict(key, before, setting))


@dataclass(frozen=True)
class Resolution:
    """How to end a conflict by changing one option: ``option`` is its index among the
    options given; ``step`` the index of its call that sets the strategy. With ``remove``,
    that call is the option's last (the option goes); else it becomes ``defaultload()``,
    which walks the path to the option's sub-options without setting a strategy."""

    option: int
    step: int
    remove: bool


# Strategies that load nothing: of two, the one to drop is such a one (what reads the
# path needs it loaded); of two loaders, the later one.
_NOT_LOADING = frozenset({opt.LAZY, opt.RAISE, opt.RAISE_ON_SQL, opt.NOLOAD})


def resolve_conflict(options: list[opt.Option | None], conflict: Conflict) -> Resolution | None:
    """The change that ends ``conflict`` among ``options`` (each a single chain written as
    one call per step, or None for one that is not), or None when no single option can be
    named: a side set by an option that is not such a chain, a column conflict, a recursion."""
    setters: list[tuple[int, int, opt.Chain]] = []  # (option, step, its chain)
    for index, option in enumerate(options):
        if option is None or len(option) != 1:
            continue
        step = _setting_step(option[0], conflict.path)
        if step is not None:
            setters.append((index, step, option[0]))
    if len(setters) != 2:
        return None
    first, second = setters
    loads = [chain[step].strategy not in _NOT_LOADING for _, step, chain in setters]
    index, step, chain = first if loads == [False, True] else second
    return Resolution(index, step, step == len(chain) - 1)


def _setting_step(chain: opt.Chain, path: Key) -> int | None:
    """The index of the step of ``chain`` that sets a relationship strategy at ``path``."""
    key: Key = ()
    for index, step in enumerate(chain):
        if step.strategy in (opt.ROOT, opt.RECURSION) or step.attr == opt.WILDCARD \
                or opt.is_column_step(step):
            return None  # a Load() root, a recursion, a wildcard or a column: not followed
        key = key + ((step.entity or "", step.attr),)
        if key == path:
            return index if step.strategy != opt.DEFAULT else None
    return None

