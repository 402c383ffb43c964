"""The few places where the plugin leans on mypy internals, guarded in one module."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mypy.errorcodes import ErrorCode
from mypy.nodes import Context, Expression, FuncItem, MypyFile
from mypy.plugin import AnalyzeTypeContext, CheckerPluginInterface
from mypy.types import AnyType, Type, TypeOfAny

from mypy_eagerload.names import MAPPING_DIGEST


@contextmanager
def unwatched(api: CheckerPluginInterface) -> Iterator[bool]:
    """Report past mypy's error watchers (overload, operator and f-string trials).

    An error reported inside a trial makes the candidate fail and changes inference (seen:
    ``User.id == len(u.posts)`` became ``bool`` with a spurious ``[arg-type]``), yet some
    expressions are only ever checked inside one (generators in ``[*(...)]``, f-string
    arguments), so skipping the report would lose it. The verdict does not depend on the
    candidate, so the error goes straight to the error list; mypy drops duplicates.
    """
    errors = getattr(getattr(api, "msg", None), "errors", None)
    saved = getattr(errors, "_watchers", None)
    if errors is None or not saved:
        yield True
        return
    if any(getattr(w, "_filter_deprecated", False) and getattr(w, "_filtered", None) is None
           for w in saved):
        # A side lookup (the declared type of an assignment target, a base class member):
        # not a read of the attribute, so nothing is reported. (``return`` expressions are
        # checked under a watcher that also filters deprecations but saves its errors, in
        # ``infer_context_dependent``: those are real reads and are reported.)
        yield False
        return
    errors._watchers = []
    try:
        yield True
    finally:
        errors._watchers = saved


def report(api: CheckerPluginInterface, context: Context, message: str, fix: str,
           code: ErrorCode) -> None:
    """An error with its fix as a note, past mypy's trial watchers (see ``unwatched``)."""
    with unwatched(api) as allowed:
        if allowed:
            api.fail(message, context, code=code)
            api.msg.note(fix, context, code=code)


def type_context(api: CheckerPluginInterface) -> Type | None:
    """The type the surrounding expression expects (a variable's declared type, a return type)."""
    checker = getattr(api, "expr_checker", None)
    stack = getattr(checker, "type_context", None)
    return stack[-1] if stack else None


def depend_on_mappings(api: CheckerPluginInterface, models: Iterable[str]) -> None:
    """Make the code being checked depend on the mappings of ``models`` (fine-grained mode)."""
    _depend_on(api, [f"<{model}.{MAPPING_DIGEST}>" for model in models])


def depend_on_functions(api: CheckerPluginInterface, modules: Iterable[str]) -> None:
    """The same, on the summaries of ``modules``' functions (``hooks.layers``)."""
    from mypy_eagerload.names import MODULE_FUNCTIONS

    _depend_on(api, [f"<{module}.{MODULE_FUNCTIONS}>" for module in modules])


def depend_on_names(api: CheckerPluginInterface, fullnames: Iterable[str]) -> None:
    """The same, on module-level names (a generated record: ``hooks.session_effects``)."""
    _depend_on(api, [f"<{name}>" for name in fullnames])


def _depend_on(api: CheckerPluginInterface, triggers: list[str]) -> None:
    """The checker has no API for this; semantic analysis has ``add_plugin_dependency``,
    which writes the same ``MypyFile.plugin_deps`` that the dependency pass reads after
    checking. dmypy reads ``plugin_deps`` only when it processes a whole module, not when
    it re-checks one function (``server.deps.get_dependencies_of_target``), so what a
    re-check newly consults (a repository the edited dependency now calls) would be lost;
    ``alias_deps`` (per target, read in both cases) carries them too."""
    tree = getattr(api, "tree", None)
    scope = getattr(api, "tscope", None)
    deps = getattr(tree, "plugin_deps", None)
    if deps is None or scope is None:
        return
    target = scope.current_target()
    per_target = getattr(tree, "alias_deps", None)
    for trigger in triggers:
        deps.setdefault(trigger, set()).add(target)
        if per_target is not None:
            per_target.setdefault(target, set()).add(trigger[1:-1])  # names, not triggers


def current_function(api: CheckerPluginInterface) -> FuncItem | None:
    """The function whose body is being checked (innermost), if any."""
    function = getattr(getattr(api, "tscope", None), "function", None)
    return function if isinstance(function, FuncItem) else None


def enclosing_functions(api: CheckerPluginInterface) -> list[FuncItem]:
    """The functions being checked, outermost first (a closure sees its parents' code)."""
    scope = getattr(api, "tscope", None)
    functions = list(getattr(scope, "functions", None) or [])
    current = current_function(api)
    if current is not None and current not in functions:
        functions.append(current)
    return [f for f in functions if isinstance(f, FuncItem)]


def expression_type(api: CheckerPluginInterface, expr: Expression) -> Type | None:
    """The type mypy inferred for an already checked expression, if it has one."""
    lookup = getattr(api, "lookup_type", None)
    if lookup is None:
        return None
    try:
        result = lookup(expr)
    except KeyError:
        return None
    return result if isinstance(result, Type) else None


def defer_analysis(api: object) -> bool:
    """Ask semantic analysis for another pass (a type analyser's own ``defer`` is not part
    of the plugin interface). False on the final pass, or when it cannot be asked."""
    analyzer = getattr(api, "api", None)
    if analyzer is None or getattr(analyzer, "final_iteration", True):
        return False
    defer = getattr(analyzer, "defer", None)
    if defer is None:
        return False
    defer()
    return True


def semanal_depend_on_mappings(api: object, models: Iterable[str]) -> None:
    """What ``depend_on_mappings`` does for the checker, from semantic analysis: fire on a
    mapping change under dmypy, and record the models' modules as indirect dependencies,
    so that a warm cache re-analyses an annotation whose models changed."""
    from mypy_eagerload.names import MAPPING_DIGEST

    analyzer = getattr(api, "api", None)
    add = getattr(analyzer, "add_plugin_dependency", None)
    tree = getattr(analyzer, "cur_mod_node", None)
    refs = getattr(tree, "module_refs", None)
    current = getattr(analyzer, "cur_mod_id", None)
    for model in models:
        if add is not None:
            add(f"<{model}.{MAPPING_DIGEST}>")
        module = _module_of(analyzer, model)
        if refs is not None and module and module != current:
            refs.add(module)


def _module_of(analyzer: object, fullname: str) -> str | None:
    modules = getattr(analyzer, "modules", None) or {}
    name = fullname
    while "." in name:
        name = name.rsplit(".", 1)[0]
        if name in modules:
            return name
    return None


def current_module(api: object) -> MypyFile | None:
    """The module a type analyser works in."""
    module = getattr(getattr(api, "api", None), "cur_mod_node", None)
    return module if isinstance(module, MypyFile) else None


def checked_module(api: CheckerPluginInterface) -> MypyFile | None:
    """The module the checker is checking."""
    module = getattr(api, "tree", None)
    return module if isinstance(module, MypyFile) else None


def analyze_annotated(ctx: AnalyzeTypeContext, fullname: str) -> Type:
    """mypy's own analysis of ``Annotated[...]``, for the ones the plugin does not own (a
    type-analyze hook replaces that analysis, so it is called back explicitly)."""
    special = getattr(ctx.api, "try_analyze_special_unbound_type", None)
    if special is not None:
        result = special(ctx.type, fullname)
        if isinstance(result, Type):
            return result
    if len(ctx.type.args) < 2:
        ctx.api.fail("Annotated[...] must have exactly one type argument and at least one "
                     "annotation", ctx.context)
        return AnyType(TypeOfAny.from_error)
    return ctx.api.analyze_type(ctx.type.args[0])


def module_named(plugin: object, fullname: str) -> MypyFile | None:
    """A module of the build by name (``Plugin.lookup_fully_qualified`` finds only the
    symbols in modules; the plugin's module table is set by mypy before checking)."""
    modules = getattr(plugin, "_modules", None)
    module = modules.get(fullname) if isinstance(modules, dict) else None
    return module if isinstance(module, MypyFile) else None
