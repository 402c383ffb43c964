"""The relationship paths a function reads from its parameters.

Two users: ``annotate`` (which adds what the callees need, to a fixpoint) and strict mode's
fix note for a plain ``order: Order`` parameter, which names every path the function reads
from it in one ``Loaded[Order, ...]`` (reported one read at a time, the notes would each
name one path, and applying the first would leave the next run asking for the second).

A read is an attribute chain from the parameter, through indexing, loop and comprehension
variables and local aliases (``syntax.alias_env``), whose leading names are relationships
of the parameter's model; a model member at its end (``order.total`` reading
``items.price``) adds the paths the member reads.
"""

from __future__ import annotations

from mypy.nodes import FuncItem, MemberExpr, Node

from mypy_eagerload.annotate.infer import Read, maximal
from mypy_eagerload.core.schema import relationship_prefix
from mypy_eagerload.hooks.members import requirement
from mypy_eagerload.hooks.schema import CheckerSchema
from mypy_eagerload.hooks.syntax import Chain, alias_env, attribute_chain, awaited_attrs, walk_nodes, written


class Reader:
    """The reads of a function's body, for parameters of known models (``params``: the
    parameter's name to its model's fullname)."""

    def __init__(self, schema: CheckerSchema, nodes: list[Node], params: dict[str, str]) -> None:
        self.schema = schema
        self.params = params
        self.env: dict[str, Chain] = alias_env(nodes, list(params))
        self._skip = written(nodes)  # a write is not a read
        self._awaited = awaited_attrs(nodes)  # loaded by the await, not by a query

    def read(self, node: MemberExpr) -> list[Read]:
        found = attribute_chain(node, self.env)
        if found is None or not found[1] or found[0] not in self.params or id(node) in self._skip:
            return []
        root, names = found
        if names[0] in self._awaited or names[0] == "awaitable_attrs":
            return []
        model = self.schema.model(self.params[root])
        if model is None:
            return []
        path, reached, rest = relationship_prefix(self.schema, model, names)
        text = ".".join((root, *names))
        reads = [Read(root, path, node.line, text)] if path else []
        if reached is not None and rest:
            after = rest[0]  # a model member, when it reads relationships (else no requirement)
            for sub, route in requirement(self.schema, reached, after):
                via = f" (through {route})" if route else ""
                reads.append(Read(root, path + sub, node.line,
                                  f"{text}: {reached.name}.{after} reads {'.'.join(sub)}{via}"))
        return reads


def read_paths(schema: CheckerSchema, func: FuncItem, param: str, model: str) -> tuple[str, ...]:
    """The maximal relationship paths ``func`` reads from ``param`` (of the model ``model``),
    dotted and sorted: a path implies its prefixes."""
    nodes = list(walk_nodes(func))
    reader = Reader(schema, nodes, {param: model})
    reads = {r.path for node in nodes if isinstance(node, MemberExpr) for r in reader.read(node)}
    return tuple(maximal(reads))
