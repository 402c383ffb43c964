"""Where a reported object's query is, for a fix note that is a patch (``core.patches``).

The load state says which entity the query selected (the root of the path), not where the
query is: carrying a line in every state would make the states of equal queries differ
(their memos, their intersections) and every edit above a query change the summaries other
modules read. So at a report, the function being checked is searched for the queries of
that entity: ``select(<Entity>)`` and ``<session>.get(<Entity>, ...)``. Exactly one found is
the query a patch names; none or several, and the note stays advice ("the query that
produced this User"), never a guess at which one.
"""

from __future__ import annotations

from mypy.nodes import CallExpr, ListExpr, MemberExpr, NameExpr, RefExpr, TupleExpr, TypeInfo
from mypy.plugin import CheckerPluginInterface
from mypy.types import Instance, Type, UnionType, get_proper_type

from mypy_eagerload.core import messages
from mypy_eagerload.core.patches import CALL, GET, QUERY, SELECT, Site
from mypy_eagerload.core.requirements import Missing
from mypy_eagerload.hooks.compat import enclosing_functions, expression_type
from mypy_eagerload.hooks.schema import default_info
from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.hooks.types import type_to_ref
from mypy_eagerload.names import SELECT as SELECT_FUNCTION
from mypy_eagerload.names import SESSION_GET


def query_site(api: CheckerPluginInterface, entity: str) -> Site | None:
    """The one query of ``entity`` (a model's fullname) in the function being checked."""
    functions = enclosing_functions(api)
    if not functions:
        return None
    found = [site for site in _sites(api, functions[0], entity) if site[0] == entity]
    return found[0][1] if len(found) == 1 else None


def _sites(api: CheckerPluginInterface, func: object, entity: str) -> list[tuple[str, Site]]:
    sites: list[tuple[str, Site]] = []
    body = getattr(getattr(func, "body", None), "body", None) or []
    for node in walk(body):
        if not isinstance(node, CallExpr) or not node.args:
            continue
        first = node.args[0]
        callee = node.callee
        if isinstance(callee, RefExpr) and callee.fullname == SELECT_FUNCTION:
            entities = [a.node for a in node.args if isinstance(a, RefExpr) and isinstance(a.node, TypeInfo)]
            many = len(node.args) > 1
            sites.extend((e.fullname, Site(SELECT, e.name, node.line, many)) for e in entities)
            continue
        if isinstance(first, RefExpr) and isinstance(first.node, TypeInfo):
            if isinstance(callee, MemberExpr) and callee.name == "query":  # Session.query(User)
                many = len(node.args) > 1
                sites.append((first.node.fullname, Site(QUERY, first.node.name, node.line, many)))
                continue
            if isinstance(callee, MemberExpr) and callee.name in SESSION_GET \
                    and "options" not in node.arg_names:
                sites.append((first.node.fullname, Site(GET, first.node.name, node.line)))
                continue
        options = next((a for a, n in zip(node.args, node.arg_names) if n == "options"), None)
        if isinstance(options, (ListExpr, TupleExpr)) and isinstance(callee, (NameExpr, MemberExpr)):
            # A repository's get_by_id(..., options=[...]), session.get(User, 1, options=[...]):
            # it is a query of ``entity`` when what it returns holds one. (Options given as
            # a name or a call are built elsewhere: the note stays advice.)
            returned = expression_type(api, node)
            if returned is not None and _yields(returned, entity):
                sites.append((entity, Site(CALL, callee.name, node.line)))
    return sites


_WRAPPERS = frozenset({"typing.Coroutine", "typing.Awaitable", "builtins.list", "typing.Sequence",
                       "collections.abc.Sequence", "builtins.tuple"})


def _yields(typ: Type, entity: str, depth: int = 0) -> bool:
    """Whether a call's type holds an ``entity`` object (awaited, optional, in a list)."""
    proper = get_proper_type(typ)
    if depth > 3:
        return False
    if isinstance(proper, UnionType):
        return any(_yields(item, entity, depth + 1) for item in proper.items)
    if not isinstance(proper, Instance):
        return False
    if proper.type.fullname == entity:
        return True
    if proper.type.fullname in _WRAPPERS and proper.args:
        return _yields(proper.args[-1], entity, depth + 1)
    return False


Route = tuple[list[tuple[str, str]], list[str]]


def route_of(receiver: Instance) -> Route | None:
    """The hops from the query's root to ``receiver`` with the strategy each was loaded by
    ("" for a default), as its state records them: a loop variable, an alias or a
    comprehension's item keeps them, where the syntax has lost the path. None for a state
    that does not record it (merged from two ``.options()`` calls, an annotation)."""
    ref = type_to_ref(receiver) if default_info(receiver) is not None else None
    if ref is None or len(ref.route) != len(ref.full) - 1:
        return None
    return ([(ref.full[i], name) for i, (name, _) in enumerate(ref.route)],
            [strategy for _, strategy in ref.route])


def requirement_fix(api: CheckerPluginInterface, obj: Instance, miss: Missing) -> str:
    """The fix note for a path a requirement (a ``Loaded[...]`` parameter, a member, a
    serializer) finds unloaded on ``obj``: from the query's root when ``obj``'s state records
    how it was reached, else from ``obj``."""
    route = route_of(obj)
    hops, strategies = list(miss.hops), list(miss.strategies)
    if route is not None:
        hops, strategies = route[0] + hops, route[1] + strategies
    site = query_site(api, hops[0][0]) if hops else None
    return messages.requirement_fix(Missing(tuple(hops), miss.reason, miss.target, miss.uselist,
                                            tuple(strategies)), site)
