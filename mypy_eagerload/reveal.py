"""``reveal_loads(obj)``: what the plugin knows about ``obj``'s load state, as a mypy note.

At runtime it returns its argument; statically the plugin reports the loaded paths, the
ones not loaded (with why) and the unknown ones. Like ``reveal_type``, it is for debugging:
mypy without the plugin says nothing about it.
"""

from __future__ import annotations

from typing import TypeVar

_T = TypeVar("_T")


def reveal_loads(obj: _T, /) -> _T:
    return obj
