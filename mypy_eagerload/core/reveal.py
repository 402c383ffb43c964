"""What ``reveal_loads(obj)`` shows: a load state as paths (plain Python, no mypy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mypy_eagerload.core.loadstate import Loaded, NotLoaded, State, expand
from mypy_eagerload.core.schema import Schema

MAX_DEPTH = 3  # paths deeper than this are summarised by their prefix


@dataclass
class Paths:
    loaded: list[str] = field(default_factory=list)
    not_loaded: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unknown: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)  # deferred columns, (name, reason)


def paths(schema: Schema, state: State) -> Paths:
    found = Paths()
    found.columns = list(state.columns or ())
    _walk(schema, state, "", found, 1, {state.model})
    return found


def _walk(schema: Schema, state: State, prefix: str, found: Paths, depth: int, seen: set[str]) -> None:
    for name, slot in state.slots:
        path = prefix + name
        if isinstance(slot, NotLoaded):
            found.not_loaded.append((path, slot.reason))
        elif isinstance(slot, Loaded):
            found.loaded.append(path)
            below = slot.state
            if below is None and slot.default is not None and depth < MAX_DEPTH:
                below = expand(schema, slot.default)
            if below is not None and depth < MAX_DEPTH and below.model not in seen:
                _walk(schema, below, path + ".", found, depth + 1, seen | {below.model})
        else:
            found.unknown.append(path)


def describe(model: str, found: Paths | None) -> str:
    """One note: ``User: loaded posts, posts.comments; not loaded profile (...); unknown tags``."""
    short = model.rsplit(".", 1)[-1]
    if found is None:
        return f"load state of {short}: unknown (where this object comes from is not known to the plugin)"
    parts = []
    if found.loaded:
        parts.append("loaded " + ", ".join(found.loaded))
    if found.not_loaded:
        parts.append("not loaded " + ", ".join(f"{p} ({r or 'not on every path'})"
                                              for p, r in found.not_loaded))
    if found.unknown:
        parts.append("unknown " + ", ".join(found.unknown))
    if found.columns:
        parts.append("deferred columns " + ", ".join(name for name, _ in found.columns))
    return f"load state of {short}: " + ("; ".join(parts) if parts else "no relationships")
