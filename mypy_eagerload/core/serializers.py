"""What a serializer reads on an ORM object: ``UserOut.model_validate(user)`` as paths.

pydantic's ``from_attributes`` validation reads every field of the schema on the object
(defaults and ``exclude=True`` notwithstanding), by the field's validation alias when it has
one, the first of ``AliasChoices`` that the object has, each step of an ``AliasPath``; and
for a field whose type is a schema (``PostOut``, ``list[PostOut]``, ``PostOut | None``) it
does the same on the related object(s). A field named like a model member (an ORM
``@property``) reads what that member reads.

A ``Shape`` is the schema as plain data (built by ``hooks.serializers`` from mypy's types):
this module maps it onto a ``Model`` and returns the relationship paths it needs, each with
the field path that causes it (``UserOut.posts[].comments``). Where the schema cannot be
known (``alias_generator``, a ``model_validator(mode="before")``), the shape says why and no
requirement is claimed for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mypy_eagerload.core.schema import Model, Schema, relationship_prefix

Path = tuple[str, ...]
MAX_DEPTH = 6  # relationship hops followed through nested schemas (recursive schemas)


@dataclass(frozen=True)
class Field:
    name: str
    reads: tuple[Path, ...]  # alternatives, in pydantic's order: alias choices, then the name
    nested: tuple[Shape, ...] = ()  # the schemas the field's type holds (a union: several)
    many: bool = False  # a list/sequence of them
    # The field's type holds something besides schemas (``PostOut | int``): pydantic may
    # validate the related object without reading a schema's fields.
    other: bool = False


@dataclass(frozen=True)
class Shape:
    name: str  # shown in messages: "UserOut", "Page[UserOut]"
    fields: tuple[Field, ...]
    unknown: str = ""  # why the schema cannot be read (no requirement is claimed then)


# (model, member name) -> relationship paths that member reads (see hooks.members)
MemberPaths = Callable[[Model, str], list[Path]]


ColumnRead = tuple[Path, str]  # (relationships to the owner, column name)


def requirement(schema: Schema, model: Model, shape: Shape, member_paths: MemberPaths,
                has_attribute: Callable[[Model, str], bool],
                columns: dict[ColumnRead, str] | None = None) -> dict[Path, str]:
    """{relationship path: the field path that reads it}, shortest field path first; the
    columns read (deferred ones matter) go into ``columns`` with their field paths."""
    found: dict[Path, str] = {}
    _walk(schema, model, shape, (), shape.name, member_paths, has_attribute, found,
          columns if columns is not None else {}, 0)
    return found


def _walk(schema: Schema, model: Model, shape: Shape, prefix: Path, shown: str,
          member_paths: MemberPaths, has_attribute: Callable[[Model, str], bool],
          found: dict[Path, str], columns: dict[ColumnRead, str], depth: int) -> None:
    if shape.unknown or depth > MAX_DEPTH:
        return
    for field in shape.fields:
        chain = next((alt for alt in field.reads if alt and has_attribute(model, alt[0])), None)
        if chain is None:
            continue  # the object has none of the names: pydantic uses a default, or fails
        here = f"{shown}.{field.name}"
        path, current, rest = relationship_prefix(schema, model, chain)
        if path:
            found.setdefault(prefix + path, here)
        if current is not None and len(rest) == 1 and current.column(rest[0]) is not None:
            columns.setdefault((prefix + path, rest[0]), here)
        if current is not None and rest and len(rest) == 1:
            for reached in member_paths(current, rest[0]):
                found.setdefault(prefix + path + reached, f"{here} (through {current.name}.{rest[0]})")
        if current is None or rest or not field.nested or not path:
            continue
        # Every schema of a union may be the one pydantic settles on: only what all of them
        # read is certain.
        if field.other:
            continue
        nested_shown = here + ("[]" if field.many else "")
        alternatives: list[dict[Path, str]] = []
        column_alternatives: list[dict[ColumnRead, str]] = []
        for nested in field.nested:
            sub: dict[Path, str] = {}
            sub_columns: dict[ColumnRead, str] = {}
            _walk(schema, current, nested, prefix + path, nested_shown, member_paths, has_attribute,
                  sub, sub_columns, depth + 1)
            alternatives.append(sub)
            column_alternatives.append(sub_columns)
        common = set(alternatives[0]).intersection(*alternatives[1:]) if alternatives else set()
        for p in sorted(common, key=len):
            found.setdefault(p, alternatives[0][p])
        common_columns = set(column_alternatives[0]).intersection(*column_alternatives[1:]) \
            if column_alternatives else set()
        for c in sorted(common_columns):
            columns.setdefault(c, column_alternatives[0][c])

