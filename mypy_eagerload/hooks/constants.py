"""Constant mapping arguments: ``relationship(lazy=LAZY)`` with ``LAZY: Final = "raise"``,
``back_populates=PREFIX + "s"``, ``uselist=SINGLE``.

A declaration's argument is read like a literal when its value is certain and reads the same
in every mode (cold, warm cache, daemon):

* literals, ``True``/``False``/``None``, and ``+`` of strings;
* names whose value mypy keeps in its symbol table, which it serializes, so a name imported
  from a module that comes from the cache reads the same: ``Final`` names with a literal
  value (``Var.final_value``) and names typed with one ``Literal[...]`` value;
* plain names assigned exactly once at the top of the class's own module. Only there: that
  module's statements are in hand whenever its classes are analysed, another module's may be
  a cache entry without statements, which would make a warm run read less than a cold one.

Anything else is ``UNKNOWN`` (the relationship's strategy is then "not tracked", as before).
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import (
    AssignmentStmt,
    ClassDef,
    Context,
    Decorator,
    Expression,
    ForStmt,
    FuncDef,
    GlobalDecl,
    IntExpr,
    ListExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    OperatorAssignmentStmt,
    OpExpr,
    OverloadedFuncDef,
    StarExpr,
    StrExpr,
    SymbolTableNode,
    TupleExpr,
    Var,
)
from mypy.plugin import SemanticAnalyzerPluginInterface
from mypy.types import Instance, LiteralType, NoneType, get_proper_type

from mypy_eagerload.hooks.syntax import walk

UNKNOWN = object()
_MAX_DEPTH = 8  # names defined through names: a cycle cannot be written, a long chain is odd
_KEYWORDS = {"True": True, "False": False, "None": None}

Folder = Callable[[Expression], object]


def literal(expr: Expression) -> object:
    """Literals only: what a declaration's reader can fold with no symbol table at hand."""
    return _fold(expr, lambda _expr, _depth: UNKNOWN, 0)


def folder(api: SemanticAnalyzerPluginInterface, context: Context) -> Folder:
    """A folder for declarations in the module ``api`` is analysing."""

    def name_value(expr: NameExpr | MemberExpr, depth: int) -> object:
        node = expr.node if expr.node is not None else _lookup(api, expr, context)
        return _var_value(api, node, depth) if isinstance(node, Var) else UNKNOWN

    return lambda expr: _fold(expr, name_value, 0)


def _fold(expr: Expression, name_value: Callable[[NameExpr | MemberExpr, int], object],
          depth: int) -> object:
    if isinstance(expr, (StrExpr, IntExpr)):
        return expr.value
    if isinstance(expr, NameExpr) and expr.name in _KEYWORDS:
        return _KEYWORDS[expr.name]
    if depth >= _MAX_DEPTH:
        return UNKNOWN
    if isinstance(expr, OpExpr) and expr.op == "+":
        left = _fold(expr.left, name_value, depth + 1)
        right = _fold(expr.right, name_value, depth + 1)
        return left + right if isinstance(left, str) and isinstance(right, str) else UNKNOWN
    if isinstance(expr, (NameExpr, MemberExpr)):
        return name_value(expr, depth + 1)
    return UNKNOWN


def _lookup(api: SemanticAnalyzerPluginInterface, expr: NameExpr | MemberExpr,
            context: Context) -> object:
    """A name not bound yet: a mixin's body is read before mypy analyses it."""
    dotted = _dotted(expr)
    if dotted is None:
        return None
    sym: SymbolTableNode | None = api.lookup_qualified(dotted, context, suppress_errors=True)
    return sym.node if sym is not None else None


def _dotted(expr: Expression) -> str | None:
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr):
        head = _dotted(expr.expr)
        return f"{head}.{expr.name}" if head is not None else None
    return None


def _module_bindings(tree: MypyFile, name: str) -> tuple[list[AssignmentStmt], bool]:
    """Where a module binds ``name`` at its top level (blocks of ``if``/``try``/``with``
    included): its plain assignments, and whether anything else may rebind it (``+=``, a
    loop, a tuple target, ``global`` in a function or method). Function and class bodies
    bind their own names otherwise."""
    assignments: list[AssignmentStmt] = []
    other = False
    stack: list[object] = list(tree.defs)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, (FuncDef, Decorator, OverloadedFuncDef, ClassDef)):
            other = other or any(isinstance(n, GlobalDecl) and name in n.names for n in walk([node]))
        elif isinstance(node, AssignmentStmt):
            if any(isinstance(lv, NameExpr) and lv.name == name for lv in node.lvalues):
                assignments.append(node)
            else:
                other = other or name in _names_in(node.lvalues)
        elif isinstance(node, OperatorAssignmentStmt):
            other = other or name in _names_in([node.lvalue])
        else:
            if isinstance(node, ForStmt):
                other = other or name in _names_in([node.index])
            for attr in _BLOCK_ATTRS:
                child = getattr(node, attr, None)
                if child is not None:
                    stack.append(child)
    return assignments, other


_BLOCK_ATTRS = ("body", "else_body", "handlers", "finally_body")


def _names_in(targets: list[Expression]) -> set[str]:
    found: set[str] = set()
    for target in targets:
        if isinstance(target, NameExpr):
            found.add(target.name)
        elif isinstance(target, (TupleExpr, ListExpr)):
            found |= _names_in(target.items)
        elif isinstance(target, StarExpr):
            found |= _names_in([target.expr])
    return found


def _var_value(api: SemanticAnalyzerPluginInterface, var: Var, depth: int) -> object:
    if var.final_value is not None:
        return var.final_value
    typ = get_proper_type(var.type)
    if isinstance(typ, LiteralType):
        return typ.value
    if var.is_final and isinstance(typ, Instance) and typ.last_known_value is not None:
        return typ.last_known_value.value
    if var.is_final and isinstance(typ, NoneType):
        return None
    module = var.fullname.rpartition(".")[0]
    if var.is_final or module != api.cur_mod_id or module not in api.modules:
        return UNKNOWN
    assigned, other = _module_bindings(api.modules[module], var.name)
    if other or len(assigned) != 1 or len(assigned[0].lvalues) != 1:
        return UNKNOWN

    def same_module(expr: NameExpr | MemberExpr, inner: int) -> object:
        node = expr.node
        return _var_value(api, node, inner) if isinstance(node, Var) else UNKNOWN

    return _fold(assigned[0].rvalue, same_module, depth)
