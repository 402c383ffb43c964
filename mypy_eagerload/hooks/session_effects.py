"""What a helper function does to the session and the objects it is given (issue 18), as
a small record stored beside the function summaries of ``hooks.summaries``:

    await save(session, user)          # async def save(session, obj): session.add(obj);
    user.name                          #                 await session.commit()  -> expired

and where a session comes from when a function does not make it: a module-level factory
(``factory = async_sessionmaker(engine, expire_on_commit=False)``) and a dependency that
yields one of its sessions (``async def get_session(): async with factory() as s: yield s``).

Syntax only, like the summaries: names are parameters as written. ``hooks.lifecycle``
applies a record at a call site, mapping each parameter to the caller's argument.

A record (JSON):

    {"params": [name, ...],                  every parameter, ``self`` included
     "ops": [[op, session, target, names], ...],
     "opaque": [name, ...],
     "read": [name, ...],                    parameters whose attributes it reads
     "result": [kind, session or param, index] or null,
     "stores": {"self.<attr>": param}}       ``__init__`` only

``ops`` are the session operations on parameters in the order they run: ``op`` one of
``hooks.lifecycle``'s operations, ``"add"``, or ``"fetch"`` (a query: it reloads expired
objects of that session from the identity map; ``names`` holds the method); ``session`` a
parameter or ``self.<attr>``;
``target`` the parameter the operation names (``refresh(obj)``), else null. Only the
statements at the top level of the body are followed; a parameter used in anything else
(a branch, a loop, a ``with``, a call the record does not describe, a nested function) is
``opaque``: the call site stops following what it passes there. ``result`` says what the
function returns: ``["param", p, 0]`` the object passed as ``p``; ``["fetch", s, i]`` an
object fetched from session ``s``, or ``["add", s, i]`` one made here and added to it, to
which ``ops[i:]`` happened after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mypy.nodes import (
    GDEF,
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    ExpressionStmt,
    FuncDef,
    LambdaExpr,
    ListExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    PassStmt,
    RefExpr,
    ReturnStmt,
    Statement,
    StrExpr,
    SymbolTableNode,
    TupleExpr,
    Var,
    WithStmt,
)
from mypy.plugin import DynamicClassDefContext
from mypy.types import CallableType, Instance, LiteralType, get_proper_type

from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.names import (
    ASYNC_SESSION_CLASSES,
    FACTORY_PREFIX,
    SESSION_CLASSES,
    SESSION_FACTORIES,
    SYNC_SESSION_CLASSES,
)

Record = dict[str, Any]

# Session methods whose result holds objects of that session.
FETCHES = frozenset({"execute", "scalars", "scalar", "get", "get_one", "stream", "stream_scalars",
                     "merge"})
# Session methods that change what its objects hold.
OPERATIONS = frozenset({"commit", "rollback", "expire", "expire_all", "refresh", "close", "expunge",
                        "expunge_all", "reset", "invalidate"})
DETACHING = frozenset({"close", "expunge", "expunge_all", "reset", "invalidate"})
# Session methods that leave loaded attributes as they are (measured: flush loads nothing
# back and expires nothing that was loaded; delete marks, add_all like add).
HARMLESS = frozenset({"flush", "delete", "in_transaction", "is_modified", "get_bind"})


def dotted(expr: Expression) -> str | None:
    """A session or an object as written: a name, or ``self.<attr>``."""
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr) and expr.expr.name == "self":
        return f"self.{expr.name}"
    return None


def fetch_session(expr: Expression | None) -> tuple[str, Expression] | None:
    """The session whose query ``expr`` takes its objects from: ``(await s.execute(q))
    .unique().scalar_one()``, ``await s.get(User, 1)``, ``(await s.scalars(q)).all()``."""
    while expr is not None:
        if isinstance(expr, AwaitExpr):
            expr = expr.expr
            continue
        if not (isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr)):
            return None
        if expr.callee.name in FETCHES:
            session = dotted(expr.callee.expr)
            if session is not None:
                return session, expr.callee.expr
        expr = expr.callee.expr
    return None


def names_argument(expr: Expression | None) -> frozenset[str] | None:
    """``["a", "b"]`` / ``("a",)`` as written; None for anything else (all attributes)."""
    if isinstance(expr, (ListExpr, TupleExpr)) and all(isinstance(i, StrExpr) for i in expr.items):
        return frozenset(i.value for i in expr.items)  # type: ignore[attr-defined]
    return None


def calls_in(node: Statement | Expression) -> list[CallExpr]:
    """The calls in ``node`` in the order they run (as far as line and column tell: an
    argument's call before the call it is passed to), not those inside a lambda."""
    found = [n for n in walk([node]) if isinstance(n, CallExpr)]
    lambdas = [n for n in walk([node]) if isinstance(n, LambdaExpr)]
    inside = {id(c) for lam in lambdas for c in walk([lam.body]) if isinstance(c, CallExpr)}
    found = [c for c in found if id(c) not in inside]
    return sorted(found, key=lambda c: (c.end_line or c.line, c.end_column or c.column))


# ---------------------------------------------------------------------------------------
# Records


def summarize(func: FuncDef, method: bool = False) -> Record | None:
    """The record of ``func``, or None when it neither touches a session nor returns an
    object a call site could follow (most functions: nothing stored)."""
    params = [arg.variable.name for arg in func.arguments]
    if not params:
        return None
    walker = _Effects(set(params), method and params[0] == "self")
    walker.body(func.body.body)
    stores = _stores(func) if method and func.name == "__init__" else {}
    for node in walk(func.body.body):
        if isinstance(node, MemberExpr) and isinstance(node.expr, NameExpr) \
                and node.expr.name in walker.params:
            if node.name == "awaitable_attrs":
                walker.opaque.add(node.expr.name)  # await x.awaitable_attrs.posts loads x
            elif id(node) not in walker.callees:
                walker.read.add(node.expr.name)
    if not walker.ops and walker.result is None and not stores and walker.opaque >= set(params):
        return None  # the call site's default for calls it knows nothing of says the same
    record: Record = {"params": params, "ops": walker.ops, "opaque": sorted(walker.opaque),
                      "read": sorted(walker.read - walker.opaque), "result": walker.result}
    if stores:
        record["stores"] = stores
    return record


def _stores(func: FuncDef) -> dict[str, str]:
    """``__init__``'s ``self.<attr> = <parameter>`` at the top level of its body, bound once:
    a call site knows that the new object's ``self.session`` is the session it passed."""
    params = {arg.variable.name for arg in func.arguments[1:]}
    found: dict[str, str] = {}
    counts: dict[str, int] = {}
    for node in walk(func.body.body):
        if isinstance(node, AssignmentStmt):
            for lvalue in node.lvalues:
                attr = dotted(lvalue)
                if attr is not None and attr.startswith("self."):
                    counts[attr] = counts.get(attr, 0) + 1
    for stmt in func.body.body:
        if isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1 \
                and isinstance(stmt.rvalue, NameExpr) and stmt.rvalue.name in params:
            attr = dotted(stmt.lvalues[0])
            if attr is not None and attr.startswith("self.") and counts.get(attr) == 1:
                found[attr] = stmt.rvalue.name
    return found


class _Effects:
    def __init__(self, params: set[str], method: bool) -> None:
        self.params = params
        self.method = method
        self.ops: list[list[Any]] = []
        self.opaque: set[str] = set()
        self.result: list[Any] | None = None
        self.locals: dict[str, list[Any]] = {}  # local -> ["fetch"/"add", session, index]
        self.read: set[str] = set()  # parameters whose attributes are read (a sync reload)
        self.callees: set[int] = set()  # ids of the MemberExprs called (session.commit)

    def holder(self, expr: Expression) -> str | None:
        """A parameter (or ``self.<attr>`` in a method) as written, else None."""
        name = dotted(expr)
        if name is None:
            return None
        if name.startswith("self."):
            return name if self.method else None
        return name if name in self.params else None

    def body(self, stmts: Sequence[Statement]) -> None:
        for i, stmt in enumerate(stmts):
            last = i == len(stmts) - 1
            if isinstance(stmt, ReturnStmt):
                if stmt.expr is not None:
                    self.calls(stmt.expr)
                    if last:
                        self.result = self.returned(stmt.expr)
                return
            if isinstance(stmt, ExpressionStmt):
                self.calls(stmt.expr)
            elif isinstance(stmt, AssignmentStmt):
                self.calls(stmt.rvalue)
                self.assign(stmt)
            elif isinstance(stmt, PassStmt) or (isinstance(stmt, WithStmt) and self.begin_block(stmt)):
                continue
            else:
                self.make_opaque(stmt)
                self.result = None
                self.locals.clear()
                if not isinstance(stmt, (FuncDef, Decorator)) and any(
                        isinstance(n, ReturnStmt) for n in walk([stmt])):
                    return  # a return inside: what the function gives is not known

    def begin_block(self, stmt: WithStmt) -> bool:
        """``async with session.begin(): ...`` of straight-line statements: its body, then a
        commit on leaving it."""
        if len(stmt.expr) != 1 or stmt.target[0] is not None:
            return False
        call = stmt.expr[0]
        if not (isinstance(call, CallExpr) and isinstance(call.callee, MemberExpr)
                and call.callee.name == "begin" and not call.args):
            return False
        session = self.holder(call.callee.expr)
        if session is None or not all(isinstance(s, (ExpressionStmt, AssignmentStmt, PassStmt))
                                      for s in stmt.body.body):
            return False
        self.body(stmt.body.body)
        self.ops.append(["commit", session, None, None])
        return True

    def assign(self, stmt: AssignmentStmt) -> None:
        found = fetch_session(stmt.rvalue)
        session = self.holder(found[1]) if found is not None else None
        for lvalue in stmt.lvalues:
            if isinstance(lvalue, NameExpr):
                self.locals.pop(lvalue.name, None)
                if session is not None and len(stmt.lvalues) == 1:
                    self.locals[lvalue.name] = ["fetch", session, len(self.ops)]
                if lvalue.name in self.params:
                    self.opaque.add(lvalue.name)  # re-bound: no longer what was passed

    def returned(self, expr: Expression) -> list[Any] | None:
        if isinstance(expr, NameExpr):
            if expr.name in self.locals:
                return self.locals[expr.name]
            if expr.name in self.params and expr.name not in self.opaque:
                return ["param", expr.name, 0]
            return None
        found = fetch_session(expr)
        session = self.holder(found[1]) if found is not None else None
        return ["fetch", session, len(self.ops)] if session is not None else None

    def calls(self, expr: Expression) -> None:
        for call in calls_in(expr):
            self.call(call)

    def call(self, call: CallExpr) -> None:
        callee = call.callee
        self.callees.add(id(callee))
        session = self.holder(callee.expr) if isinstance(callee, MemberExpr) else None
        if session is not None and isinstance(callee, MemberExpr):
            method = callee.name
            first = call.args[0] if call.args else None
            target = self.holder(first) if first is not None else None
            if method in OPERATIONS:
                names = names_argument(call.args[1]) if len(call.args) > 1 else None
                self.ops.append([method, session, target, sorted(names) if names is not None else None])
                self.passed(call.args[2:] if method == "refresh" else call.args[1:])
                if first is not None and target is None and isinstance(first, NameExpr) \
                        and method in ("refresh", "expire", "expunge"):
                    self.locals.pop(first.name, None)  # a local object: what it holds changed
                return
            if method in ("add", "add_all"):
                items = [first] if method == "add" else list(getattr(first, "items", ()))
                if method == "add_all" and not isinstance(first, (ListExpr, TupleExpr)):
                    self.passed(call.args)
                    return
                for item in items:
                    added = self.holder(item) if item is not None else None
                    if isinstance(item, NameExpr) and item.name not in self.params:
                        self.locals[item.name] = ["add", session, len(self.ops)]
                    elif added is not None:
                        self.ops.append(["add", session, added, None])
                return
            if method in FETCHES:
                self.ops.append(["fetch", session, None, [method]])
                return
            if method in HARMLESS:
                return
            self.opaque.add(session.split(".", 1)[0] if not session.startswith("self.") else "self")
            self.passed(call.args)
            return
        self.passed(call.args)
        if isinstance(callee, MemberExpr):
            receiver = self.holder(callee.expr)
            if receiver is not None and receiver.startswith("self."):
                self.opaque.add("self")  # another object's method, reached through self
            elif isinstance(callee.expr, NameExpr) and callee.expr.name == "self" and self.method:
                self.opaque.add("self")  # a method of this class: its effects not followed

    def passed(self, args: Sequence[Expression]) -> None:
        """Parameters handed to something the record does not describe."""
        for arg in args:
            for node in walk([arg]):
                if isinstance(node, NameExpr) and node.name in self.params and not _only_read(arg, node):
                    self.opaque.add(node.name)

    def make_opaque(self, stmt: Statement) -> None:
        for node in walk([stmt]):
            if isinstance(node, NameExpr) and node.name in self.params:
                self.opaque.add(node.name)


def _only_read(arg: Expression, name: NameExpr) -> bool:
    """``obj.id`` passed on (a value read off the parameter), not ``obj`` itself."""
    return any(isinstance(n, MemberExpr) and n.expr is name for n in walk([arg]))


# ---------------------------------------------------------------------------------------
# Where sessions come from


def factory_record(call: CallExpr, line: int) -> dict[str, Any] | None:
    """``async_sessionmaker(engine, expire_on_commit=False)`` (or ``AsyncSession(...)``):
    its ``expire_on_commit`` (SQLAlchemy's default when not given; None when given as
    anything but ``True``/``False``) and how to name it in a message."""
    callee = call.callee
    if not (isinstance(callee, RefExpr) and callee.fullname in SESSION_FACTORIES | SESSION_CLASSES):
        return None
    value: bool | None = True
    given = False
    for name, arg in zip(call.arg_names, call.args):
        if name == "expire_on_commit":
            given = True
            value = arg.name == "True" if isinstance(arg, NameExpr) and arg.name in ("True", "False") \
                else None
    if any(kind.is_star() for kind in call.arg_kinds):
        value = None  # **settings: not known
    return {"eoc": value, "given": given, "call": callee.fullname.rsplit(".", 1)[-1], "line": line}


def record_factory(ctx: DynamicClassDefContext) -> None:
    """Semantic analysis of ``name = async_sessionmaker(...)``: at the top level of a module,
    store its record in the module's symbol table as a generated ``Literal["<json>"]``
    name, which mypy serializes with the module (both mypy 1.x and 2.x: this runs before
    any body is checked or freed) and which dmypy snapshots (its trigger fires when the
    record changes). Not exported, not inferred: invisible to ``import *`` and
    ``reveal_locals()``."""
    api = ctx.api
    scope_check = getattr(api, "is_func_scope", None)
    if getattr(api, "type", None) is not None or (scope_check is not None and scope_check()):
        return
    module = getattr(api, "cur_mod_node", None)
    if not isinstance(module, MypyFile):
        return
    record = module_factories(module.defs).get(ctx.name)
    if record is None:
        return
    text = json.dumps(record, sort_keys=True)
    var = Var(FACTORY_PREFIX + ctx.name, LiteralType(text, api.named_type("builtins.str")))
    var._fullname = f"{module.fullname}.{var.name}"
    var.is_ready = True
    module.names[var.name] = SymbolTableNode(GDEF, var, module_public=False, plugin_generated=True)


def stored_factory(tree: MypyFile, name: str) -> dict[str, Any] | None:
    """The record ``record_factory`` stored for ``tree``'s factory ``name``."""
    sym = tree.names.get(FACTORY_PREFIX + name)
    typ = get_proper_type(sym.node.type) if sym is not None and isinstance(sym.node, Var) \
        and sym.node.type is not None else None
    if isinstance(typ, LiteralType) and isinstance(typ.value, str):
        found = json.loads(typ.value)
        return found if isinstance(found, dict) else None
    return None


def module_factories(defs: Sequence[Statement]) -> dict[str, dict[str, Any]]:
    """``{name: factory_record}`` for a module's ``name = async_sessionmaker(...)`` (bound
    once; a later ``name.configure(expire_on_commit=...)`` in the module makes it unknown)."""
    found: dict[str, dict[str, Any]] = {}
    bound: dict[str, int] = {}
    for stmt in defs:
        if isinstance(stmt, AssignmentStmt):
            for lvalue in stmt.lvalues:
                if isinstance(lvalue, NameExpr):
                    bound[lvalue.name] = bound.get(lvalue.name, 0) + 1
            if len(stmt.lvalues) == 1 and isinstance(stmt.lvalues[0], NameExpr) \
                    and isinstance(stmt.rvalue, CallExpr):
                record = factory_record(stmt.rvalue, stmt.line)
                if record is not None:
                    found[stmt.lvalues[0].name] = record
    configured = {n.callee.expr.name for n in walk(list(defs))
                  if isinstance(n, CallExpr) and isinstance(n.callee, MemberExpr)
                  and n.callee.name == "configure" and isinstance(n.callee.expr, NameExpr)
                  and "expire_on_commit" in n.arg_names}
    for name, record in found.items():
        if bound.get(name, 0) != 1 or name in configured:
            found[name] = {**record, "eoc": None}
    return found


def yielded_factory(func: FuncDef) -> Expression | None:
    """The factory call a dependency hands its session out of: ``async with factory() as
    s: yield s`` (or ``with``), ``s = factory(); try: yield s finally: ...``, ``return
    factory()``. None for any other body."""
    yielded = [n for n in walk(func.body.body) if type(n).__name__ in ("YieldExpr", "ReturnStmt")]
    names = {getattr(n, "expr", None).name for n in yielded  # type: ignore[union-attr]
             if isinstance(getattr(n, "expr", None), NameExpr)}
    if len(names) != 1:
        return None
    (name,) = names
    made: list[Expression] = []
    for node in walk(func.body.body):
        if isinstance(node, WithStmt):
            for expr, target in zip(node.expr, node.target):
                if isinstance(target, NameExpr) and target.name == name:
                    made.append(expr)
        elif isinstance(node, AssignmentStmt) and any(
                isinstance(lv, NameExpr) and lv.name == name for lv in node.lvalues):
            made.append(node.rvalue)
    if len(made) != 1 or not isinstance(made[0], CallExpr):
        return None
    return made[0]


def session_source(call: CallExpr, module: str,
                   modules: Callable[[str], MypyFile | None]) -> dict[str, Any] | None:
    """The factory record of the session ``call`` makes: ``AsyncSession(engine)`` itself,
    ``factory()`` of a module-level factory (recorded by ``record_factory``), with
    ``factory(expire_on_commit=...)`` taking precedence."""
    direct = factory_record(call, call.line)
    if direct is not None:
        return {**direct, "module": module}
    callee = call.callee
    node = callee.node if isinstance(callee, RefExpr) else None
    if not isinstance(node, Var) or not node.fullname or "." not in node.fullname:
        return None
    owner, _, name = node.fullname.rpartition(".")
    tree = modules(owner)
    record = stored_factory(tree, name) if tree is not None else None
    if record is None:
        return None
    record = {**record, "module": owner, "name": name}
    for arg_name, arg in zip(call.arg_names, call.args):
        if arg_name == "expire_on_commit":
            local = arg.name == "True" if isinstance(arg, NameExpr) and arg.name in ("True", "False") \
                else None
            record = {**record, "eoc": local, "given": True, "call": name, "line": call.line,
                      "module": module}
    if any(kind.is_star() for kind in call.arg_kinds):
        record = {**record, "eoc": None}
    return record


def lifecycle_tables(defs: Sequence[Statement], module: str,
                     modules: Callable[[str], MypyFile | None]) -> dict[str, Any]:
    """The session tables stored with a module's function summaries: ``@effects`` (the
    records of its top-level functions) and ``@sessions`` (its dependencies' sessions:
    ``{function: factory record}``, resolved now so that a change to the factory in its
    own module changes this module's table, and with it what mypy rechecks)."""
    effects = _module_effects(defs)
    sessions: dict[str, dict[str, Any]] = {}
    for stmt in defs:
        func = stmt.func if isinstance(stmt, Decorator) else stmt
        if not isinstance(func, FuncDef) or not _hands_out(func):
            continue
        if isinstance(stmt, Decorator) and not all(
                isinstance(d, RefExpr) and d.fullname in _CONTEXT_MANAGERS for d in stmt.decorators):
            continue
        made = yielded_factory(func)
        source = session_source(made, module, modules) if isinstance(made, CallExpr) else None
        if source is not None:
            sessions[func.name] = {**source, "cm": isinstance(stmt, Decorator)}
    tables: dict[str, Any] = {}
    for key, table in (("@effects", effects), ("@sessions", sessions)):
        if table:
            tables[key] = table
    return tables


_CONTEXT_MANAGERS = frozenset({"contextlib.asynccontextmanager", "contextlib.contextmanager"})


def _hands_out(func: FuncDef) -> bool:
    """A generator, or a function with a top-level ``return <name>``: the shapes
    ``yielded_factory`` accepts, told without walking the body."""
    return func.is_generator or func.is_async_generator or any(
        isinstance(stmt, ReturnStmt) and isinstance(stmt.expr, NameExpr) for stmt in func.body.body)


def _may_take_session(func: FuncDef) -> bool:
    """A module function can act on a session only through a parameter (its record says what
    it does to its parameters): one declared a session, or not declared at all. Most
    functions of an application take none and are not walked."""
    typ = func.type
    if not isinstance(typ, CallableType):
        return True
    for arg_type in typ.arg_types:
        proper = get_proper_type(arg_type)
        if not isinstance(proper, Instance) or any(
                proper.type.has_base(name) for name in (*SYNC_SESSION_CLASSES, *ASYNC_SESSION_CLASSES)):
            return True
    return False


# Records of a tree's functions, by the identity of its definitions list (a cache, not
# state: both the store at the end of a module and its callers in the same SCC ask).
_EFFECTS_MEMO: dict[int, tuple[Sequence[Statement], int, dict[str, Record]]] = {}


def _module_effects(defs: Sequence[Statement]) -> dict[str, Record]:
    hit = _EFFECTS_MEMO.get(id(defs))
    if hit is not None and hit[0] is defs and hit[1] == len(defs):
        return hit[2]
    effects: dict[str, Record] = {}
    for stmt in defs:
        if isinstance(stmt, FuncDef) and _may_take_session(stmt):
            record = summarize(stmt)
            if record is not None:
                effects[stmt.name] = record
    if len(_EFFECTS_MEMO) > 256:
        _EFFECTS_MEMO.clear()
    _EFFECTS_MEMO[id(defs)] = (defs, len(defs), effects)
    return effects


def summarize_class(defn: ClassDef) -> dict[str, Record]:
    """{method: record} for the methods of a class (not models: ``hooks.layers``)."""
    found: dict[str, Record] = {}
    for stmt in defn.defs.body:
        if isinstance(stmt, FuncDef) and not stmt.is_static and not stmt.is_class:
            record = summarize(stmt, method=True)
            if record is not None:
                found[stmt.name] = record
    return found
