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

from collections.abc import Iterable
from dataclasses import replace

from mypy.nodes import (
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    ListExpr,
    MemberExpr,
    NameExpr,
    RefExpr,
    TupleExpr,
    TypeInfo,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import CallableType, Instance, Type, UnionType, get_proper_type

from mypy_eagerload.core import messages
from mypy_eagerload.core.patches import CALL, GET, QUERY, SELECT, Site
from mypy_eagerload.core.requirements import Missing
from mypy_eagerload.hooks.compat import depend_on_names, enclosing_functions, expression_type
from mypy_eagerload.hooks.schema import CheckerSchema, default_info
from mypy_eagerload.hooks.syntax import walk
from mypy_eagerload.hooks.types import type_to_ref
from mypy_eagerload.names import DEPENDS, SESSION_GET
from mypy_eagerload.names import SELECT as SELECT_FUNCTION


def query_site(api: CheckerPluginInterface, schema: CheckerSchema, entity: str,
               classes: Iterable[str] = (), variable: str = "") -> Site | None:
    """The one query of ``entity`` (a model's fullname) in the function being checked, or
    the one place its options come from through a summarised call there; with the
    imports the option's ``classes`` (fullnames) need there. ``variable``: the name the read
    starts from, when the syntax shows one."""
    functions = enclosing_functions(api)
    if not functions:
        return None
    site = _assigned_site(api, schema, functions[0], variable) if variable else None
    if site is None:
        found = [site for site in _sites(api, schema, functions[0], entity) if site[0] == entity]
        site = found[0][1] if len(found) == 1 else None
    return None if site is None else _with_imports(api, schema, site, [entity, *classes])


def _assigned_site(api: CheckerPluginInterface, schema: CheckerSchema, func: object, variable: str
                   ) -> Site | None:
    """The site of the summarised call the read's variable was bound to, when it is bound
    once in the function (``user = await repo.get(1)``): that call, and no other query of
    the entity, produced the object."""
    from mypy_eagerload.hooks import layer_sites, layers

    body = getattr(getattr(func, "body", None), "body", None) or []
    bound = [node.rvalue for node in walk(body) if isinstance(node, AssignmentStmt)
             and any(isinstance(t, NameExpr) and t.name == variable for t in node.lvalues)]
    if len(bound) != 1:
        return None
    value = bound[0].expr if isinstance(bound[0], AwaitExpr) else bound[0]
    if not isinstance(value, CallExpr):
        return None
    locator = layer_sites.locator(api, schema)
    found = locator.at_call(api, value)
    layers.depend_on_evaluation(api, locator.evaluator)
    return found if isinstance(found, Site) else None


def _with_imports(api: CheckerPluginInterface, schema: CheckerSchema, site: Site, classes: list[str]) -> Site:
    """``site`` with the classes its module does not bind (a service module that imports
    ``Order`` but not ``Item``, a handler that imports no model at all). Nested and local
    classes are left out (no import reaches them): a patch naming one is skipped by ``fix``."""
    modules = getattr(api, "modules", None) or {}
    tree = modules.get(site.module) if site.module else getattr(api, "tree", None)
    if tree is None:
        return site
    needed: list[tuple[str, str]] = []
    for fullname in dict.fromkeys(classes):
        info = schema.info(fullname)
        if info is None or info.fullname != f"{info.module_name}.{info.name}":
            continue
        if info.name not in tree.names and (info.name, info.module_name) not in needed:
            needed.append((info.name, info.module_name))
    # The note changes when the module comes to bind them (dmypy re-checks on these).
    depend_on_names(api, [f"{tree.fullname}.{name}" for name, _ in needed])
    return replace(site, imports=tuple(needed))


def _sites(api: CheckerPluginInterface, schema: CheckerSchema, func: object, entity: str
           ) -> list[tuple[str, Site | None]]:
    # Imported here: layers imports contracts, which imports this module.
    from mypy_eagerload.hooks import layer_sites, layers

    sites: list[tuple[str, Site | None]] = []
    locator = layer_sites.locator(api, schema)
    # A route's or a dependency's parameter FastAPI fills (``order: Order = Depends(f)``).
    for argument in getattr(func, "arguments", None) or []:
        default = argument.initializer
        if isinstance(default, CallExpr) and isinstance(default.callee, RefExpr) \
                and default.callee.fullname in DEPENDS and len(default.args) == 1 \
                and isinstance(default.args[0], RefExpr) and argument.variable.type is not None \
                and _yields(argument.variable.type, entity):
            _add(sites, entity, locator.at_dependency(default.args[0].fullname))
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
        returned = _returned(api, node)
        if returned is None or not _yields(returned, entity):
            continue
        # A call of a summarised function (a service, a repository, a helper of another
        # module): where its result takes its options (``hooks.layer_sites``).
        found = locator.at_call(api, node)
        if found is not None:
            _add(sites, entity, found)
            continue
        options = next((a for a, n in zip(node.args, node.arg_names) if n == "options"), None)
        if isinstance(options, (ListExpr, TupleExpr)) and isinstance(callee, (NameExpr, MemberExpr)):
            # session.get(User, 1, options=[...]), a call not summarised given an options
            # display: it is a query of ``entity`` when what it returns holds one.
            sites.append((entity, Site(CALL, callee.name, node.line)))
    layers.depend_on_evaluation(api, locator.evaluator)
    return sites


def _add(sites: list[tuple[str, Site | None]], entity: str, found: Site | str | None) -> None:
    """Record what ``hooks.layer_sites`` found: a site; for an unknown place, a None that
    keeps any other query of the entity from being named (it may not be the one)."""
    from mypy_eagerload.hooks import layer_sites

    if isinstance(found, Site):
        sites.append((entity, found))
    elif found is not None and found != layer_sites.SKIP:
        sites.append((entity, None))


def _returned(api: CheckerPluginInterface, call: CallExpr) -> Type | None:
    """What ``call`` returns: its type, or, for the call whose hook is running (a route's
    ``return await service.get(...)`` is checked from there, before its type is stored),
    what its callee's type says it returns."""
    found = expression_type(api, call)
    if found is not None:
        return found
    callee = expression_type(api, call.callee)
    proper = get_proper_type(callee) if callee is not None else None
    return proper.ret_type if isinstance(proper, CallableType) else None


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


def requirement_fix(api: CheckerPluginInterface, schema: CheckerSchema, obj: Instance, miss: Missing) -> str:
    """The fix note for a path a requirement (a ``Loaded[...]`` parameter, a member, a
    serializer) finds unloaded on ``obj``: from the query's root when ``obj``'s state records
    how it was reached, else from ``obj``."""
    route = route_of(obj)
    hops, strategies = list(miss.hops), list(miss.strategies)
    if route is not None:
        hops, strategies = route[0] + hops, route[1] + strategies
    site = query_site(api, schema, hops[0][0], [model for model, _ in hops]) if hops else None
    return messages.requirement_fix(Missing(tuple(hops), miss.reason, miss.target, miss.uselist,
                                            tuple(strategies)), site)
