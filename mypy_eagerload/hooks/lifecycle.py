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

from dataclasses import dataclass, replace

from mypy.nodes import (
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    ExpressionStmt,
    ForStmt,
    FuncDef,
    FuncItem,
    IfStmt,
    ListExpr,
    MatchStmt,
    MemberExpr,
    NameExpr,
    Node,
    OverloadedFuncDef,
    RaiseStmt,
    RefExpr,
    ReturnStmt,
    Statement,
    StrExpr,
    TryStmt,
    TupleExpr,
    Var,
    WhileStmt,
    WithStmt,
)
from mypy.plugin import AttributeContext, CheckerPluginInterface
from mypy.types import Instance, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages
from mypy_eagerload.hooks.compat import checked_module, enclosing_functions, expression_type, report
from mypy_eagerload.hooks.errorcodes import EXPIRED_ATTRIBUTE
from mypy_eagerload.hooks.models import attribute_names, metadata
from mypy_eagerload.hooks.schema import model_info
from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.names import (
    ASYNC_SESSION_CLASSES,
    SESSION_CLASSES,
    SESSION_FACTORIES,
    SYNC_SESSION_CLASSES,
)

# Session methods whose result holds objects of that session.
_FETCHES = frozenset({"execute", "scalars", "scalar", "get", "get_one", "stream", "stream_scalars",
                      "merge"})
# Session methods that change what its objects hold (the ones a walk has to look at).
_OPERATIONS = frozenset({"commit", "rollback", "expire", "expire_all", "refresh", "close", "expunge",
                         "expunge_all", "reset", "invalidate"})
_DETACHING = frozenset({"close", "expunge", "expunge_all", "reset", "invalidate"})


@dataclass(frozen=True)
class Event:
    """Something a session did to an object after it was bound."""

    op: str  # "commit", "rollback", "expire", "expire_all", "close", ...
    line: int
    session: str  # the session as written: "session", "self.session"
    names: frozenset[str] | None = None  # the attributes it expired; None: all
    reloaded: frozenset[str] = frozenset()  # refreshed since (refresh(obj, [names]))
    detached: str = ""  # "close() on line 12" when the object was detached afterwards


Facts = frozenset[Event]
Env = dict[str, tuple[str, Facts]]  # name -> (its session, events since it was bound)
# An object built in code and added keeps what it was given on rollback (it goes back to
# being transient) and is not expired by expire_all(): only a commit expires it (measured).
_ADDED = "+"  # suffix of the session key of added objects


@dataclass
class Analysis:
    reads: dict[int, tuple[str, Facts]]  # id(MemberExpr read on a tracked name) -> its facts
    sessions: dict[str, Expression]  # session as written -> an expression of it (for its type)
    origins: dict[str, Expression | None]  # session -> the call that made it, if local


def analyse(func: FuncItem) -> Analysis | None:
    """The walk, or None when the function calls no session operation at all (most do not:
    this is the fast answer for every attribute read there)."""
    hit = _MEMO.get(id(func))
    if hit is not None and hit[0] is func:
        return hit[1]
    result = _Walker().run(func) if _has_operations(func) else None
    _MEMO[id(func)] = (func, result)
    if len(_MEMO) > 4096:
        _MEMO.pop(next(iter(_MEMO)))
    return result


_MEMO: dict[int, tuple[FuncItem, Analysis | None]] = {}


def _has_operations(func: FuncItem) -> bool:
    return any(isinstance(n, CallExpr) and isinstance(n.callee, MemberExpr)
               and (n.callee.name in _OPERATIONS or n.callee.name == "begin")
               for n in walk(func.body.body))


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


def _dotted(expr: Expression) -> str | None:
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr) and expr.expr.name == "self":
        return f"self.{expr.name}"
    return None


def _session_call(expr: Expression | None) -> tuple[str, CallExpr] | None:
    """``s.<method>(...)`` (awaited or not), with ``s`` as written."""
    if isinstance(expr, AwaitExpr):
        expr = expr.expr
    if isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr):
        session = _dotted(expr.callee.expr)
        if session is not None:
            return session, expr
    return None


def _fetch_session(expr: Expression | None) -> tuple[str, Expression] | None:
    """The session whose query ``expr`` takes its objects from: ``(await s.execute(q))
    .unique().scalar_one()``, ``await s.get(User, 1)``, ``(await s.scalars(q)).all()``."""
    while expr is not None:
        if isinstance(expr, AwaitExpr):
            expr = expr.expr
            continue
        if not (isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr)):
            return None
        if expr.callee.name in _FETCHES:
            session = _dotted(expr.callee.expr)
            if session is not None:
                return session, expr.callee.expr
        expr = expr.callee.expr
    return None


class _Walker:
    def __init__(self) -> None:
        self.result = Analysis({}, {}, {})

    def run(self, func: FuncItem) -> Analysis:
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
            for expr, target in zip(stmt.expr, stmt.target):
                self.reads(expr, env)
                if isinstance(target, NameExpr):
                    env.pop(target.name, None)
                    self.result.origins[target.name] = expr  # async with factory() as session
            out = self.block(stmt.body.body, env)
            if out is not None:
                for expr, target in zip(stmt.expr, stmt.target):
                    call = _session_call(expr)
                    if call is not None and call[1].callee.name == "begin":  # type: ignore[attr-defined]
                        self.event(out, Event("commit", stmt.line, call[0]))  # leaving begin() commits
                    elif isinstance(target, NameExpr):  # async with factory() as session: closed
                        self.detach(out, target.name, f"leaving the with block on line {stmt.line}")
            return out
        if isinstance(stmt, MatchStmt):
            self.reads(stmt.subject, env)
            return _merge([env, *(self.block(b.body, dict(env)) for b in stmt.bodies)])
        if isinstance(stmt, (ReturnStmt, RaiseStmt)):
            self.reads(stmt, env)
            return None
        self.reads(stmt, env)
        if isinstance(stmt, AssignmentStmt):
            for lvalue in stmt.lvalues:
                self.bind(env, lvalue, stmt.rvalue)
        elif isinstance(stmt, ExpressionStmt):
            self.call(env, stmt.expr)
        return env

    def loop(self, stmt: ForStmt | WhileStmt, env: Env) -> Env | None:
        head = stmt.expr
        self.reads(head, env)
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
            found = _fetch_session(source)
            if found is not None:
                env[target.name] = (found[0], frozenset())
                self.result.sessions.setdefault(found[0], found[1])
            else:
                env.pop(target.name, None)
            if target.name in self.result.origins or isinstance(source, CallExpr):
                self.result.origins.setdefault(target.name, source)
        elif isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self.bind(env, item, None)

    def call(self, env: Env, expr: Expression) -> None:
        found = _session_call(expr)
        if found is None:
            return
        session, call = found
        method = call.callee.name  # type: ignore[attr-defined]
        args = call.args
        target = args[0].name if args and isinstance(args[0], NameExpr) else None
        if method in ("add", "add_all"):
            added = [args[0]] if method == "add" and args else (args[0].items if args and isinstance(
                args[0], (ListExpr, TupleExpr)) else [])
            for item in added:
                if isinstance(item, NameExpr) and item.name not in env:
                    env[item.name] = (session + _ADDED, frozenset())
                    self.result.sessions.setdefault(session, call.callee.expr)  # type: ignore[attr-defined]
            return
        if method not in _OPERATIONS:
            return
        names = _names_argument(args[1] if len(args) > 1 else None)
        if method == "refresh" and target is not None and target in env:
            owner, facts = env[target]
            reloaded = {e if names is None else replace(e, reloaded=e.reloaded | names) for e in facts}
            env[target] = (owner, frozenset() if names is None else frozenset(reloaded))
        elif method == "expire" and target is not None and target in env and env[target][0] == session:
            owner, facts = env[target]
            env[target] = (owner, facts | {Event("expire", call.line, session, names)})
        elif method == "expunge" and target is not None and target in env:
            owner, facts = env[target]
            detached = f"expunge() on line {call.line}"
            env[target] = (owner, frozenset(replace(e, detached=e.detached or detached) for e in facts))
        elif method in ("commit", "rollback", "expire_all"):
            self.event(env, Event(method, call.line, session))
        elif method in _DETACHING:
            self.detach(env, session, f"{method}() on line {call.line}")

    def detach(self, env: Env, session: str, how: str) -> None:
        for name, (owner, facts) in list(env.items()):
            if owner == session:
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


def _names_argument(expr: Expression | None) -> frozenset[str] | None:
    if isinstance(expr, (ListExpr, TupleExpr)) and all(isinstance(i, StrExpr) for i in expr.items):
        return frozenset(i.value for i in expr.items)  # type: ignore[attr-defined]
    return None


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
# The check, at a read


def check_read(ctx: AttributeContext, settings: Settings, attr: str) -> bool:
    """Report ``obj.attr`` when a session operation expired it since ``obj`` was fetched;
    True when reported (the caller then says nothing more about the read)."""
    context = ctx.context
    if not isinstance(context, MemberExpr) or ctx.is_lvalue or not settings.enabled(EXPIRED_ATTRIBUTE.code):
        return False
    functions = enclosing_functions(ctx.api)
    analysis = analyse(functions[0]) if functions else None
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
    counted = [e for e in facts if e.op != "commit" or setting[0] is True]
    raises = _reload_raises(data, attr) if all(e.names is not None for e in counted) or not sync else ""
    if sync is None or (sync and not event.detached and not raises and settings.allow_lazy_loads != "never"):
        return False  # a sync session emits SQL and succeeds; an unknown session says nothing
    owner = info.name
    variable = context.expr.name if isinstance(context.expr, NameExpr) else owner.lower()
    report(ctx.api, context, messages.expired(owner, attr, event.op, event.session, event.line,
                                              setting[1] if event.op == "commit" else "",
                                              event.detached, sync, raises),
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
    ``async with factory() as session`` with ``factory = async_sessionmaker(...)`` in this
    module); otherwise the ``expire_on_commit`` setting decides (``auto``: not known)."""
    origin = analysis.origins.get(session)
    made = _factory_call(api, origin) if isinstance(origin, CallExpr) else None
    if made is not None:
        call, where = made
        value = _keyword(call, "expire_on_commit")
        if value is not None:
            return value, f"expire_on_commit={value} in {where}"
        if value is None and not any(name == "expire_on_commit" for name in call.arg_names):
            return True, f"SQLAlchemy's default for {where}"
        return None, ""
    configured = settings.expire_on_commit
    if configured == "auto":
        return None, ""
    return configured == "true", f"expire_on_commit = {configured} in [tool.mypy_eagerload]"


def _factory_call(api: CheckerPluginInterface, origin: CallExpr) -> tuple[CallExpr, str] | None:
    """The call that sets up the session ``origin`` makes: ``AsyncSession(...)`` itself, or
    the ``async_sessionmaker(...)`` a module-level name of this module was bound to."""
    callee = origin.callee
    if isinstance(callee, RefExpr) and callee.fullname in SESSION_CLASSES:
        return origin, f"{callee.fullname.rsplit('.', 1)[-1]}(...) on line {origin.line}"
    node = callee.node if isinstance(callee, NameExpr) else None
    module = checked_module(api)
    if not isinstance(node, Var) or module is None or node.fullname != f"{module.fullname}.{node.name}":
        return None  # another module's: its statements may not be loaded (a cached module)
    for stmt in module.defs:
        if not (isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1
                and isinstance(stmt.lvalues[0], NameExpr) and stmt.lvalues[0].name == node.name):
            continue
        made = stmt.rvalue
        if isinstance(made, CallExpr) and isinstance(made.callee, RefExpr) \
                and made.callee.fullname in SESSION_FACTORIES:
            return made, f"{made.callee.fullname.rsplit('.', 1)[-1]}(...) on line {stmt.line}"
    return None


def _keyword(call: CallExpr, name: str) -> bool | None:
    for arg_name, arg in zip(call.arg_names, call.args):
        if arg_name == name and isinstance(arg, NameExpr) and arg.name in ("True", "False"):
            return arg.name == "True"
    return None


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
