"""mypy entry point: dispatches hook names to the modules in ``mypy_eagerload.hooks``.

Every ``get_*_hook`` here is asked for every name in the program, so each one rejects
irrelevant names with a dict or prefix test before doing any lookup.

The hook modules are imported when a hook first needs one: a warm run that re-checks
nothing calls no hook, and importing them (the load-state logic is dataclass-heavy) was
most of what the plugin cost there.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mypy.nodes import MypyFile, TypeInfo
from mypy.options import Options
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    ClassDefContext,
    DynamicClassDefContext,
    FunctionContext,
    MethodContext,
    Plugin,
    ReportConfigContext,
)
from mypy.types import Instance, Type, get_proper_type

# The error codes are imported now, not deferred: defining them registers them with mypy,
# which checks ``disable_error_code = unloaded-relationship`` against its registry on start.
from mypy_eagerload import __version__ as VERSION
from mypy_eagerload import config, names
from mypy_eagerload.hooks import errorcodes  # noqa: F401


class _Deferred:
    """A module imported on first attribute access; then its names are copied here, so
    later reads are plain attribute lookups (hooks are looked up for every expression)."""

    def __init__(self, name: str) -> None:
        self._module_name = name

    def __getattr__(self, attr: str) -> object:
        module = importlib.import_module(self._module_name)
        self.__dict__.update(vars(module))
        return getattr(module, attr)


if TYPE_CHECKING:
    from mypy_eagerload.hooks import (
        access,
        compat,
        contracts,
        layers,
        loaded_annotation,
        loader_options,
        members,
        models,
        queries,
        results,
        reveal,
        routes,
        schema,
        serializers,
        session_effects,
    )
else:  # the same names, each a _Deferred module
    globals().update({name: _Deferred(f"mypy_eagerload.hooks.{name}") for name in (
        "access", "compat", "contracts", "explicit_loads", "loaded_annotation", "loader_options",
        "layers", "members", "models", "queries", "results", "reveal", "routes", "schema",
        "serializers", "session_effects")})

_CHAIN_METHODS = {f"{cls}.{fn}": fn for cls in (names.ABSTRACT_LOAD, names.LOAD_CLASS)
                  for fn in (*names.LOADER_OPTION_FUNCTIONS, "options")}
# Modules never worth a dependency edge to the plugin's own types.
_NO_DEPS_PREFIXES = ("sqlalchemy", "mypy_eagerload", "builtins", "typing", "_typeshed", "abc")
# Methods of these modules' classes never get a hook (most method calls in any program).
_NEVER_HOOKED = ("builtins.", "typing.", "_typeshed.", "collections.", "_collections_abc.")


class EagerLoadPlugin(Plugin):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        try:
            self.settings = config.load(options.config_file)
        except config.ConfigError as error:
            # mypy prints a traceback for exceptions raised while loading plugins.
            print(f"error: mypy_eagerload: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        global _settings_key  # noqa: PLW0603  (see __getattr__ below)
        _settings_key = config.key(self.settings)
        if "mypy.build_worker.worker" not in sys.modules:  # once, not once per --num-workers worker
            for warning in config.misplaced(options.config_file):
                print(f"warning: mypy_eagerload: {warning}", file=sys.stderr)

    # -- configuration and cache keys ---------------------------------------------------
    def report_config_data(self, ctx: ReportConfigContext) -> object:
        if not ctx.is_check and self._summarised(ctx.id, ctx.path):
            # Called just before the module's tree is serialized (see hooks.layers).
            layers.store_module_summaries(self._module(ctx.id), self._info("builtins.str"), self._module)
        return {"mypy_eagerload": VERSION, **self.settings.as_report()}

    def get_additional_indirect_deps(self, file: MypyFile) -> set[str]:
        # Called at the end of checking, before the tree is freed (see hooks.layers).
        if self._summarised(file.fullname, file.path):
            layers.store_module_summaries(file, self._info("builtins.str"), self._module)
        return set()

    @staticmethod
    def _summarised(module: str, path: str) -> bool:
        """Application modules: libraries' functions are not summarised."""
        return not module.startswith(_NO_DEPS_PREFIXES) and "site-packages" not in path

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        if fullname in names.ANNOTATED:
            return loaded_annotation.analyze_hook(self.lookup_fully_qualified, fullname)
        return None

    # -- semantic analysis ---------------------------------------------------------------
    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        sym = self.lookup_fully_qualified(fullname)
        if sym is not None and isinstance(sym.node, TypeInfo) and models.is_declarative(sym.node):
            return _record_model
        return None

    def get_customize_class_mro_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        if fullname.startswith(_NO_DEPS_PREFIXES):
            return None
        return _record_class

    def get_dynamic_class_hook(self, fullname: str) -> Callable[[DynamicClassDefContext], None] | None:
        if fullname in names.SESSION_FACTORIES:
            return session_effects.record_factory  # factory = async_sessionmaker(...)
        return None

    # -- type checking -------------------------------------------------------------------
    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        if fullname == names.SELECT:
            return queries.select_hook(self.lookup_fully_qualified)
        option = names.OPTION_FUNCTIONS.get(fullname)
        if option is not None:
            return loader_options.option_function_hook(option, self._info)
        if fullname == names.LOAD_CLASS:
            return loader_options.load_constructor_hook(self._info)
        if fullname == names.REVEAL_LOADS:
            return reveal.hook_for(self.lookup_fully_qualified)
        if fullname.startswith(_NO_DEPS_PREFIXES) or not self._contracts:
            return None
        sym = self.lookup_fully_qualified(fullname)
        if self.settings.strict and sym is not None and isinstance(sym.node, TypeInfo) \
                and models.is_declarative(sym.node):
            return _mark_new  # User(...): strict mode exempts objects built in code
        signature = contracts.callee_with_requirements(sym, self._module)
        if signature is not None:  # Loaded[...] parameters: the call site's check comes first
            return contracts.call_hook(self.lookup_fully_qualified, self.settings, signature,
                                       fullname.rsplit(".", 1)[-1])
        module, _, name = fullname.rpartition(".")
        tree = self._module(module)
        summary = layers.module_summary(tree, name) \
            if tree is not None and self._summarised(module, tree.path) else None
        if summary is not None:
            return layers.call_hook(self.lookup_fully_qualified, self.settings, module, summary,
                                    self._module)
        return None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        if fullname.startswith(_NEVER_HOOKED):  # str.join, dict.get, list.append, ...
            return None
        if fullname == names.SELECT_OPTIONS:
            return queries.options_hook(self.lookup_fully_qualified, conflicts=self._conflicts)
        if fullname.startswith(names.QUERY_CLASS + "."):
            return self._query_method_hook(fullname[len(names.QUERY_CLASS) + 1:])
        chain = _CHAIN_METHODS.get(fullname)
        if chain is not None:
            return loader_options.chain_method_hook(chain, self._info)
        cls, _, method = fullname.rpartition(".")
        if method in names.SESSION_RESULT:
            hook = self._session_hook(cls, method)
            if hook is not None:
                return hook
        if method in names.FETCH_METHODS:
            info = self._info(cls)
            if info is not None and info.has_base(names.RESULT_BASE):
                return results.fetch_hook(self.lookup_fully_qualified, self.settings, method)
        if method in names.ROUTE_METHODS and cls in names.ROUTE_CLASSES:
            return routes.decorator_hook(self.lookup_fully_qualified, self.settings)
        if fullname == names.TYPE_ADAPTER_VALIDATE:
            return serializers.type_adapter_hook(self.lookup_fully_qualified, self.settings)
        if fullname.startswith(_NO_DEPS_PREFIXES):
            return None
        if method in names.SCHEMA_VALIDATORS:
            info = self._info(cls)
            if info is not None and serializers.schema_record_in_mro(info):
                chained = serializers.pydantic_check(self.options.plugins, method)
                return serializers.validate_hook(self.lookup_fully_qualified, self.settings, method, chained)
        return self._contract_method_hook(cls, method)

    def _contract_method_hook(self, cls: str, method: str) -> Callable[[MethodContext], Type] | None:
        """A summarised method (repositories, services: ``hooks.layers``), a method with a ``Loaded[...]``
        parameter, a model's method that reads relationships on self (all looked up through
        the receiver's MRO)."""
        if not self._contracts:
            return None
        sym = self.lookup_fully_qualified(cls)
        signature = contracts.callee_with_requirements(sym, self._module, method)
        if signature is None and sym is not None and isinstance(sym.node, TypeInfo):
            found = layers.find_summary(sym.node, method)
            if found is not None:  # (Loaded[...] parameters' checks come first)
                return layers.call_hook(self.lookup_fully_qualified, self.settings, found[0], found[1],
                                        self._module)
        hook = None if signature is None else contracts.call_hook(
            self.lookup_fully_qualified, self.settings, signature, f"{cls.rsplit('.', 1)[-1]}.{method}")
        model = schema.mapped_class(sym.node) if sym is not None and isinstance(sym.node, TypeInfo) else None
        data = models.metadata(model) if model is not None else None
        member = members.member_record(data, method) if data is not None else None
        if member is not None and member.get("kind") == "method":
            return members.method_hook(method, self.lookup_fully_qualified, self.settings, hook)
        return hook

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        cls, _, attr = fullname.rpartition(".")
        if not cls or cls.startswith(_NO_DEPS_PREFIXES):  # no mapped class lives there
            return None
        sym = self.lookup_fully_qualified(cls)
        if sym is None or not isinstance(sym.node, TypeInfo):
            return None
        data = models.metadata(sym.node)
        if data is None:
            return None
        rels, columns, plain = models.attribute_names(data)
        expiry = self.settings.enabled("expired-attribute")
        if attr in rels:
            if not self._contracts:
                return access.expiry_hook(attr, self.settings) if expiry else None
            return access.relationship_hook(attr, self.lookup_fully_qualified, self.settings)
        if attr in columns and self.settings.enabled("unloaded-column"):
            return access.column_hook(attr, self.lookup_fully_qualified, self.settings)
        if expiry and (attr in columns or attr in plain):
            return access.expiry_hook(attr, self.settings)
        model = schema.mapped_class(sym.node)
        record = members.member_record(models.metadata(model) or {}, attr) if model is not None else None
        if record is not None and record.get("kind") == "property" and self._contracts:
            return members.property_hook(attr, self.lookup_fully_qualified, self.settings)
        return None

    def _query_method_hook(self, method: str) -> Callable[[MethodContext], Type] | None:
        # Query results come from a sync session: the sync view applies when rows are fetched.
        if method == "options":
            return queries.options_hook(self.lookup_fully_qualified, legacy_query=True,
                                        conflicts=self._conflicts)
        if method in names.QUERY_FETCH:
            return queries.sync_result_hook(self.lookup_fully_qualified, self.settings, method)
        return None

    def _session_hook(self, cls: str, method: str) -> Callable[[MethodContext], Type] | None:
        # By base class, so user subclasses of Session/AsyncSession are covered too.
        info = self._info(cls)
        if info is None:
            return None
        sync = any(info.has_base(base) for base in names.SYNC_SESSION_CLASSES)
        if not sync and not any(info.has_base(base) for base in names.ASYNC_SESSION_CLASSES):
            return None
        lookup = self.lookup_fully_qualified
        if method == "query":
            return queries.select_hook(lookup, legacy_query=True) if sync else None
        # allow_lazy_loads = "never": sync sessions are held to the async rules (N+1 queries).
        wide = sync and self.settings.allow_lazy_loads != "never"
        if method in names.SESSION_GET:
            return queries.session_get_hook(lookup, wide, self.settings, never_sync=sync and not wide)
        if sync:
            return queries.sync_result_hook(lookup, self.settings, method)
        return queries.returned_hook(lookup, self.settings) if method == "scalar" else None

    @property
    def _contracts(self) -> bool:
        return self.settings.enabled("unloaded-relationship")

    @property
    def _conflicts(self) -> bool:
        return self.settings.enabled("loader-conflict")

    def _module(self, fullname: str) -> MypyFile | None:
        return compat.module_named(self, fullname)

    def _info(self, fullname: str) -> TypeInfo | None:
        sym = self.lookup_fully_qualified(fullname)
        return sym.node if sym is not None and isinstance(sym.node, TypeInfo) else None


def _record_model(ctx: ClassDefContext) -> None:
    previous = models.metadata(ctx.cls.info)
    models.record_model(ctx)
    members.record_members(ctx)
    models.refresh_digest(ctx, previous)
    models.depend_on_bases(ctx)


def _record_class(ctx: ClassDefContext) -> None:
    if models.record_mixin(ctx):
        members.record_mixin_members(ctx)
        models.depend_on_bases(ctx)
    elif not serializers.record_schema(ctx):
        layers.record_class(ctx)


def _mark_new(ctx: FunctionContext) -> Type:
    typ = ctx.default_return_type
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        return loaded_annotation.mark_new(proper, ctx.api.named_generic_type("builtins.str", []))
    return typ


def plugin(version: str) -> type[Plugin]:
    return EagerLoadPlugin


# dmypy reloads its plugins on each `dmypy run` and restarts when a plugin module's
# `__version__` or file hash changed (mypy.build.take_module_snapshot), but it knows nothing of
# the plugin's own settings: a daemon started before `strict = true` was added kept the old
# settings. mypy constructs the plugin (which reads the settings) right before it reads
# `__version__`, so the version carries the settings' digest and a settings change restarts
# the daemon like a change to mypy's own options does.
_settings_key = ""


def __getattr__(name: str) -> str:
    if name == "__version__":
        return f"{VERSION}+settings.{_settings_key}"
    raise AttributeError(name)
