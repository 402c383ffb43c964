"""Call sites of summarised methods: repositories, services, statement builders, option
providers (summaries are made by ``hooks.summaries``).

At ``await service.get(session, 1)`` the summary of ``get`` is evaluated with the call's
arguments: the receiver's class fixes ``self`` (so ``self.model`` and
``self.get_base_statement()`` are the subclass's), each argument is read from its type
(statements and objects carry their load state, option sequences their chains), and a
call inside the body to another summarised method is evaluated the same way, to a bounded
depth. What the body returns then becomes the call's result type: the model carries the
state, an option sequence carries its chains, exactly like the values the other hooks make.

Every step that is not understood gives "unknown", and one unknown alternative makes the
whole result unknown: a call site is never told more than the body shows. Alternatives
(branches the call site cannot decide, several ``return`` statements) are intersected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Union

from mypy.expandtype import expand_type_by_instance
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    ARG_NAMED,
    ARG_POS,
    GDEF,
    Decorator,
    Expression,
    FuncDef,
    ListExpr,
    MypyFile,
    NameExpr,
    OverloadedFuncDef,
    RefExpr,
    Statement,
    SymbolTableNode,
    TupleExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import CheckerPluginInterface, ClassDefContext, FunctionContext, MethodContext, Plugin
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    NoneType,
    TupleType,
    Type,
    TypeOfAny,
    TypeType,
    UnionType,
    get_proper_type,
)

from mypy_eagerload import names
from mypy_eagerload.config import Settings
from mypy_eagerload.core import loadstate
from mypy_eagerload.core import options as opt
from mypy_eagerload.core.loadstate import State
from mypy_eagerload.hooks import flow, session_effects
from mypy_eagerload.hooks.compat import depend_on_functions, depend_on_mappings, expression_type
from mypy_eagerload.hooks.contracts import requirements_in
from mypy_eagerload.hooks.declarations import Json
from mypy_eagerload.hooks.loader_options import decode_option_type, encode_option_type
from mypy_eagerload.hooks.models import expose_digest, is_declarative, metadata
from mypy_eagerload.hooks.queries import chains_of, is_loader_option
from mypy_eagerload.hooks.routes import check_returned
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, model_info
from mypy_eagerload.hooks.summaries import (
    CONSTANT_PREFIX,
    Ir,
    summarize_class,
    summarize_function,
    summarize_module,
)
from mypy_eagerload.hooks.types import state_to_type, type_to_state

_MAX_DEPTH = 8  # nested summarised calls followed from one call site
_MAX_ALTERNATIVES = 16
# Result methods between running a statement and the objects it gives.
_FETCHES = frozenset({"scalar_one", "scalar_one_or_none", "first", "one", "one_or_none", "all",
                      "scalars", "unique", "fetchall", "scalar"})
_PASS_THROUGH = frozenset({"builtins.list", "builtins.tuple"})
_BUILTINS = frozenset({"list", "tuple"})
_RUN = frozenset({"execute", "scalars", "scalar"})
_UNPACKABLE = frozenset({"builtins.list", "typing.Sequence", "builtins.tuple", "typing.Iterable",
                         "collections.abc.Sequence"})


# ---------------------------------------------------------------------------------------
# Semantic analysis: record the summaries


def record_class(ctx: ClassDefContext) -> None:
    """Store the summaries of a class's methods in its metadata (not for models, which
    ``hooks.members`` describes, nor for protocols and other special classes, where a
    generated attribute would change what mypy checks)."""
    info = ctx.cls.info
    if getattr(ctx.api, "is_stub_file", False):
        return  # stubs have no bodies to summarise
    if is_declarative(info) or info.is_protocol or info.typeddict_type is not None \
            or info.tuple_type is not None or info.is_enum:
        return
    functions = summarize_class(ctx.cls)
    effects = session_effects.summarize_class(ctx.cls)
    if not any(r["ops"] or r["result"] or r.get("stores") for r in effects.values()) \
            or "site-packages" in getattr(getattr(ctx.api, "cur_mod_node", None), "path", ""):
        # Only "does nothing" records (a protocol's stub methods: a generated attribute
        # there would become a protocol member), or a library's classes.
        effects = {}
    if functions or effects:
        record: Json = {"kind": "layer", "functions": functions}
        if effects:
            record["effects"] = effects
        info.metadata[names.PLUGIN_KEY] = record
        expose_digest(ctx, info, record)
    elif (metadata(info) or {}).get("kind") == "layer":
        del info.metadata[names.PLUGIN_KEY]  # an edit removed the last one (dmypy)


# Module-level functions. Their bodies are gone once a module is checked (and, with mypy
# 2.x's interface-first processing, the cache is written before bodies are checked), so
# their summaries are written into the module's symbol table, as a plugin-generated
# ``__eagerload_functions__`` typed ``Literal["<json>"]``, by the hooks that see a module's
# whole analysed tree before it is serialized or freed: ``report_config_data`` when the
# cache is written and ``get_additional_indirect_deps`` at the end of checking (dmypy, and
# runs without a cache). Both compute the same value from the same tree. mypy 1.x has the
# second hook missing and frees bodies before writing the cache: there, module-level
# functions are not summarised at all (``MODULE_SUMMARIES``), rather than differently by mode.
MODULE_SUMMARIES = hasattr(Plugin, "get_additional_indirect_deps")
_MODULE_MEMO: dict[str, dict[str, Ir]] = {}  # decoded tables, by their text
# Tables computed from a tree in memory, checked by identity on use (a cache, not state).
_TREE_MEMO: dict[int, tuple[MypyFile, list[Statement], dict[str, Ir]]] = {}


def store_module_summaries(tree: MypyFile | None, str_info: TypeInfo | None,
                           modules: Callable[[str], MypyFile | None]) -> None:
    """Write (or remove) the module's summaries, from its whole tree."""
    if not MODULE_SUMMARIES or tree is None or str_info is None or tree.is_stub or not tree.defs:
        return
    functions = {**_tree_summaries(tree), **_lifecycle_tables(tree, modules)}
    if not functions:
        tree.names.pop(names.MODULE_FUNCTIONS, None)
        return
    text = json.dumps(functions, sort_keys=True)
    var = Var(names.MODULE_FUNCTIONS, LiteralType(text, Instance(str_info, [])))
    var._fullname = f"{tree.fullname}.{names.MODULE_FUNCTIONS}"
    var.is_ready = True
    tree.names[names.MODULE_FUNCTIONS] = SymbolTableNode(GDEF, var, module_public=False,
                                                         plugin_generated=True)


def module_summary(tree: MypyFile, name: str,
                   modules: Callable[[str], MypyFile | None] | None = None) -> Ir | None:
    """The summary of module-level function ``name``: stored, or (same module's SCC, daemon)
    computed from the tree still in memory, which gives what will be stored. Names starting
    with "@" are the module's session tables (``session_effects.lifecycle_tables``); they
    need ``modules``."""
    if not MODULE_SUMMARIES:
        return None
    sym = tree.names.get(names.MODULE_FUNCTIONS)
    typ = get_proper_type(sym.node.type) if sym is not None and isinstance(sym.node, Var) \
        and sym.node.type is not None else None
    if isinstance(typ, LiteralType) and isinstance(typ.value, str):
        table = _MODULE_MEMO.get(typ.value)
        if table is None:
            if len(_MODULE_MEMO) > 512:
                _MODULE_MEMO.clear()
            table = _MODULE_MEMO[typ.value] = json.loads(typ.value)
        found = table.get(name)
        return found if isinstance(found, dict) else None
    if sym is None and tree.defs and not tree.is_stub:
        if name.startswith("@"):
            return _lifecycle_tables(tree, modules or (lambda _: None)).get(name)
        return _tree_summaries(tree).get(name)
    return None


def _lifecycle_tables(tree: MypyFile, modules: Callable[[str], MypyFile | None]) -> dict[str, Ir]:
    return session_effects.lifecycle_tables(tree.defs, tree.fullname,
                                            lambda name: tree if name == tree.fullname else modules(name))


def _tree_summaries(tree: MypyFile) -> dict[str, Ir]:
    """``summarize_module`` of a tree in memory, once per tree (both storing hooks and the
    callers of the same SCC ask)."""
    hit = _TREE_MEMO.get(id(tree))
    # dmypy keeps a changed module's MypyFile object and gives it the new contents (AST
    # merge): the statement list, not the tree, says which version this is.
    if hit is None or hit[0] is not tree or hit[1] is not tree.defs:
        if len(_TREE_MEMO) > 256:
            _TREE_MEMO.clear()
        hit = _TREE_MEMO[id(tree)] = (tree, tree.defs, summarize_module(tree.defs))
    return hit[2]


def find_summary(info: TypeInfo, method: str) -> tuple[TypeInfo, Ir] | None:
    """The summary of ``method`` in the class that defines it (following the MRO)."""
    for base in info.mro:
        if method in base.names:
            record = ((metadata(base) or {}).get("functions") or {}).get(method)
            return (base, record) if isinstance(record, dict) else None
    return None


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Entity:
    """A statement, or the objects it fetches: their model and load state. ``chains`` are
    options applied since ``select()`` (``base`` None) or since ``base`` was known."""

    info: TypeInfo
    base: State | None
    chains: tuple[opt.Chain, ...] = ()
    sync: bool = False  # fetched through a sync Session
    fetched: bool = False


@dataclass(frozen=True)
class Options:
    chains: tuple[opt.Chain, ...]


@dataclass(frozen=True)
class Obj:
    """An object of a known (non-model) type: a repository, a session."""

    typ: Instance


@dataclass(frozen=True)
class Cls:
    info: TypeInfo


@dataclass(frozen=True)
class AttrRef:
    """``Order.items``: a mapped attribute, an option's argument."""

    info: TypeInfo
    name: str


@dataclass(frozen=True)
class Const:
    value: object


@dataclass(frozen=True)
class Func:
    fullname: str


@dataclass(frozen=True)
class Module:
    tree: MypyFile


@dataclass(frozen=True)
class Bound:
    """``receiver.method``, not called yet."""

    receiver: Value
    name: str


Value = Union[Entity, Options, Obj, Cls, AttrRef, Const, Func, Module, Bound, None]  # noqa: UP007
NONE_VALUE = Const(None)
Alts = list[Value]  # the values an expression may have; None (not a list) for "unknown"


@dataclass
class Binding:
    """A parameter's value: an IR in the caller's frame, or an expression at the call site."""

    ir: Ir = None
    frame: Frame | None = None
    expr: Expression | None = None
    typ: Type | None = None
    cached: Alts | None = None
    done: bool = False


@dataclass
class Frame:
    module: MypyFile | None
    params: dict[str, Binding]
    depth: int


@dataclass
class Evaluator:
    api: CheckerPluginInterface
    schema: CheckerSchema
    modules: Callable[[str], MypyFile | None]
    consulted: set[str] = field(default_factory=set)  # classes whose summaries were read
    consulted_modules: set[str] = field(default_factory=set)  # modules, for their functions

    # -- entry ------------------------------------------------------------------------
    def call_summary(self, owner: TypeInfo | str, summary: Ir, receiver: Value,
                     args: dict[str, Binding], depth: int) -> Alts | None:
        """The values ``summary`` (a method of class ``owner``, or a function of module
        ``owner``) returns for these arguments."""
        frame = self.frame(owner, summary, receiver, args, depth)
        if frame is None:
            return None
        out: Alts = []
        for tests, value in summary["returns"]:
            decided = [self.decide(t, frame) for t in tests]
            if False in decided:
                continue  # a branch this call never takes
            alts = self.eval(value, frame)
            if alts is None:
                return None
            out.extend(alts)
        return out if len(out) <= _MAX_ALTERNATIVES else None

    def frame(self, owner: TypeInfo | str, summary: Ir, receiver: Value, args: dict[str, Binding],
              depth: int) -> Frame | None:
        """The frame of a call of ``summary``: its parameters bound to the arguments, the
        receiver or the defaults."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(owner, str):
            self.consulted_modules.add(owner)
            module = self.modules(owner)
        else:
            self.consulted.add(owner.fullname)
            module = self.modules(owner.module_name)
        frame = Frame(module, {}, depth)
        for i, (name, default, _kind) in enumerate(summary["params"]):
            if i == 0 and not summary.get("static"):
                frame.params[name] = Binding(cached=[receiver], done=True)
            elif name in args:
                frame.params[name] = args[name]
            elif default is not None:
                frame.params[name] = Binding(ir=default, frame=Frame(module, {}, depth))
            else:
                frame.params[name] = Binding(cached=None, done=True)
        return frame

    # -- expressions ------------------------------------------------------------------
    def eval(self, ir: Ir, frame: Frame) -> Alts | None:
        tag = ir[0]
        if tag == "unknown":
            return None
        if tag == "none":
            return [NONE_VALUE]
        if tag == "const":
            return [Const(ir[1])]
        if tag == "param":
            return self.param(frame, ir[1])
        if tag == "global":
            return self.global_(frame, ir[1])
        if tag == "attr":
            return self.each(self.eval(ir[1], frame), lambda v: self.attr(v, ir[2]))
        if tag == "call":
            return self.call(ir, frame)
        if tag == "seq":
            return self.seq(ir[1], frame)
        if tag == "concat":
            return self.pairs(self.eval(ir[1], frame), self.eval(ir[2], frame), _concat)
        if tag == "any":
            out: Alts = []
            for item in ir[1]:
                alts = self.eval(item, frame)
                if alts is None:
                    return None
                out.extend(alts)
            return _bounded(out)
        if tag == "cond":
            decided = self.decide(ir[1], frame)
            if decided is True:
                return self.eval(ir[2], frame)
            if decided is False:
                return self.eval(ir[3], frame)
            return self.eval(["any", [ir[2], ir[3]]], frame)
        if tag == "refresh":
            return self.refresh(ir, frame)
        return None

    def refresh(self, ir: Ir, frame: Frame) -> Alts | None:
        """``await session.refresh(obj, ["a", "b"])`` inside a layer: ``obj`` with those
        loaded (``loadstate.refreshed``). Without names, or names not written out, or a
        receiver that is not a session: unknown."""
        if len(ir) < 4 or ir[2][0] != "seq" or not all(i[0] == "const" and isinstance(i[1], str)
                                                       for i in ir[2][1]):
            return None
        sessions = self.eval(ir[3], frame)
        if not sessions or not all(isinstance(s, Obj) and _is_session(s.typ) for s in sessions):
            return None
        wanted = [i[1] for i in ir[2][1]]

        def after(value: Value) -> Alts | None:
            if not isinstance(value, Entity) or not value.fetched:
                return None
            model, state = self.schema.model_of(value.info), self.entity_state(value)
            if model is None or state is None:
                return None
            done = loadstate.refreshed(self.schema, state, model, wanted)
            return None if done is None else [Entity(value.info, done, (), value.sync, True)]

        return self.each(self.eval(ir[1], frame), after)

    def each(self, alts: Alts | None, fn: Callable[[Value], Alts | None]) -> Alts | None:
        if alts is None:
            return None
        out: Alts = []
        for value in alts:
            got = fn(value) if value is not None else None
            if got is None:
                return None
            out.extend(got)
        return _bounded(out)

    def pairs(self, left: Alts | None, right: Alts | None,
              fn: Callable[[Value, Value], Value]) -> Alts | None:
        if left is None or right is None or len(left) * len(right) > _MAX_ALTERNATIVES:
            return None
        out = [fn(a, b) for a in left for b in right]
        return None if any(v is None for v in out) else out

    def param(self, frame: Frame, name: str) -> Alts | None:
        binding = frame.params.get(name)
        if binding is None:
            return None
        if not binding.done:
            binding.done = True  # set first: a self-referring default stays unknown
            if binding.frame is not None:
                binding.cached = self.eval(binding.ir, binding.frame)
            elif binding.expr is not None:
                binding.cached = self.site(binding.expr, binding.typ)
        return binding.cached

    def global_(self, frame: Frame, name: str) -> Alts | None:
        if frame.module is None:
            return None
        sym = frame.module.names.get(name)
        if sym is None and name in _BUILTINS:
            builtins = self.modules("builtins")
            sym = builtins.names.get(name) if builtins is not None else None
        if sym is None or sym.node is None:
            return None
        return self.known_or_constant(self.node_value(sym.node), sym.node, frame.depth)

    def known_or_constant(self, value: Value, node: object, depth: int) -> Alts | None:
        """``value`` (what a name's type says), or, when that is not an option sequence and
        the name is a module-level variable, the option tuple its display gives."""
        if not isinstance(value, Options) and isinstance(node, Var):
            return self.constant(node, depth) or (None if value is None else [value])
        return None if value is None else [value]

    def constant(self, var: Var, depth: int) -> Alts | None:
        """A module-level option tuple whose declared type forgot its options: its display,
        from the defining module's summaries (``summaries.CONSTANT_PREFIX``)."""
        module, _, name = var.fullname.rpartition(".")
        tree = self.modules(module) if module and depth <= _MAX_DEPTH else None
        record = module_summary(tree, CONSTANT_PREFIX + name) if tree is not None else None
        if record is None or "value" not in record:
            return None
        self.consulted_modules.add(module)
        return self.each(self.eval(record["value"], Frame(tree, {}, depth + 1)),
                         lambda v: [v] if isinstance(v, Options) else None)

    def node_value(self, node: object) -> Value:
        if isinstance(node, TypeInfo):
            return Cls(node)
        if isinstance(node, MypyFile):
            return Module(node)
        if isinstance(node, (FuncDef, OverloadedFuncDef, Decorator)):
            return Func(node.fullname)
        if isinstance(node, Var) and node.type is not None:
            return self.typed(node.type)
        return None

    def typed(self, typ: Type) -> Value:
        """A value known only by its type (a module constant, an attribute, an argument)."""
        proper = get_proper_type(typ)
        if isinstance(proper, NoneType):
            return NONE_VALUE
        if isinstance(proper, TypeType) and isinstance(proper.item, Instance):
            return Cls(proper.item.type)
        if isinstance(proper, CallableType) and proper.is_type_obj():
            return Cls(proper.type_object())
        chains = _option_chains(proper)
        if chains is not None:
            return Options(chains)
        state = _entity_state(proper, self.schema)
        if state is not None:
            return state
        if isinstance(proper, Instance) and model_info(proper) is None \
                and proper.type.fullname not in _UNPACKABLE and proper.type.fullname != names.SELECT_CLASS:
            return Obj(proper)  # a repository, a session, a service
        return None

    def site(self, expr: Expression, typ: Type | None) -> Alts | None:
        """An argument at the outermost call: what its type (and flow) says."""
        if isinstance(expr, NameExpr) and expr.name == "None":
            return [NONE_VALUE]
        if not flow.stable(self.api, expr):
            return None
        if isinstance(expr, (ListExpr, TupleExpr)):
            items = [expression_type(self.api, i) or self.api.get_expression_type(i) for i in expr.items]
            chains = chains_of(items)
            return None if chains is None else [Options(chains)]
        if typ is None:
            return None
        fresh = flow.fresh(self.api, self.schema, expr, typ)
        return self.known_or_constant(self.typed(fresh), expr.node if isinstance(expr, RefExpr) else None, 0)

    def attr(self, value: Value, name: str) -> Alts | None:
        if isinstance(value, Module):
            sym = value.tree.names.get(name)
            found = self.node_value(sym.node) if sym is not None and sym.node is not None else None
            return None if found is None else [found]
        if isinstance(value, Cls):
            if self.schema.model_of(value.info) is not None:
                return [AttrRef(value.info, name)]
            return None
        if isinstance(value, Obj):
            return self.member(value, name)
        if isinstance(value, (Entity, Options)):
            return [Bound(value, name)]
        return None

    def member(self, obj: Obj, name: str) -> Alts | None:
        """``obj.name``: a method (bound, called later) or an attribute of a declared type."""
        for base in obj.typ.type.mro:
            sym = base.names.get(name)
            if sym is None:
                continue
            node = sym.node
            if isinstance(node, (FuncDef, OverloadedFuncDef, Decorator)):
                return [Bound(obj, name)]
            if isinstance(node, Var) and node.type is not None:
                mapped = map_instance_to_supertype(obj.typ, base)
                value = self.typed(expand_type_by_instance(node.type, mapped))
                return None if value is None else [value]
            return None
        return None

    def seq(self, items: list[Ir], frame: Frame) -> Alts | None:
        result: Alts | None = [Options(())]
        for item in items:
            star = item[0] == "star"
            alts = self.eval(item[1] if star else item, frame)
            result = self.pairs(result, alts, _concat)
            if result is None:
                return None
        return result

    # -- calls ------------------------------------------------------------------------
    def call(self, ir: Ir, frame: Frame) -> Alts | None:
        callees = self.eval(ir[1], frame)
        if callees is None or len(callees) != 1:
            return None
        callee = callees[0]
        args: list[tuple[str, str | None, Ir]] = [(k, n, v) for k, n, v in ir[2]]
        if isinstance(callee, Func):
            return self.call_function(callee, args, frame)
        if isinstance(callee, Cls):
            if callee.info.fullname in _PASS_THROUGH and len(args) == 1 and args[0][0] == "pos":
                # list(rows), tuple(rows): the same objects
                return self.each(self.eval(args[0][2], frame),
                                 lambda v: [v] if isinstance(v, Entity) and v.fetched else None)
            if self.schema.model_of(callee.info) is not None:
                return None  # a new object: its state is not a query's
            any_args = [AnyType(TypeOfAny.special_form)] * len(callee.info.type_vars)
            return [Obj(Instance(callee.info, any_args))]
        if isinstance(callee, Bound):
            return self.call_method(callee, args, frame)
        return None

    def call_function(self, func: Func, args: list[tuple[str, str | None, Ir]], frame: Frame
                      ) -> Alts | None:
        if func.fullname == names.SELECT:
            if len(args) != 1 or args[0][0] != "pos":
                return None
            return self.each(self.eval(args[0][2], frame), self.select)
        option = names.OPTION_FUNCTIONS.get(func.fullname)
        if option is not None:
            return self.option_call(option, None, args, frame)
        if func.fullname in names.DEPENDS:
            # A parameter's default ``Depends(f)`` (a route's or a dependency's): FastAPI
            # passes what ``f`` returns, calling it with arguments of its own.
            if len(args) != 1 or args[0][0] != "pos" or args[0][1] not in (None, "dependency"):
                return None
            return self.each(self.eval(args[0][2], frame), lambda f: self.call_function(f, [], frame)
                             if isinstance(f, Func) and f.fullname not in names.DEPENDS else None)
        module, _, name = func.fullname.rpartition(".")
        tree = self.modules(module)
        summary = module_summary(tree, name) if tree is not None else None
        if summary is None:
            return None
        bindings = self.bind(summary, args, frame)
        if bindings is None:
            return None
        return self.call_summary(module, summary, None, bindings, frame.depth + 1)

    def select(self, value: Value) -> Alts | None:
        if isinstance(value, Cls) and self.schema.model_of(value.info) is not None:
            return [Entity(value.info, None)]
        return None

    def call_method(self, bound: Bound, args: list[tuple[str, str | None, Ir]], frame: Frame
                    ) -> Alts | None:
        receiver, name = bound.receiver, bound.name
        if isinstance(receiver, Entity):
            if name in names.STATEMENT_REFINERS or (receiver.fetched and name in _FETCHES):
                return [receiver]
            if name == "options" and not receiver.fetched:
                return self.each(self.option_args(args, frame), lambda o: _with_options(receiver, o))
            return None
        if isinstance(receiver, Options):
            if name in names.LOADER_OPTION_FUNCTIONS and len(receiver.chains) == 1:
                return self.option_call(name, receiver, args, frame)
            return None
        if isinstance(receiver, Obj):
            if _is_session(receiver.typ):
                return self.session_call(receiver.typ, name, args, frame)
            found = find_summary(receiver.typ.type, name)
            if found is None:
                return None
            bindings = self.bind(found[1], args, frame)
            if bindings is None:
                return None
            return self.call_summary(found[0], found[1], receiver, bindings, frame.depth + 1)
        return None

    def bind(self, summary: Ir, args: list[tuple[str, str | None, Ir]], frame: Frame
             ) -> dict[str, Binding] | None:
        formals = [p[0] for p in summary["params"]]
        if not summary.get("static"):
            formals = formals[1:]
        out: dict[str, Binding] = {}
        position = 0
        for kind, keyword, ir in args:
            if kind in ("star", "star2"):
                return None  # *args / **kwargs at the call: which formal is which is unknown
            name = keyword if keyword is not None \
                else (formals[position] if position < len(formals) else None)
            if keyword is None:
                position += 1
            if name is None or name not in formals:
                return None
            out[name] = Binding(ir=ir, frame=frame)
        return out

    def session_call(self, session: Instance, name: str, args: list[tuple[str, str | None, Ir]],
                     frame: Frame) -> Alts | None:
        sync = any(session.type.has_base(b) for b in names.SYNC_SESSION_CLASSES)
        positional = [ir for kind, keyword, ir in args if kind == "pos" and keyword is None]
        if name in _RUN and positional:
            return self.each(self.eval(positional[0], frame),
                             lambda v: [_fetched(v, sync)]
                             if isinstance(v, Entity) and not v.fetched else None)
        if name in names.SESSION_GET and positional:
            options = next((ir for kind, keyword, ir in args if keyword == "options"), None)
            entity = self.each(self.eval(positional[0], frame), self.select)
            if entity is None:
                return None
            if options is None:
                return [_fetched(e, sync) for e in entity if isinstance(e, Entity)]
            chains = self.each(self.eval(options, frame), _as_options)
            return self.pairs(entity, chains, lambda e, o: _fetched(
                Entity(e.info, e.base, e.chains + o.chains), sync)
                if isinstance(e, Entity) and isinstance(o, Options) else None)
        return None

    def option_args(self, args: list[tuple[str, str | None, Ir]], frame: Frame) -> Alts | None:
        """``.options(a, *b)``: every combination of the arguments' alternatives."""
        result: Alts | None = [Options(())]
        for kind, keyword, ir in args:
            if keyword is not None or kind not in ("pos", "star"):
                return None
            result = self.pairs(result, self.eval(ir, frame), _concat)
            if result is None:
                return None
        return result

    def option_call(self, name: str, parent: Options | None, args: list[tuple[str, str | None, Ir]],
                    frame: Frame) -> Alts | None:
        """``selectinload(A.b, ...)`` or ``<option>.joinedload(B.c)``, by the rules of
        ``hooks.loader_options`` (keywords that change the strategy are followed; others,
        such as ``recursion_depth``, make the option unknown)."""
        strategy = opt.OPTION_STRATEGIES.get(name)
        if strategy is None:
            return None
        if strategy in opt.COLUMN_OPS:
            step = self.column_step(strategy, args, frame)
            if step is None:
                return None
            return [Options(opt.extend(parent.chains, (step,)) if parent is not None else ((step,),))]
        refs: list[AttrRef] = []
        for kind, keyword, ir in args:
            if keyword is not None or kind != "pos":
                return None
            alts = self.eval(ir, frame)
            if alts is None or len(alts) != 1 or not isinstance(alts[0], AttrRef):
                return None
            refs.append(alts[0])
        if not refs:
            return None
        steps = []
        for i, ref in enumerate(refs):
            if ref.name not in (metadata(ref.info) or {}).get("slots", []):
                return None
            last = i == len(refs) - 1
            steps.append(opt.Step(strategy if last else opt.DEFAULT, ref.info.fullname, ref.name))
        if parent is None:
            return [Options((tuple(steps),))]
        return [Options(opt.extend(parent.chains, tuple(steps)))]

    def column_step(self, strategy: str, args: list[tuple[str, str | None, Ir]], frame: Frame
                    ) -> opt.Step | None:
        """``undefer(User.bio)``, ``load_only(User.name, raiseload=True)``,
        ``undefer_group("contact")``: the step ``hooks.loader_options`` makes of them (the
        columns of one class; anything else unknown)."""
        if strategy == opt.WITH_EXPRESSION:
            return None
        refs: list[AttrRef] = []
        for kind, keyword, ir in args:
            if keyword == "raiseload" and strategy in (opt.LOAD_ONLY, opt.DEFER) and ir[0] == "const":
                if ir[1] is True:
                    strategy += opt.RAISE_SUFFIX
                elif ir[1] is not False:
                    return None
                continue
            if keyword is not None or kind != "pos":
                return None
            if ir[0] == "const" and isinstance(ir[1], str) and len(args) == 1:
                # undefer_group("name"), or a wildcard: defer("*"), undefer("*")
                group = strategy == opt.UNDEFER_GROUP or ir[1] == opt.WILDCARD
                return opt.Step(strategy, None, ir[1]) if group else None
            alts = self.eval(ir, frame)
            if alts is None or len(alts) != 1 or not isinstance(alts[0], AttrRef):
                return None
            refs.append(alts[0])
        owners = {ref.info.fullname for ref in refs}
        if len(owners) != 1 or (metadata(refs[0].info) or {}).get("kind") != "model":
            return None
        data = metadata(refs[0].info) or {}
        if any(any(r["name"] == ref.name for r in data.get("rels", ())) for ref in refs):
            return None  # a relationship passed to a column option: not ours to judge
        columns = {c["name"] for c in data.get("columns", ())}
        # Primary keys and untracked attributes are always loaded: left out, as the types do.
        return opt.Step(strategy, owners.pop(), ",".join(r.name for r in refs if r.name in columns))

    # -- tests ------------------------------------------------------------------------
    def decide(self, test: Ir, frame: Frame) -> bool | None:
        if test[0] == "not":
            inner = self.decide(test[1], frame)
            return None if inner is None else not inner
        alts = self.param(frame, test[1])
        if alts is None:
            return None
        verdicts: set[bool | None] = set()
        for value in alts:
            if test[0] == "is_none":
                known = isinstance(value, (Const, Options, Entity, Obj))
                verdicts.add(value == NONE_VALUE if known else None)
            elif isinstance(value, Options):  # truthy
                verdicts.add(bool(value.chains))
            elif isinstance(value, Const):
                verdicts.add(bool(value.value))
            else:
                verdicts.add(None)
        return verdicts.pop() if len(verdicts) == 1 else None

    # -- the result -------------------------------------------------------------------
    def entity_state(self, entity: Entity) -> State | None:
        model = self.schema.model_of(entity.info)
        if model is None:
            return None
        if entity.base is None:
            return self.schema.with_options(model, entity.chains)
        if not entity.chains:
            return entity.base
        return loadstate.apply_options(self.schema, entity.base, entity.chains,
                                       self.schema.default_state(model))


def _bounded(alts: Alts) -> Alts | None:
    unique: Alts = []
    for value in alts:
        if value not in unique:
            unique.append(value)
    return unique if len(unique) <= _MAX_ALTERNATIVES else None


def _concat(a: Value, b: Value) -> Value:
    """Options one after the other (an option is a one-chain ``Options``, so a display item
    and a ``*spread`` join the same way)."""
    if isinstance(a, Options) and isinstance(b, Options):
        return Options(a.chains + b.chains)
    return None


def _as_options(value: Value) -> Alts | None:
    return [value] if isinstance(value, Options) else None


def _with_options(entity: Entity, options: Value) -> Alts | None:
    if not isinstance(options, Options):
        return None
    return [Entity(entity.info, entity.base, entity.chains + options.chains, entity.sync, entity.fetched)]


def _fetched(entity: Entity, sync: bool) -> Entity:
    return Entity(entity.info, entity.base, entity.chains, sync, True)


def _is_session(typ: Instance) -> bool:
    return any(typ.type.has_base(b) for b in (*names.SYNC_SESSION_CLASSES, *names.ASYNC_SESSION_CLASSES))


def _option_chains(typ: Type) -> tuple[opt.Chain, ...] | None:
    """A single option, or a sequence or tuple of options, by its type; None otherwise
    (also for a sequence of options whose chains the type does not carry)."""
    proper = get_proper_type(typ)
    option = decode_option_type(proper)
    if option is not None:
        return tuple(option)
    if isinstance(proper, TupleType):
        if not all(is_loader_option(item) for item in proper.items):
            return None  # a tuple of something else
        return chains_of(list(proper.items))
    if isinstance(proper, Instance) and proper.type.fullname in _UNPACKABLE and len(proper.args) == 1:
        element = decode_option_type(proper.args[0])
        return tuple(element) if element is not None else None
    return None


def _entity_state(proper: Type, schema: CheckerSchema) -> Entity | None:
    """A statement or a model object whose type carries a load state."""
    top = get_proper_type(proper)
    statement = isinstance(top, Instance) and top.type.fullname == names.SELECT_CLASS
    for inst in _models_in(proper):
        state = type_to_state(inst, schema)
        info = model_info(inst)
        if state is not None and info is not None:
            return Entity(info, state, fetched=not statement)
    return None


def _models_in(typ: Type, depth: int = 0) -> Iterator[Instance]:
    proper = get_proper_type(typ)
    if depth > 4:
        return
    if isinstance(proper, Instance):
        if model_info(proper) is not None:
            yield proper
        elif proper.type.fullname == names.SELECT_CLASS:
            for arg in proper.args:
                yield from _models_in(arg, depth + 1)
    elif (isinstance(proper, TupleType) and depth > 0) or isinstance(proper, UnionType):
        # Select[tuple[User]] (2.0), User | None
        for item in proper.items:
            yield from _models_in(item, depth + 1)


# ---------------------------------------------------------------------------------------
# Type checking: the call site


def call_hook(lookup: Lookup, settings: Settings, owner: TypeInfo | str, summary: Ir,
              modules: Callable[[str], MypyFile | None]
              ) -> Callable[[MethodContext | FunctionContext], Type]:
    """The hook for calls of a summarised method of ``owner`` (a class), or of a function
    of ``owner`` (a module name)."""
    wide_sync = settings.allow_lazy_loads != "never"

    def hook(ctx: MethodContext | FunctionContext) -> Type:
        schema = CheckerSchema(lookup)
        evaluator = Evaluator(ctx.api, schema, modules)
        receiver = ctx.type if isinstance(ctx, MethodContext) else None
        result = ctx.default_return_type
        if requirements_in(_awaited(result)):
            return result  # a Loaded[...] return type: the declaration is the contract
        if isinstance(owner, str) or isinstance(receiver, Instance):
            bindings = _site_bindings(ctx, summary)
            alts = evaluator.call_summary(owner, summary, Obj(receiver) if receiver is not None
                                          and isinstance(receiver, Instance) else None, bindings, 0) \
                if bindings is not None else None
            result = _apply_result(ctx.api, evaluator, alts, result, lookup, wide_sync)
        depend_on_evaluation(ctx.api, evaluator)
        # Loaded[...] returns and routes' response models check what the caller gets.
        check_returned(ctx.api, lookup, settings, ctx.context, _awaited(result), made_here=True)
        return flow.produced(ctx.api, ctx.context, result)

    return hook


def dependency_type(api: CheckerPluginInterface, schema: CheckerSchema, fullname: str, typ: Type
                    ) -> Type | None:
    """The type of a parameter FastAPI fills with ``Depends(<fullname>)``: ``typ`` with the
    state the dependency's summary gives, called with nothing known about its arguments
    (they are FastAPI's to fill); None when not known."""
    module, _, name = fullname.rpartition(".")
    modules: dict[str, MypyFile] = getattr(api, "modules", None) or {}
    tree = modules.get(module)
    summary = module_summary(tree, name) if tree is not None else None
    if summary is None:
        return None
    evaluator, alts = _evaluate_unbound(api, schema, module, summary)
    result = _apply_result(api, evaluator, alts, typ, schema.lookup, True)
    return result if result is not typ else None


def body_returns_known(api: CheckerPluginInterface, schema: CheckerSchema, func: FuncDef) -> bool:
    """Whether every value module-level function ``func`` returns is an object of known
    state, by its body's summary, with nothing known about the arguments (a route:
    FastAPI fills them). Strict mode's rule for objects of unknown origin then does not
    apply to what it returns: its ``return`` statements are checked where they are."""
    module, _, _name = func.fullname.rpartition(".")
    modules: dict[str, MypyFile] = getattr(api, "modules", None) or {}
    # A module-level function's ``info`` is mypy's FakeInfo, which is falsy (and whose
    # attributes raise).
    summary = summarize_function(func) if not func.info else None
    if summary is None or module not in modules:
        return False
    evaluator, alts = _evaluate_unbound(api, schema, module, {**summary, "static": True})
    if not alts:
        return False
    entities = [v for v in alts if v != NONE_VALUE]
    return bool(entities) and all(isinstance(v, Entity) and evaluator.entity_state(v) is not None
                                  for v in entities)


def _evaluate_unbound(api: CheckerPluginInterface, schema: CheckerSchema, module: str, summary: Ir
                      ) -> tuple[Evaluator, Alts | None]:
    """A module-level function's summary called with nothing known about its arguments
    (FastAPI fills them), and the dependencies on everything the evaluation consulted."""
    modules: dict[str, MypyFile] = getattr(api, "modules", None) or {}
    evaluator = Evaluator(api, schema, modules.get)
    alts = evaluator.call_summary(module, summary, None, {}, 0)
    depend_on_evaluation(api, evaluator)
    return evaluator, alts


def _site_bindings(ctx: MethodContext | FunctionContext, summary: Ir) -> dict[str, Binding] | None:
    formals = {p[0] for p in summary["params"]}
    out: dict[str, Binding] = {}
    for name, exprs, types, kinds in zip(ctx.callee_arg_names, ctx.args, ctx.arg_types, ctx.arg_kinds):
        if not exprs:
            continue
        if name is None or name not in formals:
            return None
        if len(exprs) != 1 or kinds[0] not in (ARG_POS, ARG_NAMED):
            return None  # spread at the call: not followed
        out[name] = Binding(expr=exprs[0], typ=types[0])
    return out


def _apply_result(api: CheckerPluginInterface, evaluator: Evaluator, alts: Alts | None,
                  result: Type, lookup: Lookup, wide_sync: bool) -> Type:
    if not alts:
        return result
    values = [v for v in alts if v != NONE_VALUE]
    if not values:
        return result
    schema = evaluator.schema
    if all(isinstance(v, Entity) for v in values):
        entities = [v for v in values if isinstance(v, Entity)]
        info = entities[0].info
        if any(e.info is not info for e in entities):
            return result
        found = [evaluator.entity_state(e) for e in entities]
        states = [s for s in found if s is not None]
        if len(states) != len(found):
            return result
        sync = any(e.sync for e in entities)
        state = states[0] if len(states) == 1 else loadstate.intersect(states, schema)
        if sync and wide_sync:
            state = loadstate.sync_view(schema, state)
        typ = state_to_type(api, schema, state)
        if typ is None:
            return result
        return _map_models(result, info, lambda inst: typ)
    if all(isinstance(v, Options) for v in values):
        chain_sets = {v.chains for v in values if isinstance(v, Options)}
        if len(chain_sets) != 1:
            return result  # different options on different paths: unknown
        chains = chain_sets.pop()
        return _map_option_items(result, lambda t: encode_option_type(
            lambda n: schema.info(n) or _info(lookup, n), chains, t))
    return result


def _awaited(typ: Type) -> Type:
    proper = get_proper_type(typ)
    if isinstance(proper, Instance) and proper.type.fullname == "typing.Coroutine" and proper.args:
        return proper.args[-1]
    return typ


def _info(lookup: Lookup, fullname: str) -> TypeInfo | None:
    sym = lookup(fullname)
    return sym.node if sym is not None and isinstance(sym.node, TypeInfo) else None


def _map_models(typ: Type, info: TypeInfo, fn: Callable[[Instance], Type], depth: int = 0) -> Type:
    """Replace the model ``info`` in ``typ`` (``M``, ``M | None``, ``Sequence[M]``,
    ``Select[tuple[M]]``, a Coroutine of those)."""
    if depth > 5:
        return typ
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        if proper.type is info:
            return fn(proper)
        if proper.args and (proper.type.fullname in (*_UNPACKABLE, "typing.Coroutine",
                                                      names.SELECT_CLASS, "typing.Awaitable")):
            return proper.copy_modified(args=[_map_models(a, info, fn, depth + 1) for a in proper.args])
        return typ
    if isinstance(proper, TupleType):
        return proper.copy_modified(items=[_map_models(i, info, fn, depth + 1) for i in proper.items])
    if isinstance(proper, UnionType):
        return UnionType.make_union([_map_models(i, info, fn, depth + 1) for i in proper.items], proper.line)
    return typ


def _map_option_items(typ: Type, fn: Callable[[Type], Type], depth: int = 0) -> Type:
    """The option element of ``Sequence[ExecutableOption]`` (in a Coroutine, too)."""
    proper = get_proper_type(typ)
    if depth > 3 or not isinstance(proper, Instance):
        return typ
    if proper.type.fullname in ("typing.Coroutine", "typing.Awaitable") and proper.args:
        last = _map_option_items(proper.args[-1], fn, depth + 1)
        return proper.copy_modified(args=[*proper.args[:-1], last])
    if proper.type.fullname in _UNPACKABLE and len(proper.args) == 1 and is_loader_option(proper.args[0]):
        return proper.copy_modified(args=[fn(proper.args[0])])
    return typ


def depend_on_evaluation(api: CheckerPluginInterface, evaluator: Evaluator) -> None:
    """The code being checked depends on every summary, mapping and module the evaluation
    consulted (its result, or a fix note's place, changes with them)."""
    depend_on_mappings(api, [*sorted(evaluator.consulted), *evaluator.schema.consulted()])
    depend_on_functions(api, sorted(evaluator.consulted_modules))
    _depend_on_modules(api, evaluator)


def _depend_on_modules(api: CheckerPluginInterface, evaluator: Evaluator) -> None:
    """A warm cache must re-check this module when a consulted summary's module changes,
    even one it does not import (a service's repository): record them as the checker's
    own module references, which mypy turns into indirect dependencies."""
    refs = getattr(api, "module_refs", None)
    if not isinstance(refs, set):
        return
    refs.update(evaluator.consulted_modules)
    for fullname in evaluator.consulted:
        info = evaluator.schema.info(fullname)
        if info is not None and info.module_name:
            refs.add(info.module_name)

