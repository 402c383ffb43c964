"""Reference plugins for ``run.py --floor``: what a plugin costs before it analyses anything.

* ``empty``: a plugin that hooks nothing (mypy's plugin machinery alone);
* ``asked``: this plugin's semantic analysis (mapping records, member summaries) and its
  hook dispatch, with every checker hook returning mypy's own type: what the plugin pays
  for being asked about every call and attribute, before any load state is computed.

Loaded by path from the benchmark's mypy configuration: ``plugins = .../floor_plugins.py:empty``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mypy.plugin import Plugin

from mypy_eagerload.plugin import EagerLoadPlugin


class _Empty(Plugin):
    pass


def _passthrough(name: str) -> Any:
    ask = getattr(EagerLoadPlugin, name)
    attribute = name == "get_attribute_hook"

    def get(self: EagerLoadPlugin, fullname: str) -> Callable[[Any], Any] | None:
        if ask(self, fullname) is None:
            return None
        return (lambda ctx: ctx.default_attr_type) if attribute else (lambda ctx: ctx.default_return_type)

    return get


class _Asked(EagerLoadPlugin):
    get_function_hook = _passthrough("get_function_hook")
    get_method_hook = _passthrough("get_method_hook")
    get_attribute_hook = _passthrough("get_attribute_hook")


def empty(version: str) -> type[Plugin]:
    return _Empty


def asked(version: str) -> type[Plugin]:
    return _Asked
