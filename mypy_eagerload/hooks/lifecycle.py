"""What the session did to the objects it holds: ``commit()``, ``rollback()``, ``expire()``,
``refresh()``, ``close()``, ``expunge()`` between a query and a read (issue 18).

docs/session-lifecycle.md has the measured facts this follows: a commit expires every
attribute of every object in the session (with ``expire_on_commit``, the default), a
rollback too (a savepoint's only what changed in it: not followed), ``expire(obj)`` /
``expire_all()`` what they name, ``refresh(obj)`` loads it again (``refresh(obj, names)``
those names), and a read of an expired attribute emits SQL: ``MissingGreenlet`` under
``AsyncSession``, an extra query under ``Session``, ``DetachedInstanceError`` once the
object is detached (``close()``, ``expunge()``).

One forward walk per function (the outermost one: a closure's reads count where it is
defined) over its statements, in the manner of ``flow._Reaching``: for each local name
bound from a session call (``x = (await s.execute(...)).scalar_one()``, ``await s.get(...)``,
``for x in await s.scalars(...)``) or added to a session (``s.add(x)``), the events of that
session (``s`` as written: a local or parameter name, or ``self.<attr>``) since the name
was bound. Branches merge by union (a read is reported when some path expired it); loops
run their body twice. The hooks for a model attribute read on such a name ask
``expired_by`` for the events that reach the read.

What is not followed stays silent: objects from other functions (their session is not
known here), sessions held elsewhere, savepoints, commits inside called functions, and a
commit on a session whose ``expire_on_commit`` is not known (see ``session_setting``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mypy.nodes import (
    AssignmentStmt,
    AwaitExpr,
    Block,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    ForStmt,
    FuncDef,
    FuncItem,
    IfStmt,
    ListExpr,
    MatchStmt,
    MemberExpr,
    MypyFile,
    NameExpr,
    Node,
    OverloadedFuncDef,
    RaiseStmt,
    RefExpr,
    ReturnStmt,
    Statement,
    TryStmt,
    TupleExpr,
    TypeInfo,
    Var,
    WhileStmt,
    WithStmt,
)
from mypy.plugin import AttributeContext, CheckerPluginInterface
from mypy.types import Instance, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages
from mypy_eagerload.hooks import session_effects as fx
from mypy_eagerload.hooks.compat import (
    checked_module,
    depend_on_functions,
    depend_on_names,
    enclosing_functions,
    expression_type,
    report,
)
from mypy_eagerload.hooks.errorcodes import EXPIRED_ATTRIBUTE
from mypy_eagerload.hooks.models import attribute_names, metadata
from mypy_eagerload.hooks.schema import model_info
from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.names import ASYNC_SESSION_CLASSES, FACTORY_PREFIX, SYNC_SESSION_CLASSES


@dataclass(frozen=True)
class Event:
    """Something a session did to an object after it was bound."""

    op: str  # "commit", "rollback", "expire", "expire_all", "close", ...
    line: int
    session: str  # the session as written: "session", "self.session"
    names: frozenset[str] | None = None  # the attributes it expired; None: all
    reloaded: frozenset[str] = frozenset()  # refreshed since (refresh(obj, [names]))
    detached: str = ""  # "close() on line 12" when the object was detached afterwards
    via: str = ""  # the helper it happened in: "save()"


Facts = frozenset[Event]
Env = dict[str, tuple[str, Facts]]  # name -> (its session, events since it was bound)
# An object built in code and added keeps what it was given on rollback (it goes back to
# being transient) and is not expired by expire_all(): only a commit expires it (measured).
_ADDED = "+"  # suffix of the session key of added objects
_RESULT = "@result"  # what a helper call returns, until the assignment binds it
# A call not understood was given the object or its session without being awaited: under
# AsyncSession it cannot have loaded anything (no IO without await); under Session any
# attribute it read reloaded the whole expired object. An event that expires nothing.
_TOUCHED = "touched"
# "#<session>" is in the env while the session is known to be in a transaction (a query
# ran since the last commit, rollback or close): a rollback outside one does nothing
# (measured: commit(), then rollback(), leaves loaded attributes loaded).
_ACTIVE = "#"
_SQL_FETCHES = frozenset({"execute", "scalars", "scalar", "stream", "stream_scalars"})
_VOCABULARY = fx.FETCHES | fx.OPERATIONS | fx.HARMLESS | {"add", "add_all", "begin", "begin_nested"}


@dataclass
class Analysis:
    reads: dict[int, tuple[str, Facts]]  # id(MemberExpr read on a tracked name) -> its facts
    sessions: dict[str, Expression]  # session as written -> an expression of it (for its type)
    origins: dict[str, Expression | None]  # session -> the call that made it, if local
    params: dict[str, Expression | None] = field(default_factory=dict)  # parameter -> default


Resolver = Callable[[CallExpr], "tuple[fx.Record, dict[str, Expression], str] | None"]


def analyse(func: FuncItem, api: CheckerPluginInterface) -> Analysis | None:
    """The walk, or None when the function calls no session operation at all (most do not:
    this is the fast answer for every attribute read there)."""
    hit = _MEMO.get(id(func))
    # dmypy's AST merge keeps a changed function's FuncDef object with the new body: compare
    # the body too.
    if hit is not None and hit[0] is func and hit[1] is func.body:
        return hit[2]
    result = _Walker(_resolver(api, func)).run(func) if _has_operations(func) else None
    _MEMO[id(func)] = (func, func.body, result)
    if len(_MEMO) > 4096:
        _MEMO.pop(next(iter(_MEMO)))
    return result


_MEMO: dict[int, tuple[FuncItem, Block, Analysis | None]] = {}


def _has_operations(func: FuncItem) -> bool:
    """A session operation, or a call that may be a helper acting on a name it is given
    (skipping the walk only ever loses reports: an unwalked function reports nothing)."""
    return any(isinstance(n, CallExpr) and (
        (isinstance(n.callee, MemberExpr) and (n.callee.name in fx.OPERATIONS or n.callee.name == "begin"))
        or _may_act(n))
        for n in walk(func.body.body))


_NOT_HELPERS = fx.FETCHES | fx.HARMLESS


def _may_act(call: CallExpr) -> bool:
    """A call given an object or a session that is not one of SQLAlchemy's own (a fetch,
    ``select(User)``, a loader option) nor a class that does nothing to what it holds: the
    query functions of most applications, which only fetch and read, are not walked."""
    callee = call.callee
    if isinstance(callee, MemberExpr) and callee.name in _NOT_HELPERS:
        return False
    if isinstance(callee, RefExpr) and callee.fullname.startswith(("sqlalchemy.", "builtins.")):
        return False
    if isinstance(callee, RefExpr) and isinstance(callee.node, TypeInfo) and not _class_acts(callee.node):
        return False
    return any(fx.dotted(a) is not None and not (isinstance(a, RefExpr) and isinstance(
        a.node, (TypeInfo, MypyFile, FuncDef, Decorator))) for a in call.args)


def _class_acts(info: TypeInfo) -> bool:
    """Whether a method of the class does more to a session than fetch (its effect records)."""
    return any(op[0] != "fetch"
               for base in info.mro for record in ((metadata(base) or {}).get("effects") or {}).values()
               if isinstance(record, dict) for op in record.get("ops", ()))


def expired_by(facts: Facts, attr: str, expire_on_commit: dict[str, bool | None],
               relationships: frozenset[str]) -> Event | None:
    """The first event that left ``attr`` expired (and not refreshed since), if any. A
    commit counts only on a session known to expire on commit. ``refresh(obj, [a
    relationship])`` also reloads the primary key, and for some relationships every column
    (a many-to-one, a ``raise_on_sql`` many-to-many; not a one-to-many: measured, the rule
    is not known): a column read after one is not claimed."""
    column = attr not in relationships
    found = [e for e in facts
             if (e.names is None or attr in e.names) and attr not in e.reloaded
             and not (column and e.reloaded & relationships)
             and (e.op != "commit" or expire_on_commit.get(e.session) is True)]
    return min(found, key=lambda e: e.line) if found else None


# ---------------------------------------------------------------------------------------------


class _Walker:
    def __init__(self, resolve: Resolver) -> None:
        self.result = Analysis({}, {}, {})
        self.resolve = resolve
        self.holders: dict[str, str] = {}  # a local made with a session passed -> that session
        self.fields: dict[str, dict[str, str]] = {}  # repo -> {"self.session": "session"}

    def run(self, func: FuncItem) -> Analysis:
        self.result.params = {arg.variable.name: arg.initializer for arg in func.arguments}
        self.block(func.body.body, {})
        return self.result

    def block(self, stmts: list[Statement], env: Env | None) -> Env | None:
        for stmt in stmts:
            if env is None:
                return None  # the rest is unreachable
            env = self.stmt(stmt, env)
        return env

    def stmt(self, stmt: Statement, env: Env) -> Env | None:
        if isinstance(stmt, (FuncDef, Decorator, OverloadedFuncDef, ClassDef)):
            self.reads(stmt, env)  # a closure reads when called: at the earliest, here
            return env
        if isinstance(stmt, IfStmt):
            for cond in stmt.expr:
                self.reads(cond, env)
                self.calls(cond, env)
            branches = [self.block(b.body, dict(env)) for b in stmt.body]
            branches.append(self.block(stmt.else_body.body, dict(env)) if stmt.else_body else env)
            return _merge(branches)
        if isinstance(stmt, (ForStmt, WhileStmt)):
            return self.loop(stmt, env)
        if isinstance(stmt, TryStmt):
            after = self.block(stmt.body.body, dict(env))
            start = _merge([env, after])  # a handler may start anywhere in the body
            outs = [self.block(h.body, dict(start) if start is not None else {}) for h in stmt.handlers]
            if stmt.else_body is not None:
                after = self.block(stmt.else_body.body, after) if after is not None else None
            out = _merge([after, *outs])
            if stmt.finally_body is not None:
                out = self.block(stmt.finally_body.body, out if out is not None else dict(env))
            return out
        if isinstance(stmt, WithStmt):
            return self.with_stmt(stmt, env)
        if isinstance(stmt, MatchStmt):
            self.reads(stmt.subject, env)
            self.calls(stmt.subject, env)
            return _merge([env, *(self.block(b.body, dict(env)) for b in stmt.bodies)])
        if isinstance(stmt, (ReturnStmt, RaiseStmt)):
            self.reads(stmt, env)
            return None
        self.reads(stmt, env)
        if isinstance(stmt, AssignmentStmt):
            self.calls(stmt.rvalue, env)
            for lvalue in stmt.lvalues:
                self.bind(env, lvalue, stmt.rvalue)
        else:
            self.calls(stmt, env)
        env.pop(_RESULT, None)
        return env

    def with_stmt(self, stmt: WithStmt, env: Env) -> Env | None:
        for expr, target in zip(stmt.expr, stmt.target):
            self.reads(expr, env)
            self.calls(expr, env)
            if isinstance(target, NameExpr):
                env.pop(target.name, None)
                self.result.origins[target.name] = expr  # async with factory() as session
        out = self.block(stmt.body.body, env)
        if out is not None:
            for expr, target in zip(stmt.expr, stmt.target):
                call = _method_call(expr)
                if call is not None and call[1] == "begin":
                    self.event(out, Event("commit", stmt.line, call[0]))  # leaving begin() commits
                    out.pop(_ACTIVE + call[0], None)
                elif isinstance(target, NameExpr):  # async with factory() as session: closed
                    self.detach(out, target.name, f"leaving the with block on line {stmt.line}")
        return out

    def loop(self, stmt: ForStmt | WhileStmt, env: Env) -> Env | None:
        head = stmt.expr
        self.reads(head, env)
        self.calls(head, env)
        current = env
        for _ in range(2):  # twice: what the end of the body did reaches its start
            inner = dict(current)
            if isinstance(stmt, ForStmt):
                self.bind(inner, stmt.index, stmt.expr)
            out = self.block(stmt.body.body, inner)
            merged = _merge([current, out])
            current = merged if merged is not None else current
        if stmt.else_body is not None:
            return self.block(stmt.else_body.body, dict(current))
        return current

    def bind(self, env: Env, target: Expression, source: Expression | None) -> None:
        if isinstance(target, NameExpr):
            found = fx.fetch_session(source)
            result = env.pop(_RESULT, None)
            self.holders.pop(target.name, None)
            self.fields.pop(target.name, None)
            if found is not None:
                env[target.name] = (found[0], frozenset())
                self.result.sessions.setdefault(found[0], found[1])
            elif result is not None:
                env[target.name] = result
            else:
                env.pop(target.name, None)
                holder = self.holder_of(source, env)
                if holder is not None:
                    self.holders[target.name] = holder
                fields = self.stored_by(source)
                if fields:
                    self.fields[target.name] = fields
            if target.name in self.result.origins or isinstance(source, CallExpr):
                self.result.origins.setdefault(target.name, source)
        elif isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self.bind(env, item, None)

    def holder_of(self, source: Expression | None, env: Env) -> str | None:
        """``repo = Repository(session)``: a local made with a tracked session passed (its
        methods may run queries and commits on it)."""
        if not isinstance(source, CallExpr):
            return None
        owners = _owners(env)
        for arg in source.args:
            key = fx.dotted(arg)
            if key in owners:
                return key
        return None

    def stored_by(self, source: Expression | None) -> dict[str, str]:
        """``repo = Repository(session)`` with ``self.session = session`` in its ``__init__``:
        ``{"self.session": "session"}``."""
        if not (isinstance(source, CallExpr) and isinstance(source.callee, RefExpr)
                and isinstance(source.callee.node, TypeInfo)):
            return {}
        init = _method_record(source.callee.node, "__init__")
        if init is None or "stores" not in init:
            return {}
        mapping = _map_arguments(source, init["params"][1:])
        if mapping is None:
            return {}
        out = {}
        for attr, param in init["stores"].items():
            key = fx.dotted(mapping[param]) if param in mapping else None
            if key is not None:
                out[attr] = key
        return out

    # -- calls ---------------------------------------------------------------------------------
    def calls(self, node: Node, env: Env) -> None:
        calls = fx.calls_in(node)  # type: ignore[arg-type]
        if not calls:
            return
        awaited = {id(n.expr) for n in walk([node]) if isinstance(n, AwaitExpr)}
        for call in calls:
            self.call(env, call, id(call) in awaited or _coroutine(call))

    def call(self, env: Env, call: CallExpr, awaited: bool = True) -> None:
        found = _method_call(call)
        owners = _owners(env)
        if found is not None and found[1] in _SQL_FETCHES:
            env[_ACTIVE + found[0]] = (_ACTIVE, frozenset())
        if found is not None and found[0] in owners:
            session, method = found
            if method in fx.OPERATIONS or method in ("add", "add_all"):
                self.operation(env, session, method, call)
            elif method in fx.FETCHES:
                self.refetch(env, session)  # the identity map's expired objects load again
            elif method not in fx.HARMLESS and method != "begin":
                self.forget_session(env, session)  # run_sync(), connection(): anything
            return
        if found is not None and found[1] in ("add", "add_all") and found[0] in self.result.sessions:
            self.operation(env, found[0], found[1], call)
            return
        if found is not None and found[1] in _VOCABULARY:
            return  # a session's own method on a session holding nothing followed yet
        resolved = self.resolve(call)
        if resolved is not None:
            self.helper(env, call, *resolved)
            return
        if isinstance(call.callee, RefExpr) and call.callee.fullname.startswith("builtins."):
            return  # print(obj), len(...), isinstance(...): they load nothing
        # Not understood: what it is given may be reloaded, expired or detached by it, if
        # it is awaited (see _TOUCHED otherwise).
        lose = self.forget if awaited else lambda env, key: self.touch(env, key, call.line)
        keys = [fx.dotted(arg) for arg in call.args]
        if isinstance(call.callee, MemberExpr):
            receiver = fx.dotted(call.callee.expr)
            if receiver is not None:
                keys.append(self.holders.get(receiver, receiver))
                if receiver == "self" or receiver.startswith("self."):
                    keys.extend(s for s in _owners(env) if s.startswith("self."))
        for key in keys:
            if key is not None:
                lose(env, key)

    def operation(self, env: Env, session: str, method: str, call: CallExpr, via: str = "",
                  target_key: str | None = None, names: frozenset[str] | None = None) -> None:
        args = call.args
        if not via:
            target_key = fx.dotted(args[0]) if args else None
            names = fx.names_argument(args[1]) if len(args) > 1 else None
        if method in ("add", "add_all"):
            if via:
                added = [target_key]
            elif method == "add":
                added = [fx.dotted(args[0])] if args else []
            else:  # add_all([a, b])
                added = [fx.dotted(i) for i in getattr(args[0] if args else None, "items", ())]
            for key in added:
                if key is not None and key not in env:
                    env[key] = (session + _ADDED, frozenset())
                    self.result.sessions.setdefault(session, call.callee.expr  # type: ignore[attr-defined]
                                                    if not via else _session_expr(call, session))
            return
        line = call.line
        if method == "refresh":
            env[_ACTIVE + session] = (_ACTIVE, frozenset())
        if method == "rollback" and _ACTIVE + session not in env:
            return  # no transaction known to be open: it may expire nothing
        if method in ("commit", "rollback", *fx.DETACHING):
            env.pop(_ACTIVE + session, None)
        if method == "refresh" and target_key is not None and target_key in env:
            owner, facts = env[target_key]
            reloaded = {e if names is None else replace(e, reloaded=e.reloaded | names) for e in facts}
            env[target_key] = (owner, frozenset() if names is None else frozenset(reloaded))
        elif method == "expire" and target_key is not None and target_key in env \
                and env[target_key][0] == session:
            owner, facts = env[target_key]
            env[target_key] = (owner, facts | {Event("expire", line, session, names, via=via)})
        elif method == "expunge" and target_key is not None and target_key in env:
            owner, facts = env[target_key]
            detached = _how("expunge", line, via)
            env[target_key] = (owner, frozenset(replace(e, detached=e.detached or detached) for e in facts))
        elif method in ("commit", "rollback", "expire_all"):
            self.event(env, Event(method, line, session, via=via))
        elif method in fx.DETACHING:
            self.detach(env, session, _how(method, line, via))

    def helper(self, env: Env, call: CallExpr, record: fx.Record, mapping: dict[str, Expression],
               receiver: str) -> None:
        """A call of a function whose record is known: what it passes to opaque parameters
        is forgotten, its operations happen to the caller's sessions and objects, and what
        it returns is bound by the assignment (``_RESULT``)."""
        label = f"{_callee_name(call)}()"

        def key_of(param: str | None) -> str | None:
            if param is None:
                return None
            if param.startswith("self."):
                return param if receiver == "self" else self.fields.get(receiver, {}).get(param)
            expr = mapping.get(param)
            return fx.dotted(expr) if expr is not None else None

        for param in record["opaque"]:
            if param == "self" and receiver:
                self.forget(env, self.holders.get(receiver, receiver))
            key = key_of(param)
            if key is not None:
                self.forget(env, key)
        for param in record.get("read", ()):
            key = key_of(param)
            if key is not None and key in env:
                owner, facts = env[key]
                env[key] = (owner, facts | {Event(_TOUCHED, call.line, owner, frozenset())})
        result = record.get("result")
        start = result[2] if result else None
        for index, (op, session_param, target, names) in enumerate(record["ops"]):
            if result and index == start:
                self.bind_result(env, call, result, key_of)
            session = key_of(session_param)
            if session is None:
                if op in ("fetch", "refresh", "add"):
                    for owner in _owners(env):
                        self.refetch(env, owner)  # another session may be this one
                continue
            if op == "fetch":
                if names and names[0] in _SQL_FETCHES:
                    env[_ACTIVE + session] = (_ACTIVE, frozenset())
                self.refetch(env, session)
                continue
            self.operation(env, session, op, call, via=label, target_key=key_of(target),
                           names=frozenset(names) if names is not None else None)
        if result and start is not None and start >= len(record["ops"]):
            self.bind_result(env, call, result, key_of)

    def bind_result(self, env: Env, call: CallExpr, result: list[Any],
                    key_of: Callable[[str | None], str | None]) -> None:
        kind, where, _ = result
        key = key_of(where)
        if key is None:
            return
        if kind == "param":
            if key in env:
                env[_RESULT] = env[key]
        else:
            env[_RESULT] = (key + (_ADDED if kind == "add" else ""), frozenset())
            self.result.sessions.setdefault(key, _session_expr(call, key))

    # -- what operations do ----------------------------------------------------------------------
    def forget(self, env: Env, key: str) -> None:
        """Stop following ``key``: an object, or every object of a session."""
        env.pop(key, None)
        env.pop(_ACTIVE + key, None)
        self.forget_session(env, key)

    def forget_session(self, env: Env, session: str) -> None:
        for name, (owner, _) in list(env.items()):
            if owner in (session, session + _ADDED):
                del env[name]

    def touch(self, env: Env, key: str, line: int) -> None:
        # The transaction stays known: under AsyncSession the call cannot have ended it;
        # under Session the objects' _TOUCHED events silence every report about them.
        for name, (owner, facts) in list(env.items()):
            if name == key or owner in (key, key + _ADDED):
                env[name] = (owner, facts | {Event(_TOUCHED, line, owner, frozenset())})

    def refetch(self, env: Env, session: str) -> None:
        """A query on ``session``: expired objects of it that the rows hold load again."""
        for name, (owner, facts) in list(env.items()):
            if owner in (session, session + _ADDED) and facts:
                del env[name]

    def detach(self, env: Env, session: str, how: str) -> None:
        for name, (owner, facts) in list(env.items()):
            if owner in (session, session + _ADDED):
                env[name] = (owner, frozenset(replace(e, detached=e.detached or how) for e in facts))

    def event(self, env: Env, event: Event) -> None:
        for name, (owner, facts) in list(env.items()):
            if owner == event.session or (owner == event.session + _ADDED and event.op == "commit"):
                env[name] = (owner, facts | {event})

    def reads(self, node: Node | None, env: Env) -> None:
        if node is None:
            return
        for inner in walk([node]):
            if isinstance(inner, MemberExpr) and isinstance(inner.expr, NameExpr) and inner.expr.name in env:
                self.result.reads[id(inner)] = env[inner.expr.name]


def _owners(env: Env) -> set[str]:
    return {owner.removesuffix(_ADDED) for owner, _ in env.values() if owner != _ACTIVE}


def _how(method: str, line: int, via: str) -> str:
    return f"{method}() in {via} (called on line {line})" if via else f"{method}() on line {line}"


def _method_call(expr: Expression) -> tuple[str, str] | None:
    """``s.<method>(...)`` (awaited or not): ``s`` as written and the method."""
    while not isinstance(expr, CallExpr) and hasattr(expr, "expr") and not isinstance(expr, MemberExpr):
        expr = expr.expr
    if isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr):
        session = fx.dotted(expr.callee.expr)
        if session is not None:
            return session, expr.callee.name
    return None


def _coroutine(call: CallExpr) -> bool:
    """A call of an ``async def`` (its coroutine may be awaited elsewhere: ``gather``)."""
    node = call.callee.node if isinstance(call.callee, RefExpr) else None
    return isinstance(node, FuncDef) and node.is_coroutine


def _callee_name(call: CallExpr) -> str:
    callee = call.callee
    if isinstance(callee, MemberExpr):
        base = fx.dotted(callee.expr)
        return f"{base}.{callee.name}" if base else callee.name
    return callee.name if isinstance(callee, NameExpr) else "the call"


def _session_expr(call: CallExpr, session: str) -> Expression:
    for arg in call.args:
        if fx.dotted(arg) == session:
            return arg
    return call


def _merge(envs: list[Env | None]) -> Env | None:
    """Paths meeting: a name is kept (with every path's events) where every path binds it to
    the same session; otherwise it is no longer followed."""
    live = [e for e in envs if e is not None]
    if not live:
        return None
    merged: Env = {}
    for name in set(live[0]).intersection(*live[1:]):
        owners = {e[name][0] for e in live}
        if len(owners) == 1:
            merged[name] = (owners.pop(), frozenset().union(*(e[name][1] for e in live)))
    return merged


# ---------------------------------------------------------------------------------------------
# Helpers' records, found from a call


def _resolver(api: CheckerPluginInterface, func: FuncItem) -> Resolver:
    modules: dict[str, MypyFile] = getattr(api, "modules", None) or {}

    def resolve(call: CallExpr) -> tuple[fx.Record, dict[str, Expression], str] | None:
        if any(kind.is_star() for kind in call.arg_kinds):
            return None
        callee = call.callee
        found: tuple[fx.Record, str] | None = None
        if (isinstance(callee, NameExpr) and isinstance(callee.node, FuncDef) and not callee.node.info) \
                or (isinstance(callee, MemberExpr) and isinstance(callee.expr, NameExpr) \
                and isinstance(callee.expr.node, MypyFile)):
            record = _module_record(api, modules, callee.fullname, "@effects")
            found = (record, "") if record is not None else None
        elif isinstance(callee, MemberExpr):
            receiver = fx.dotted(callee.expr)
            info = _receiver_info(callee.expr, func)
            method = _method_record(info, callee.name) if info is not None else None
            if method is not None and receiver is not None:
                found = (method, receiver)
        if found is None:
            return None
        record, receiver = found
        params = list(record["params"])
        mapping = _map_arguments(call, params[1:] if receiver else params)
        return (record, mapping, receiver) if mapping is not None else None

    return resolve


def _map_arguments(call: CallExpr, params: list[str]) -> dict[str, Expression] | None:
    """Parameter -> argument expression (None with ``*args``/``**kwargs`` at the call)."""
    if any(kind.is_star() for kind in call.arg_kinds):
        return None
    mapping: dict[str, Expression] = {}
    for i, (arg, name) in enumerate(zip(call.args, call.arg_names)):
        if name is not None:
            mapping[name] = arg
        elif i < len(params):
            mapping[params[i]] = arg
    return mapping


def _module_record(api: CheckerPluginInterface, modules: dict[str, MypyFile], fullname: str,
                   table: str) -> Any:
    from mypy_eagerload.hooks.layers import module_summary  # layers imports this module's users

    module, _, name = fullname.rpartition(".")
    tree = modules.get(module)
    if tree is None:
        return None
    depend_on_functions(api, [module])
    records = module_summary(tree, table, modules.get)
    found = records.get(name) if isinstance(records, dict) else None
    return found if isinstance(found, dict) else None


def _receiver_info(expr: Expression, func: FuncItem) -> TypeInfo | None:
    """The class of a call's receiver, from what is declared: ``self``, a parameter or local
    with a known type, ``self.<attr>``."""
    if isinstance(expr, NameExpr) and expr.name == "self" and isinstance(func, FuncDef) and func.info:
        return func.info
    node = expr.node if isinstance(expr, NameExpr) else None
    if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr) and expr.expr.name == "self" \
            and isinstance(func, FuncDef) and func.info:
        sym = func.info.get(expr.name)
        node = sym.node if sym is not None else None
    typ = get_proper_type(node.type) if isinstance(node, Var) and node.type is not None else None
    return typ.type if isinstance(typ, Instance) else None


def _method_record(info: TypeInfo, method: str) -> fx.Record | None:
    for base in info.mro:
        if method in base.names:
            found = ((metadata(base) or {}).get("effects") or {}).get(method)
            return found if isinstance(found, dict) else None
    return None


# ---------------------------------------------------------------------------------------------
# The check, at a read


def check_read(ctx: AttributeContext, settings: Settings, attr: str) -> bool:
    """Report ``obj.attr`` when a session operation expired it since ``obj`` was fetched;
    True when reported (the caller then says nothing more about the read)."""
    context = ctx.context
    if not isinstance(context, MemberExpr) or ctx.is_lvalue or not settings.enabled(EXPIRED_ATTRIBUTE.code):
        return False
    functions = enclosing_functions(ctx.api)
    analysis = analyse(functions[0], ctx.api) if functions else None
    found = analysis.reads.get(id(context)) if analysis is not None else None
    if analysis is None or found is None or not found[1]:
        return False
    session, facts = found
    session = session.removesuffix(_ADDED)
    info = model_info(ctx.type)
    data = metadata(info) if info is not None else None
    if info is None or data is None:
        return False
    setting = session_setting(ctx.api, analysis, session, settings)
    event = expired_by(facts, attr, {session: setting[0]}, attribute_names(data)[0])
    if event is None:
        return False
    sync = _is_sync(ctx.api, analysis.sessions.get(session))
    # A whole object expired reloads on first access with the query's own options (what they
    # loaded comes back); an attribute expired by name reloads with its own strategy.
    counted = [e for e in facts if e.op != _TOUCHED and (e.op != "commit" or setting[0] is True)]
    raises = _reload_raises(data, attr) if all(e.names is not None for e in counted) or not sync else ""
    if sync is None or (sync and not event.detached and not raises and settings.allow_lazy_loads != "never"):
        return False  # a sync session emits SQL and succeeds; an unknown session says nothing
    if sync and any(e.op == _TOUCHED for e in facts):
        return False  # a call given the object or its session may have read (reloaded) it
    owner = info.name
    variable = context.expr.name if isinstance(context.expr, NameExpr) else owner.lower()
    report(ctx.api, context, messages.expired(owner, attr, event.op, event.session, event.line,
                                              setting[1] if event.op == "commit" else "",
                                              event.detached, sync, raises, event.via),
           messages.expired_fix(variable, attr, event.op, event.session, event.line, sync), EXPIRED_ATTRIBUTE)
    return True


def _reload_raises(data: dict[str, object], attr: str) -> str:
    """The strategy an expired attribute reloads with when it raises instead of loading:
    a relationship's ``lazy="raise"``/``"raise_on_sql"``, a column's ``deferred_raiseload``."""
    for rel in data.get("rels", ()):  # type: ignore[attr-defined]
        if rel.get("name") == attr and rel.get("lazy") in ("raise", "raise_on_sql"):
            return f'lazy="{rel["lazy"]}"'
    for col in data.get("columns", ()):  # type: ignore[attr-defined]
        if col.get("name") == attr and col.get("raiseload"):
            return "raiseload"
    return ""


def session_setting(api: CheckerPluginInterface, analysis: Analysis, session: str,
                    settings: Settings) -> tuple[bool | None, str]:
    """Whether ``session`` expires its objects on commit, and why the plugin thinks so. The
    code says it where the session is made in this function (``AsyncSession(engine, ...)``,
    ``async with factory() as session`` with a module-level ``factory =
    async_sessionmaker(...)`` of any module) or comes from a FastAPI dependency that yields
    one (``session: AsyncSession = Depends(get_session)``, ``async with get_session() as
    session`` for a context manager); otherwise the ``expire_on_commit`` setting decides
    (``auto``: not known)."""
    source = _session_source(api, analysis, session)
    if source is not None:
        value = source.get("eoc")
        if not isinstance(value, bool):
            return None, ""
        where = f"{source['call']}(...) on line {source['line']}"
        module = checked_module(api)
        if module is None or source.get("module") != module.fullname:
            where += f" of {source.get('module')}"
        if source.get("through"):
            where += f", the session of {source['through']}"
        if source.get("given"):
            return value, f"expire_on_commit={value} in {where}"
        return value, f"SQLAlchemy's default for {where}"
    configured = settings.expire_on_commit
    if configured == "auto":
        return None, ""
    return configured == "true", f"expire_on_commit = {configured} in [tool.mypy_eagerload]"


_DEPENDS = frozenset({"fastapi.param_functions.Depends", "fastapi.Depends"})


def _session_source(api: CheckerPluginInterface, analysis: Analysis, session: str) -> dict[str, Any] | None:
    modules: dict[str, MypyFile] = getattr(api, "modules", None) or {}
    module = checked_module(api)
    here = module.fullname if module is not None else ""


    origin = analysis.origins.get(session)
    if session in analysis.params and origin is None:
        default = analysis.params[session]  # session: AsyncSession = Depends(get_session)
        if isinstance(default, CallExpr) and isinstance(default.callee, RefExpr) \
                and default.callee.fullname in _DEPENDS and len(default.args) == 1 \
                and isinstance(default.args[0], RefExpr):
            return _dependency(api, modules, default.args[0], cm=False)
        return None
    if not isinstance(origin, CallExpr):
        return None
    callee = origin.callee
    if isinstance(callee, RefExpr) and isinstance(callee.node, (FuncDef, Decorator)):
        return _dependency(api, modules, callee, cm=True)  # async with get_session() as session
    node = callee.node if isinstance(callee, RefExpr) else None
    if isinstance(node, Var) and node.fullname.rpartition(".")[0] in modules:
        owner, _, name = node.fullname.rpartition(".")
        depend_on_names(api, [f"{owner}.{FACTORY_PREFIX}{name}"])  # dmypy: the record changed
    return fx.session_source(origin, here, modules.get)


def _dependency(api: CheckerPluginInterface, modules: dict[str, MypyFile], ref: RefExpr,
                cm: bool) -> dict[str, Any] | None:
    found = _module_record(api, modules, ref.fullname, "@sessions")
    if not isinstance(found, dict) or bool(found.get("cm")) != cm:
        return None
    return {**found, "through": f"{ref.fullname.rpartition('.')[2]}()"}


def _is_sync(api: CheckerPluginInterface, session: Expression | None) -> bool | None:
    """True for a ``Session``, False for an ``AsyncSession`` (and subclasses); None else."""
    found = expression_type(api, session) if session is not None else None
    typ = get_proper_type(found) if found is not None else None
    if not isinstance(typ, Instance):
        return None
    if any(typ.type.has_base(base) for base in ASYNC_SESSION_CLASSES):
        return False
    if any(typ.type.has_base(base) for base in SYNC_SESSION_CLASSES):
        return True
    return None
