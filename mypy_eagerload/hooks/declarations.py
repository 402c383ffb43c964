"""Read relationship declarations from class bodies, syntactically.

The same scanner serves mapped classes (after their body is analysed) and mixins (from
``get_customize_class_mro_hook``, before analysis), so a declaration reads the same whether
its module was just analysed or comes from the cache: the result is stored as JSON in the
class's ``TypeInfo.metadata``, which mypy serializes. Names are matched by their last
component (``relationship``, ``orm.relationship``), since a mixin's names are not resolved yet.
"""

from __future__ import annotations

from typing import Any

from mypy.nodes import (
    AssignmentStmt,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    MemberExpr,
    NameExpr,
    ReturnStmt,
    Statement,
    StrExpr,
    TempNode,
)
from mypy.types import UnboundType

from mypy_eagerload.core.schema import ALL_STRATEGIES
from mypy_eagerload.hooks.constants import Folder, literal

Json = dict[str, Any]

UNTRACKED_ANNOTATIONS = {"WriteOnlyMapped": "write_only", "DynamicMapped": "dynamic"}


def _last_name(expr: Expression) -> str | None:
    if isinstance(expr, (NameExpr, MemberExpr)):
        return expr.name
    return None


def _is_call_to(expr: Expression | None, name: str) -> bool:
    return isinstance(expr, CallExpr) and _last_name(expr.callee) == name


def _kwarg(call: CallExpr, name: str) -> Expression | None:
    for arg_name, arg in zip(call.arg_names, call.args):
        if arg_name == name:
            return arg
    return None


def _value(call: CallExpr, name: str, fold: Folder) -> object:
    """The keyword argument's constant value; ABSENT without one, UNKNOWN when not constant."""
    expr = _kwarg(call, name)
    return ABSENT if expr is None else fold(expr)


ABSENT = object()


def _lazy(value: object) -> str | None:
    """The strategy ``lazy=`` names; None when it is not one we track."""
    if value is ABSENT:
        return "select"
    # relationship(lazy=True / False / None): SQLAlchemy's old spellings (orm/strategies.py).
    if value is True:
        return "select"
    if value is False:
        return "joined"
    if value is None:
        return "noload"
    return value if isinstance(value, str) and value in ALL_STRATEGIES else None


def _relationship_record(name: str, call: CallExpr, annotation_kind: str | None, fold: Folder) -> Json:
    lazy = annotation_kind if annotation_kind is not None else _lazy(_value(call, "lazy", fold))
    uselist = _value(call, "uselist", fold)
    back = _value(call, "back_populates", fold)
    if not isinstance(back, str):
        back = _value(call, "backref", fold)
    join_depth = _value(call, "join_depth", fold)
    return _compact({
        "name": name,
        "lazy": lazy,
        "back_populates": back if isinstance(back, str) else None,
        "uselist": uselist if isinstance(uselist, bool) else None,
        "join_depth": join_depth if isinstance(join_depth, int) and not isinstance(join_depth, bool)
        else None,
    }, _RELATIONSHIP_DEFAULTS)


# Fields left out of a record when they hold these values, which the readers' ``.get``
# defaults give back. (``lazy`` is always kept: None there means "not tracked".)
_RELATIONSHIP_DEFAULTS: Json = {"back_populates": None, "uselist": None, "join_depth": None}
_COLUMN_DEFAULTS: Json = {"deferred": False, "raiseload": False, "group": None, "fks": []}


def _compact(record: Json, defaults: Json) -> Json:
    """The record without its default-valued fields: records are in every model's cache
    data, which an incremental run deserializes for every model it depends on."""
    return {k: v for k, v in record.items() if k not in defaults or v != defaults[k]}


def _annotation_kind(stmt: AssignmentStmt) -> str | None:
    annotation = stmt.unanalyzed_type
    if isinstance(annotation, UnboundType):
        return UNTRACKED_ANNOTATIONS.get(annotation.name.rsplit(".", 1)[-1])
    return None


def _returned_relationship(decorator: Decorator) -> CallExpr | None:
    if not any(_is_declared_attr(d) for d in decorator.decorators):
        return None
    for stmt in decorator.func.body.body:
        if isinstance(stmt, ReturnStmt) and _is_call_to(stmt.expr, "relationship"):
            assert isinstance(stmt.expr, CallExpr)
            return stmt.expr
    return None


def _is_declared_attr(expr: Expression) -> bool:
    while isinstance(expr, MemberExpr) and expr.name != "declared_attr":
        expr = expr.expr  # declared_attr.directive, orm.declared_attr
    return _last_name(expr) == "declared_attr"


def _foreign_key_tables(call: CallExpr) -> list[str]:
    tables = []
    for arg in call.args:
        if _is_call_to(arg, "ForeignKey") and isinstance(arg, CallExpr) and arg.args:
            target = arg.args[0]
            if isinstance(target, StrExpr) and "." in target.value:
                tables.append(target.value.rsplit(".", 1)[0])
    return tables


def _bool_kwarg(call: CallExpr, name: str, fold: Folder) -> bool | None:
    """True/False for a constant keyword, False when absent, None for anything else."""
    value = _value(call, name, fold)
    if value is ABSENT:
        return False
    return value if isinstance(value, bool) else None


def _column_record(name: str, call: CallExpr, fold: Folder) -> Json | None:
    """A mapped column; None for a primary key (always loaded) or one we cannot read."""
    kind = _last_name(call.callee)
    inner = call.args[0] if kind == "deferred" and call.args and isinstance(call.args[0], CallExpr) else call
    if _bool_kwarg(inner, "primary_key", fold):
        return None
    group = _value(call, "deferred_group" if kind not in {"deferred", "column_property"} else "group", fold)
    if group is not ABSENT and not isinstance(group, str):
        return None
    raise_name = "deferred_raiseload" if kind in ("mapped_column", "Column") else "raiseload"
    deferred, raiseload = _bool_kwarg(call, "deferred", fold), _bool_kwarg(call, raise_name, fold)
    if deferred is None or raiseload is None:
        return None
    # deferred(), a group and deferred_raiseload each imply a deferred column.
    deferred = deferred or kind == "deferred" or group is not ABSENT or raiseload
    return _compact({"name": name, "deferred": deferred, "raiseload": raiseload,
                     "group": group if isinstance(group, str) else None,
                     "fks": _foreign_key_tables(inner)}, _COLUMN_DEFAULTS)


COLUMN_CALLS = frozenset({"mapped_column", "Column", "deferred", "column_property"})


def _declared_relationship_kind(decorator: Decorator) -> str | None:
    ret = decorator.func.unanalyzed_type
    ret_type = getattr(ret, "ret_type", None)
    if isinstance(ret_type, UnboundType):
        return UNTRACKED_ANNOTATIONS.get(ret_type.name.rsplit(".", 1)[-1])
    return None


def scan_class(defn: ClassDef, fold: Folder = literal) -> Json:
    """Relationships, table name and foreign-key targets declared in one class body;
    ``fold`` reads constant arguments (``hooks.constants``)."""
    rels: list[Json] = []
    fks: list[str] = []
    columns: list[Json] = []
    plain: list[str] = []  # columns not tracked (primary keys, arguments not read): names only
    table: str | None = None
    for stmt in _statements(defn.defs.body):
        if isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1:
            lvalue = stmt.lvalues[0]
            if not isinstance(lvalue, NameExpr):
                continue
            if _is_call_to(stmt.rvalue, "relationship"):
                assert isinstance(stmt.rvalue, CallExpr)
                rels.append(_relationship_record(lvalue.name, stmt.rvalue, _annotation_kind(stmt), fold))
            elif isinstance(stmt.rvalue, CallExpr) and _last_name(stmt.rvalue.callee) in COLUMN_CALLS:
                fks.extend(_foreign_key_tables(stmt.rvalue))
                column = _column_record(lvalue.name, stmt.rvalue, fold)
                if column is not None:
                    columns.append(column)
                else:
                    plain.append(lvalue.name)
            elif isinstance(stmt.rvalue, TempNode) and _is_mapped_annotation(stmt):
                columns.append({"name": lvalue.name})
            elif lvalue.name == "__tablename__" and isinstance(stmt.rvalue, StrExpr):
                table = stmt.rvalue.value
        elif isinstance(stmt, Decorator):
            call = _returned_relationship(stmt)
            if call is not None:
                rels.append(_relationship_record(stmt.func.name, call,
                                                 _declared_relationship_kind(stmt), fold))
    return {"rels": rels, "fks": fks, "columns": columns, "plain": plain, "table": table}


def _is_mapped_annotation(stmt: AssignmentStmt) -> bool:
    """``name: Mapped[int]`` with no value: a column taken from the annotation alone."""
    annotation = stmt.unanalyzed_type
    return isinstance(annotation, UnboundType) and annotation.name.rsplit(".", 1)[-1] == "Mapped"


def _statements(body: list[Statement]) -> list[Statement]:
    return [s for s in body if isinstance(s, (AssignmentStmt, Decorator))]


def has_declared_attr_relationship(defn: ClassDef) -> bool:
    return any(isinstance(s, Decorator) and _returned_relationship(s) is not None
               for s in defn.defs.body)
