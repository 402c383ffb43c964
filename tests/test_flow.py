"""The reaching-definitions analysis behind ``hooks.flow`` (which bindings of a re-bound
variable can reach a read), on parsed functions, without running mypy's checker."""

from __future__ import annotations

import inspect
import textwrap

import pytest
from mypy.errors import Errors
from mypy.nodes import CallExpr, FuncDef, NameExpr
from mypy.options import Options
from mypy.parse import parse

from mypy_eagerload.hooks import flow


def _function(source: str) -> FuncDef:
    options = Options()
    # mypy 2.x parses function bodies lazily unless asked; 1.x has no such argument.
    eager = {"eager": True} if "eager" in inspect.signature(parse).parameters else {}
    tree = parse(textwrap.dedent(source).lstrip("\n"), "m.py", "m", Errors(options), options, **eager)
    func = tree.defs[0]
    assert isinstance(func, FuncDef)
    return func


def _reaching(source: str) -> list[set[int] | None]:
    """For each ``use(x)`` in order, the lines of the bindings of ``x`` that reach it (0 for
    the parameter); None where the analysis gives up."""
    func = _function(source)
    scope = flow.Scope(func)
    flow._collect(scope)
    uses = [node.args[0] for node in flow._walk_all(func)
            if isinstance(node, CallExpr) and isinstance(node.callee, NameExpr)
            and node.callee.name == "use" and node.args and isinstance(node.args[0], NameExpr)]
    uses.sort(key=lambda n: (n.line, n.column))
    found: list[set[int] | None] = []
    for use in uses:
        bindings = scope.reaching(use)
        found.append(None if bindings is None else
                     {0 if b.is_param else (b.source.line if b.source is not None else -1) for b in bindings})
    return found


CASES = [
    ("straight line", """
        def f():
            x = a()
            x = b()
            use(x)
        """, [{3}]),
    ("if without else", """
        def f(c):
            x = a()
            if c:
                x = b()
            use(x)
        """, [{2, 4}]),
    ("if and else", """
        def f(c):
            x = a()
            if c:
                x = b()
            else:
                x = d()
            use(x)
        """, [{4, 6}]),
    ("a branch that returns", """
        def f(c):
            x = a()
            if c:
                x = b()
                return
            use(x)
        """, [{2}]),
    ("a loop re-binds", """
        def f(items):
            x = a()
            for i in items:
                use(x)
                x = b()
            use(x)
        """, [{2, 5}, {2, 5}]),
    ("break leaves early", """
        def f(c):
            x = a()
            while c:
                x = b()
                if c:
                    break
                x = d()
            use(x)
        """, [{2, 4, 7}]),
    ("a handler may start anywhere in the try body", """
        def f():
            x = a()
            try:
                x = b()
                x = d()
            except E:
                use(x)
            use(x)
        """, [{2, 4, 5}, {2, 4, 5}]),
    ("a parameter re-bound", """
        def f(x, c):
            if c:
                x = b()
            use(x)
        """, [{0, 3}]),
    ("a closure sees what reaches its definition, and what comes after", """
        def f():
            x = a()
            x = b()
            def g():
                use(x)
            x = d()
        """, [{3, 6}]),
]


@pytest.mark.parametrize(("label", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reaching_bindings(label: str, source: str, expected: list[set[int] | None]) -> None:
    assert _reaching(source) == expected


def test_names_a_walk_cannot_follow_are_opaque() -> None:
    func = _function("""
        def f(items):
            users = a()
            users.append(b())
            total = 0
            total += 1
            match items:
                case [first]:
                    pass
            def g():
                nonlocal seen
            seen = 1
        """)
    scope = flow.Scope(func)
    flow._collect(scope)
    assert {"users", "total", "first", "seen"} <= scope.opaque
    assert "items" not in scope.opaque
