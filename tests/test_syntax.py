"""The body walk behind member requirements, ``annotate`` and the summaries: every shape a
read can sit in is walked, and a local alias is followed only when every binding agrees.

Each case is a function of a parameter ``p``; the test lists the attribute chains read from
``p`` (through aliases) and checks the one the shape holds is among them. Issue 20 found dict
displays, comprehension conditions, slices and ``match`` case bodies unread, and a re-bound
alias's later reads credited to the parameter.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import textwrap
from pathlib import Path

import pytest
from mypy.errors import Errors
from mypy.nodes import FuncDef, MemberExpr
from mypy.options import Options
from mypy.parse import parse

from mypy_eagerload.hooks import syntax
from mypy_eagerload.hooks.syntax import alias_env, attribute_chain, walk_nodes


def _function(body: str) -> FuncDef:
    source = "def f(p, other):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    options = Options()
    eager = {"eager": True} if "eager" in inspect.signature(parse).parameters else {}
    tree = parse(source, "m.py", "m", Errors(options), options, **eager)
    func = tree.defs[0]
    assert isinstance(func, FuncDef)
    return func


def _reads(body: str) -> set[str]:
    """Dotted chains read from ``p`` (``p.customer.orders``), through aliases."""
    nodes = list(walk_nodes(_function(body)))
    env = alias_env(nodes, ["p"])
    found = set()
    for node in nodes:
        if isinstance(node, MemberExpr):
            chain = attribute_chain(node, env)
            if chain is not None and chain[0] == "p":
                found.add(".".join(("p", *chain[1])))
    return found


SHAPES = {
    "dict display value": ('d = {"e": p.editor.id}', "p.editor.id"),
    "dict display key": ("d = {p.owner.name: 1}", "p.owner.name"),
    "dict display spread": ("d = {**p.extra.data}", "p.extra.data"),
    "match subject": ("match p.status.code:\n    case _:\n        pass", "p.status.code"),
    "match case body": ("match x:\n    case 1:\n        y = p.items.count\n    case _:\n        pass",
                        "p.items.count"),
    "match guard": ("match x:\n    case 1 if p.flag.on:\n        pass", "p.flag.on"),
    "match value pattern": ("match x:\n    case p.kind.value:\n        pass", "p.kind.value"),
    "slice bounds": ("y = items[p.range.start:p.range.stop:p.range.step]", "p.range.stop"),
    "generator condition in a call": ("r = next((r for r in other if r.id == p.owner.id), None)",
                                      "p.owner.id"),
    "generator over an alias, its condition": (
        "r = next((line for line in p.lines if line.product.active), None)", "p.lines.product.active"),
    "list comprehension condition": ("ids = [x for x in other if x == p.author.id]", "p.author.id"),
    "dict comprehension": ("d = {c.id: c.price for c in p.items if c.product.ok}", "p.items.product.ok"),
    "set comprehension": ("s = {t.name for t in p.tags}", "p.tags.name"),
    "raise from": ("raise ValueError() from p.error.cause", "p.error.cause"),
    "assert message": ("assert x, p.owner.name", "p.owner.name"),
    "augmented assignment target": ("p.stats.count += 1", "p.stats.count"),
    "augmented assignment value": ("total += p.order.total", "p.order.total"),
    "walrus": ("if (c := p.customer) is not None:\n    c.orders", "p.customer.orders"),
    "nested decorated function": ("@cache\ndef inner():\n    return p.settings.theme", "p.settings.theme"),
    "lambda": ("key = lambda: p.sort.key", "p.sort.key"),
    "f-string": ('s = f"{p.author.name}"', "p.author.name"),
    "except handler": ("try:\n    pass\nexcept Exception:\n    p.log.append(1)", "p.log.append"),
    "except types": ("try:\n    pass\nexcept p.errors.Kind:\n    pass", "p.errors.Kind"),
    "with body": ("with lock:\n    p.items.clear()", "p.items.clear"),
    "while condition": ("while p.queue.size:\n    pass", "p.queue.size"),
    "conditional expression": ("y = p.a.b if x else p.c.d", "p.c.d"),
    "star argument": ("f(*p.args.items)", "p.args.items"),
    "await": ("await p.loader.load()", "p.loader.load"),
    "del": ("del p.cache.entry", "p.cache.entry"),
    "return tuple": ("return p.left.x, p.right.y", "p.right.y"),
    "yield": ("yield p.rows.first", "p.rows.first"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_is_walked(shape: str) -> None:
    body, read = SHAPES[shape]
    assert read in _reads(body), _reads(body)


def test_the_walk_covers_every_node_attribute_of_mypy() -> None:
    """Guard against a misspelled or missing attribute name: each attribute that mypy's own
    source (``mypy/nodes.py``, ``mypy/patterns.py``: compiled mypy keeps no annotations at
    runtime) declares on a statement, expression or pattern class with a node type is walked."""
    # Attributes that hold no statement or expression to read (names, types, scopes).
    ignored = {"node", "info", "var", "arguments", "analyzed", "original_decorators", "class_ref",
               "rest", "capture", "vars", "base_type_exprs", "removed_base_type_exprs", "metaclass",
               "keywords", "alias_node", "name", "type_args", "unanalyzed_type", "decorators_ext",
               "upper_bound", "default", "values_exprs", "call", "alias_tvars", "removed_statements"}
    holders = ("Expression", "Lvalue", "Block", "Statement", "Pattern", "FuncDef")
    missing, checked = [], 0
    for module in ("mypy.nodes", "mypy.patterns"):
        origin = importlib.util.find_spec(module).origin  # type: ignore[union-attr]
        source = Path(str(origin)).with_name(module.split(".")[1] + ".py").read_text()
        for cls in ast.parse(source).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for stmt in cls.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    text = ast.unparse(stmt.annotation)
                    if any(h in text for h in holders) and "Type" not in text.replace("TypeInfo", ""):
                        checked += 1
                        attr = stmt.target.id
                        if attr not in syntax._CHILD_ATTRS and attr not in ignored:
                            missing.append(f"{cls.name}.{attr}: {text}")
    assert checked > 60
    assert missing == []


def test_a_rebound_alias_is_no_alias() -> None:
    reads = _reads("""
        customer = p.customer
        customer.orders
        customer = make_customer()
        customer.invoices
    """)
    assert "p.customer" in reads
    assert not any(r.startswith("p.customer.") for r in reads), reads


def test_a_loop_variable_over_two_roots_is_no_alias() -> None:
    reads = _reads("""
        for item in p.items:
            item.product
        for item in other.items:
            item.price
    """)
    assert "p.items" in reads and not any(r.startswith("p.items.") for r in reads), reads


def test_an_alias_bound_twice_to_the_same_chain_stays() -> None:
    reads = _reads("""
        c = p.customer
        if x:
            c = p.customer
        c.orders
    """)
    assert "p.customer.orders" in reads


def test_tuple_with_and_except_targets_unbind_an_alias() -> None:
    for rebind in ("c, n = pair", "with open(x) as c:\n    pass", "c += 1", "for c, n in pairs:\n    pass",
                   "try:\n    pass\nexcept Exception as c:\n    pass"):
        reads = _reads(f"c = p.customer\n{rebind}\nc.orders")
        assert "p.customer.orders" not in reads, rebind
