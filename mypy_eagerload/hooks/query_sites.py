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

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from mypy.nodes import (
    LDEF,
    AssignmentExpr,
    AssignmentStmt,
    AwaitExpr,
    CallExpr,
    ConditionalExpr,
    Context,
    Expression,
    ForStmt,
    FuncDef,
    FuncItem,
    IndexExpr,
    ListExpr,
    MemberExpr,
    NameExpr,
    OperatorAssignmentStmt,
    RefExpr,
    TupleExpr,
    TypeInfo,
    WithStmt,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import CallableType, Instance, Type, UnboundType, UnionType, get_proper_type

from mypy_eagerload.core import messages
from mypy_eagerload.core.patches import ANNOTATION, CALL, GET, PARAMETER, QUERY, RETURN, SELECT, Site
from mypy_eagerload.core.requirements import STRICT_PREFIX, UNDECLARED_PREFIX, Missing
from mypy_eagerload.hooks.compat import depend_on_names, enclosing_functions, expression_type
from mypy_eagerload.hooks.schema import CheckerSchema, default_info
from mypy_eagerload.hooks.syntax import alias_env, binds, walk
from mypy_eagerload.hooks.types import type_to_ref
from mypy_eagerload.names import DEPENDS, FETCH_METHODS, QUERY_FETCH, SESSION_GET, STATEMENT_REFINERS
from mypy_eagerload.names import SELECT as SELECT_FUNCTION

if TYPE_CHECKING:  # layer_sites imports layers, which imports this module
    from mypy_eagerload.hooks.layer_sites import Locator


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
    if site is None and variable:
        site = _flowing_site(api, schema, functions[0], variable, entity)
    if site is None:
        found = [site for site in _sites(api, schema, functions[0], entity) if site[0] == entity]
        site = found[0][1] if len(found) == 1 else None
    if site is None:
        return None
    classes = [entity, *classes]
    placed = [_with_imports(api, schema, one, classes) for one in (site, *site.also)]
    if None in placed:
        return None  # a class the option names is another thing there: no patch can name it
    first, *others = [one for one in placed if one is not None]
    return replace(first, also=tuple(others))


def _assigned_site(api: CheckerPluginInterface, schema: CheckerSchema, func: object, variable: str
                   ) -> Site | None:
    """The site of the summarised call the read's variable was bound to, when it is bound
    once in the function (``user = await repo.get(1)``): that call, and no other query of
    the entity, produced the object."""
    from mypy_eagerload.hooks import layer_sites, layers

    bound = _assignments(func, variable)
    if len(bound) != 1:
        return None
    value = bound[0].expr if isinstance(bound[0], AwaitExpr) else bound[0]
    if not isinstance(value, CallExpr):
        return None
    locator = layer_sites.locator(api, schema)
    found = locator.at_call(api, value)
    layers.depend_on_evaluation(api, locator.evaluator)
    return found if isinstance(found, Site) else None


def _assignments(func: object, variable: str) -> list[Expression]:
    """What ``variable = ...`` statements in ``func`` assign to it."""
    body = getattr(getattr(func, "body", None), "body", None) or []
    return [node.rvalue for node in walk(body) if isinstance(node, AssignmentStmt)
            and any(isinstance(t, NameExpr) and t.name == variable for t in node.lvalues)]


def select_sites(call: CallExpr) -> list[tuple[str, Site]]:
    """``select(User, Post)``: (fullname, site) for each entity it names."""
    entities = [a.node for a in call.args if isinstance(a, RefExpr) and isinstance(a.node, TypeInfo)]
    return [(e.fullname, Site(SELECT, e.name, call.line, len(call.args) > 1)) for e in entities]


def root_name(expr: Expression) -> str:
    """The variable a read starts from (``user`` in ``user.posts[0].tags``, and in
    ``UserOut.model_validate(user)``), or ""."""
    if isinstance(expr, CallExpr) and len(expr.args) == 1:
        expr = expr.args[0]  # a validation or a call of the object: what it is given
    while isinstance(expr, (MemberExpr, IndexExpr)):
        expr = expr.expr if isinstance(expr, MemberExpr) else expr.base
    return expr.name if isinstance(expr, NameExpr) else ""


def returned_annotation(func: FuncDef) -> Site | None:
    """``func``'s return type as written (a route's): ``Loaded[Model, ...]``, which a response
    model's read of an undeclared path widens, or a plain ``Model``, which strict mode's patch
    annotates with what the response model reads (the caller fills in ``needs``)."""
    unanalyzed = func.unanalyzed_type
    declared = unanalyzed.ret_type if isinstance(unanalyzed, CallableType) else None
    model = _loaded_model(declared)
    if model:
        return Site(ANNOTATION, model, func.line, arg=RETURN, function=func.name)
    if isinstance(declared, UnboundType) and not declared.args:
        return Site(PARAMETER, declared.name.rpartition(".")[2], func.line, arg=RETURN, function=func.name)
    return None


def _loaded_model(declared: object) -> str:
    """``Model`` of an unanalyzed ``Loaded[Model, ...]``, else ""."""
    if not isinstance(declared, UnboundType) or declared.name.rpartition(".")[2] != "Loaded" \
            or not declared.args or not isinstance(declared.args[0], UnboundType):
        return ""
    return declared.args[0].name.rpartition(".")[2]


def plain_parameter(api: CheckerPluginInterface, schema: CheckerSchema, variable: str) -> Site | None:
    """The parameter ``variable`` is, or is reached from (``for item in order.items``), in
    the function being checked (or an enclosing one), when it is written as a plain model
    (``order: Order``) and never re-bound: strict mode's patch annotates it with every
    relationship path the function reads from it."""
    from mypy_eagerload.hooks.parameter_reads import read_paths  # it imports members, which imports us

    for func in reversed(enclosing_functions(api)):
        param, declared = _parameter_of(func, variable)
        if not param:
            continue
        names = [a.variable.name for a in func.arguments]
        signature = func.type
        analyzed = signature.arg_types[names.index(param)] \
            if isinstance(signature, CallableType) and len(signature.arg_types) == len(names) else None
        model = get_proper_type(analyzed) if analyzed is not None else None
        if not isinstance(declared, UnboundType) or declared.args or not isinstance(model, Instance) \
                or schema.model(model.type.fullname) is None or binds(func, param):
            return None
        return Site(PARAMETER, model.type.name, func.line, arg=param,
                    needs=read_paths(schema, func, param, model.type.fullname))
    return None


def _parameter_of(func: FuncItem, variable: str) -> tuple[str, object]:
    """The parameter of ``func`` that ``variable`` is, or is reached from through loops,
    comprehensions and aliases (``item`` in ``for item in order.items``), and its annotation
    as written; ("", None) for none."""
    names = [a.variable.name for a in func.arguments]
    if variable and variable not in names:
        variable = alias_env(list(walk(func.body.body)), names).get(variable, ("", ()))[0]
    if variable not in names:
        return "", None
    unanalyzed = func.unanalyzed_type
    declared = unanalyzed.arg_types[names.index(variable)] \
        if isinstance(unanalyzed, CallableType) and len(unanalyzed.arg_types) == len(names) else None
    return variable, declared


def annotated_parameter(api: CheckerPluginInterface, variable: str) -> Site | None:
    """The parameter ``variable`` of the function being checked (or an enclosing one), when
    it is written ``name: Loaded[Model, ...]`` and never re-bound: the annotation a read
    of an undeclared path widens (its callers are then told to load the path)."""
    for func in reversed(enclosing_functions(api)):
        param, declared = _parameter_of(func, variable)
        if not param:
            continue
        model = _loaded_model(declared)
        if not model or binds(func, param):
            return None  # not Loaded[...], or re-bound: the object read may not be the parameter's
        return Site(ANNOTATION, model, func.line, arg=param)
    return None


# Result methods that hand on the rows of the result they are called on.
_PASSING = FETCH_METHODS | QUERY_FETCH | {"unique", "scalars", "scalar", "first", "tuples", "mappings"}
_STATEMENT_TAKERS = frozenset({"execute", "scalars", "scalar", "stream", "stream_scalars"})


def _flowing_site(api: CheckerPluginInterface, schema: CheckerSchema, func: object, variable: str,
                  entity: str) -> Site | None:
    """The queries the read's variable may hold an object of, followed through the
    function's syntax: aliases, ``a if flag else b``, a name bound in two branches, a loop
    over a result, a statement re-bound with more options. One site, or the first with the
    others in ``also``; None when any binding on the way is not understood (a parameter, a
    tuple target, a call that is not a query)."""
    from mypy_eagerload.hooks import layer_sites, layers

    body = getattr(getattr(func, "body", None), "body", None) or []
    flow = _Flow(api, schema, entity, [func, *walk(body)], layer_sites.locator(api, schema))
    found = flow.objects(NameExpr(variable))
    layers.depend_on_evaluation(api, flow.locator.evaluator)
    if not found:
        return None
    sites = sorted(dict.fromkeys(found), key=lambda site: (site.function, site.line))
    return replace(sites[0], also=tuple(sites[1:]))


class _Flow:
    def __init__(self, api: CheckerPluginInterface, schema: CheckerSchema, entity: str,
                 nodes: Iterable[object], locator: Locator) -> None:
        self.api, self.schema, self.entity, self.locator = api, schema, entity, locator
        self.bindings: dict[str, list[Expression] | None] = {}
        for node in nodes:
            if isinstance(node, FuncItem):  # a parameter holds what a caller passes
                for argument in node.arguments:
                    self._bind(NameExpr(argument.variable.name), None)
            elif isinstance(node, AssignmentStmt):
                for target in node.lvalues:
                    self._bind(target, node.rvalue)
            elif isinstance(node, ForStmt):
                self._bind(node.index, CallExpr(MemberExpr(node.expr, "__iter__"), [], [], []))
            elif isinstance(node, OperatorAssignmentStmt):
                self._bind(node.lvalue, None)
            elif isinstance(node, AssignmentExpr):
                self._bind(node.target, None)
            elif isinstance(node, WithStmt):
                for bound in node.target:
                    if bound is not None:
                        self._bind(bound, None)
        self.seen: set[str] = set()

    def _bind(self, target: Expression, value: Expression | None) -> None:
        if isinstance(target, NameExpr):
            known = self.bindings.setdefault(target.name, [])
            if known is None or value is None:
                self.bindings[target.name] = None
            else:
                known.append(value)
        elif isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self._bind(item, None)  # unpacked: which part is which is not followed

    def _bound(self, expr: NameExpr) -> list[Expression] | None:
        """What a local name is bound to; None for a parameter, a global, a tuple target."""
        if expr.name in self.seen:
            return []  # a re-binding from itself (``stmt = stmt.options(...)``): its base is counted
        if expr.node is not None and expr.kind != LDEF:
            return None  # a global
        found = self.bindings.get(expr.name)
        if not found:
            return None
        self.seen.add(expr.name)
        return found

    def objects(self, expr: Expression) -> list[Site] | None:
        """The queries an expression's objects come from."""
        if isinstance(expr, NameExpr):
            return self._each(self._bound(expr), self.objects)
        if isinstance(expr, AwaitExpr):
            return self.objects(expr.expr)
        if isinstance(expr, ConditionalExpr):
            return self._each([expr.if_expr, expr.else_expr], self.objects)
        if isinstance(expr, (ListExpr, TupleExpr)):
            return self._each(list(expr.items), self.objects)
        if isinstance(expr, IndexExpr):
            return self.objects(expr.base)
        if isinstance(expr, MemberExpr):
            return self.objects(expr.expr)  # ``post.author``: the query of ``post``
        if not isinstance(expr, CallExpr):
            return None
        callee = expr.callee
        if isinstance(callee, MemberExpr):
            first = expr.args[0] if expr.args else None
            if isinstance(first, RefExpr) and isinstance(first.node, TypeInfo) \
                    and callee.name in ("query", *SESSION_GET):
                if first.node.fullname != self.entity:
                    return None
                if callee.name == "query":
                    return [Site(QUERY, first.node.name, expr.line, len(expr.args) > 1)]
                options = next((a for a, n in zip(expr.args, expr.arg_names) if n == "options"), None)
                if options is None:
                    return [Site(GET, first.node.name, expr.line)]
                written = isinstance(options, (ListExpr, TupleExpr))
                return [Site(CALL, callee.name, expr.line, display=written)]
            if callee.name in _PASSING or callee.name in STATEMENT_REFINERS or callee.name == "options":
                return self.objects(callee.expr)  # a result's rows, a legacy query's chain
            if callee.name in _STATEMENT_TAKERS and expr.args:
                return self.statements(expr.args[0])
        returned = _returned(self.api, expr)
        if returned is None or not _yields(returned, self.entity):
            return None
        found = self.locator.at_call(self.api, expr)
        return [found] if isinstance(found, Site) else None

    def statements(self, expr: Expression) -> list[Site] | None:
        """The ``select()`` calls a statement expression is built from."""
        if isinstance(expr, NameExpr):
            return self._each(self._bound(expr), self.statements)
        if isinstance(expr, ConditionalExpr):
            return self._each([expr.if_expr, expr.else_expr], self.statements)
        if not isinstance(expr, CallExpr):
            return None
        callee = expr.callee
        if isinstance(callee, RefExpr) and callee.fullname == SELECT_FUNCTION:
            match = [site for fullname, site in select_sites(expr) if fullname == self.entity]
            return match[:1] or None
        if isinstance(callee, MemberExpr) and (callee.name in STATEMENT_REFINERS or callee.name == "options"):
            return self.statements(callee.expr)
        return None

    @staticmethod
    def _each(items: list[Expression] | None, follow: Callable[[Expression], list[Site] | None]
              ) -> list[Site] | None:
        if items is None:
            return None
        out: list[Site] = []
        for item in items:
            found = follow(item)
            if found is None:
                return None
            out += found
        return out


def _with_imports(api: CheckerPluginInterface, schema: CheckerSchema, site: Site, classes: list[str]
                  ) -> Site | None:
    """``site`` with the classes its module does not bind (a service module that imports
    ``Order`` but not ``Item``, a handler that imports no model at all). Nested and local
    classes are left out (no import reaches them): a patch naming one is skipped by ``fix``.
    None when the module binds a class's name to something else (a pydantic schema named
    like the model, the model imported as ``models.Seat``): the option written by name
    would not be the model's."""
    modules = getattr(api, "modules", None) or {}
    tree = modules.get(site.module) if site.module else getattr(api, "tree", None)
    if tree is None:
        return site
    needed: list[tuple[str, str]] = []
    infos = [info for info in (schema.info(name) for name in dict.fromkeys(classes))
             if info is not None and info.fullname == f"{info.module_name}.{info.name}"]
    # The note changes when the module comes to bind them, or to bind them to something
    # else (dmypy re-checks on these).
    depend_on_names(api, [f"{tree.fullname}.{info.name}" for info in infos])
    for info in infos:
        bound = tree.names.get(info.name)
        node = bound.node if bound is not None else None
        if node is not None and getattr(node, "fullname", "") != info.fullname:
            return None
        if bound is None and (info.name, info.module_name) not in needed:
            needed.append((info.name, info.module_name))
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
            sites.extend(select_sites(node))
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


def requirement_fix(api: CheckerPluginInterface, schema: CheckerSchema, obj: Instance, miss: Missing,
                    value: Context | None = None, annotation: Site | None = None, deeper: int = 0) -> str:
    """The fix note for a path a requirement (a ``Loaded[...]`` parameter, a member, a
    serializer) finds unloaded on ``obj``: from the query's root when ``obj``'s state records
    how it was reached, else from ``obj``. When the object's state is a ``Loaded[...]``
    annotation that does not list the path, the note widens ``annotation`` (a route's return
    type), else the annotation of the parameter ``value`` (the expression read) starts from."""
    if miss.reason.startswith(UNDECLARED_PREFIX):
        if annotation is None and isinstance(value, Expression):
            annotation = annotated_parameter(api, root_name(value))
        return messages.requirement_fix(miss, annotation)
    if miss.reason.startswith(STRICT_PREFIX):
        if annotation is None or annotation.kind != PARAMETER:
            annotation = plain_parameter(api, schema, root_name(value)) \
                if isinstance(value, Expression) else None
        return messages.requirement_fix(miss, annotation)
    route = route_of(obj)
    hops, strategies = list(miss.hops), list(miss.strategies)
    if route is not None:
        hops, strategies = route[0] + hops, route[1] + strategies
    site = query_site(api, schema, hops[0][0], [model for model, _ in hops]) if hops else None
    return messages.requirement_fix(Missing(tuple(hops), miss.reason, miss.target, miss.uselist,
                                            tuple(strategies)), site, deeper)
