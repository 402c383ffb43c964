"""Run mypy once over the project and record what each function reads on its parameters.

This is the only part of ``annotate`` that knows mypy. The build keeps every module's tree
and the type of every expression (``preserve_asts``, ``export_types``) and runs the plugin,
which records the models, their members' chains and the paths of ``Loaded[...]`` annotations
already written. It is incremental, with a cache of its own (``<cache_dir>/eagerload-annotate``):
a module mypy finds fresh comes from that cache without its bodies, and its facts come from
the store beside it (``facts``); a fresh module with no stored facts makes the build run cold.

Per function and model-typed parameter (``User``, ``User | None``, ``list[User]``,
``Sequence[User]``, an existing ``Loaded[User, ...]``), the walk records:

* reads: attribute chains from the parameter (through indexing, loops, comprehensions and
  local aliases, the same walk as model members use for ``self``), cut where they leave
  relationships; a model member on the way adds that member's requirement;
* calls: arguments reached from the parameter by relationships only, passed to a function
  defined in the analysed files (resolved by mypy's type of the callee, so methods and
  imported names work), with the parameter they land in.
"""

from __future__ import annotations

import ast
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# isort: off
# mypy.main first: importing mypy.argmap first runs into an import cycle inside mypy.
from mypy.main import process_options
from mypy.argmap import map_actuals_to_formals

# isort: on
from mypy.build import BuildResult, build, process_fresh_modules, sorted_components
from mypy.lookup import lookup_fully_qualified
from mypy.nodes import (
    ARG_NAMED,
    ARG_POS,
    AssignmentStmt,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    ForStmt,
    FuncDef,
    MemberExpr,
    MypyFile,
    NameExpr,
    Node,
    RefExpr,
    SymbolTableNode,
    TypeInfo,
)
from mypy.types import AnyType, CallableType, Instance, NoneType, Type, TypeOfAny, UnionType, get_proper_type

from mypy_eagerload import names
from mypy_eagerload.annotate.facts import FactStore
from mypy_eagerload.annotate.infer import Call, Function, Param, Read
from mypy_eagerload.core.schema import Model, relationship_prefix
from mypy_eagerload.hooks.contracts import CONTAINERS
from mypy_eagerload.hooks.loaded_annotation import requirement_of
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.parameter_reads import Reader
from mypy_eagerload.hooks.schema import CheckerSchema
from mypy_eagerload.hooks.serializers import class_object_type, validation_reads
from mypy_eagerload.hooks.syntax import attribute_chain, walk_nodes
from mypy_eagerload.names import SCHEMA_VALIDATORS

PLUGIN = "mypy_eagerload.plugin"
_MAX_NESTING = 4  # how deep a parameter's declared type is unwrapped (recursive aliases)


class BuildFailed(Exception):
    """mypy stopped with blocking errors (syntax errors, missing modules it cannot skip)."""


@dataclass
class Project:
    functions: dict[str, Function]
    files: dict[str, str]  # module -> path of the analysed source
    schema: CheckerSchema

    def trim(self, model: str, path: tuple[str, ...]) -> tuple[str, ...]:
        """The longest prefix of ``path`` that is a relationship path of ``model``."""
        current = self.schema.model(model)
        for i, name in enumerate(path):
            rel = current.relationship(name) if current is not None else None
            if rel is None:
                return path[:i]
            current = self.schema.model(rel.target) if rel.target else None
        return path


CACHE_SUBDIR = "eagerload-annotate"


class _MissingFacts(Exception):
    """A module came from mypy's cache and its facts are not in the store."""


def analyse(targets: list[str], config_file: str | None, use_cache: bool = True) -> Project:
    """Every function's facts. With ``use_cache``, a warm run re-walks only what mypy re-checks."""
    for cold in (False, True):
        result, modules, store = _build(targets, config_file, use_cache, cold)
        try:
            return _project(result, modules, store)
        except _MissingFacts:
            continue
    raise AssertionError("a cold build has every tree")  # _project never raises then


def _project(result: BuildResult, modules: set[str], store: FactStore | None) -> Project:
    schema = CheckerSchema(lambda name: _lookup(name, result.files))
    functions: dict[str, Function] = {}
    files: dict[str, str] = {}
    for module in sorted(modules):
        tree = result.files.get(module)
        if tree is None:
            continue
        files[module] = tree.path
        if store is not None and not tree.defs:  # loaded from the cache: no statements
            saved = store.load(module, tree.path)
            if saved is None and _defines_functions(tree.path):
                raise _MissingFacts(module)
            functions.update((fn.fullname, fn) for fn in saved or [])
            continue
        found = [fn for func, is_method in _functions(tree.defs)
                 if (fn := _function(func, is_method, tree, result, schema)) is not None]
        functions.update((fn.fullname, fn) for fn in found)
        if store is not None:
            store.save(module, tree.path, found)
    _keep_project_calls(functions)
    return Project(functions, files, schema)


def _defines_functions(path: str) -> bool:
    """Whether the source defines a function or class (else its facts are empty anyway)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return True
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               for node in ast.walk(tree))


def _lookup(name: str, modules: dict[str, MypyFile]) -> SymbolTableNode | None:
    return lookup_fully_qualified(name, modules, raise_on_missing=False)


def _build(targets: list[str], config_file: str | None, use_cache: bool, cold: bool
           ) -> tuple[BuildResult, set[str], FactStore | None]:
    """mypy with the project's configuration (found as mypy finds it, or ``config_file``)."""
    args = [*(["--config-file", config_file] if config_file else []), *targets]
    sources, options = process_options(args, require_targets=False)
    if not sources:
        raise BuildFailed("no Python files to analyse (name paths, or set files= in the mypy configuration)")
    options.preserve_asts = True
    options.export_types = True
    store = None
    if use_cache and options.cache_dir != os.devnull:
        # A cache of annotate's own: the project's mypy runs (with other options) keep theirs.
        root = os.path.join(options.cache_dir, CACHE_SUBDIR)
        if cold:
            shutil.rmtree(root, ignore_errors=True)
        options.cache_dir = os.path.join(root, "mypy")
        options.incremental = True
        store = FactStore(os.path.join(root, "facts"))
    else:
        options.incremental = False
        options.cache_dir = os.devnull
    if PLUGIN not in options.plugins:
        options.plugins = [*options.plugins, PLUGIN]
    try:
        result = build(sources, options)
    except Exception as exc:  # CompileError: blocking errors, already formatted by mypy
        messages = getattr(exc, "messages", None) or [str(exc)]
        raise BuildFailed("\n".join(messages)) from exc
    _load_fresh_modules(result)
    return result, {source.module for source in sources}, store


def _load_fresh_modules(result: BuildResult) -> None:
    """Load the symbol tables of modules mypy found fresh and did not need: a warm run
    that re-checks little loads only what the stale modules import, but the models and the
    modules' paths are needed for every module."""
    if all(module in result.files for module in result.graph):
        return
    for scc in sorted_components(result.graph):  # dependencies first, as mypy loads them
        ids = sorted(module for module in scc.mod_ids if module not in result.files)
        if ids:
            process_fresh_modules(result.graph, ids, result.manager)


def _functions(defs: Sequence[object], depth: int = 0) -> Iterator[tuple[FuncDef, bool]]:
    """Module-level functions and the methods of (nested) classes (and whether a method)."""
    for node in defs:
        if isinstance(node, Decorator):
            yield node.func, depth > 0
        elif isinstance(node, FuncDef):
            yield node, depth > 0
        elif isinstance(node, ClassDef) and depth < _MAX_NESTING:
            yield from _functions(node.defs.body, depth + 1)


def _is_dependency(default: Expression | None) -> bool:
    """``Depends(get_order)`` (``fastapi.Depends``)."""
    return isinstance(default, CallExpr) and isinstance(default.callee, RefExpr) \
        and default.callee.fullname in names.DEPENDS


def _function(func: FuncDef, is_method: bool, tree: MypyFile, result: BuildResult,
              schema: CheckerSchema) -> Function | None:
    signature = func.type
    if not isinstance(signature, CallableType):
        return None  # unannotated: mypy does not check its body against a parameter type
    fn = Function(func.fullname, tree.fullname, tree.path, func.line)
    skip_first = is_method and not func.is_static  # self, or cls of a classmethod
    for index, argument in enumerate(func.arguments):
        if (index == 0 and skip_first) or index >= len(signature.arg_types):
            continue
        found = _model_of(signature.arg_types[index])
        if found is None:
            models = _models_in_union(signature.arg_types[index])
            if len(models) > 1:
                fn.skipped[argument.variable.name] = (
                    f"a union of models ({' | '.join(models)}): which one a read is on is not known; "
                    "annotate each model of the union with Loaded[...] yourself")
            continue
        info, existing = found
        if _is_dependency(argument.initializer):
            # FastAPI fills it with what the dependency returns: no call site would check a
            # Loaded[...] written here, so it would only hide what the dependency misses.
            fn.skipped[argument.variable.name] = (
                "FastAPI passes what the dependency returns: make the dependency load what "
                "this function reads")
            continue
        fn.params[argument.variable.name] = Param(argument.variable.name, info.fullname, existing)
    if not fn.params:
        return fn
    nodes = list(walk_nodes(func))
    _mark_rebound(fn, nodes)
    reader = Reader(schema, nodes, {name: p.model for name, p in fn.params.items() if p.rewritable})
    env = reader.env
    for node in nodes:
        if isinstance(node, MemberExpr):
            fn.reads.extend(reader.read(node))
        elif isinstance(node, CallExpr):
            _record_call(fn, node, env, result, schema)
            _record_validation(fn, node, env, result, schema)
    return fn


def _model_of(typ: Type, depth: int = 0) -> tuple[TypeInfo, tuple[str, ...]] | None:
    """The mapped class in ``User``, ``User | None``, ``list[User]``, ``Loaded[User, ...]``,
    with the paths already written."""
    if depth > _MAX_NESTING:
        return None
    proper = get_proper_type(typ)
    if isinstance(proper, UnionType):
        items = [i for i in proper.items if not isinstance(get_proper_type(i), NoneType)]
        return _model_of(items[0], depth + 1) if len(items) == 1 else None
    if not isinstance(proper, Instance):
        return None
    data = metadata(proper.type)
    if data is not None and data.get("kind") == "model":
        req = requirement_of(proper)
        return proper.type, (req.paths if req is not None else ())
    if proper.type.fullname in CONTAINERS and len(proper.args) >= 1:
        return _model_of(proper.args[0], depth + 1)
    return None


def _models_in_union(typ: Type) -> list[str]:
    proper = get_proper_type(typ)
    if not isinstance(proper, UnionType):
        return []
    names = []
    for item in map(get_proper_type, proper.items):
        if isinstance(item, Instance) and (metadata(item.type) or {}).get("kind") == "model":
            names.append(item.type.name)
    return names


def _mark_rebound(fn: Function, nodes: list[Node]) -> None:
    """A parameter assigned in the body may hold another object: its reads are not the
    caller's business, and an annotation would claim too much. Left alone."""
    for node in nodes:
        targets: list[Expression] = []
        if isinstance(node, AssignmentStmt):
            targets = node.lvalues
        elif isinstance(node, ForStmt):
            targets = [node.index]
        for target in targets:
            if isinstance(target, NameExpr) and target.name in fn.params:
                param = fn.params[target.name]
                param.rewritable, param.why_not = False, f"assigned on line {node.line}"


def _record_call(fn: Function, call: CallExpr, env: dict[str, tuple[str, tuple[str, ...]]],
                 result: BuildResult, schema: CheckerSchema) -> None:
    callee_type = get_proper_type(result.types.get(call.callee))
    if not isinstance(callee_type, CallableType) or not isinstance(callee_type.definition, FuncDef):
        return
    callee = callee_type.definition.fullname
    formals = map_actuals_to_formals(
        call.arg_kinds, call.arg_names, callee_type.arg_kinds, callee_type.arg_names,
        lambda i: result.types.get(call.args[i]) or AnyType(TypeOfAny.special_form))
    for formal, actuals in enumerate(formals):
        name = callee_type.arg_names[formal]
        if len(actuals) != 1 or name is None or call.arg_kinds[actuals[0]] not in (ARG_POS, ARG_NAMED):
            continue
        passed = _object_from_parameter(fn, call.args[actuals[0]], env, schema)
        if passed is not None:
            root, path, reached, shown = passed
            fn.calls.append(Call(root, path, callee, name, call.line,
                                 f"{callee.rsplit('.', 1)[-1]}({name}={shown})", reached.fullname))


def _object_from_parameter(fn: Function, expr: Expression, env: dict[str, tuple[str, tuple[str, ...]]],
                           schema: CheckerSchema) -> tuple[str, tuple[str, ...], Model, str] | None:
    """(parameter, relationship path, model reached, as written) when ``expr`` is an object
    reached from a rewritable parameter through relationships only; None for anything else
    (a column, a member's result: not an object the callee's facts describe)."""
    found = attribute_chain(expr, env)
    if found is None or found[0] not in fn.params or not fn.params[found[0]].rewritable:
        return None
    root, names = found
    model = schema.model(fn.params[root].model)
    if model is None:
        return None
    path, reached, rest = relationship_prefix(schema, model, names)
    if rest or reached is None:
        return None
    return root, path, reached, ".".join((root, *names))


def _record_validation(fn: Function, call: CallExpr, env: dict[str, tuple[str, tuple[str, ...]]],
                       result: BuildResult, schema: CheckerSchema) -> None:
    """``AuthorOut.model_validate(author)`` (or ``from_orm``): the schema's reads are reads
    of the parameter the object comes from (a serializer helper needs them loaded)."""
    callee = call.callee
    if not isinstance(callee, MemberExpr) or callee.name not in SCHEMA_VALIDATORS or not call.args:
        return
    target = class_object_type(result.types.get(callee.expr) or AnyType(TypeOfAny.special_form))
    passed = _object_from_parameter(fn, call.args[0], env, schema)
    if target is None or passed is None:
        return
    root, path, reached, written = passed
    shown = f"{target.type.name}.{callee.name}({written})"
    if path:
        fn.reads.append(Read(root, path, call.line, shown))
    for sub, field in validation_reads(schema, reached, target, call).items():
        fn.reads.append(Read(root, path + sub, call.line, f"{shown}: {field}"))


def _keep_project_calls(functions: dict[str, Function]) -> None:
    """Calls to functions outside the analysed files say nothing (their bodies are not read)."""
    for fn in functions.values():
        fn.calls = [c for c in fn.calls if c.callee in functions]
