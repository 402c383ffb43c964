"""pydantic schemas that read ORM objects: ``UserOut.model_validate(user)``, ``TypeAdapter``.

Semantic analysis (the MRO hook, so that pydantic's own plugin keeps its base-class hook):
each ``BaseModel`` subclass's body is read for its fields as written (names, ``Field(alias=,
validation_alias=)`` with ``AliasChoices``/``AliasPath``), its configuration
(``from_attributes``, ``populate_by_name``/``validate_by_name``,
``validate_by_alias``) and what makes it unknowable (``alias_generator``, a non-literal alias,
``model_validator(mode="before"|"wrap")``, ``root_validator(pre=True)``); the record goes into
the class's metadata with a digest for dmypy. ``computed_field`` and other properties are not
fields. Field types are read when checking, from the class's symbols, so generic schemas
(``Page[UserOut]``) are expanded with their arguments.

Checking: the value's load state (as for ``Loaded[...]`` call sites) must cover the paths
``core.serializers.requirement`` derives; each one it does not is an ``unloaded-relationship``
error naming the field path. The FastAPI side is in ``hooks.routes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from mypy.expandtype import expand_type_by_instance
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    AssignmentStmt,
    CallExpr,
    ClassDef,
    Context,
    Decorator,
    DictExpr,
    Expression,
    IntExpr,
    MemberExpr,
    NameExpr,
    StrExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import CheckerPluginInterface, ClassDefContext, MethodContext
from mypy.types import (
    CallableType,
    Instance,
    NoneType,
    Overloaded,
    Type,
    TypeType,
    UnboundType,
    UnionType,
    get_proper_type,
)

from mypy_eagerload import names
from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages, requirements
from mypy_eagerload.core.loadstate import Loaded, State, resolve
from mypy_eagerload.core.patches import PARAMETER, Site
from mypy_eagerload.core.schema import Model
from mypy_eagerload.core.serializers import MAX_DEPTH as SCHEMA_DEPTH
from mypy_eagerload.core.serializers import ColumnRead, Field, Path, Shape, requirement
from mypy_eagerload.hooks.compat import depend_on_mappings, report
from mypy_eagerload.hooks.contracts import CONTAINERS, argument_values, objects, state_of
from mypy_eagerload.hooks.declarations import Json
from mypy_eagerload.hooks.errorcodes import UNLOADED_COLUMN, UNLOADED_RELATIONSHIP, UNVERIFIED_SERIALIZER
from mypy_eagerload.hooks.members import requirement as member_requirement
from mypy_eagerload.hooks.models import expose_digest
from mypy_eagerload.hooks.query_sites import requirement_fix
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, model_info

K = TypeVar("K")
_MAX_NESTING = 4  # how deep a field's declared type is unwrapped, and schemas nested

# ---------------------------------------------------------------------------------------
# Semantic analysis: the schema as written


def is_schema(info: TypeInfo) -> bool:
    return any(base.fullname == names.PYDANTIC_BASE_MODEL for base in info.mro[1:])


def record_schema(ctx: ClassDefContext) -> bool:
    info = ctx.cls.info
    if not is_schema(info):
        return False
    fields: list[Json] = []
    config: Json = {}
    unknown = ""
    for stmt in ctx.cls.defs.body:
        if isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1 \
                and isinstance(stmt.lvalues[0], NameExpr):
            name = stmt.lvalues[0].name
            if name == "model_config":
                config.update(_config_call(stmt.rvalue))
            elif _is_field(stmt, name):
                if _annotated(stmt):
                    # Annotated[..., Field(alias=...)] may rename it: the field is not counted.
                    fields.append({"name": name, "skip": True})
                else:
                    fields.append({"name": name, **_alias(stmt.rvalue)})
        elif isinstance(stmt, ClassDef) and stmt.name == "Config":
            config.update(_config_class(stmt))
        elif isinstance(stmt, Decorator):
            unknown = unknown or _validator_reads_object(stmt)
    if config.get("alias_generator"):
        unknown = unknown or "its alias_generator renames the fields"
    if any(f.get("dynamic") for f in fields):
        unknown = unknown or "an alias is not written as a string literal"
    record: Json = {"fields": fields, "config": config, "unknown": unknown}
    info.metadata[names.SCHEMA_KEY] = record
    expose_digest(ctx, info, record)
    return True


def _is_field(stmt: AssignmentStmt, name: str) -> bool:
    if name.startswith("_") or (stmt.unanalyzed_type is None and stmt.type is None):
        return False  # private attributes and plain assignments are not fields
    written = stmt.unanalyzed_type
    return not (isinstance(written, UnboundType) and written.name.rsplit(".", 1)[-1] == "ClassVar")


def _annotated(stmt: AssignmentStmt) -> bool:
    written = stmt.unanalyzed_type
    return isinstance(written, UnboundType) and written.name.rsplit(".", 1)[-1] == "Annotated"


def _alias(rvalue: Expression) -> Json:
    """{"alias": [[names]...]} alternatives from ``Field(alias=..., validation_alias=...)``."""
    if not (isinstance(rvalue, CallExpr) and _callee_name(rvalue) == "Field"):
        return {}
    found: Json = {}
    for arg_name, arg in zip(rvalue.arg_names, rvalue.args):
        if arg_name in ("alias", "validation_alias"):
            choices = _choices(arg)
            if choices is None:
                return {"dynamic": True}
            if arg_name == "validation_alias" or "validation_alias" not in found:
                found["validation_alias" if arg_name == "validation_alias" else "alias"] = choices
    alias = found.get("validation_alias", found.get("alias"))
    return {"alias": alias} if alias else {}


def _choices(arg: Expression) -> list[list[str]] | None:
    if isinstance(arg, StrExpr):
        return [[arg.value]]
    if isinstance(arg, CallExpr) and _callee_name(arg) == "AliasPath":
        steps = [a.value for a in arg.args if isinstance(a, StrExpr)]
        if len(steps) + sum(isinstance(a, IntExpr) for a in arg.args) != len(arg.args):
            return None
        return [steps]
    if isinstance(arg, CallExpr) and _callee_name(arg) == "AliasChoices":
        out: list[list[str]] = []
        for item in arg.args:
            sub = _choices(item)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def _callee_name(call: CallExpr) -> str:
    callee = call.callee
    return callee.name if isinstance(callee, (NameExpr, MemberExpr)) else ""


# pydantic 2's names. Its v1 names (orm_mode, allow_population_by_field_name) only warn:
# measured, from_orm with orm_mode = True raises "You must set ... from_attributes=True".
_CONFIG_KEYS = {"from_attributes": "from_attributes", "populate_by_name": "by_name",
                "validate_by_name": "by_name", "validate_by_alias": "by_alias",
                "alias_generator": "alias_generator"}


def _config_call(rvalue: Expression) -> Json:
    """``ConfigDict(from_attributes=True, ...)`` or a dict display."""
    pairs: list[tuple[str, Expression]] = []
    if isinstance(rvalue, CallExpr):
        pairs = [(n, a) for n, a in zip(rvalue.arg_names, rvalue.args) if n is not None]
    elif isinstance(rvalue, DictExpr):
        pairs = [(k.value, v) for k, v in rvalue.items if isinstance(k, StrExpr)]
    return _config_values(pairs)


def _config_class(defn: ClassDef) -> Json:
    pairs = [(s.lvalues[0].name, s.rvalue) for s in defn.defs.body
             if isinstance(s, AssignmentStmt) and isinstance(s.lvalues[0], NameExpr)]
    return _config_values(pairs)


def _config_values(pairs: list[tuple[str, Expression]]) -> Json:
    out: Json = {}
    for name, value in pairs:
        key = _CONFIG_KEYS.get(name)
        if key == "alias_generator":
            out[key] = not (isinstance(value, NameExpr) and value.name == "None")
        elif key is not None:
            out[key] = isinstance(value, NameExpr) and value.name == "True"
    return out


def _validator_reads_object(stmt: Decorator) -> str:
    """A validator that runs before the fields are read gets the object itself."""
    for dec in stmt.decorators:
        if not isinstance(dec, CallExpr):
            continue
        kwargs = dict(zip(dec.arg_names, dec.args))
        mode = kwargs.get("mode")
        pre = kwargs.get("pre")
        if _callee_name(dec) == "model_validator" and isinstance(mode, StrExpr) \
                and mode.value in ("before", "wrap"):
            return f'its model_validator(mode="{mode.value}") "{stmt.func.name}" receives the object itself'
        if _callee_name(dec) == "root_validator" and isinstance(pre, NameExpr) and pre.name == "True":
            return f'its root_validator(pre=True) "{stmt.func.name}" receives the object itself'
    return ""


# ---------------------------------------------------------------------------------------
# Checking: from types to shapes


def schema_record(info: TypeInfo) -> Json | None:
    record = info.metadata.get(names.SCHEMA_KEY)
    return record if isinstance(record, dict) else None


class Shapes:
    """Shapes of schema types for one hook call (recursive schemas are cut by depth)."""

    def __init__(self) -> None:
        self.consulted: list[str] = []
        self._memo: dict[tuple[str, int], Shape | None] = {}

    def of(self, typ: Instance, depth: int = 0) -> Shape | None:
        key = (str(typ), depth)
        if key not in self._memo:
            self._memo[key] = None  # a schema that holds itself, at the same depth
            self._memo[key] = self._build(typ, depth)
        return self._memo[key]

    def config(self, info: TypeInfo) -> Json:
        merged: Json = {}
        for cls in reversed(info.mro):
            record = schema_record(cls)
            if record is not None:
                merged.update(record.get("config") or {})
        return merged

    def _build(self, typ: Instance, depth: int) -> Shape | None:
        records = [(cls, r) for cls in reversed(typ.type.mro) if (r := schema_record(cls)) is not None]
        if not records:
            return None
        self.consulted.extend(cls.fullname for cls, _ in records)
        config = self.config(typ.type)
        by_name = bool(config.get("by_name"))
        by_alias = config.get("by_alias", True) is not False
        unknown = next((str(r["unknown"]) for _, r in records if r.get("unknown")), "")
        written: dict[str, Json] = {}
        for _, record in records:
            for field in record.get("fields") or []:
                written[str(field["name"])] = field
        fields = []
        for name, field in written.items():
            if field.get("skip"):
                continue
            reads: list[Path] = []
            alias = field.get("alias")
            if alias and by_alias:
                reads.extend(tuple(choice) for choice in alias)
            if not alias or by_name or not by_alias:
                reads.append((name,))
            nested, many, other = self._nested(self._field_type(typ, name), depth)
            fields.append(Field(name, tuple(reads), tuple(nested), many, other))
        return Shape(shown(typ), tuple(fields), unknown)

    def _field_type(self, typ: Instance, name: str) -> Type | None:
        sym = typ.type.get(name)
        node = sym.node if sym is not None else None
        if not isinstance(node, Var) or node.type is None or node.info is None:
            return None
        owner = map_instance_to_supertype(typ, node.info)
        return expand_type_by_instance(node.type, owner)

    def _nested(self, typ: Type | None, depth: int, seen: int = 0) -> tuple[list[Shape], bool, bool]:
        """(schemas in the type, whether in a container, whether anything else is there)."""
        proper = get_proper_type(typ)
        if proper is None or seen > _MAX_NESTING or depth > _MAX_NESTING:
            return [], False, True
        if isinstance(proper, UnionType):
            shapes: list[Shape] = []
            many = other = False
            for item in proper.items:
                if isinstance(get_proper_type(item), NoneType):
                    continue
                s, m, o = self._nested(item, depth, seen + 1)
                shapes += s
                many, other = many or m, other or o
            return shapes, many, other
        if isinstance(proper, Instance) and schema_record_in_mro(proper.type):
            shape = self.of(proper, depth + 1)
            return ([shape], False, False) if shape is not None else ([], False, True)
        if isinstance(proper, Instance) and proper.type.fullname in CONTAINERS and proper.args:
            shapes, _, other = self._nested(proper.args[0], depth, seen + 1)
            return shapes, True, other
        return [], False, True


def schema_record_in_mro(info: TypeInfo) -> bool:
    return any(schema_record(cls) is not None for cls in info.mro)


def shown(typ: Instance) -> str:
    if not typ.args:
        return typ.type.name
    args = ", ".join(shown(a) if isinstance(a, Instance) else str(a)
                     for a in (get_proper_type(x) for x in typ.args))
    return f"{typ.type.name}[{args}]"


def schema_types(typ: Type, depth: int = 0) -> list[Instance]:
    """The schema types a validation target holds: ``UserOut``, ``list[UserOut]``, ``X | None``."""
    proper = get_proper_type(typ)
    if depth > _MAX_NESTING:
        return []
    if isinstance(proper, UnionType):
        return [s for item in proper.items for s in schema_types(item, depth + 1)]
    if isinstance(proper, Instance) and schema_record_in_mro(proper.type):
        return [proper]
    if isinstance(proper, Instance) and proper.type.fullname in CONTAINERS and proper.args:
        return schema_types(proper.args[0], depth + 1)
    return []


def class_object_type(typ: Type) -> Instance | None:
    """``UserOut`` or ``Page[UserOut]`` used as a value (a class object)."""
    proper = get_proper_type(typ)
    if isinstance(proper, TypeType):
        return proper.item if isinstance(proper.item, Instance) else None
    if isinstance(proper, Overloaded) and proper.items:
        proper = proper.items[0]  # list[UserOut] as a value: its constructors
    if isinstance(proper, CallableType) and proper.is_type_obj():
        ret = get_proper_type(proper.ret_type)
        return ret if isinstance(ret, Instance) else None
    return None


# ---------------------------------------------------------------------------------------
# Checking: the requirement against a value


def check(api: CheckerPluginInterface, schema: CheckerSchema, settings: Settings, targets: list[Instance],
          value: Type, context: Context, reader: str, shapes: Shapes | None = None,
          annotation: Site | None = None) -> None:
    """Report what validating ``value`` as ``targets`` (alternatives) reads and ``value``'s
    load state does not cover. ``annotation``: the ``Loaded[...]`` type ``value`` was
    declared with, when it is not a parameter's (a route's return type)."""
    shapes = shapes or Shapes()
    built = [s for s in (shapes.of(t) for t in targets) if s is not None]
    if not built or len(built) != len(targets):
        return
    unknown = next((s.unknown for s in built if s.unknown), "")
    for obj in objects(value):
        proper = get_proper_type(obj)
        info = model_info(proper)
        model = schema.model(info.fullname) if info is not None else None
        if model is None or not isinstance(proper, Instance):
            continue
        if unknown:  # said once, and only where an ORM object is validated
            report(api, context, f'cannot tell what {reader} reads: {built[0].name} is not checked '
                   f'({unknown})', "make sure the query loads what the validation reads",
                   UNVERIFIED_SERIALIZER)
            return
        column_reads: list[dict[ColumnRead, str]] = [{} for _ in built]
        needed = _common([requirement(schema, model, s, _member_paths(schema), _has_attribute(schema), cols)
                          for s, cols in zip(built, column_reads)])
        state, known = state_of(schema, settings, proper)
        if not known:
            continue
        if settings.enabled("unloaded-column"):
            _check_columns(api, schema, state, _common(column_reads), context, reader)
        if annotation is not None and annotation.kind == PARAMETER and annotation.entity == model.name:
            # A plain model: the patch lists every path the schema reads.
            annotation = replace(annotation, needs=tuple(".".join(p) for p in needed if p))
        for miss in requirements.missing(schema, state, requirements.path_tree(".".join(p) for p in needed)):
            field = _field_for(needed, tuple(rel for _, rel in miss.hops), built[0].name)
            said = _qualified(targets, reader, field, miss)
            shown_reader, shown_field = said or (reader, field)
            report(api, context, messages.serializer_unmet(shown_reader, shown_field, miss, said is not None),
                   requirement_fix(api, schema, proper, miss, context, annotation, _deeper(needed, miss)),
                   UNLOADED_RELATIONSHIP)
    depend_on_mappings(api, [*schema.consulted(), *shapes.consulted])


def _check_columns(api: CheckerPluginInterface, schema: CheckerSchema, state: State | None,
                   reads: dict[ColumnRead, str], context: Context, reader: str) -> None:
    """Deferred columns the fields read and the state says are not loaded."""
    for (path, column), field in sorted(reads.items()):
        current, hops = state, []
        for name in path:
            slot = current.slot(name) if current is not None else None
            if not isinstance(slot, Loaded):
                current = None  # not loaded (reported as a relationship) or unknown
                break
            hops.append((current.model, name) if current is not None else ("", name))
            current = resolve(schema, slot)
        reason = current.column_reason(column) if current is not None else None
        if current is None or reason is None:
            continue
        message = messages.unloaded_column_at(hops, column, reason, current.model)
        report(api, context, f'{reader} reads "{field}": {message}',
               messages.column_fix(hops, column, reason, current.model, True), UNLOADED_COLUMN)


def _deeper(needed: dict[Path, str], miss: requirements.Missing) -> int:
    """How many levels of the missing hop's relationship the schema reads below it, when it
    refers to its own model (a tree): -1 when they go on to where nested schemas are cut (a
    recursive schema reads every level); 0 otherwise."""
    model, rel = miss.hops[-1]
    if miss.target != model:
        return 0
    names = tuple(r for _, r in miss.hops)
    levels = 0
    while names + (rel,) * (levels + 1) in needed:
        levels += 1
    # recursion_depth counts the levels below the first: as many as are read below it.
    return -1 if levels and len(names) + levels >= SCHEMA_DEPTH else levels


def _qualified(targets: list[Instance], reader: str, field: str, miss: requirements.Missing
               ) -> tuple[str, str] | None:
    """``reader`` and ``field`` with the schema's module when a schema has the name of a model
    on the missing path (``CustomerSeat`` the pydantic schema and ``CustomerSeat`` the model:
    the message must say which is which; the models are then qualified too); else None."""
    models = {m.rpartition(".")[2] for m, _ in miss.hops}
    clashing = [t.type for t in targets if t.type.name in models]
    for info in clashing:
        reader = reader.replace(f'"{info.name}.', f'"{info.fullname}.', 1)
        field = info.fullname + field[len(info.name):] if field.startswith(info.name) else field
    return (reader, field) if clashing else None


def _field_for(needed: dict[Path, str], hops: Path, default: str) -> str:
    """The field path behind a missing hop: the path's own, else the first field below it."""
    if hops in needed:
        return needed[hops]
    below = sorted((p for p in needed if p[:len(hops)] == hops), key=len)
    return needed[below[0]] if below else default


def _common(alternatives: list[dict[K, str]]) -> dict[K, str]:
    """What every alternative (the schemas of a union) reads."""
    if not alternatives:
        return {}
    keep = set(alternatives[0]).intersection(*alternatives[1:])
    return {p: f for p, f in alternatives[0].items() if p in keep}


def validation_reads(schema: CheckerSchema, model: Model, target: Instance,
                     call: CallExpr) -> dict[Path, str]:
    """What ``Target.model_validate(obj)`` / ``from_orm(obj)`` (``call``) reads on a ``model``
    object: {relationship path: the field that reads it}; empty when it reads by attribute
    only if told (no ``from_attributes``) or the schema cannot be read. For ``annotate``:
    a serializer helper's parameter needs what its schema reads."""
    flag = _from_attributes_argument(call.arg_names, call.args)
    shapes = Shapes()
    if flag is None:
        flag = bool(shapes.config(target.type).get("from_attributes"))
    shape = shapes.of(target)
    if not flag or shape is None or shape.unknown:
        return {}
    return requirement(schema, model, shape, _member_paths(schema), _has_attribute(schema))


def _member_paths(schema: CheckerSchema) -> Callable[[Model, str], list[Path]]:
    def paths(model: Model, name: str) -> list[Path]:
        return [p for p, _ in member_requirement(schema, model, name)]  # [] if not a member

    return paths


def _has_attribute(schema: CheckerSchema) -> Callable[[Model, str], bool]:
    def has(model: Model, name: str) -> bool:
        info = schema.info(model.fullname)
        return info is not None and info.get(name) is not None

    return has


# ---------------------------------------------------------------------------------------
# Call sites


def validate_hook(lookup: Lookup, settings: Settings, method: str,
                  then: Callable[[MethodContext], Type] | None = None) -> Callable[[MethodContext], Type]:
    """``Schema.model_validate(obj, from_attributes=...)`` and ``Schema.from_orm(obj)``;
    ``then`` is pydantic's own ``from_orm`` check, which this hook would otherwise hide."""

    def hook(ctx: MethodContext) -> Type:
        if then is not None:
            then(ctx)
        target = class_object_type(ctx.type)
        if target is None or not ctx.arg_types or not ctx.arg_types[0]:
            return ctx.default_return_type
        flag = _from_attributes_in(ctx)
        if flag is None:
            flag = bool(Shapes().config(target.type).get("from_attributes"))
        if flag:
            for value in _values(ctx, CheckerSchema(lookup)):
                check(ctx.api, CheckerSchema(lookup), settings, [target], value, ctx.context,
                      f'"{shown(target)}.{method}"')
        return ctx.default_return_type

    return hook


def pydantic_check(plugins: list[str], method: str) -> Callable[[MethodContext], Type] | None:
    """pydantic's mypy plugin checks ``from_orm`` through a method hook too, and mypy uses the
    first plugin's hook only: when ``pydantic.mypy`` is enabled, this plugin's hook runs
    pydantic's check as well (so list mypy_eagerload first; the other order loses this
    plugin's ``from_orm`` check, not pydantic's)."""
    if method != "from_orm" or "pydantic.mypy" not in plugins:
        return None
    try:
        from pydantic.mypy import from_attributes_callback
    except ImportError:  # pydantic 1, or its plugin moved: nothing to chain
        return None
    return from_attributes_callback


def type_adapter_hook(lookup: Lookup, settings: Settings) -> Callable[[MethodContext], Type]:
    """``TypeAdapter(list[UserOut]).validate_python(users, from_attributes=True)``."""

    def hook(ctx: MethodContext) -> Type:
        adapter = ctx.type
        if not isinstance(adapter, Instance) or not adapter.args or not ctx.arg_types or not ctx.arg_types[0]:
            return ctx.default_return_type
        targets = schema_types(adapter.args[0])
        flag = _from_attributes_in(ctx)
        if flag is None:
            configs = [Shapes().config(t.type) for t in targets]
            flag = bool(configs) and all(c.get("from_attributes") for c in configs)
        if targets and flag:
            for value in _values(ctx, CheckerSchema(lookup)):
                check(ctx.api, CheckerSchema(lookup), settings, targets, value, ctx.context,
                      '"TypeAdapter.validate_python"')
        return ctx.default_return_type

    return hook


def _values(ctx: MethodContext, schema: CheckerSchema) -> list[Type]:
    """The validated value's type (the parameter is ``Any``: see ``argument_values``)."""
    if not ctx.args or not ctx.args[0]:
        return []
    return [t for t, _ in argument_values(ctx.api, schema, ctx.args[0][0], ctx.arg_types[0][0])]


def _from_attributes_in(ctx: MethodContext) -> bool | None:
    return _from_attributes_argument([n for names_ in ctx.arg_names for n in names_],
                                     [a for args in ctx.args for a in args])


def _from_attributes_argument(arg_names: Sequence[str | None], args: Sequence[Expression]) -> bool | None:
    """True or False as written; None when not given. A value that is not a literal
    counts as False: the plugin cannot tell, so it claims nothing."""
    for name, arg in zip(arg_names, args):
        if name == "from_attributes":
            return isinstance(arg, NameExpr) and arg.name == "True"
    return None
