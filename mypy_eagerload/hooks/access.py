"""Attribute access on a model: check the relationship is loaded, narrow what it yields."""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import CallExpr, Expression, FuncItem, IndexExpr, MemberExpr, NameExpr, RefExpr, TypeInfo, Var
from mypy.plugin import AttributeContext
from mypy.typeops import make_simplified_union
from mypy.types import Instance, NoneType, ProperType, Type, UnionType, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages
from mypy_eagerload.core.loadstate import (
    Columns,
    Loaded,
    NotLoaded,
    Slot,
    State,
    default_columns,
    ref_columns,
)
from mypy_eagerload.core.patches import Site
from mypy_eagerload.core.requirements import STRICT_PREFIX, UNDECLARED_PREFIX
from mypy_eagerload.core.schema import MANY_TO_ONE, Model, Relationship, direction
from mypy_eagerload.hooks import flow, lifecycle
from mypy_eagerload.hooks.compat import depend_on_mappings, enclosing_functions, expression_type, report
from mypy_eagerload.hooks.contracts import state_of
from mypy_eagerload.hooks.errorcodes import UNLOADED_COLUMN, UNLOADED_RELATIONSHIP
from mypy_eagerload.hooks.explicit_loads import loaded_before
from mypy_eagerload.hooks.loaded_annotation import is_new_object, mark_new, requirement_of
from mypy_eagerload.hooks.models import metadata
from mypy_eagerload.hooks.query_sites import (
    Route,
    annotated_parameter,
    plain_parameter,
    query_site,
    root_name,
    route_of,
)
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, default_info, loaded_info, model_info
from mypy_eagerload.hooks.syntax import binds, is_self, only_binding
from mypy_eagerload.hooks.types import (
    default_to_type,
    merge_states,
    state_to_type,
    type_to_ref,
    type_to_state,
)


def relationship_hook(attr: str, lookup: Lookup, settings: Settings) -> Callable[[AttributeContext], Type]:
    def hook(ctx: AttributeContext) -> Type:
        if not isinstance(ctx.context, MemberExpr):
            return ctx.default_attr_type  # the class-body declaration, not a read
        if lifecycle.check_read(ctx, settings, attr):
            return ctx.default_attr_type  # expired since the query: what it loaded is gone
        return flow.produced(ctx.api, ctx.context, _read(ctx))

    def _read(ctx: AttributeContext) -> Type:
        assert isinstance(ctx.context, MemberExpr)
        receiver = get_proper_type(flow.fresh(ctx.api, CheckerSchema(lookup), ctx.context.expr, ctx.type))
        # On a union (``a if flag else b``) mypy calls the hook once per item but passes the
        # whole union as ``ctx.type``: decide for all items at once, so a relationship that
        # any branch left unloaded is reported (the intersection of the load sets).
        items = merge_states(receiver.relevant_items()) if isinstance(receiver, UnionType) else [receiver]
        narrowed: list[Type] = []
        for item in items:
            item = get_proper_type(item)
            if isinstance(item, NoneType):
                continue
            if is_new_object(item) or (settings.strict and is_self(ctx.context.expr)
                                       and requirement_of(item) is None):
                # Built in code: what it holds was put there in code too. Read on self: it
                # is the member's requirement, checked where the member is used. Either way
                # strict mode has nothing to assume about what it reaches.
                narrowed.append(_as_new(ctx, ctx.default_attr_type))
                continue
            result = _check_item(ctx, lookup, settings, attr, item)
            if result is None:
                return ctx.default_attr_type
            narrowed.append(result)
        if not narrowed or len(items) == 1:
            return narrowed[0] if narrowed else ctx.default_attr_type
        return make_simplified_union(narrowed)

    return hook


def _as_new(ctx: AttributeContext, typ: Type, depth: int = 0) -> Type:
    proper = get_proper_type(typ)
    if depth > 4:  # a recursive alias has no bottom
        return typ
    if isinstance(proper, Instance) and model_info(proper) is not None:
        return mark_new(proper, ctx.api.named_generic_type("builtins.str", []))
    if isinstance(proper, Instance) and proper.args:
        return proper.copy_modified(args=[_as_new(ctx, a, depth + 1) for a in proper.args])
    if isinstance(proper, UnionType):
        return UnionType.make_union([_as_new(ctx, i, depth + 1) for i in proper.items])
    return typ


def _receiver_slot(ctx: AttributeContext, schema: CheckerSchema, settings: Settings, attr: str,
                   receiver: Instance) -> tuple[TypeInfo, Slot, Type | None] | None:
    """(model, slot, the slot's type if the receiver's type holds it) for ``receiver.attr``;
    None when the receiver carries no load state."""
    model = model_info(receiver)
    slots = (metadata(model) or {}).get("slots", []) if model is not None else []
    if model is None or attr not in slots:
        return None
    if default_info(receiver) is not None:
        # Not built yet: build the one slot read (memoized).
        ref = type_to_ref(receiver)
        return None if ref is None else _typed(ctx, schema, model, schema.expand_slot(ref, attr))
    if loaded_info(receiver) is not None:
        state: State | None = type_to_state(receiver)
    else:
        # A plain model type: a Loaded[...] annotation, or strict mode's defaults (but not
        # on ``self``: a member's reads are its callers' business).
        if isinstance(ctx.context, MemberExpr) and is_self(ctx.context.expr) \
                and requirement_of(receiver) is None:
            return None
        state, known = state_of(schema, settings, _declared_parameter(ctx, receiver) or receiver)
        if not known:
            return None
    return None if state is None else _typed(ctx, schema, model, state.slot(attr))


def _declared_parameter(ctx: AttributeContext, receiver: Instance) -> Instance | None:
    """The ``Loaded[...]`` type of the parameter the receiver is, when mypy narrowed it to a
    plain subclass (a ``TypeGuard[ProductCheckout]`` on ``checkout: Loaded[Checkout, ...]``
    replaces the type): the object is still the argument, loaded as declared, if the
    function never binds the name again."""
    expr = ctx.context.expr if isinstance(ctx.context, MemberExpr) else None
    var = expr.node if isinstance(expr, NameExpr) else None
    if not isinstance(var, Var) or var.type is None:
        return None
    declared = get_proper_type(var.type)
    if not isinstance(declared, Instance) or requirement_of(declared) is None \
            or declared.type is receiver.type or not receiver.type.has_base(declared.type.fullname):
        return None
    for func in enclosing_functions(ctx.api):
        if any(argument.variable is var for argument in func.arguments):
            return None if binds(func, var.name) else declared
    return None


def _typed(ctx: AttributeContext, schema: CheckerSchema, model: TypeInfo,
           slot: Slot) -> tuple[TypeInfo, Slot, Type | None]:
    """The slot with the type of what it holds when loaded (None: the declared type)."""
    if isinstance(slot, Loaded):
        if slot.default is not None:
            return model, slot, default_to_type(ctx.api, schema, slot.default)
        if slot.state is not None:
            return model, slot, state_to_type(ctx.api, schema, slot.state)
    return model, slot, None


def _check_item(ctx: AttributeContext, lookup: Lookup, settings: Settings, attr: str,
                receiver: ProperType) -> Type | None:
    """The attribute's type on one receiver; None once an error was reported or the receiver
    carries no load state (then the declared type stands)."""
    if not isinstance(receiver, Instance):
        return None
    schema = CheckerSchema(lookup)
    found = _receiver_slot(ctx, schema, settings, attr, receiver)
    if found is None:
        return None
    model, slot, slot_type = found
    rel = schema.model_of(model)
    depend_on_mappings(ctx.api, schema.consulted())
    relationship = rel.relationship(attr) if rel is not None else None
    uselist = relationship.uselist if relationship is not None else False
    if isinstance(slot, NotLoaded):
        if ctx.is_lvalue and not uselist:
            return None  # assigning a scalar side loads nothing, even under raise (measured)
        if isinstance(ctx.context, MemberExpr) and loaded_before(ctx.api, ctx.context):
            return None  # refreshed or awaited explicitly earlier in the function
        _report(ctx, schema, model.fullname, attr, slot.reason,
                relationship.target if relationship else "", uselist, route_of(receiver))
        return None
    if isinstance(slot, Loaded) and not ctx.is_lvalue and slot_type is not None:
        return _narrow(ctx, lookup, ctx.default_attr_type, slot_type)
    if isinstance(slot, Loaded) and slot.state is None and slot.default is None and not ctx.is_lvalue \
            and rel is not None and relationship is not None and not relationship.uselist:
        parent = _parent_object(ctx, schema, rel, relationship)
        if parent is not None:
            return _narrow(ctx, lookup, ctx.default_attr_type, parent)
    return None


def _parent_object(ctx: AttributeContext, schema: CheckerSchema, model: Model, rel: Relationship
                   ) -> Instance | None:
    """The object a many-to-one back-reference reads, when the syntax shows it is the parent
    the receiver was reached from (``user.addresses[0].user``, ``for a in user.addresses:
    a.user``): SQLAlchemy finds it in the identity map (the state says "loaded, target
    unknown"), and it is that object, loaded as its own type says. None otherwise."""
    assert isinstance(ctx.context, MemberExpr)
    holder = _holder_in_function(ctx, ctx.context.expr)
    if holder is None:
        return None
    parent_expr, reached_by = holder
    parent = get_proper_type(expression_type(ctx.api, parent_expr))
    if not isinstance(parent, Instance) or parent.type.fullname != rel.target \
            or (loaded_info(parent) is None and default_info(parent) is None):
        return None  # the exact class: a subclass's type would show in what mypy prints
    parent_model = schema.model_of(parent.type)
    reverse = parent_model.relationship(reached_by) if parent_model is not None else None
    if reverse is None or reverse.target != model.fullname \
            or not (rel.back_populates == reverse.name or reverse.back_populates == rel.name) \
            or direction(schema, model, rel) != MANY_TO_ONE:
        return None
    return parent


def _holder_in_function(ctx: AttributeContext, expr: Expression) -> tuple[Expression, str] | None:
    """``_holder`` of ``expr`` in the function being checked."""
    functions = enclosing_functions(ctx.api)
    return _holder(expr, functions[-1] if functions else None, 0)


def _holder(expr: Expression, func: FuncItem | None, depth: int) -> tuple[Expression, str] | None:
    """(the parent expression, the relationship read on it) for an object reached as
    ``parent.rel[i]``, ``parent.rel``, or a name bound once to one of these (an assignment)
    or to an element of ``parent.rel`` (a loop, a comprehension)."""
    if isinstance(expr, IndexExpr):
        expr = expr.base
    if isinstance(expr, MemberExpr):
        return expr.expr, expr.name
    if not isinstance(expr, NameExpr) or func is None or depth > 2:
        return None
    bound = only_binding(func, expr.name)
    if bound is None:
        return None
    source, element = bound
    if element:
        return (source.expr, source.name) if isinstance(source, MemberExpr) else None
    return _holder(source, func, depth + 1)


def _narrow(ctx: AttributeContext, lookup: Lookup, declared: Type, element: Type) -> Type:
    """``list[Post]`` -> ``list[<element>]``; ``Post | None`` -> ``<element> | None``, where
    ``<element>`` is ``Post`` carrying its state (invisible to mypy)."""
    proper = get_proper_type(declared)
    if isinstance(proper, Instance) and model_info(proper) is not None:
        return element
    if isinstance(proper, UnionType):
        items = [get_proper_type(i) for i in proper.items]
        if len(items) == 2 and any(isinstance(i, NoneType) for i in items):
            return UnionType.make_union([element if not isinstance(i, NoneType) else i for i in items])
        return declared
    if isinstance(proper, Instance) and proper.type.fullname == "builtins.list" and len(proper.args) == 1:
        return proper.copy_modified(args=[element])  # the element carries the state
    return declared


def _report(ctx: AttributeContext, schema: CheckerSchema, model: str, attr: str, reason: str,
            target: str, uselist: bool, route: Route | None) -> None:
    assert isinstance(ctx.context, MemberExpr)
    path, from_root, strategies, site = _origin(ctx, schema, route, [(model, attr)], model)
    if reason.startswith(UNDECLARED_PREFIX):  # the fix widens the parameter's annotation
        site = annotated_parameter(ctx.api, root_name(ctx.context))
    elif reason.startswith(STRICT_PREFIX):  # the fix annotates the parameter it came from
        site = plain_parameter(ctx.api, schema, root_name(ctx.context))
    report(ctx.api, ctx.context, messages.unloaded(path, reason, target),
           messages.fix(path, uselist, from_root, reason, strategies, site), UNLOADED_RELATIONSHIP)


def _origin(ctx: AttributeContext, schema: CheckerSchema, route: Route | None, tail: list[tuple[str, str]],
            owner: str) -> tuple[list[tuple[str, str]], bool, list[str] | None, Site | None]:
    """(path from the query's root ending with ``tail``, whether it starts at the root, each
    hop's strategy if known, the query in the reading function): from the receiver's
    recorded ``route``, else from the syntax of the read."""
    if route is not None:
        path, from_root, strategies = route[0] + tail, True, route[1]
    else:
        assert isinstance(ctx.context, MemberExpr)
        (path, from_root), strategies = _path_to(ctx, ctx.context, tail), None
    classes = [model for model, _ in path] + [owner]
    variable = root_name(ctx.context) if isinstance(ctx.context, Expression) else ""
    site = query_site(ctx.api, schema, path[0][0] if path else owner, classes, variable) \
        if from_root else None
    return path, from_root, strategies, site


def _path_to(ctx: AttributeContext, expr: Expression,
             path: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """Walk ``user.posts[0].comments`` back to the query root, as far as the syntax shows."""
    assert isinstance(expr, MemberExpr)
    return _path_from(ctx, expr.expr, path)


def _path_from(ctx: AttributeContext, inner: Expression,
               path: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """``_path_to`` from the object expression ``inner`` (what the path's first hop is read on)."""
    while True:
        if isinstance(inner, IndexExpr):
            inner = inner.base
        elif (isinstance(inner, CallExpr) and isinstance(inner.callee, MemberExpr)
              and inner.callee.name in ("first", "one", "scalar_one")):
            inner = inner.callee.expr
        else:
            break
    if isinstance(inner, MemberExpr):
        parent = _reached_again(ctx, inner)
        if parent is not None:  # ``user.addresses[0].user`` is ``user``: its path is the one
            return _path_from(ctx, parent, path)
        inner_type = expression_type(ctx.api, inner.expr)
        if inner_type is None:
            return path, False
        owner = get_proper_type(inner_type)
        info = model_info(owner)
        if info is not None and inner.name in (metadata(info) or {}).get("slots", []):
            return _path_to(ctx, inner, [(info.fullname, inner.name)] + path)
        return path, True  # ``row.User``, ``self.user``: the object a query produced
    return path, isinstance(inner, RefExpr)


def _reached_again(ctx: AttributeContext, read: MemberExpr) -> Expression | None:
    """The parent expression when ``read`` is a back-reference the plugin typed as that
    parent (``_parent_object``): its type is the parent's own."""
    holder = _holder_in_function(ctx, read.expr)
    if holder is None:
        return None
    mine, theirs = expression_type(ctx.api, read), expression_type(ctx.api, holder[0])
    return holder[0] if mine is not None and theirs is not None and mine == theirs \
        and loaded_info(get_proper_type(mine)) is not None else None


def column_hook(attr: str, lookup: Lookup, settings: Settings) -> Callable[[AttributeContext], Type]:
    """Reading a deferred column: an error when the receiver's state says it is unloaded.

    Assigning one loads nothing, so writes are never reported."""

    def hook(ctx: AttributeContext) -> Type:
        if not isinstance(ctx.context, MemberExpr) or ctx.is_lvalue:
            return ctx.default_attr_type
        if lifecycle.check_read(ctx, settings, attr):
            return ctx.default_attr_type
        receiver = get_proper_type(flow.fresh(ctx.api, CheckerSchema(lookup), ctx.context.expr, ctx.type))
        items = merge_states(receiver.relevant_items()) if isinstance(receiver, UnionType) else [receiver]
        for item in items:
            item = get_proper_type(item)
            if not isinstance(item, Instance):
                continue
            model = model_info(item)
            if is_self(ctx.context.expr):
                continue  # as for relationships: a member's reads on self are not reported
            columns = _columns_of(lookup, settings, item)
            reason = dict(columns or ()).get(attr)
            if model is None or reason is None or loaded_before(ctx.api, ctx.context):
                continue
            path, from_root, strategies, site = _origin(ctx, CheckerSchema(lookup), route_of(item), [],
                                                        model.fullname)
            report(ctx.api, ctx.context, messages.unloaded_column_at(path, attr, reason, model.fullname),
                   messages.column_fix(path, attr, reason, model.fullname, from_root, strategies, site),
                   UNLOADED_COLUMN)
            break
        return ctx.default_attr_type

    return hook


def expiry_hook(attr: str, settings: Settings) -> Callable[[AttributeContext], Type]:
    """An attribute with no other check (a primary key, a column when ``unloaded-column`` is
    off): only whether a session operation expired it (``hooks.lifecycle``)."""

    def hook(ctx: AttributeContext) -> Type:
        if isinstance(ctx.context, MemberExpr) and not ctx.is_lvalue:
            lifecycle.check_read(ctx, settings, attr)
        return ctx.default_attr_type

    return hook


def _columns_of(lookup: Lookup, settings: Settings, item: Instance) -> Columns:
    """The unloaded columns of a loaded type; strict mode gives a plain model type (not a
    ``Loaded[...]`` one, whose columns are not tracked) its declared deferred columns."""
    if default_info(item) is not None:
        ref = type_to_ref(item)
        return None if ref is None else ref_columns(CheckerSchema(lookup), ref)
    if loaded_info(item) is not None:
        state = type_to_state(item)
        return state.columns if state is not None else None
    if model_info(item) is not None and settings.strict and requirement_of(item) is None \
            and not is_new_object(item):
        model = CheckerSchema(lookup).model(item.type.fullname)
        if model is None:
            return None
        return tuple((name, STRICT_PREFIX + reason) for name, reason in default_columns(model) or ())
    return None
