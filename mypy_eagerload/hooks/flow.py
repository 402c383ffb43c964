"""Which producers' states can reach an expression: the guard against stale hints.

Load states ride in types invisibly (``hooks.types``), and mypy moves them as it moves the
types: through ``where()``, ``execute()``, ``scalars()``, loops, generic helpers. But mypy
keeps a variable's first type when it is re-bound to a type that differs only in those
hints, and keeps one branch's type where branches merge (DESIGN-NOTES section 2). A hint
on a type therefore says only "this value came from some producer"; which producers can
really reach is decided here, from the function's own code:

* every hook that makes a state (``select()``, ``.options()``, a relationship read,
  ``session.get()``, ...) records it for the expression it was called for (``produced``);
* a hook that reads a state from an expression asks ``fresh()``, which walks the
  expression back through its sub-expressions and through local variables bound once,
  down to the producers; a variable bound more than once is looked up in a
  reaching-definitions analysis of the function, and the states of every definition that
  can reach the read are intersected (a relationship is "loaded" only if every path loads
  it, and "not loaded" if some path leaves it so).

Anything the walk cannot follow (a global, an attribute of a non-model object, a variable
re-bound in a way it does not model, a mutated container, a closure) makes the state
unknown: never a guess. Everything here is computed from the function's syntax and from
what hooks recorded while mypy checked that same function, so cold, warm, parallel and
daemon runs agree.

mypy's compiled traversers cannot be subclassed from interpreted code: the walks read node
attributes directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from mypy.nodes import (
    GDEF,
    LDEF,
    AssignmentExpr,
    AssignmentStmt,
    AwaitExpr,
    Block,
    BreakStmt,
    CallExpr,
    ClassDef,
    ConditionalExpr,
    Context,
    ContinueStmt,
    Decorator,
    DelStmt,
    DictionaryComprehension,
    Expression,
    ExpressionStmt,
    ForStmt,
    FuncDef,
    FuncItem,
    GeneratorExpr,
    GlobalDecl,
    IfStmt,
    Import,
    ImportAll,
    ImportFrom,
    IndexExpr,
    LambdaExpr,
    ListComprehension,
    ListExpr,
    MatchStmt,
    MemberExpr,
    MypyFile,
    NameExpr,
    Node,
    NonlocalDecl,
    OperatorAssignmentStmt,
    OpExpr,
    OverloadedFuncDef,
    RaiseStmt,
    RefExpr,
    ReturnStmt,
    SetComprehension,
    SetExpr,
    StarExpr,
    Statement,
    TryStmt,
    TupleExpr,
    Var,
    WhileStmt,
    WithStmt,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import Instance, TupleType, Type, UnionType, get_proper_type

from mypy_eagerload import names
from mypy_eagerload.hooks import compat
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.schema import CheckerSchema, hint_of
from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.hooks.types import intersect_hints, with_hint

# ---------------------------------------------------------------------------------------
# Bindings: where each local name gets a value


@dataclass(frozen=True, eq=False)
class Binding:
    """One place a name is bound. ``source`` is the expression whose value the name then
    holds (an assignment's right side, a loop's iterable), None when it is not followed
    (a parameter, ``with ... as``, ``except ... as``, ``+=``, an import, a nested def)."""

    name: str
    source: Expression | None
    is_param: bool = False
    iterates: bool = False  # bound to each item of ``source`` (a ``for`` or a comprehension)


_UNKNOWN_SOURCE = None
# Methods that change a container in place: its element states are no longer the ones the
# producer made (``users.append(User())``).
_MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "setdefault", "__setitem__",
                       "__iadd__", "appendleft", "extendleft"})
# Calls that never change a container passed to them.
_READERS = frozenset({"len", "list", "tuple", "set", "frozenset", "sorted", "reversed", "enumerate",
                      "zip", "iter", "next", "any", "all", "sum", "min", "max", "print", "isinstance",
                      "repr", "str", "bool", "id", "hash", "reveal_type", "reveal_locals", "dict",
                      "map", "filter", "reveal_loads"})


_Record = tuple[Node, list[tuple[dict[str, list[str]], Type]]]
_TRIALS_KEPT = 16


@dataclass
class Scope:
    """What the plugin knows about one function (or a module's top level) being checked."""

    node: Node
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    # Names whose value may change behind the bindings: a mutated container, a name a
    # nested function assigns through ``nonlocal``/``global``.
    opaque: set[str] = field(default_factory=set)
    # Names passed to calls that may mutate them, if they hold a container.
    escaped: set[str] = field(default_factory=set)
    # Producers: id(expression) -> (expression, [({model fullname: [hints]}, the type made)]).
    produced: dict[int, _Record] = field(default_factory=dict)
    # What iterating an expression yields, where a hook changes it (a sync ``Query``).
    iterated: dict[int, _Record] = field(default_factory=dict)
    comprehension_names: set[str] = field(default_factory=set)
    nested_names: set[str] = field(default_factory=set)
    # The node's body when the scope was built (``_version``).
    version: object = None
    _reaching: dict[int, frozenset[Binding] | None] | None = None

    def local(self, node: NameExpr) -> list[Binding] | None:
        """The bindings of ``node``'s name if it is a variable of this scope (not a global
        read from a function, a builtin, a class attribute); None otherwise."""
        bindings = self.bindings.get(node.name)
        own_kind = GDEF if isinstance(self.node, MypyFile) else LDEF
        return bindings if bindings is not None and node.kind == own_kind else None

    def reaching(self, use: NameExpr) -> frozenset[Binding] | None:
        """The bindings of ``use``'s name that can reach it; None when not known."""
        if self._reaching is None:
            self._reaching = _Reaching(self).run()
        return self._reaching.get(id(use))


def _scope_for(api: CheckerPluginInterface) -> Scope | None:
    node: Node | None = compat.current_function(api)
    if node is None:
        node = getattr(api, "tree", None)
    if isinstance(node, LambdaExpr) or node is None:
        return None  # a lambda's names live in its enclosing function: not modelled
    hit = _SCOPES.get(id(node))
    if hit is not None and hit.node is node and hit.version is _version(node):
        _SCOPES.move_to_end(id(node))
        return hit
    scope = Scope(node, version=_version(node))
    _collect(scope)
    _SCOPES[id(node)] = scope
    while len(_SCOPES) > _SCOPES_KEPT:
        _SCOPES.popitem(last=False)
    return scope


def _version(node: Node) -> object:
    """What changes when dmypy updates a function or module: its AST merge keeps the
    FuncDef and MypyFile objects (other modules point at them) and gives them the new
    contents, so a cache keyed by the node would answer for the old body."""
    return node.defs if isinstance(node, MypyFile) else getattr(node, "body", None)


# Scopes of the functions being checked (nested functions are checked inside their parent,
# and a module's top level around all of them). Only read for the function being checked,
# so this is a cache of derived facts, never state carried between functions or runs.
_SCOPES: OrderedDict[int, Scope] = OrderedDict()
_SCOPES_KEPT = 16


def _body(node: Node) -> list[Statement]:
    if isinstance(node, MypyFile):
        return list(node.defs)
    if isinstance(node, FuncItem):
        return list(node.body.body)
    return []


def _collect(scope: Scope) -> None:
    node = scope.node
    if isinstance(node, FuncItem):
        for arg in node.arguments:
            _bind(scope, arg.variable.name, Binding(arg.variable.name, None, is_param=True))
    for stmt in _body(node):
        _collect_stmt(scope, stmt)
    scope.opaque.update(name for name in scope.comprehension_names if len(scope.bindings[name]) > 1)
    scope.opaque.update(name for name in scope.nested_names if name in scope.bindings)


def _bind(scope: Scope, name: str, binding: Binding) -> None:
    scope.bindings.setdefault(name, []).append(binding)


def _bind_target(scope: Scope, target: Expression, source: Expression | None,
                 iterates: bool = False) -> None:
    if isinstance(target, NameExpr):
        _bind(scope, target.name, Binding(target.name, source, iterates=iterates))
    elif isinstance(target, (TupleExpr, ListExpr)):
        for item in target.items:
            _bind_target(scope, item, source, iterates)
    elif isinstance(target, StarExpr):
        _bind_target(scope, target.expr, _UNKNOWN_SOURCE)  # a list of some of the items
    else:
        _collect_expr(scope, target)
        if isinstance(target, IndexExpr) and isinstance(target.base, NameExpr):
            scope.opaque.add(target.base.name)  # ``items[0] = x``


def _collect_stmt(scope: Scope, stmt: Statement) -> None:
    if isinstance(stmt, AssignmentStmt):
        _collect_expr(scope, stmt.rvalue)
        for lvalue in stmt.lvalues:
            _bind_target(scope, lvalue, stmt.rvalue)
    elif isinstance(stmt, OperatorAssignmentStmt):
        _collect_expr(scope, stmt.rvalue)
        _bind_target(scope, stmt.lvalue, _UNKNOWN_SOURCE)
        if isinstance(stmt.lvalue, NameExpr):
            scope.opaque.add(stmt.lvalue.name)  # ``users += more`` may extend in place
    elif isinstance(stmt, ForStmt):
        _collect_expr(scope, stmt.expr)
        _bind_target(scope, stmt.index, stmt.expr, iterates=True)
        _collect_block(scope, stmt.body)
        _collect_block(scope, stmt.else_body)
    elif isinstance(stmt, WithStmt):
        for expr, target in zip(stmt.expr, stmt.target):
            _collect_expr(scope, expr)
            if target is not None:
                _bind_target(scope, target, _UNKNOWN_SOURCE)
        _collect_block(scope, stmt.body)
    elif isinstance(stmt, TryStmt):
        _collect_block(scope, stmt.body)
        for var, handler in zip(stmt.vars, stmt.handlers):
            if var is not None:
                _bind(scope, var.name, Binding(var.name, _UNKNOWN_SOURCE))
            _collect_block(scope, handler)
        _collect_block(scope, stmt.else_body)
        _collect_block(scope, stmt.finally_body)
    elif isinstance(stmt, (FuncDef, OverloadedFuncDef, Decorator, ClassDef)):
        _bind(scope, stmt.name, Binding(stmt.name, _UNKNOWN_SOURCE))
        _collect_nested(scope, stmt)
    elif isinstance(stmt, (Import, ImportFrom, ImportAll)):
        for name in _imported_names(stmt):
            _bind(scope, name, Binding(name, _UNKNOWN_SOURCE))
    elif isinstance(stmt, (GlobalDecl, NonlocalDecl)):
        scope.opaque.update(stmt.names)
    elif isinstance(stmt, DelStmt):
        _bind_target(scope, stmt.expr, _UNKNOWN_SOURCE)
    elif isinstance(stmt, MatchStmt):
        _collect_expr(scope, stmt.subject)
        for pattern, guard, body in zip(stmt.patterns, stmt.guards, stmt.bodies):
            scope.opaque.update(_pattern_names(pattern))
            _collect_expr(scope, guard)
            _collect_block(scope, body)
    else:
        for expr in _stmt_exprs(stmt):
            _collect_expr(scope, expr)
        for block in _stmt_blocks(stmt):
            _collect_block(scope, block)


def _collect_block(scope: Scope, block: Block | None) -> None:
    if block is not None:
        for stmt in block.body:
            _collect_stmt(scope, stmt)


def _collect_nested(scope: Scope, stmt: Node) -> None:
    """A nested function or class that assigns an outer name (``nonlocal``) makes it opaque;
    so does binding a name of its own that the outer function binds too (mypy checks nested
    functions as part of the outer one, and this walk tells names apart by spelling)."""
    for node in _walk_all(stmt):
        if isinstance(node, NonlocalDecl):
            scope.opaque.update(node.names)
    scope.nested_names.update(_inner_names(stmt))


def _inner_names(stmt: Node) -> set[str]:
    """Names a nested function, lambda or class binds for itself."""
    funcs: list[Node] = [stmt]
    if isinstance(stmt, Decorator):
        funcs = [stmt.func]
    elif isinstance(stmt, OverloadedFuncDef):
        funcs = [item.func if isinstance(item, Decorator) else item for item in stmt.items]
    found: set[str] = set()
    for func in funcs:
        if isinstance(func, FuncItem):
            inner = Scope(func)
            _collect(inner)
            found.update(inner.bindings)
            found.update(inner.nested_names)
        elif isinstance(func, ClassDef):
            found.update(n.name for n in _walk_all(func) if isinstance(n, NameExpr))
    return found


def _collect_expr(scope: Scope, expr: Expression | None) -> None:
    if expr is None:
        return
    for node in _walk_expr(expr):
        if isinstance(node, AssignmentExpr):
            _bind(scope, node.target.name, Binding(node.target.name, node.value))
        elif isinstance(node, (ListComprehension, SetComprehension)):
            _bind_generator(scope, node.generator)
        elif isinstance(node, (GeneratorExpr, DictionaryComprehension)):
            _bind_generator(scope, node)
        elif isinstance(node, CallExpr):
            callee = node.callee
            if isinstance(callee, MemberExpr) and callee.name in _MUTATORS \
                    and isinstance(callee.expr, NameExpr):
                scope.opaque.add(callee.expr.name)
            if not (isinstance(callee, NameExpr) and callee.name in _READERS):
                scope.escaped.update(a.name for a in node.args if isinstance(a, NameExpr))
                scope.escaped.update(a.expr.name for a in node.args
                                     if isinstance(a, StarExpr) and isinstance(a.expr, NameExpr))
        elif isinstance(node, LambdaExpr):
            _collect_nested(scope, node)


def _bind_generator(scope: Scope, gen: GeneratorExpr | DictionaryComprehension) -> None:
    for index, sequence in zip(gen.indices, gen.sequences):
        _bind_target(scope, index, sequence, iterates=True)
        # A comprehension's names are its own; the same name bound elsewhere in the
        # function would be another variable, which the walk (by name) cannot tell apart.
        for node in _walk_expr(index):
            if isinstance(node, NameExpr):
                scope.comprehension_names.add(node.name)


# ---------------------------------------------------------------------------------------
# Reaching definitions, for names bound more than once


class _Reaching:
    """A forward walk over the function: for each read of a name bound more than once, the
    bindings that can reach it. Branches merge by union; loops iterate to a fixpoint;
    ``break``/``continue``/``return``/``raise`` end a path; an exception handler may start
    from any point of its ``try`` body."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.tracked = {name for name, bs in scope.bindings.items() if len(bs) > 1}
        self.by_source: dict[tuple[str, int], list[Binding]] = {}
        self.params: dict[str, Binding] = {}
        for name, bindings in scope.bindings.items():
            for b in bindings:
                if b.is_param:
                    self.params[name] = b
        self.result: dict[int, frozenset[Binding] | None] = {}
        self.loops: list[tuple[list[Env], list[Env]]] = []  # (breaks, continues)
        self.pending: dict[str, list[Binding]] = {n: list(bs) for n, bs in scope.bindings.items()}
        self.snapshots: list[Env] = []

    def run(self) -> dict[int, frozenset[Binding] | None]:
        env: Env = {name: frozenset([b]) for name, b in self.params.items() if name in self.tracked}
        self.block(_body(self.scope.node), env)
        return self.result

    # Bindings are matched to the statements that make them in program order: the
    # collector and this walk visit statements in the same order.
    def take(self, name: str) -> Binding | None:
        queue = self.pending.get(name)
        while queue:
            b = queue.pop(0)
            if not b.is_param:
                return b
        return None

    def bind(self, env: Env | None, target: Expression) -> None:
        if isinstance(target, NameExpr):
            b = self.take(target.name)
            if env is not None and target.name in self.tracked and b is not None:
                env[target.name] = frozenset([b])
        elif isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self.bind(env, item)
        elif isinstance(target, StarExpr):
            self.bind(env, target.expr)
        elif env is not None:
            self.expr(target, env)

    def block(self, stmts: list[Statement], env: Env | None) -> Env | None:
        for stmt in stmts:
            if env is None:
                self.skip(stmt)
                continue
            env = self.stmt(stmt, env)
        return env

    def skip(self, stmt: Statement) -> None:
        """Unreachable code still consumes its bindings (to keep the order in step)."""
        self.stmt(stmt, {})

    def stmt(self, stmt: Statement, env: Env) -> Env | None:
        if isinstance(stmt, AssignmentStmt):
            self.expr(stmt.rvalue, env)
            for lvalue in stmt.lvalues:
                self.bind(env, lvalue)
            return env
        if isinstance(stmt, OperatorAssignmentStmt):
            self.expr(stmt.rvalue, env)
            self.expr(stmt.lvalue, env)
            self.bind(env, stmt.lvalue)
            return env
        if isinstance(stmt, IfStmt):
            branches: list[Env | None] = []
            for cond, body in zip(stmt.expr, stmt.body):
                self.expr(cond, env)
                branches.append(self.block(body.body, dict(env)))
            branches.append(self.block(stmt.else_body.body, dict(env)) if stmt.else_body else env)
            return _merge(branches)
        if isinstance(stmt, (ForStmt, WhileStmt)):
            return self.loop(stmt, env)
        if isinstance(stmt, BreakStmt):
            if self.loops:
                self.loops[-1][0].append(dict(env))
            return None
        if isinstance(stmt, ContinueStmt):
            if self.loops:
                self.loops[-1][1].append(dict(env))
            return None
        if isinstance(stmt, (ReturnStmt, RaiseStmt)):
            for expr in _stmt_exprs(stmt):
                self.expr(expr, env)
            return None
        if isinstance(stmt, TryStmt):
            return self.try_stmt(stmt, env)
        if isinstance(stmt, WithStmt):
            for expr, target in zip(stmt.expr, stmt.target):
                self.expr(expr, env)
                if target is not None:
                    self.bind(env, target)
            return self.block(stmt.body.body, env)
        if isinstance(stmt, (FuncDef, OverloadedFuncDef, Decorator, ClassDef)):
            self.closure(stmt, env)
            self.bind(env, NameExpr(stmt.name))
            return env
        if isinstance(stmt, (Import, ImportFrom, ImportAll)):
            for name in _imported_names(stmt):
                self.bind(env, NameExpr(name))
            return env
        if isinstance(stmt, DelStmt):
            self.bind(env, stmt.expr)
            return env
        if isinstance(stmt, MatchStmt):
            self.expr(stmt.subject, env)
            outs: list[Env | None] = [env]
            for guard, body in zip(stmt.guards, stmt.bodies):
                branch = dict(env)
                if guard is not None:
                    self.expr(guard, branch)
                outs.append(self.block(body.body, branch))
            return _merge(outs)
        for expr in _stmt_exprs(stmt):
            self.expr(expr, env)
        for block in _stmt_blocks(stmt):
            env = self.block(block.body, env) or {}
        return env

    def loop(self, stmt: ForStmt | WhileStmt, env: Env) -> Env | None:
        if isinstance(stmt, ForStmt):
            self.expr(stmt.expr, env)
        head = dict(env)
        start = {name: list(q) for name, q in self.pending.items()}
        breaks: list[Env] = []
        for _ in range(_LOOP_ROUNDS):
            self.pending = {name: list(q) for name, q in start.items()}  # replay the body
            breaks = []
            continues: list[Env] = []
            self.loops.append((breaks, continues))
            body_env = dict(head)
            if isinstance(stmt, ForStmt):
                self.bind(body_env, stmt.index)
            else:
                self.expr(stmt.expr, body_env)
            out = self.block(stmt.body.body, body_env)
            self.loops.pop()
            new_head = _merge([head, out, *continues]) or head
            if new_head == head:
                break
            head = new_head
        else:
            # No fixpoint in a few rounds: whatever the body binds is unknown after it.
            for name in self.tracked:
                head[name] = head.get(name, frozenset()) | frozenset(self.scope.bindings[name])
        after = self.block(stmt.else_body.body, dict(head)) if stmt.else_body else head
        return _merge([after, *breaks])

    def try_stmt(self, stmt: TryStmt, env: Env) -> Env | None:
        body_out = self.anywhere(stmt.body.body, dict(env))  # ``env`` stays the state before
        # A handler may start after any statement of the body: every binding there reaches.
        handler_in = _merge([env, body_out, *self.snapshots]) or dict(env)
        outs: list[Env | None] = []
        for var, handler in zip(stmt.vars, stmt.handlers):
            branch = dict(handler_in)
            if var is not None:
                self.bind(branch, var)
            outs.append(self.block(handler.body, branch))
        normal = self.block(stmt.else_body.body, dict(body_out)) if stmt.else_body and body_out else body_out
        merged = _merge([normal, *outs])
        if stmt.finally_body is not None:
            final_in = _merge([merged, handler_in]) or dict(handler_in)
            final_out = self.block(stmt.finally_body.body, final_in)
            return None if final_out is None or merged is None else final_out
        return merged

    def anywhere(self, stmts: list[Statement], env: Env) -> Env | None:
        """Walk ``stmts``, keeping the environment after each statement (``self.snapshots``)."""
        snaps: list[Env] = []
        current: Env | None = env
        for stmt in stmts:
            if current is None:
                self.skip(stmt)
                continue
            current = self.stmt(stmt, current)
            if current is not None:
                snaps.append(dict(current))
        self.snapshots = snaps
        return current

    def expr(self, expr: Expression, env: Env) -> None:
        for node in _walk_expr(expr):
            if isinstance(node, NameExpr) and node.name in self.tracked:
                self.result[id(node)] = env.get(node.name)
            elif isinstance(node, AssignmentExpr):
                self.bind(env, node.target)
            elif isinstance(node, (ListComprehension, SetComprehension, GeneratorExpr,
                                   DictionaryComprehension)):
                gen = node.generator if isinstance(node, (ListComprehension, SetComprehension)) else node
                for index in gen.indices:
                    self.bind(env, index)
            elif isinstance(node, LambdaExpr):
                self.closure(node, env)

    def closure(self, node: Node, env: Env) -> None:
        """Reads of outer names in a nested function or lambda happen when it is called:
        any binding reaching its definition, or made after it, may be the one seen."""
        own = _inner_names(node)
        for inner in _walk_all(node):
            if isinstance(inner, NameExpr) and inner.name in self.tracked and inner.name not in own:
                later = frozenset(b for b in self.pending.get(inner.name, ()) if not b.is_param)
                self.result[id(inner)] = env.get(inner.name, frozenset()) | later


Env = dict[str, frozenset[Binding]]
_LOOP_ROUNDS = 4


def _merge(envs: list[Env | None]) -> Env | None:
    live = [e for e in envs if e is not None]
    if not live:
        return None
    merged: Env = {}
    for env in live:
        for name, bindings in env.items():
            merged[name] = merged.get(name, frozenset()) | bindings
    return merged


# ---------------------------------------------------------------------------------------
# Node children (read from attributes: see the module docstring)


def _stmt_exprs(stmt: Statement) -> list[Expression]:
    found: list[Expression] = []
    for attr in ("expr", "rvalue", "subject"):
        value = getattr(stmt, attr, None)
        if isinstance(value, Expression):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, Expression))
    if isinstance(stmt, RaiseStmt) and stmt.from_expr is not None:
        found.append(stmt.from_expr)
    if isinstance(stmt, ExpressionStmt):
        return [stmt.expr]
    return found


def _stmt_blocks(stmt: Statement) -> list[Block]:
    blocks: list[Block] = []
    for attr in ("body", "else_body", "finally_body"):
        value = getattr(stmt, attr, None)
        if isinstance(value, Block):
            blocks.append(value)
        elif isinstance(value, list):
            blocks.extend(v for v in value if isinstance(v, Block))
    return blocks


_EXPR_ATTRS = ("expr", "callee", "args", "base", "index", "left", "right", "operands", "items",
               "cond", "if_expr", "else_expr", "value", "begin_index", "end_index", "stride",
               "left_expr", "key", "sequences", "condlists", "target")


def _attrs_of(node: Node) -> tuple[str, ...]:
    """The sub-expression attributes a node's class has (looked up once per class: the
    walks run for every read the plugin checks)."""
    cls = type(node)
    found = _ATTRS_BY_CLASS.get(cls)
    if found is None:
        found = _ATTRS_BY_CLASS[cls] = tuple(
            attr for attr in _EXPR_ATTRS if hasattr(node, attr)
            and not (attr == "target" and isinstance(node, AssignmentExpr)))
    return found


_ATTRS_BY_CLASS: dict[type, tuple[str, ...]] = {}


def _walk_expr(expr: Expression) -> Iterator[Node]:
    """Sub-expressions in evaluation order (close enough: left to right, depth first),
    not entering lambdas (their bodies run when called: ``_Reaching.closure``)."""
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, Node):
            continue
        yield node
        if isinstance(node, LambdaExpr):
            continue
        if isinstance(node, (ListComprehension, SetComprehension)):
            node = node.generator
        children: list[object] = []
        if isinstance(node, (GeneratorExpr, DictionaryComprehension)):
            # The iterables are evaluated first, then the element for each item.
            children = [node.sequences, node.condlists,
                        [node.key, node.value] if isinstance(node, DictionaryComprehension)
                        else node.left_expr]
        else:
            for attr in _attrs_of(node):
                child = getattr(node, attr)
                if child is not None:
                    children.append(child)
            if isinstance(node, CallExpr) and node.analyzed is not None:
                children.append(node.analyzed)
        stack.extend(reversed(children))


def _walk_all(node: Node) -> Iterator[Node]:
    """Every node below ``node``, statements and expressions, nested scopes included."""
    return walk([node])


def _imported_names(stmt: Import | ImportFrom | ImportAll) -> list[str]:
    if isinstance(stmt, Import):
        return [alias or mod.split(".")[0] for mod, alias in stmt.ids]
    if isinstance(stmt, ImportFrom):
        return [alias or name for name, alias in stmt.names]
    return []


def _pattern_names(pattern: Node) -> list[str]:
    """Names a ``case`` pattern may capture (over-approximated: every name in it)."""
    found: list[str] = []
    stack: list[object] = [pattern]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, NameExpr):
            found.append(node.name)
        elif isinstance(node, Node):
            stack.extend(getattr(node, attr, None) for attr in _PATTERN_ATTRS)
    return found


_PATTERN_ATTRS = ("pattern", "name", "patterns", "capture", "rest", "values", "keys",
                  "positionals", "keyword_values")


# ---------------------------------------------------------------------------------------
# The hooks' side: record what a producer made, ask what reaches an expression


def produced(api: CheckerPluginInterface, expr: Context, typ: Type, iterating: bool = False) -> Type:
    """Record the states ``typ`` carries as made by ``expr``'s hook (with ``iterating``, as
    what iterating ``expr`` yields); returns ``typ``."""
    scope = _scope_for(api)
    if scope is not None and isinstance(expr, Node):
        table = scope.iterated if iterating else scope.produced
        hints: dict[str, list[str]] = {}
        for inst in _hinted(typ):
            hints.setdefault(inst.type.fullname, []).append(hint_of(inst) or "")
        # mypy calls a hook once per overload item it tries (``select()`` has one per
        # arity), and again when it checks the function again: every result is kept, and
        # the one mypy kept for the expression is the one read (``_producer``).
        old = table.get(id(expr))
        made = [*(old[1] if old is not None and old[0] is expr else []), (hints, typ)]
        table[id(expr)] = (expr, made[-_TRIALS_KEPT:])
    return typ


def fresh(api: CheckerPluginInterface, schema: CheckerSchema, expr: Context, typ: Type,
          computing: bool = False) -> Type:
    """``typ`` (the type mypy gives ``expr``) with each state replaced by what the producers
    that can reach ``expr`` made: the same when no re-bound variable is on the way, their
    intersection when one is, and no state (unknown) when the walk cannot tell. With
    ``computing``, ``expr`` is the producer asking about its own input (what it recorded on
    an earlier trial of the same call does not count)."""
    hinted = _hinted(typ)
    if not hinted:
        if isinstance(expr, NameExpr):
            injected = _dependency(api, schema, expr, typ)
            if injected is not None:
                return injected
        return _joined(api, schema, expr, typ)
    scope = _scope_for(api) if isinstance(expr, Expression) else None
    replacements: dict[int, str | None] = {}
    for inst in hinted:
        own = hint_of(inst)
        found = _resolve(api, scope, schema, expr, inst.type.fullname, own, set(), computing) \
            if scope is not None and isinstance(expr, Expression) else None
        if found != own:
            replacements[id(inst)] = found
    if not replacements:
        return typ
    str_type = api.named_generic_type("builtins.str", [])
    return _replace(typ, replacements, str_type, 0)


def _dependency(api: CheckerPluginInterface, schema: CheckerSchema, expr: NameExpr, typ: Type
                ) -> Type | None:
    """A parameter injected by FastAPI, ``order: Order = Depends(get_order)``, never re-bound:
    what ``get_order``'s body returns (``hooks.layers``), as FastAPI calls it."""
    scope = _scope_for(api)
    bindings = scope.local(expr) if scope is not None else None
    if scope is None or not bindings or len(bindings) != 1 or not bindings[0].is_param \
            or not isinstance(scope.node, FuncItem):
        return None
    arg = next((a for a in scope.node.arguments if a.variable.name == expr.name), None)
    init = arg.initializer if arg is not None else None
    if not (isinstance(init, CallExpr) and isinstance(init.callee, RefExpr)
            and init.callee.fullname in names.DEPENDS and len(init.args) >= 1
            and isinstance(init.args[0], RefExpr) and init.arg_names[0] in (None, "dependency")):
        return None
    from mypy_eagerload.hooks import layers  # layers builds on this module

    return layers.dependency_type(api, schema, init.args[0].fullname, typ)


def _joined(api: CheckerPluginInterface, schema: CheckerSchema, expr: Context, typ: Type) -> Type:
    """A model object whose type lost its state on the way: a join dropped it (``a if flag
    else b``, ``for u in [a, b]``), or an annotation did (``users: Sequence[User] = ...``,
    ``stmt: Select[...] = ...``: mypy does not narrow an annotated assignment). When the
    syntax leads back, through names bound once and calls known to pass the object on, to a
    merge or to an expression that carries the state, that state (or the intersection)."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or not isinstance(expr, Expression) \
            or (metadata(proper.type) or {}).get("kind") != "model":
        return typ
    scope = _scope_for(api)
    model = proper.type.fullname
    source = _carrier(api, scope, expr, model) if scope is not None else None
    if scope is None or source is None:
        return typ
    hint = _resolve(api, scope, schema, source, model, _own_hint(api, source, model), set())
    if hint is None:
        return typ
    return with_hint(proper, hint, api.named_generic_type("builtins.str", []))


# SQLAlchemy calls that hand on the objects of their receiver, or of their first argument.
_PASS_RECEIVER = frozenset({"scalar_one", "scalar_one_or_none", "one", "one_or_none", "first",
                            "all", "unique", "scalars", "fetchall", "fetchone", "fetchmany",
                            "tuples", "partitions", "where", "filter", "filter_by", "order_by",
                            "limit", "offset", "join", "outerjoin", "with_for_update", "distinct",
                            "group_by", "having", "execution_options", "params", "scalar"})
_PASS_ARGUMENT = frozenset({"execute", "scalars", "scalar", "stream", "stream_scalars"})
_PASS_BUILTIN = frozenset({"list", "tuple", "sorted", "set", "iter", "next", "reversed", "frozenset"})


def _carrier(api: CheckerPluginInterface, scope: Scope, expr: Expression, model: str) -> Expression | None:
    """Where ``expr``'s value comes from, back to a merge or to an expression whose type
    carries a state of ``model``; None when the way back is not one the walk knows."""
    seen: set[int] = set()
    node: Expression | None = expr
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if _is_merge(node) or (node is not expr and _carries(api, node, model)):
            return node
        if isinstance(node, NameExpr):
            if node.name in scope.opaque or (node.name in scope.escaped and _mutable(node)):
                return None
            bindings = scope.local(node)
            if bindings is None or len(bindings) != 1:
                return None
            node = bindings[0].source
        elif isinstance(node, AwaitExpr):
            node = node.expr
        elif isinstance(node, IndexExpr):
            node = node.base
        elif isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr) \
                and _from_sqlalchemy(api, node.callee.expr):
            callee = node.callee
            if callee.name in _PASS_ARGUMENT and node.args and _is_session(api, callee.expr):
                node = node.args[0]
            elif callee.name in _PASS_RECEIVER:
                node = callee.expr
            else:
                return None
        elif isinstance(node, CallExpr) and isinstance(node.callee, NameExpr) \
                and node.callee.name in _PASS_BUILTIN and len(node.args) == 1:
            node = node.args[0]
        else:
            return None
    return None


def _from_sqlalchemy(api: CheckerPluginInterface, expr: Expression) -> bool:
    typ = get_proper_type(compat.expression_type(api, expr))
    return isinstance(typ, Instance) and typ.type.fullname.startswith("sqlalchemy.")


def _is_session(api: CheckerPluginInterface, expr: Expression) -> bool:
    typ = get_proper_type(compat.expression_type(api, expr))
    return isinstance(typ, Instance) and any(
        base.fullname.endswith(("Session", "AsyncSession", "scoped_session", "async_scoped_session"))
        for base in typ.type.mro)


def _producer(api: CheckerPluginInterface, scope: Scope, node: Node) -> dict[str, list[str]] | None:
    """What a producer hook made at ``node``, if that is still the type mypy has for it. (The
    daemon checks a function again after an edit elsewhere: a record from the last check,
    for a hook that no longer runs there, must not count.)"""
    hit = scope.produced.get(id(node))
    if hit is None or hit[0] is not node or not isinstance(node, Expression):
        return None
    current = compat.expression_type(api, node)
    for hints, typ in reversed(hit[1]):
        if typ == current:
            return hints
    return None


def _resolve(api: CheckerPluginInterface, scope: Scope, schema: CheckerSchema, expr: Expression,
             model: str, own: str | None, visiting: set[int], computing: bool = False) -> str | None:
    producers: list[str] = []
    deps: list[NameExpr] = []
    followed: set[int] = set()
    # The value is one of the operands (``a if flag else b``, ``[a, b]``, ``a or b``): any
    # of their states can be the one here.
    merging, positional = _is_merge(expr), False
    stack: list[Node] = _children(expr) if computing else [expr]
    while stack:
        node = stack.pop()
        hit = _producer(api, scope, node)
        if hit is not None:
            producers.extend(hit.get(model, ()))
            continue
        if isinstance(node, NameExpr):
            verdict = _name(api, scope, node, model)
            if verdict == "unknown":
                return None
            if verdict == "dep":
                deps.append(node)
            elif isinstance(verdict, Binding) and id(verdict) not in followed \
                    and verdict.source is not None:
                followed.add(id(verdict))
                items = scope.iterated.get(id(verdict.source)) if verdict.iterates else None
                if items is not None and items[0] is verdict.source:
                    producers.extend(items[1][-1][0].get(model, ()))
                else:
                    stack.append(verdict.source)
            continue
        if isinstance(node, LambdaExpr):
            if _carries(api, node, model):
                return None
            continue
        if isinstance(node, MemberExpr) and _carries(api, node, model) \
                and not _carries(api, node.expr, model):
            return None  # ``self.user``: a state that came from elsewhere, unverifiable
        children = _children(node)
        if node is not expr and len(children) > 1 and not _is_merge(node) \
                and sum(_carries(api, c, model) for c in children) > 1:
            positional = True  # side by side (``zip(a, b)``): each source keeps its place
        stack.extend(children)
    if not deps:
        distinct = set(producers)
        if len(distinct) == 1:
            return producers[0] or None
        if merging and not positional:
            return _intersect(schema, producers)
        if own is not None and own in distinct and not merging:
            return own  # side by side: mypy's type says which one is here
        return None
    if producers or len({d.name for d in deps}) > 1:
        return None  # a re-bound variable among other sources: which is which is not known
    candidates: list[str] = []
    for dep in deps:
        reaching = scope.reaching(dep)
        if not reaching:
            return None
        for binding in reaching:
            if binding.source is None or id(binding) in visiting:
                return None  # a parameter, an unmodelled binding, or a loop through itself
            if not _carries(api, binding.source, model) and not _is_merge(binding.source):
                # ``user = await load_posts(user)``: a value mypy did not carry a state
                # into (a declared return type, a cast): unknown, whatever went in.
                return None
            inner = _resolve(api, scope, schema, binding.source, model,
                             _own_hint(api, binding.source, model), visiting | {id(binding)})
            if inner is None:
                return None
            candidates.append(inner)
    return _intersect(schema, candidates) if candidates else None


def _intersect(schema: CheckerSchema, hints: list[str]) -> str | None:
    return intersect_hints(hints, schema)


def _is_merge(node: Node) -> bool:
    """Expressions whose value is one of their operands (not several side by side)."""
    if isinstance(node, (ConditionalExpr, ListExpr, SetExpr)):
        return True
    return isinstance(node, OpExpr) and node.op in ("and", "or")


def _name(api: CheckerPluginInterface, scope: Scope, node: NameExpr, model: str) -> str | Binding | None:
    """How the walk treats a name: follow its one binding, look it up as re-bound ("dep"),
    give up ("unknown"), or ignore it (None: it carries no state of ``model``)."""
    bindings = scope.local(node)
    if bindings is None:
        return "unknown" if _carries(api, node, model) else None
    if node.name in scope.opaque or (node.name in scope.escaped and _mutable(node)):
        return "unknown" if _carries(api, node, model) else None
    if len(bindings) == 1:
        only = bindings[0]
        if only.is_param or only.source is None:
            return "unknown" if _carries(api, node, model) else None
        return only
    return "dep" if _carries(api, node, model) else None


def _mutable(node: NameExpr) -> bool:
    """Whether the name holds a container that could be changed in place."""
    var = node.node
    if not isinstance(var, Var) or var.type is None:
        return True  # not known yet: assume it could be
    typ = get_proper_type(var.type)
    items = [get_proper_type(i) for i in typ.items] if isinstance(typ, UnionType) else [typ]
    return any(isinstance(item, Instance) and any(item.type.has_base(b) for b in _MUTABLE_BASES)
               for item in items)


_MUTABLE_BASES = ("builtins.list", "builtins.dict", "builtins.set", "typing.MutableSequence",
                  "typing.MutableMapping", "typing.MutableSet", "collections.deque")


def _carries(api: CheckerPluginInterface, node: Node, model: str) -> bool:
    if not isinstance(node, Expression):
        return False
    typ = compat.expression_type(api, node)
    if typ is None and isinstance(node, NameExpr) and isinstance(node.node, Var):
        typ = node.node.type
    return typ is not None and any(i.type.fullname == model for i in _hinted(typ))


def _own_hint(api: CheckerPluginInterface, node: Expression, model: str) -> str | None:
    typ = compat.expression_type(api, node)
    if typ is None:
        return None
    hints = {hint_of(i) for i in _hinted(typ) if i.type.fullname == model}
    return hints.pop() if len(hints) == 1 else None


def _children(node: Node) -> list[Node]:
    children: list[Node] = []
    for attr in _attrs_of(node):
        child = getattr(node, attr)
        if isinstance(child, Node):
            children.append(child)
        elif isinstance(child, list):
            for item in child:
                if isinstance(item, Node):
                    children.append(item)
                elif isinstance(item, (list, tuple)):
                    children.extend(i for i in item if isinstance(i, Node))
    if isinstance(node, (ListComprehension, SetComprehension)):
        children.append(node.generator)
    if isinstance(node, CallExpr) and node.analyzed is not None:
        children.append(node.analyzed)
    return children


def _hinted(typ: Type, depth: int = 0) -> list[Instance]:
    """The model instances in ``typ`` that carry a state (a few levels deep)."""
    if depth > 6:
        return []
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        own = [proper] if hint_of(proper) is not None else []
        return own + [i for a in proper.args for i in _hinted(a, depth + 1)]
    if isinstance(proper, TupleType):
        return [i for item in proper.items for i in _hinted(item, depth + 1)]
    if isinstance(proper, UnionType):
        return [i for item in proper.items for i in _hinted(item, depth + 1)]
    return []


def _replace(typ: Type, replacements: dict[int, str | None], str_type: Instance, depth: int) -> Type:
    if depth > 6:
        return typ
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        new = proper
        if proper.args:
            args = [_replace(a, replacements, str_type, depth + 1) for a in proper.args]
            if any(a is not b for a, b in zip(args, proper.args)):
                new = proper.copy_modified(args=args)
                new.extra_attrs = proper.extra_attrs
        if id(proper) in replacements:
            new = with_hint(new, replacements[id(proper)], str_type)
        return new
    if isinstance(proper, TupleType):
        items = [_replace(i, replacements, str_type, depth + 1) for i in proper.items]
        return proper.copy_modified(items=items)
    if isinstance(proper, UnionType):
        return UnionType.make_union([_replace(i, replacements, str_type, depth + 1) for i in proper.items],
                                    proper.line, proper.column)
    return typ


def stable(api: CheckerPluginInterface, expr: Expression) -> bool:
    """Whether ``expr``'s type can be trusted as it is: no variable on the way to its
    producers is re-bound or changed in place, and no global it reads is (loader options
    held in variables, read where a statement applies them)."""
    scope = _scope_for(api)
    if scope is None:
        return False
    followed: set[int] = set()
    stack: list[Node] = [expr]
    while stack:
        node = stack.pop()
        if _producer(api, scope, node) is not None:
            continue
        if isinstance(node, NameExpr):
            bindings = scope.local(node)
            if bindings is None:
                if _carries_any(api, node) and not _global_once(api, node):
                    return False
                continue
            # (Passing an options list to a call, ``session.get(..., options=opts)``, is how
            # it is used: only explicit changes count here.)
            if node.name in scope.opaque:
                return False
            if len(bindings) != 1:
                return False
            only = bindings[0]
            if only.source is not None and id(only) not in followed:
                followed.add(id(only))
                stack.append(only.source)
            continue
        if isinstance(node, LambdaExpr):
            return False
        stack.extend(_children(node))
    return True


def _global_once(api: CheckerPluginInterface, node: NameExpr) -> bool:
    """A module-level variable that cannot have changed: ``Final``, or bound once in the
    module being checked (another module's top level is not visible from here)."""
    var = node.node
    if not isinstance(var, Var):
        return True
    if var.is_final:
        return True
    tree = getattr(api, "tree", None)
    if not isinstance(tree, MypyFile) or node.kind != GDEF \
            or not var.fullname.startswith(tree.fullname + "."):
        return False
    module = _SCOPES.get(id(tree))
    if module is None or module.node is not tree or module.version is not tree.defs:
        module = Scope(tree, version=tree.defs)
        _collect(module)
        _SCOPES[id(tree)] = module
    return len(module.bindings.get(node.name, ())) == 1 and node.name not in module.opaque


def _carries_any(api: CheckerPluginInterface, node: NameExpr) -> bool:
    """Whether a name's type holds anything the plugin put there (a state, an option)."""
    if not isinstance(node.node, Var):
        return False
    typ = compat.expression_type(api, node) or node.node.type
    return typ is not None and _has_extra(typ, 0)


def _has_extra(typ: Type, depth: int) -> bool:
    if depth > 6:
        return False
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        own = bool(proper.extra_attrs and any(k.startswith("<eagerload:") for k in proper.extra_attrs.attrs))
        return own or any(_has_extra(a, depth + 1) for a in proper.args)
    if isinstance(proper, (TupleType, UnionType)):
        return any(_has_extra(i, depth + 1) for i in proper.items)
    return False
