"""Loader options as data: chains of (strategy, entity, attribute) steps.

``selectinload(User.posts).joinedload(Post.author)`` is one chain of two steps.
``Load(User).options(a, b)`` and ``selectinload(...).options(...)`` fan out into several
chains that share a prefix. An option is a tuple of chains; the encoded form is a short
JSON string so that mypy can carry it inside a ``Literal[...]`` type argument.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass

WILDCARD = "*"

# Strategy tokens used in chains.
SELECTIN = "selectin"
JOINED = "joined"
SUBQUERY = "subquery"
IMMEDIATE = "immediate"
CONTAINS_EAGER = "contains_eager"
LAZY = "select"
RAISE = "raise"
RAISE_ON_SQL = "raise_on_sql"
NOLOAD = "noload"
DEFAULT = "default"  # defaultload(): walks into a path, keeps its strategy
ROOT = "root"  # Load(User): binds the chain to an entity, no attribute

# Column options: the step's attr holds comma-separated column names (a group name for
# undefer_group, "*" for a wildcard, "?" when a column could not be read). A "+raise"
# suffix records raiseload=True. They apply at the chain's current entity, not a new one.
LOAD_ONLY = "load_only"
DEFER = "defer"
UNDEFER = "undefer"
UNDEFER_GROUP = "undefer_group"
WITH_EXPRESSION = "with_expression"  # query_expression() columns: never fail to read
COLUMN_OPS = frozenset({LOAD_ONLY, DEFER, UNDEFER, UNDEFER_GROUP, WITH_EXPRESSION})
RAISE_SUFFIX = "+raise"
UNKNOWN_COLUMN = "?"
# ``selectinload(Node.children, recursion_depth=2)`` is written as the chain it loads
# (measured: depth N loads N + 1 levels; -1 every level) and closed by this step: a chained
# call or ``.options()`` after it would attach where SQLAlchemy does not, so it is unknown.
RECURSION = "recursion"
# A route's strategy for a hop one of these levels loaded ("selectin~recursion=2"): a note
# cannot add an option below it (SQLAlchemy raises for a second strategy there, and ignores
# one deeper: measured), only raise the depth.
RECURSIVE_MARK = "~recursion="
RECURSION_ALL = 17  # levels written for recursion_depth=-1: past loadstate's MAX_DEPTH


def recursion(step: Step, depth: int) -> Chain:
    """The chain ``recursion_depth=depth`` on ``step`` (a self-referential relationship) loads."""
    levels = RECURSION_ALL if depth < 0 else depth + 1
    return (step,) * levels + (Step(RECURSION, None, str(depth)),)


def closed(option: Option) -> bool:
    """Whether a chain of ``option`` ends with a recursion (nothing can be chained after it)."""
    return any(chain and chain[-1].strategy == RECURSION for chain in option)


def is_column_step(step: Step) -> bool:
    return step.strategy.split("+", 1)[0] in COLUMN_OPS


LOADING = frozenset({SELECTIN, JOINED, SUBQUERY, IMMEDIATE, CONTAINS_EAGER})
# Strategies whose related rows come from the statement's own SELECT: a
# joined default below them counts cycles on the same SELECT.
SAME_SELECT = frozenset({JOINED, CONTAINS_EAGER})

# SQLAlchemy option function / Load method name -> strategy token.
OPTION_STRATEGIES: dict[str, str] = {
    "selectinload": SELECTIN,
    "joinedload": JOINED,
    "subqueryload": SUBQUERY,
    "immediateload": IMMEDIATE,
    "contains_eager": CONTAINS_EAGER,
    "lazyload": LAZY,
    "raiseload": RAISE,
    "noload": NOLOAD,
    "defaultload": DEFAULT,
    "load_only": LOAD_ONLY,
    "defer": DEFER,
    "undefer": UNDEFER,
    "undefer_group": UNDEFER_GROUP,
    "with_expression": WITH_EXPRESSION,
}


@dataclass(frozen=True, slots=True)
class Step:
    strategy: str
    entity: str | None  # fullname of the class the attribute was taken from
    attr: str  # relationship name, WILDCARD, or "" for ROOT/COLUMN steps


Chain = tuple[Step, ...]
Option = tuple[Chain, ...]


@functools.cache
def encode(option: Option) -> str:
    text = json.dumps([[[s.strategy, s.entity, s.attr] for s in chain] for chain in option],
                      separators=(",", ":"))
    _OPTIONS.setdefault(text, option)
    return text


def decode(text: str) -> Option | None:
    """Decode an encoded option; None when the text is not one of ours. (Memoized, and
    a text encoded in this process reads back without parsing: the same option type is
    read at every use of the variable that holds it.)"""
    if text not in _OPTIONS:
        try:
            data = json.loads(text)
            _OPTIONS[text] = tuple(tuple(Step(str(s), e if e is None else str(e), str(a))
                                         for s, e, a in chain) for chain in data)
        except (ValueError, TypeError):
            _OPTIONS[text] = None
    return _OPTIONS[text]


_OPTIONS: dict[str, Option | None] = {}


def extend(option: Option, steps: Iterable[Step]) -> Option:
    """Append steps to every chain, as a method call on a loader option does."""
    new = tuple(steps)
    return tuple(chain + new for chain in option) if option else (new,)


def suboptions(option: Option, children: Iterable[Option]) -> Option:
    """``opt.options(a, b)``: each child chain continues every chain of ``opt``."""
    result: list[Chain] = []
    for chain in option or ((),):
        for child in children:
            for child_chain in child:
                result.append(chain + child_chain)
    return tuple(result) or option


def describe_step(step: Step) -> str:
    if step.attr == WILDCARD:
        return "'*'"
    name = (step.entity or "").rsplit(".", 1)[-1]
    return f"{name}.{step.attr}"
