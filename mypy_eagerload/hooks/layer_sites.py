"""Where an object fetched through the application's layers takes its options: the place a
fix note's patch goes (``core.patches``), found by walking the same summaries
``hooks.layers`` evaluates.

At ``obj = await service.get(session, 1)`` the query is in a repository two calls down, and
its options come from somewhere on the way: an argument of this very call
(``repo.by_id(1, options=[...])``, ``load(session, 1, OPTIONS)``), an argument of a call
inside a callee (``options=repository.eager()`` in the service), a statement passed in
(``repo.one_of(repo.readable())``), or a ``select(Order)`` / ``session.get(Order, ...)``
written in a callee. The walk follows the value returned back to its query and notes where
each thing on the way came from; the outermost place that supplies options wins (a change
there affects the fewest other callers). Only a place that is written out in one function
is named: a generic base's ``select(self.model)`` is never patched (every subclass shares
it), and anything not understood gives "unknown", which leaves the note as advice.

The walk is done at a report only (rare), never at the call: the load state stays free of
source positions (``hooks.query_sites`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, Union

from mypy.nodes import (
    CallExpr,
    Expression,
    FuncDef,
    ListExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    RefExpr,
    StarExpr,
    TupleExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import Instance, get_proper_type

from mypy_eagerload import names
from mypy_eagerload.core.patches import BUILT, CALL, CONSTANT, GET, SELECT, Builder, Site
from mypy_eagerload.hooks.compat import expression_type
from mypy_eagerload.hooks.layers import (
    Binding,
    Cls,
    Entity,
    Evaluator,
    Frame,
    Func,
    Obj,
    _is_session,
    find_summary,
    module_summary,
)
from mypy_eagerload.hooks.schema import CheckerSchema, model_info
from mypy_eagerload.hooks.summaries import CONSTANT_PREFIX, Ir

# What a value on the way to the query is, from where it is used.
OBJECT, STATEMENT, OPTIONS = "object", "statement", "options"
_LIBRARIES = ("sqlalchemy", "mypy_eagerload", "builtins", "typing", "_typeshed", "abc")


@dataclass(frozen=True)
class FromParam:
    """The options (or the statement, or the object itself) come from a parameter."""

    name: str
    role: str


@dataclass(frozen=True)
class Bare:
    """A statement with no options whose entity is not written out (``select(self.model)``)."""


@dataclass(frozen=True)
class At:
    site: Site


@dataclass(frozen=True)
class Nothing:
    """``return None``: no object, so no query to patch on that path."""


Found = Union[FromParam, Bare, At, Nothing, None]  # noqa: UP007  (None: not understood)
SKIP = "skip"  # a call that hands back an object it was given (a refreshing helper): not a query
UNKNOWN = "unknown"  # a summarised call whose options' place is not known: no guess elsewhere


@dataclass
class Scope:
    frame: Frame
    function: str  # qualified name in its module
    module: str
    # A method inherited by the receiver's class, or of a generic class: its code serves
    # other classes too (``select(self.model)``), so nothing is patched there.
    shared: bool = False


@dataclass
class Locator:
    evaluator: Evaluator

    # -- the reading function's call -------------------------------------------------
    def at_call(self, api: CheckerPluginInterface, call: CallExpr) -> Site | str | None:
        """The site for the object ``call`` (in the function being checked) returns: a
        place in another function, or an argument of ``call`` itself; ``SKIP`` for a call
        that returns an object it was given, or a statement built in the reading function
        (its ``select()`` is the site); ``UNKNOWN`` for a summarised call whose place is not
        known; None for a call that is not summarised."""
        callee = _resolve(api, self.evaluator, call)
        if callee is None:
            return None
        owner, summary, receiver = callee
        bindings = _call_bindings(api, call, summary)
        found = self.into(owner, summary, receiver, bindings, 0, OBJECT) if bindings is not None else None
        name = _callee_name(call)
        if isinstance(found, At):
            return found.site
        if not isinstance(found, FromParam) or name is None:
            return UNKNOWN
        if found.role == OBJECT:
            return SKIP
        arg, expr = _argument(call, summary, found.name)
        if arg is None:
            return UNKNOWN
        if found.role == STATEMENT:
            if expr is None:
                return UNKNOWN
            if isinstance(expr, NameExpr) or _builds_query(expr):
                return SKIP
            built = self.builders_of_expression(api, expr)
            return Site(CALL, name, call.line, arg=arg, statement=True, display=not built,
                        builders=built)
        if expr is None and not _empty_default(summary, found.name):
            return UNKNOWN
        display = isinstance(expr, (ListExpr, TupleExpr)) \
            and not any(isinstance(i, StarExpr) for i in expr.items)
        built = () if display or expr is None else self.builders_of_expression(api, expr)
        return Site(CALL, name, call.line, arg=arg, display=display, builders=built)

    def at_dependency(self, fullname: str) -> Site | str | None:
        """The site for what a FastAPI dependency (module-level function ``fullname``)
        returns: FastAPI fills its parameters, so only a place inside it counts."""
        module, _, name = fullname.rpartition(".")
        tree = self.evaluator.modules(module)
        summary = module_summary(tree, name) if tree is not None else None
        if summary is None:
            return None
        found = self.into(module, {**summary, "name": name}, None, {}, 0, OBJECT)
        return found.site if isinstance(found, At) else UNKNOWN

    # -- summaries ------------------------------------------------------------------
    def into(self, owner: TypeInfo | str, summary: Ir, receiver: object, bindings: dict[str, Binding],
             depth: int, role: str) -> Found:
        """Where what a call of ``summary`` returns takes its options."""
        frame = self.evaluator.frame(owner, summary, receiver, bindings, depth)  # type: ignore[arg-type]
        if frame is None or frame.module is None:
            return None
        module = owner if isinstance(owner, str) else owner.module_name
        path = getattr(frame.module, "path", "") or ""
        if module.startswith(_LIBRARIES) or "site-packages" in path:
            return None
        function = summary.get("name", "")
        shared = isinstance(owner, TypeInfo) and (bool(owner.type_vars) or not (
            isinstance(receiver, Obj) and receiver.typ.type is owner))
        scope = Scope(frame, function, module, shared)
        results, tested = [], set()
        for tests, value in summary["returns"]:
            tested |= {_tested(t) for t in tests}
            results.append((tests, self.trace(value, scope, role)))
        # Else only the paths this call may take.
        taken = [r for tests, r in results if False not in (self.evaluator.decide(t, frame) for t in tests)]
        return self._agree([r for _, r in results], tested) or self._agree(taken, set())

    @staticmethod
    def _agree(found: list[Found], tested: set[str]) -> Found:
        """One answer for several alternatives: all the same, or options from a parameter on
        the paths that test it and none on the others (``if options is not None:
        stmt = stmt.options(*options)``: passing options there makes that path taken)."""
        distinct = set(found) - {Nothing()}
        if None in distinct or not distinct:
            return Nothing() if found and not distinct else None
        if len(distinct) == 1:
            return distinct.pop()
        params = {f for f in distinct if isinstance(f, FromParam)}
        if len(params) == 1 and distinct - params == {Bare()}:
            param = params.pop()
            if param.role == OPTIONS and param.name in tested:
                return param
        return None

    def trace(self, ir: Ir, scope: Scope, role: str) -> Found:
        tag = ir[0]
        if tag == "none" and role == OBJECT:
            return Nothing()
        if tag == "param":
            return FromParam(ir[1], role)
        if tag == "refresh":
            return self.trace(ir[1], scope, role)
        if tag == "any":
            return self._agree([self.trace(i, scope, role) for i in ir[1]], set())
        if tag == "cond":
            found = [self.trace(ir[2], scope, role), self.trace(ir[3], scope, role)]
            agreed = self._agree(found, {_tested(ir[1])})
            if agreed is not None:
                return agreed
            decided = self.evaluator.decide(ir[1], scope.frame)
            return None if decided is None else found[0 if decided else 1]
        if tag == "call":
            return self.call(ir, scope, role)
        return None

    def call(self, ir: Ir, scope: Scope, role: str) -> Found:
        callee_ir, args = ir[1], ir[2]
        evaluator, frame = self.evaluator, scope.frame
        receivers = evaluator.eval(callee_ir[1], frame) if callee_ir[0] == "attr" else None
        if receivers is not None and len(receivers) == 1 and isinstance(receivers[0], (Entity, Obj)):
            receiver_ir, name, receiver = callee_ir[1], callee_ir[2], receivers[0]
            if isinstance(receiver, Entity):
                if name == "options" and not receiver.fetched:
                    return self.options(receiver_ir, args, scope)
                if name in names.STATEMENT_REFINERS or receiver.fetched:
                    return self.trace(receiver_ir, scope, role)  # a refiner, or a fetch of the rows
                return None
            if isinstance(receiver, Obj) and _is_session(receiver.typ):
                return self.session_call(name, args, scope)
            if isinstance(receiver, Obj):
                found = find_summary(receiver.typ.type, name)
                if found is None:
                    return None
                owner, summary = found
                summary = {**summary, "name": f"{_qualified(owner)}.{name}"}
                return self.through(owner, summary, receiver, args, scope, role, name)
        callees = evaluator.eval(callee_ir, frame)
        if not callees or len(callees) != 1 or not isinstance(callees[0], Func):
            return None
        func = callees[0].fullname
        if func == names.SELECT:
            return self.select(args, scope)
        module, _, name = func.rpartition(".")
        tree = evaluator.modules(module)
        summary = module_summary(tree, name) if tree is not None else None
        if summary is None:
            return None
        return self.through(module, {**summary, "name": name}, None, args, scope, role, _written(callee_ir))

    def through(self, owner: TypeInfo | str, summary: Ir, receiver: object, args: list[Ir], scope: Scope,
                role: str, written: str | None) -> Found:
        """A call inside a summary: where its result takes its options, seen from the caller
        (a parameter of the callee becomes this call's argument)."""
        bindings = self.evaluator.bind(summary, [tuple(a) for a in args], scope.frame)
        if bindings is None:
            return None
        found = self.into(owner, summary, receiver, bindings, scope.frame.depth + 1, role)
        if not isinstance(found, FromParam):
            return found
        passed = _passed(summary, args, found.name)
        if passed is None:
            return None
        arg, value = passed
        if found.role == OBJECT:
            return None if value is None else self.trace(value, scope, OBJECT)
        if written is None:
            return None
        if found.role == STATEMENT:
            if value is None:
                return None
            inner = self.trace(value, scope, STATEMENT)
            if isinstance(inner, (FromParam, At)):
                return inner
            return self._site(scope, written, arg, statement=True, builders=self.builders(value, scope))
        # Options: from a parameter of this function too, or written here.
        if value is None:
            return self._site(scope, written, arg) if _empty_default(summary, found.name) else None
        if value[0] == "param":
            return FromParam(value[1], OPTIONS)
        spread = {i[1][1] for i in value[1] if i[0] == "star" and i[1][0] == "param"} \
            if value[0] == "seq" else set()
        if len(spread) == 1:
            return FromParam(spread.pop(), OPTIONS)  # options=[*options, ...]: the caller's
        display = value[0] == "seq" and not any(i[0] == "star" for i in value[1])
        return self._site(scope, written, arg, display=display,
                          builders=() if display else self.builders(value, scope))

    def options(self, statement_ir: Ir, args: list[Ir], scope: Scope) -> Found:
        """``<statement>.options(...)``: from a parameter when one is among the arguments,
        else from wherever the statement takes its options."""
        params = {(a[2][1]) for a in args if a[2][0] == "param"}
        if len(params) > 1:
            return None
        if params:
            return FromParam(params.pop(), OPTIONS)
        inner = self.trace(statement_ir, scope, STATEMENT)
        return None if isinstance(inner, Bare) else inner

    def select(self, args: list[Ir], scope: Scope) -> Found:
        if len(args) != 1 or args[0][0] != "pos":
            return None
        entity = args[0][2]
        values = self.evaluator.eval(entity, scope.frame)
        if not values or len(values) != 1 or not isinstance(values[0], Cls):
            return None
        if entity[0] != "global" or scope.shared:
            return Bare()  # select(self.model): a generic base, shared by every subclass
        return At(Site(SELECT, entity[1], 0, function=scope.function, module=scope.module))

    def session_call(self, name: str, args: list[Ir], scope: Scope) -> Found:
        positional = [ir for kind, keyword, ir in args if kind == "pos" and keyword is None]
        if name in ("execute", "scalars", "scalar") and positional:
            return self.trace(positional[0], scope, STATEMENT)
        if name in names.SESSION_GET and positional:
            entity = positional[0]
            if entity[0] != "global":
                return Bare() if entity[0] == "attr" else None
            options = next((ir for _kind, keyword, ir in args if keyword == "options"), None)
            if options is None:
                return None if scope.shared else At(Site(GET, entity[1], 0, function=scope.function,
                                                         module=scope.module))
            if options[0] == "param":
                return FromParam(options[1], OPTIONS)
            display = options[0] == "seq" and not any(i[0] == "star" for i in options[1])
            return self._site(scope, name, "options", display=display,
                              builders=() if display else self.builders(options, scope))
        return None

    @staticmethod
    def _site(scope: Scope, callee: str, arg: str, statement: bool = False, display: bool = False,
              builders: tuple[Builder, ...] = ()) -> At | None:
        if scope.shared:
            return None
        return At(Site(CALL, callee, 0, arg=arg, statement=statement, display=display,
                       function=scope.function, module=scope.module, builders=builders))

    # -- where options given as a call or a name are written -------------------------
    def builders_of_expression(self, api: CheckerPluginInterface, expr: Expression
                               ) -> tuple[Builder, ...]:
        """The builder an argument of the reading function's call names: a call of a
        summarised helper (``repository.eager()``), or a module-level option tuple."""
        if isinstance(expr, RefExpr) and isinstance(expr.node, Var):
            return _constant(self.evaluator, expr.node)
        if isinstance(expr, CallExpr):
            callee = _resolve(api, self.evaluator, expr)
            if callee is not None:
                return _built(*callee)
        return ()

    def builders(self, value: Ir, scope: Scope) -> tuple[Builder, ...]:
        """The same for an argument inside a summary (``options=self.eager()``)."""
        evaluator, frame = self.evaluator, scope.frame
        if value[0] == "global" and frame.module is not None:
            sym = frame.module.names.get(value[1])
            return _constant(evaluator, sym.node) if sym is not None and isinstance(sym.node, Var) else ()
        if value[0] != "call":
            return ()
        callee_ir = value[1]
        if callee_ir[0] == "attr":
            receivers = evaluator.eval(callee_ir[1], frame)
            if not receivers or len(receivers) != 1 or not isinstance(receivers[0], Obj):
                return ()
            found = find_summary(receivers[0].typ.type, callee_ir[2])
            if found is None:
                return ()
            owner, summary = found
            return _built(owner, {**summary, "name": f"{_qualified(owner)}.{callee_ir[2]}"}, receivers[0])
        callees = evaluator.eval(callee_ir, frame)
        if not callees or len(callees) != 1 or not isinstance(callees[0], Func):
            return ()
        module, _, name = callees[0].fullname.rpartition(".")
        tree = evaluator.modules(module)
        summary = module_summary(tree, name) if tree is not None else None
        return () if summary is None else _built(module, {**summary, "name": name}, None)


# ---------------------------------------------------------------------------------------
# Helpers


def _built(owner: TypeInfo | str, summary: Ir, receiver: object) -> tuple[Builder, ...]:
    """A summarised helper as a builder: the options its returns write out. Not one that
    other classes share (inherited, generic): replacing an option there changes them too."""
    module = owner if isinstance(owner, str) else owner.module_name
    if module.startswith(_LIBRARIES) or (isinstance(owner, TypeInfo) and (
            owner.type_vars or not (isinstance(receiver, Obj) and receiver.typ.type is owner))):
        return ()
    written = tuple(dict.fromkeys(t for _, value in summary["returns"] for t in _written_calls(value)))
    return (Builder(BUILT, summary["name"], module, written),) if written else ()


def _constant(evaluator: Evaluator, var: Var, depth: int = 0) -> tuple[Builder, ...]:
    """A module-level option tuple (``summaries.CONSTANT_PREFIX``) as a builder, and the
    tuples it spreads (``(*BASE_OPTIONS, ...)``)."""
    module, _, name = var.fullname.rpartition(".")
    tree = evaluator.modules(module) if module and not module.startswith(_LIBRARIES) else None
    record = module_summary(tree, CONSTANT_PREFIX + name) if tree is not None else None
    if tree is None or record is None or "value" not in record or depth > 3:
        return ()
    value = record["value"]
    written = tuple(dict.fromkeys(_written_calls(value)))
    out: tuple[Builder, ...] = (Builder(CONSTANT, name, module, written),) if written else ()
    for item in value[1] if value[0] == "seq" else []:
        if item[0] == "star" and item[1][0] == "global":
            sym = tree.names.get(item[1][1])
            if sym is not None and isinstance(sym.node, Var):
                out += _constant(evaluator, sym.node, depth + 1)
    return out


def _written_calls(ir: Ir) -> list[str]:
    """The calls an IR value holds, as source text (``joinedload(Tag.posts).lazyload(Post.tags)``,
    and its inner ``joinedload(Tag.posts)``)."""
    found: list[str] = []
    stack = [ir]
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node:
            continue
        if node[0] == "call":
            text = _render(node)
            if text is not None:
                found.append(text)
        # A tagged node's operands follow its tag; a plain list (a display's items) is all items.
        stack.extend(item for item in node[1 if isinstance(node[0], str) else 0:] if isinstance(item, list))
    return found


def _render(ir: Ir) -> str | None:
    """Source text for names, attributes, string constants and calls of them; None else."""
    tag = ir[0] if isinstance(ir, list) and ir else None
    if tag == "global":
        return str(ir[1])
    if tag == "attr":
        inner = _render(ir[1])
        return None if inner is None else f"{inner}.{ir[2]}"
    if tag == "const" and isinstance(ir[1], str):
        return repr(ir[1])
    if tag == "call":
        callee = _render(ir[1])
        args = []
        for kind, keyword, value in ir[2]:
            text = _render(value)
            if callee is None or text is None or kind not in ("pos", "named"):
                return None
            args.append(text if keyword is None else f"{keyword}={text}")
        return f"{callee}({', '.join(args)})"
    return None


def _tested(test: Ir) -> str:
    """The parameter a branch test looks at (``["not", ["is_none", "options"]]``)."""
    while test[0] == "not":
        test = test[1]
    return str(test[1])


def _qualified(info: TypeInfo) -> str:
    """A class's name within its module (``Outer.Inner``)."""
    return info.fullname[len(info.module_name) + 1:] if info.module_name else info.name


def _written(callee: Ir) -> str | None:
    """A callee's name as the call writes it (``by_id`` in ``self.repo.by_id(...)``)."""
    if callee[0] in ("global", "param"):
        return str(callee[1])
    if callee[0] == "attr":
        return str(callee[2])
    return None


def _formals(summary: Ir) -> list[str]:
    formals = [p[0] for p in summary["params"]]
    return formals if summary.get("static") else formals[1:]


def _passed(summary: Ir, args: list[Ir], param: str) -> tuple[str, Ir | None] | None:
    """How a call in a summary passes ``param``: ("#k" or the keyword, the argument's IR,
    None when not passed). None when the call's arguments cannot be matched."""
    return _matched(summary, [(kind in ("star", "star2"), keyword, ir) for kind, keyword, ir in args], param)


_T = TypeVar("_T")


def _matched(summary: Ir, args: list[tuple[bool, str | None, _T]], param: str
             ) -> tuple[str, _T | None] | None:
    """Which of ``args`` (unpacked?, keyword, value) binds ``param`` of the summarised
    function: ("#k" or the keyword, its value), (param, None) when none does, None when an
    unpacked argument makes it unknown."""
    formals = _formals(summary)
    position = 0
    for star, keyword, value in args:
        if star:
            return None
        if keyword is not None:
            if keyword == param:
                return keyword, value
            continue
        position += 1
        if position - 1 < len(formals) and formals[position - 1] == param:
            return f"#{position}", value
    return param, None


def _empty_default(summary: Ir, param: str) -> bool:
    """Whether ``param`` defaults to no options (``()``, ``[]``, ``None``): a keyword argument
    given there then adds to nothing."""
    for name, default, kind in summary["params"]:
        if name == param:
            return kind not in ("star", "star2") and default in (["seq", []], ["none"])
    return False


def _callee_name(call: CallExpr) -> str | None:
    if isinstance(call.callee, (NameExpr, MemberExpr)):
        return call.callee.name
    return None


def _argument(call: CallExpr, summary: Ir, param: str) -> tuple[str | None, Expression | None]:
    """How ``call`` passes ``param``: ("#k" or the keyword, the expression, or None when it
    is not passed); (None, None) when its arguments cannot be matched."""
    found = _matched(summary, [(kind.is_star(), keyword, expr) for expr, kind, keyword
                               in zip(call.args, call.arg_kinds, call.arg_names)], param)
    return (None, None) if found is None else found


def _builds_query(expr: Expression) -> bool:
    """Whether a statement argument holds its own ``select(...)`` (a site of its own)."""
    from mypy_eagerload.hooks.syntax import walk

    for node in walk([expr]):
        if isinstance(node, CallExpr) and isinstance(node.callee, RefExpr) \
                and node.callee.fullname == names.SELECT:
            return True
    return False


def _call_bindings(api: CheckerPluginInterface, call: CallExpr, summary: Ir) -> dict[str, Binding] | None:
    formals = _formals(summary)
    out: dict[str, Binding] = {}
    position = 0
    for expr, kind, keyword in zip(call.args, call.arg_kinds, call.arg_names):
        if kind.is_star():
            return None
        name = keyword
        if name is None:
            name = formals[position] if position < len(formals) else None
            position += 1
        if name is None or name not in formals:
            return None
        out[name] = Binding(expr=expr, typ=expression_type(api, expr))
    return out


def _resolve(api: CheckerPluginInterface, evaluator: Evaluator, call: CallExpr
             ) -> tuple[TypeInfo | str, Ir, object] | None:
    """(owner, summary with its qualified name, receiver value) of a summarised callee: a
    method of an application class, or a module-level function."""
    callee = call.callee
    if isinstance(callee, RefExpr) and isinstance(callee.node, FuncDef) and not callee.node.info:
        # A module-level function (its ``info`` is mypy's falsy FakeInfo).
        if callee.fullname.startswith(_LIBRARIES):
            return None
        module, _, name = callee.fullname.rpartition(".")
        tree = evaluator.modules(module)
        summary = module_summary(tree, name) if tree is not None else None
        if summary is None or not summary.get("static"):
            return None
        return module, {**summary, "name": name}, None
    if isinstance(callee, MemberExpr) and not (isinstance(callee.expr, RefExpr)
                                               and isinstance(callee.expr.node, (TypeInfo, MypyFile))):
        typ = expression_type(api, callee.expr)
        receiver = get_proper_type(typ) if typ is not None else None
        if not isinstance(receiver, Instance) or model_info(receiver) is not None \
                or _is_session(receiver):
            return None
        found = find_summary(receiver.type, callee.name)
        if found is None:
            return None
        owner, summary = found
        return owner, {**summary, "name": f"{_qualified(owner)}.{callee.name}"}, Obj(receiver)
    return None


def locator(api: CheckerPluginInterface, schema: CheckerSchema) -> Locator:
    modules = getattr(api, "modules", None) or {}
    return Locator(Evaluator(api, schema, modules.get))

