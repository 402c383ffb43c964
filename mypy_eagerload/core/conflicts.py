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
