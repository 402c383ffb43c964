"""Semantic analysis of mapped classes: record relationships, columns and members.

The record lives in ``TypeInfo.metadata`` (serialized with the class, so warm caches,
parallel workers and dmypy read what a cold run wrote); a digest of it is exposed as a
class attribute so that fine-grained mode notices mapping edits (``expose_digest``). The
plugin adds no class of its own: load states ride invisibly in the model's own type
(``hooks.types``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mypy.nodes import (
    MDEF,
    AssignmentStmt,
    ClassDef,
    NameExpr,
    SymbolTableNode,
    TypeInfo,
    Var,
)
from mypy.plugin import ClassDefContext
from mypy.types import LiteralType

from mypy_eagerload import names
from mypy_eagerload.core.schema import UNTRACKED_STRATEGIES
from mypy_eagerload.hooks.constants import folder
from mypy_eagerload.hooks.declarations import Json, has_declared_attr_relationship, scan_class

# Bumped whenever semantic analysis (re)records a mapping. The checker's memos
# (hooks/schema.py) treat an entry made in the current generation as valid without
# re-checking its inputs one by one; after a bump they re-check them. Process-local and
# only ever invalidating, so every mode computes the same results.
GENERATION = [0]


def metadata(info: TypeInfo) -> Json | None:
    data = info.metadata.get(names.PLUGIN_KEY)
    return data if isinstance(data, dict) else None


def attribute_names(data: Json) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The relationship, the tracked column and the other column names (primary keys) a
    record declares, as sets: mypy asks the attribute hook for every attribute read.
    Memoized per record object (a record is replaced, never changed, when its class is
    analysed again)."""
    hit = _NAMES.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1], hit[2], hit[3]
    rels = frozenset([*data.get("slots", ()), *(r["name"] for r in data.get("rels", ()))])
    columns = frozenset(c["name"] for c in data.get("columns", ()))
    plain = frozenset(data.get("plain", ()))
    _NAMES[id(data)] = (data, rels, columns, plain)
    return rels, columns, plain


_NAMES: dict[int, tuple[Json, frozenset[str], frozenset[str], frozenset[str]]] = {}


def is_declarative(info: TypeInfo) -> bool:
    return any(base.fullname in names.DECLARATIVE_BASES for base in info.mro)


def is_declarative_base_itself(info: TypeInfo) -> bool:
    """``class Base(DeclarativeBase)``: the registry holder, not a mapped class."""
    return any(base.type.fullname in names.DECLARATIVE_BASES for base in info.bases)


def record_mixin(ctx: ClassDefContext) -> bool:
    """Mixins (not mapped) may declare relationships through ``@declared_attr``."""
    if has_declared_attr_relationship(ctx.cls):
        ctx.cls.info.metadata[names.PLUGIN_KEY] = {"kind": "mixin",
                                                   **scan_class(ctx.cls, folder(ctx.api, ctx.cls))}
        GENERATION[0] += 1
        return True
    return False


def record_model(ctx: ClassDefContext) -> None:
    info = ctx.cls.info
    if is_declarative_base_itself(info) or _is_abstract(ctx.cls):
        return
    own = scan_class(ctx.cls, folder(ctx.api, ctx.cls))
    rels: dict[str, Json] = {}
    columns: dict[str, Json] = {}
    fks: list[str] = []
    bases: list[str] = []
    plain: set[str] = set(own["plain"])
    for cls in reversed(info.mro[1:]):
        data = metadata(cls)
        if data is None:
            continue
        plain.update(data.get("plain", ()))  # a union: a base's list is whole already
        if data.get("kind") == "model":
            bases.append(cls.fullname)
        for rel in _own(cls, data, "rels"):
            rels[rel["name"]] = rel
        for col in _own(cls, data, "columns"):
            columns[col["name"]] = col
        fks.extend(_own(cls, data, "fks"))
    for rel in own["rels"]:
        rels[rel["name"]] = {**rel, "owner": info.fullname}
    for col in own["columns"]:
        columns[col["name"]] = col
    for cls in info.mro[1:]:
        data = metadata(cls)
        if data is not None and data.get("kind") == "mixin":
            for rel in data["rels"]:
                rels.setdefault(rel["name"], {**rel, "owner": cls.fullname})
    slots = [name for name, rel in rels.items()
             if rel["lazy"] is not None and rel["lazy"] not in UNTRACKED_STRATEGIES]
    record: Json = {
        "kind": "model",
        "own_fks": own["fks"] + fks,
        "own_columns": [col["name"] for col in own["columns"]],
        "columns": [col for name, col in columns.items() if name not in rels],
        "plain": sorted(plain - set(columns) - set(rels)),
        "rels": list(rels.values()),
        "slots": slots,
        "table": own["table"],
        "bases": bases,
    }
    info.metadata[names.PLUGIN_KEY] = record
    GENERATION[0] += 1


def _own(cls: TypeInfo, data: Json, key: str) -> list[Any]:
    """What a base declares itself. A mixin's record holds only that. A model's record keeps
    one merged list per kind (each entry is in an incremental run's cache data once): its
    own relationships are the ones it owns, its own columns the ones ``own_columns`` names;
    ``own_fks`` already merges its bases' (what subclasses extend)."""
    if data.get("kind") != "model":
        value = data.get(key)
        return list(value) if isinstance(value, list) else []
    if key == "rels":
        return [rel for rel in data.get("rels", ()) if rel.get("owner") == cls.fullname]
    if key == "columns":
        own = set(data.get("own_columns", ()))
        return [col for col in data.get("columns", ()) if col["name"] in own]
    return list(data.get(f"own_{key}", ()))


def refresh_digest(ctx: ClassDefContext, previous: Json | None) -> None:
    """``expose_digest`` for a model once its record is complete (mapping and members),
    skipped when the record equals the one the class had before this analysis pass: mypy
    analyses most models twice (forward references defer them), and the digest is the
    hook's costliest step. The digest symbol must still be there (fine-grained mode strips
    plugin-generated symbols before analysing a class again)."""
    info = ctx.cls.info
    record = metadata(info)
    if record is None or (record == previous and names.MAPPING_DIGEST in info.names):
        return
    expose_digest(ctx, info, record)


def expose_digest(ctx: ClassDefContext, info: TypeInfo, data: Json) -> None:
    """Put a digest of the mapping in the class's symbol table.

    dmypy decides what to recheck from snapshots of symbol tables and ignores
    ``TypeInfo.metadata``: changing ``lazy=`` alone would leave every query stale. A class
    attribute typed ``Literal["<digest>"]`` changes with the mapping, which fires the trigger
    ``<Model.__eagerload_mapping__>``; the checker hooks make each query depend on it for
    every model they consult (see ``compat.depend_on_mappings``).
    """
    digest = hashlib.blake2b(json.dumps(data, sort_keys=True).encode(), digest_size=8).hexdigest()
    var = Var(names.MAPPING_DIGEST, LiteralType(digest, ctx.api.named_type("builtins.str")))
    var.info = info
    var._fullname = f"{info.fullname}.{names.MAPPING_DIGEST}"
    var.is_classvar = True
    info.names[names.MAPPING_DIGEST] = SymbolTableNode(MDEF, var, plugin_generated=True)


def depend_on_bases(ctx: ClassDefContext) -> None:
    """Re-analyse this class under dmypy when a recorded base (a mixin or a mapped base in
    another module) changes: what the class records merges theirs, and fine-grained mode
    re-runs a class's hooks only when something it depends on fires."""
    for base in ctx.cls.info.mro[1:]:
        if metadata(base) is not None:
            ctx.api.add_plugin_dependency(f"<{base.fullname}.{names.MAPPING_DIGEST}>")


def _is_abstract(defn: ClassDef) -> bool:
    sym = defn.info.names.get("__abstract__")
    return sym is not None and sym.node is not None and any(
        isinstance(stmt, AssignmentStmt) and isinstance(stmt.rvalue, NameExpr)
        and stmt.rvalue.name == "True" and isinstance(stmt.lvalues[0], NameExpr)
        and stmt.lvalues[0].name == "__abstract__"
        for stmt in defn.defs.body)
