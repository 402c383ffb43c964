"""What a method returns, as a small expression over its parameters: a function summary.

Applications do not call ``select()`` where they read the result. They call a service,
which calls a repository, which builds a statement in a base class and runs it in another
method, with options that came from a third (``get_eager_options()``). mypy's types forget
the load state at every declared return type, so a call site learns it from the callee's
body instead: each method of a class (not a model) is summarised while the class is
analysed, in the same syntactic way ``hooks.members`` summarises model methods, and the
summary is stored in the class's metadata, with a digest in its symbol table (see
``models.expose_digest``) so that cold, warm, parallel and daemon runs see the same.

The summary is syntax, not meaning: names are kept as written and resolved only when a
call site evaluates the summary (``hooks.layers``), against the symbol table of the module
that defines the method. This is what lets one summary serve every receiver:
``self.get_base_statement()`` and ``self.model`` mean the subclass's at each call site.

The language (JSON lists):

    ["unknown"]                     anything this walk does not follow
    ["none"]                        the literal None
    ["const", value]                True / False / a string
    ["param", name]                 a parameter of the method (``self`` included)
    ["global", name]                a module-level name of the defining module
    ["attr", V, name]               ``V.name``
    ["call", V, args]               ``V(args)``; args: [[kind, keyword or null, V], ...]
    ["seq", [V, ...]]               a tuple or list display (items may be ["star", V])
    ["concat", V, V]                ``a + b`` (and ``+=``, ``.append``, ``.extend``)
    ["any", [V, ...]]               one of these (a conditional expression, branches)
    ["cond", T, V_then, V_else]     a branch on a test of a parameter (see _test)
    ["refresh", V, V_names, V_s]    ``V`` after ``V_s.refresh(V, names)`` (names: a display of
                                    strings, a set too; ["none"] when not given)

A method's summary is ``{"params": [[name, default V or null, kind], ...], "returns":
[[tests, V], ...]}`` where ``tests`` are the branch tests that lead to that ``return``.
Loops, ``try``, ``with`` and ``match`` are followed only as far as is safe: a name bound
inside them is unknown afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mypy.nodes import (
    ARG_NAMED,
    ARG_NAMED_OPT,
    ARG_OPT,
    ARG_POS,
    ARG_STAR,
    ARG_STAR2,
    AssertStmt,
    AssignmentStmt,
    AwaitExpr,
    Block,
    BreakStmt,
    CallExpr,
    ClassDef,
    ComparisonExpr,
    ConditionalExpr,
    ContinueStmt,
    Decorator,
    DelStmt,
    Expression,
    ExpressionStmt,
    ForStmt,
    FuncDef,
    GlobalDecl,
    IfStmt,
    ListExpr,
    MemberExpr,
    NameExpr,
    OperatorAssignmentStmt,
    OpExpr,
    OverloadedFuncDef,
    PassStmt,
    RaiseStmt,
    ReturnStmt,
    SetExpr,
    StarExpr,
    Statement,
    StrExpr,
    TryStmt,
    TupleExpr,
    UnaryExpr,
    WhileStmt,
    WithStmt,
)
from mypy.types import AnyType, CallableType, Instance, NoneType, UnboundType, get_proper_type

from mypy_eagerload.hooks.syntax import _CHILD_ATTRS

Ir = Any  # a JSON list as described above
UNKNOWN: Ir = ["unknown"]
NONE: Ir = ["none"]

_KINDS = {ARG_POS: "pos", ARG_OPT: "opt", ARG_STAR: "star", ARG_STAR2: "star2",
          ARG_NAMED: "named", ARG_NAMED_OPT: "named_opt"}
_MAX_STATEMENTS = 200  # a longer body is not a layer function: not summarised
_MAX_IR_SIZE = 4000  # characters of JSON per method, to keep the cache small


def summarize_class(defn: ClassDef) -> dict[str, Ir]:
    """{method: summary} for the methods of ``defn`` worth a summary."""
    found: dict[str, Ir] = {}
    for stmt in defn.defs.body:
        func = stmt.func if isinstance(stmt, Decorator) else stmt
        if isinstance(stmt, OverloadedFuncDef) or not isinstance(func, FuncDef):
            continue
        summary = summarize_function(func)
        if summary is not None:
            found[func.name] = summary
    return found


def summarize_module(defs: Sequence[Statement]) -> dict[str, Ir]:
    """{function: summary} for a module's own undecorated top-level functions (a decorator
    may change what a call returns), and {"=NAME": {"value": V}} for its option tuples
    (``constant_of``)."""
    found: dict[str, Ir] = {}
    for stmt in defs:
        if isinstance(stmt, FuncDef):
            summary = summarize_function(stmt)
            if summary is not None:
                found[stmt.name] = {**summary, "static": True}
    for name, value in _constants(defs).items():
        found[CONSTANT_PREFIX + name] = {"value": value}
    return found


# Module-level constants are stored beside the functions under "=NAME" (no function is
# named so).
CONSTANT_PREFIX = "="


def _constants(defs: Sequence[Statement]) -> dict[str, Ir]:
    """Module-level names bound once, to a tuple display (``ORDER_OPTIONS: Options =
    (joinedload(...), ...)``), and never declared ``global`` in a function: a declared type
    (``Sequence[ExecutableOption]``) forgets the options, the display does not. A tuple
    cannot change in place; a list could, anywhere, so lists are not recorded."""
    candidates = [stmt for stmt in defs if isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1
                  and isinstance(stmt.lvalues[0], NameExpr) and _may_be_options(stmt.rvalue)]
    if not candidates:
        return {}  # most modules: no walk
    bindings: dict[str, int] = {}
    for stmt in defs:
        for name in _bound_names([stmt]):
            bindings[name] = bindings.get(name, 0) + 1
    declared_global = {name for stmt in defs for node in _walk(stmt)
                       if isinstance(node, GlobalDecl) for name in node.names}
    walker = _Walker(set())
    found: dict[str, Ir] = {}
    for stmt in candidates:
        name = stmt.lvalues[0].name  # type: ignore[attr-defined]
        if bindings.get(name) == 1 and name not in declared_global:
            value = walker.expr(stmt.rvalue, {})
            if len(json.dumps(value)) <= _MAX_IR_SIZE:
                found[name] = value
    return found


def _may_be_options(expr: Expression) -> bool:
    """A tuple display of calls, names and ``*names``, with a call or a ``*name``: the shape
    of an option tuple, not of a tuple of strings or numbers."""
    if not isinstance(expr, TupleExpr) or not any(isinstance(i, (CallExpr, StarExpr)) for i in expr.items):
        return False
    return all(isinstance(i, (CallExpr, NameExpr))
               or (isinstance(i, StarExpr) and isinstance(i.expr, NameExpr)) for i in expr.items)


def summarize_function(func: FuncDef) -> Ir | None:
    """The summary of ``func``, or None when no ``return`` gives anything a call site could
    use (every return unknown or None)."""
    if func.is_property or func.is_generator or not _may_carry_state(func) \
            or _size(func.body) > _MAX_STATEMENTS:
        return None
    params = [arg.variable.name for arg in func.arguments]
    walker = _Walker(set(params))
    walker.block(func.body.body, {}, ())
    if not any(_useful(value) for _, value in walker.returns):
        return None
    summary = {
        "params": [[arg.variable.name,
                    walker.expr(arg.initializer, {}) if arg.initializer is not None else None,
                    _KINDS.get(arg.kind, "pos")] for arg in func.arguments],
        "returns": [[list(tests), value] for tests, value in walker.returns],
        "static": func.is_static,
    }
    return summary if len(json.dumps(summary)) <= _MAX_IR_SIZE else None


# Declared return types no load state or option can ride on: not worth a summary (most
# functions of an application; a view returning ``str`` or ``object``).
_PLAIN_RETURNS = frozenset({"object", "None", "str", "int", "bool", "float", "bytes", "dict",
                            "builtins.object", "builtins.str", "builtins.int", "builtins.bool",
                            "builtins.float", "builtins.bytes", "builtins.dict"})


def _may_carry_state(func: FuncDef) -> bool:
    """Whether ``func``'s declared return type (as written) could carry a state: an
    unannotated function returns ``Any`` to its callers, a ``-> str`` one nothing."""
    written = func.unanalyzed_type if func.unanalyzed_type is not None else func.type
    if not isinstance(written, CallableType) or written.implicit:
        return False
    proper = get_proper_type(written.ret_type)
    if isinstance(proper, UnboundType):
        return proper.name not in _PLAIN_RETURNS or bool(proper.args)
    if isinstance(proper, NoneType):
        return False
    if isinstance(proper, Instance):
        return proper.type.fullname not in _PLAIN_RETURNS or bool(proper.args)
    return not isinstance(proper, AnyType)


def _useful(value: Ir) -> bool:
    """A value that evaluation could turn into a load state or options."""
    if not isinstance(value, list) or not value:
        return False
    return value[0] in ("call", "seq", "concat", "any", "cond", "refresh", "param", "global", "attr") \
        and value != UNKNOWN


def _size(block: Block) -> int:
    count = 0
    stack: list[object] = list(block.body)
    while stack and count <= _MAX_STATEMENTS:
        node = stack.pop()
        count += 1
        for attr in ("body", "else_body", "finally_body"):
            child = getattr(node, attr, None)
            if isinstance(child, Block):
                stack.extend(child.body)
            elif isinstance(child, list):
                stack.extend(b.body for b in child if isinstance(b, Block))
                stack.extend(s for b in child if isinstance(b, Block) for s in b.body)
    return count


Env = dict[str, Ir]


class _Walker:
    """A forward walk of one body: ``env`` maps each local name to its value so far."""

    def __init__(self, params: set[str]) -> None:
        self.params = params
        self.returns: list[tuple[tuple[Ir, ...], Ir]] = []

    # -- statements: each returns the env after it, or None when it never completes ----
    def block(self, body: Sequence[Statement], env: Env, tests: tuple[Ir, ...]) -> Env | None:
        current: Env | None = dict(env)
        for stmt in body:
            if current is None:
                return None  # code after return/raise
            current = self.statement(stmt, current, tests)
        return current

    def statement(self, stmt: Statement, env: Env, tests: tuple[Ir, ...]) -> Env | None:
        if isinstance(stmt, ReturnStmt):
            value = self.expr(stmt.expr, env) if stmt.expr is not None else NONE
            self.returns.append((tests, value))
            return None
        if isinstance(stmt, RaiseStmt):
            return None
        if isinstance(stmt, AssignmentStmt):
            return self.assign(stmt, env)
        if isinstance(stmt, OperatorAssignmentStmt):
            if isinstance(stmt.lvalue, NameExpr):
                old = self.expr(stmt.lvalue, env)
                env[stmt.lvalue.name] = ["concat", old, self.expr(stmt.rvalue, env)] \
                    if stmt.op == "+" else UNKNOWN
            return env
        if isinstance(stmt, ExpressionStmt):
            return self.effect(stmt.expr, env)
        if isinstance(stmt, IfStmt):
            return self.if_stmt(stmt, env, tests)
        if isinstance(stmt, (PassStmt, AssertStmt)):
            return env
        if isinstance(stmt, (ForStmt, WhileStmt, WithStmt, TryStmt)):
            return self.compound(stmt, env, tests)
        if isinstance(stmt, (BreakStmt, ContinueStmt)):
            return env  # only inside loops, which compound() handles
        # del, global, nested def/class, match, ...: every name they mention is unknown,
        # and a ``return`` inside (a match case) gives an unknown value.
        for name in _bound_names([stmt]) | _mentioned(stmt):
            env[name] = UNKNOWN
        if not isinstance(stmt, (FuncDef, Decorator, ClassDef)) and _has_return(stmt):
            self.returns.append((tests, UNKNOWN))
        return env

    def assign(self, stmt: AssignmentStmt, env: Env) -> Env:
        value = self.expr(stmt.rvalue, env)
        for lvalue in stmt.lvalues:
            if isinstance(lvalue, NameExpr):
                env[lvalue.name] = value
            else:  # unpacking, attributes, items: the names involved become unknown
                for name in _names_in(lvalue):
                    env[name] = UNKNOWN
        return env

    def effect(self, expr: Expression, env: Env) -> Env:
        """An expression statement: ``opts.append(x)``, ``await session.refresh(obj, [...])``."""
        call = expr.expr if isinstance(expr, AwaitExpr) else expr
        if isinstance(call, CallExpr) and isinstance(call.callee, MemberExpr):
            target = call.callee.expr
            method = call.callee.name
            if isinstance(target, NameExpr) and method in ("append", "extend") and len(call.args) == 1:
                added = self.expr(call.args[0], env)
                env[target.name] = ["concat", self.expr(target, env),
                                    ["seq", [added]] if method == "append" else added]
                return env
            if method == "refresh" and call.args and isinstance(call.args[0], NameExpr) \
                    and call.arg_kinds[0] == ARG_POS:
                name = call.args[0].name
                names = self.refreshed_names(call, env)
                env[name] = ["refresh", self.expr(call.args[0], env), names, self.expr(target, env)]
                return env
        if isinstance(call, CallExpr):
            # A local passed to a call may be changed by it (``fill(opts)``).
            for arg in call.args:
                if isinstance(arg, NameExpr) and arg.name in env:
                    env[arg.name] = UNKNOWN
        return env

    def refreshed_names(self, call: CallExpr, env: Env) -> Ir:
        """``refresh(obj, names)``'s names: a display of strings (a set too) as ``["seq",
        [["const", name], ...]]``; None when not given."""
        for i, arg in enumerate(call.args[1:], start=1):
            if call.arg_names[i] not in (None, "attribute_names"):
                continue
            if isinstance(arg, SetExpr):
                return ["seq", [self.expr(item, env) for item in arg.items]]
            return self.expr(arg, env)
        return NONE

    def if_stmt(self, stmt: IfStmt, env: Env, tests: tuple[Ir, ...]) -> Env | None:
        # ``if a: ... elif b: ... else: ...`` is nested IfStmts in else_body.
        test = self.test(stmt.expr[0], env)
        then_env = self.block(stmt.body[0].body, env, (*tests, test) if test else tests)
        negated = ["not", test] if test else None
        else_tests = (*tests, negated) if negated else tests
        else_env = self.block(stmt.else_body.body, env, else_tests) if stmt.else_body else dict(env)
        if then_env is None:
            return else_env
        if else_env is None:
            return then_env
        merged: Env = {}
        for name in set(then_env) | set(else_env):
            a, b = then_env.get(name, UNKNOWN), else_env.get(name, UNKNOWN)
            merged[name] = a if a == b else (["cond", test, a, b] if test else ["any", [a, b]])
        return merged

    def compound(self, stmt: Statement, env: Env, tests: tuple[Ir, ...]) -> Env:
        """Loops, ``with`` and ``try``: names bound anywhere in them are unknown, inside (a
        loop's second pass, a handler starting anywhere in its ``try``) and after."""
        bound = _bound_names([stmt])
        inner = {**env, **{name: UNKNOWN for name in bound}}
        for block in _blocks(stmt):
            self.block(block.body, inner, tests)  # for its returns only
        return inner

    # -- tests ------------------------------------------------------------------------
    def test(self, expr: Expression, env: Env) -> Ir | None:
        """A test a call site may decide: ``p is None``, ``p is not None``, ``p``, ``not p``
        for a parameter ``p`` not re-bound before; None for any other test."""
        if isinstance(expr, UnaryExpr) and expr.op == "not":
            inner = self.test(expr.expr, env)
            return ["not", inner] if inner else None
        if isinstance(expr, NameExpr) and self._pristine_param(expr.name, env):
            return ["truthy", expr.name]
        if isinstance(expr, ComparisonExpr) and len(expr.operators) == 1 \
                and expr.operators[0] in ("is", "is not"):
            left, right = expr.operands
            if isinstance(left, NameExpr) and isinstance(right, NameExpr) and right.name == "None" \
                    and self._pristine_param(left.name, env):
                test: Ir = ["is_none", left.name]
                return test if expr.operators[0] == "is" else ["not", test]
        return None

    def _pristine_param(self, name: str, env: Env) -> bool:
        return name in self.params and name not in env

    # -- expressions ------------------------------------------------------------------
    def expr(self, expr: Expression | None, env: Env) -> Ir:
        if expr is None:
            return UNKNOWN
        if isinstance(expr, AwaitExpr):
            return self.expr(expr.expr, env)  # what a coroutine gives is what it returns
        if isinstance(expr, NameExpr):
            if expr.name in env:
                return env[expr.name]
            if expr.name in self.params:
                return ["param", expr.name]
            if expr.name == "None":
                return NONE
            if expr.name in ("True", "False"):
                return ["const", expr.name == "True"]
            return ["global", expr.name]
        if isinstance(expr, MemberExpr):
            return ["attr", self.expr(expr.expr, env), expr.name]
        if isinstance(expr, StrExpr):
            return ["const", expr.value]
        if isinstance(expr, CallExpr):
            args = [[_KINDS.get(kind, "pos"), name, self.expr(arg, env)]
                    for arg, kind, name in zip(expr.args, expr.arg_kinds, expr.arg_names)]
            return ["call", self.expr(expr.callee, env), args]
        if isinstance(expr, (TupleExpr, ListExpr)):
            return ["seq", [["star", self.expr(i.expr, env)] if isinstance(i, StarExpr)
                            else self.expr(i, env) for i in expr.items]]
        if isinstance(expr, OpExpr) and expr.op == "+":
            return ["concat", self.expr(expr.left, env), self.expr(expr.right, env)]
        if isinstance(expr, ConditionalExpr):
            return ["any", [self.expr(expr.if_expr, env), self.expr(expr.else_expr, env)]]
        return UNKNOWN


def _children(node: object) -> list[object]:
    """The statement and expression nodes directly under ``node`` (a generic walk: mypy's
    compiled traverser cannot be subclassed from interpreted code)."""
    out: list[object] = []
    for attr in _CHILD_ATTRS:
        value = getattr(node, attr, None)
        if isinstance(value, (list, tuple)):
            out.extend(value)
        elif value is not None:
            out.append(value)
    return out


def _walk(stmt: Statement, into_defs: bool = True) -> Iterator[object]:
    """Every node under ``stmt``; with ``into_defs`` False, not inside nested definitions."""
    stack: list[object] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):  # tuples: a dict display's (key, value) items
            stack.extend(node)
            continue
        yield node
        if into_defs or not isinstance(node, (FuncDef, Decorator, ClassDef)):
            stack.extend(_children(node))


def _mentioned(stmt: Statement) -> set[str]:
    return {node.name for node in _walk(stmt) if isinstance(node, NameExpr)}


def _has_return(stmt: Statement) -> bool:
    """A ``return`` of this function inside ``stmt`` (not of a function defined there)."""
    return any(isinstance(node, ReturnStmt) for node in _walk(stmt, into_defs=False))


def _blocks(stmt: Statement) -> list[Block]:
    blocks: list[Block] = []
    for attr in ("body", "else_body", "finally_body"):
        child = getattr(stmt, attr, None)
        if isinstance(child, Block):
            blocks.append(child)
    handlers = getattr(stmt, "handlers", None)
    if isinstance(handlers, list):
        blocks.extend(h for h in handlers if isinstance(h, Block))
    return blocks


def _names_in(expr: Expression) -> Iterable[str]:
    if isinstance(expr, NameExpr):
        yield expr.name
    elif isinstance(expr, (TupleExpr, ListExpr)):
        for item in expr.items:
            yield from _names_in(item)
    elif isinstance(expr, StarExpr):
        yield from _names_in(expr.expr)


def _bound_names(stmts: Sequence[Statement]) -> set[str]:
    """Every name a statement could bind, nested blocks included (over-approximate)."""
    found: set[str] = set()
    stack: list[object] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, AssignmentStmt):
            for lvalue in node.lvalues:
                found.update(_names_in(lvalue))
        elif isinstance(node, OperatorAssignmentStmt):
            found.update(_names_in(node.lvalue))
        elif isinstance(node, ForStmt):
            found.update(_names_in(node.index))
        elif isinstance(node, WithStmt):
            for target in node.target:
                if target is not None:
                    found.update(_names_in(target))
        elif isinstance(node, (FuncDef, Decorator, ClassDef)):
            found.add(node.name)
            continue
        elif isinstance(node, DelStmt):
            found.update(_names_in(node.expr))
        elif isinstance(node, ExpressionStmt):
            call = node.expr.expr if isinstance(node.expr, AwaitExpr) else node.expr
            if isinstance(call, CallExpr):
                for arg in call.args:
                    found.update(_names_in(arg))  # may be changed in place
                if isinstance(call.callee, MemberExpr):
                    found.update(_names_in(call.callee.expr))
        names = getattr(node, "names", None)  # global / nonlocal / match captures
        if isinstance(names, list):
            found.update(n for n in names if isinstance(n, str))
        vars_ = getattr(node, "vars", None)  # except ... as name
        if isinstance(vars_, list):
            found.update(v.name for v in vars_ if isinstance(v, NameExpr))
        for attr in ("body", "else_body", "finally_body", "handlers", "bodies"):
            child = getattr(node, attr, None)
            if isinstance(child, Block):
                stack.extend(child.body)
            elif isinstance(child, list):
                stack.extend(s for b in child if isinstance(b, Block) for s in b.body)
    return found
