"""What ``collect`` saw in each module, kept between runs next to mypy's cache. Plain Python.

``annotate`` runs mypy incrementally with a cache of its own: a second run on an unchanged
project loads every module from that cache, which has no function bodies, so the facts the
walk recorded for a module (its ``Function`` records) are stored here when the module is
checked and read back when mypy finds it fresh. mypy calls a module fresh when its source
and the interfaces of everything it depends on are unchanged; the facts depend on exactly
those (the callees' signatures, the models' recorded mappings and members, the schemas'
fields are all in the interfaces), so fresh facts are still true. A fresh module without
stored facts (the store deleted, another version wrote it) makes ``collect`` run cold.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from typing import Any

from mypy_eagerload import __version__
from mypy_eagerload.annotate.infer import Call, Function, Param, Read

FORMAT = 1  # bump when Function's shape changes


class FactStore:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _file(self, module: str) -> str:
        return os.path.join(self.directory, f"{module}.json")

    def save(self, module: str, source_path: str, functions: list[Function]) -> None:
        os.makedirs(self.directory, exist_ok=True)
        data = {"version": __version__, "format": FORMAT, "source": _digest(source_path),
                "functions": [asdict(fn) for fn in functions]}
        tmp = self._file(module) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self._file(module))  # a reader never sees half a file

    def load(self, module: str, source_path: str) -> list[Function] | None:
        """The facts stored for ``module``; None when there are none for this source."""
        try:
            with open(self._file(module), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        if (not isinstance(data, dict) or data.get("version") != __version__
                or data.get("format") != FORMAT or data.get("source") != _digest(source_path)):
            return None
        try:
            return [_function(fn) for fn in data["functions"]]
        except (KeyError, TypeError):
            return None


def _digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""


def _function(data: dict[str, Any]) -> Function:
    fn = Function(data["fullname"], data["module"], data["file"], data["line"],
                  {name: Param(**{**p, "existing": tuple(p["existing"])})
                   for name, p in data["params"].items()})
    fn.reads = [Read(r["param"], tuple(r["path"]), r["line"], r["text"]) for r in data["reads"]]
    fn.calls = [Call(c["param"], tuple(c["prefix"]), c["callee"], c["callee_param"], c["line"], c["text"],
                     c["arrives"]) for c in data["calls"]]
    fn.skipped = dict(data["skipped"])
    return fn
