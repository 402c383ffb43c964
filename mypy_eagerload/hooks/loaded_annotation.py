"""``Loaded[User, "posts", "posts.comments"]``: the annotation, as mypy sees it.

The analysed type is the plain model type ``User`` carrying the required paths in
``Instance.extra_attrs`` under a key no attribute can have. mypy ignores that field in
subtyping, so the annotation never produces a mypy error of its own: an object of unknown
origin (``User``) still passes, as in a run without the plugin. The plugin reads the field:
for whoever holds the object (``hooks.access``) it is a load state, and for whoever passes or
returns one (``hooks.contracts``) a requirement to check. Joins drop the field, which leaves
the object "unknown": never a false claim. The field is serialized with the type, so warm
caches, parallel workers and dmypy see what a cold run sees.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import GDEF, Import, ImportFrom, MypyFile, SymbolTableNode, TypeInfo, Var
from mypy.plugin import AnalyzeTypeContext
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    NoneType,
    PlaceholderType,
    ProperType,
    RawExpressionType,
    Type,
    TypeOfAny,
    UnboundType,
    UnionType,
    get_proper_type,
)

from mypy_eagerload.core import requirements
from mypy_eagerload.core.requirements import Requirement
from mypy_eagerload.hooks import compat
from mypy_eagerload.hooks.errorcodes import LOADED_PATH
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup

REQUIREMENT_KEY = "<eagerload:loaded>"  # not an identifier: no attribute read can hit it
NEW_KEY = "<eagerload:new>"  # strict mode: an object built in code (``User(...)``)


def analyze_hook(lookup: Lookup, fullname: str) -> Callable[[AnalyzeTypeContext], Type]:
    """The hook for ``typing.Annotated``: ``Loaded`` is an alias of it (see ``loaded.py``),
    so every ``Annotated[...]`` comes here; the ones not written as ``Loaded`` go back to
    mypy's own analysis."""

    def hook(ctx: AnalyzeTypeContext) -> Type:
        if not _written_as_loaded(ctx, lookup):
            return compat.analyze_annotated(ctx, fullname)
        args = ctx.type.args
        if len(args) < 2:
            # Not a valid ``Annotated`` either: mypy's own error and type, as without the plugin.
            return compat.analyze_annotated(ctx, fullname)
        analysed = ctx.api.analyze_type(args[0])
        model_type = get_proper_type(analysed)
        if not isinstance(model_type, Instance):
            if not isinstance(model_type, (AnyType, PlaceholderType)):  # deferred, or reported
                ctx.api.fail(_not_a_model(model_type), ctx.context, code=LOADED_PATH)
            return analysed
        paths = [_string(arg) for arg in args[1:]]
        if any(p is None for p in paths):
            ctx.api.fail('Loaded[...] takes a model, then relationship paths as strings '
                         '(Loaded[User, "posts", "posts.comments"])', ctx.context, code=LOADED_PATH)
            return model_type
        blank = next((p for p in paths if p is not None and not p.strip()), None)
        if blank is not None:
            ctx.api.fail(f'Loaded[{model_type.type.name}, "{blank}"] names no relationship: list the paths '
                         f'that are loaded (Loaded[{model_type.type.name}, "posts", "posts.comments"])',
                         ctx.context, code=LOADED_PATH)
            return model_type
        data = metadata(model_type.type)
        if data is None or data.get("kind") != "model":
            ctx.api.fail(f'Loaded[...] needs a mapped model class, not "{model_type.type.name}"',
                         ctx.context, code=LOADED_PATH)
            return model_type
        requirement = Requirement(model_type.type.fullname,
                                  requirements.normalize(p for p in paths if p is not None))
        if not _validate(ctx, lookup, model_type.type, requirement):
            return model_type
        _mark_module(ctx)
        return with_requirement(model_type, requirement, ctx.api.named_type("builtins.str", []))

    return hook


def _not_a_model(typ: ProperType) -> str:
    if isinstance(typ, UnionType):
        shown = " | ".join(_short(get_proper_type(item)) for item in typ.items)
        models = [item for item in map(get_proper_type, typ.items) if isinstance(item, Instance)]
        fix = (f': write Loaded[{models[0].type.name}, ...] | None' if len(models) == 1
               and len(typ.items) == 2 and any(isinstance(get_proper_type(i), NoneType) for i in typ.items)
               else ": annotate each model of the union with its own Loaded[...]")
        return f'Loaded[...] takes one mapped model class, not the union "{shown}"{fix}'
    return f'Loaded[...] needs a mapped model class, not "{_short(typ)}"'


def _short(typ: ProperType) -> str:
    if isinstance(typ, Instance):
        return typ.type.name
    if isinstance(typ, NoneType):
        return "None"
    return str(typ)


def _written_as_loaded(ctx: AnalyzeTypeContext, lookup: Lookup) -> bool:
    """Whether the name as written (``Loaded``, ``me.Loaded``) was imported from this
    package, directly or through one re-exporting module."""
    module = compat.current_module(ctx.api)
    head, _, rest = ctx.type.name.partition(".")
    if module is None or (rest and rest != "Loaded"):
        return False
    return _binds_loaded(module, head, bool(rest), lookup, hops=2)


def _binds_loaded(module: MypyFile, name: str, as_module: bool, lookup: Lookup, hops: int) -> bool:
    for imp in module.imports:
        if as_module and isinstance(imp, Import):
            if any((alias or mod.split(".")[0]) == name and mod in _OWN_MODULES
                   for mod, alias in imp.ids):
                return True
        elif not as_module and isinstance(imp, ImportFrom):
            for source, alias in imp.names:
                if (alias or source) != name:
                    continue
                if imp.id in _OWN_MODULES and source == "Loaded":
                    return True
                sym = lookup(imp.id)  # a project module that re-exports it
                if hops > 1 and sym is not None and isinstance(sym.node, MypyFile):
                    return _binds_loaded(sym.node, source, False, lookup, hops - 1)
    return False


_OWN_MODULES = frozenset({"mypy_eagerload", "mypy_eagerload.loaded"})


CONTRACTS_MARKER = "__eagerload_contracts__"


def _mark_module(ctx: AnalyzeTypeContext) -> None:
    """Record in the module's symbol table (serialized with it) that it has ``Loaded[...]``
    annotations: call sites look for requirements only in functions of such modules."""
    module = compat.current_module(ctx.api)
    if module is None or CONTRACTS_MARKER in module.names:
        return
    var = Var(CONTRACTS_MARKER, AnyType(TypeOfAny.special_form))
    var._fullname = f"{module.fullname}.{CONTRACTS_MARKER}"
    module.names[CONTRACTS_MARKER] = SymbolTableNode(GDEF, var, plugin_generated=True,
                                                     module_public=False)


def has_contracts(module: object) -> bool:
    return isinstance(module, MypyFile) and CONTRACTS_MARKER in module.names


def _string(arg: Type) -> str | None:
    """A string argument: mypy parses ``"posts"`` in a type as a forward reference."""
    if isinstance(arg, UnboundType) and arg.original_str_expr is not None:
        return arg.original_str_expr
    if isinstance(arg, RawExpressionType) and isinstance(arg.literal_value, str):
        return arg.literal_value
    return None


def _validate(ctx: AnalyzeTypeContext, lookup: Lookup, info: TypeInfo, req: Requirement) -> bool:
    """Report misspelled paths. Returns False when the models are not analysed yet (the
    annotation is then left plain on the final iteration: unknown, never a wrong claim)."""
    schema = CheckerSchema(lookup)
    model = schema.model(info.fullname)
    if model is None or not _targets_ready(schema, req):
        compat.defer_analysis(ctx.api)
        return False
    ok = True
    for path in req.paths:
        problem = requirements.validate(schema, model, path)
        if problem is not None:
            ctx.api.fail(problem, ctx.context, code=LOADED_PATH)
            ok = False
    compat.semanal_depend_on_mappings(ctx.api, schema.consulted())
    return ok


def _targets_ready(schema: CheckerSchema, req: Requirement) -> bool:
    """Every relationship a path walks resolves to a target (same-module forward
    references may still be unanalysed on an early semantic analysis pass)."""
    model = schema.model(req.model)
    for path in req.paths:
        current = model
        for name in path.split("."):
            if current is None:
                break
            rel = current.relationship(name)
            if rel is None:
                break  # reported by validate()
            if not rel.target:
                return False
            current = schema.model(rel.target)
    return True


def with_requirement(typ: Instance, req: Requirement, str_type: Instance) -> Instance:
    value = LiteralType(req.encode(), str_type)
    return typ.copy_with_extra_attr(REQUIREMENT_KEY, value)


def mark_new(typ: Instance, str_type: Instance) -> Instance:
    """``User(...)``: exempt from strict mode's assumptions (nothing to lazy-load yet)."""
    value = LiteralType("", str_type)
    return typ.copy_with_extra_attr(NEW_KEY, value)


def requirement_of(typ: Type) -> Requirement | None:
    """The requirement an annotated type carries, if any."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or proper.extra_attrs is None:
        return None
    value = get_proper_type(proper.extra_attrs.attrs.get(REQUIREMENT_KEY))
    if isinstance(value, LiteralType) and isinstance(value.value, str):
        return Requirement.decode(proper.type.fullname, value.value)
    return None


def is_new_object(typ: ProperType) -> bool:
    return isinstance(typ, Instance) and typ.extra_attrs is not None \
        and NEW_KEY in typ.extra_attrs.attrs


def annotation_text(req: Requirement) -> str:
    model = req.model.rsplit(".", 1)[-1]
    return "Loaded[" + ", ".join([model, *(f'"{p}"' for p in req.paths)]) + "]"
