"""What a model's own members read on ``self``: ``order.total`` needs ``Order.lines`` loaded.

During semantic analysis the class body is visible with its methods' bodies (not analysed
yet), so a syntactic walk records, per method and property, the attribute chains it reads on
``self``: directly (``self.customer.addresses``), through indexing, loop and comprehension
variables and local aliases (``for line in self.lines: line.product``), and through other
members (``self.total`` inside ``describe``), for methods, properties and the instance side
of ``hybrid_property``/``hybrid_method``. The chains are stored raw in the class's
metadata (serialized with it; a digest change fires dmypy); which names are relationships,
and where a chain leaves them, is decided when a use site is checked, with the mapping at
hand. Writes, ``await self.awaitable_attrs.x`` (and later reads of ``x``) are not
requirements. ``super().member`` is inlined while the class is scanned (the base's chains,
already recorded: bases are analysed first); an ``association_proxy("lines", "product")``
is a property that reads ``self.lines`` and each line's ``product``. Mixins record their
members too, so models inherit them.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import (
    AssignmentStmt,
    CallExpr,
    ClassDef,
    Context,
    Decorator,
    FuncDef,
    MemberExpr,
    NameExpr,
    OverloadedFuncDef,
    StrExpr,
    SuperExpr,
    TypeInfo,
)
from mypy.plugin import AttributeContext, CheckerPluginInterface, ClassDefContext, MethodContext
from mypy.types import Instance, Type, UnionType, get_proper_type

from mypy_eagerload.config import Settings
from mypy_eagerload.core import messages, requirements
from mypy_eagerload.core.schema import Model
from mypy_eagerload.hooks import flow
from mypy_eagerload.hooks.compat import depend_on_mappings, report
from mypy_eagerload.hooks.contracts import state_of
from mypy_eagerload.hooks.declarations import Json
from mypy_eagerload.hooks.errorcodes import UNLOADED_RELATIONSHIP
from mypy_eagerload.hooks.models import expose_digest, metadata
from mypy_eagerload.hooks.query_sites import requirement_fix
from mypy_eagerload.hooks.schema import CheckerSchema, Lookup, model_info
from mypy_eagerload.hooks.syntax import (
    SUPER_ROOT,
    alias_env,
    attribute_chain,
    awaited_attrs,
    is_self,
    walk_nodes,
    written,
)
from mypy_eagerload.hooks.types import merge_states

_MAX_CHAIN = 8  # hops a requirement is followed (recursive models, members calling members)
_SUPER = "super()."  # a chain's first name read through super(): replaced by the base's chains


# ---------------------------------------------------------------------------------------
# Semantic analysis: the raw chains


def record_members(ctx: ClassDefContext) -> None:
    """Add the members' chains (inherited ones first) to a model's record. The digest that
    dmypy watches covers them (``models.refresh_digest``, run after this): a member's body
    is part of what use sites depend on."""
    info = ctx.cls.info
    record = metadata(info)
    if record is None or record.get("kind") != "model":
        return
    merged: dict[str, Json] = {}
    for base in reversed(info.mro[1:]):
        merged.update((metadata(base) or {}).get("own_members") or {})
    own = scan_members(ctx.cls, info)
    merged.update(own)
    record["own_members"] = own
    record["members"] = merged


def record_mixin_members(ctx: ClassDefContext) -> None:
    """A mixin's members, for the models that inherit them (``record_members`` merges them).
    The digest makes dmypy re-analyse those models when the mixin (in another module, say)
    changes: their class definitions depend on the mixin's symbols, not on its metadata."""
    info = ctx.cls.info
    record = metadata(info)
    if record is not None:
        record["own_members"] = scan_members(ctx.cls, info)
        expose_digest(ctx, info, record)


def scan_members(defn: ClassDef, info: TypeInfo) -> dict[str, Json]:
    """{member: {"kind": "property"|"method", "chains": [[name, ...], ...]}}."""
    found: dict[str, Json] = {}
    for stmt in defn.defs.body:
        proxy = _association_proxy(stmt)
        if proxy is not None:
            found[proxy[0]] = {"kind": "property", "chains": [proxy[1]]}
            continue
        kind = "method"
        func: object = stmt
        if isinstance(stmt, OverloadedFuncDef) and stmt.is_property and stmt.items:
            stmt = stmt.items[0]  # a property with a setter: the getter
        if isinstance(stmt, Decorator):
            # Semantic analysis has taken ``@property`` off the list and flagged the function.
            names = {getattr(d, "name", "") for d in stmt.decorators}
            if names & {"declared_attr", "directive", "classmethod", "staticmethod", "setter",
                        "expression", "comparator", "update_expression", "deleter"}:
                continue  # class-level (SQL) sides and writers are not instance reads
            # A hybrid's instance side runs the function on the object, like a property.
            prop = stmt.func.is_property or bool(names & {"property", "cached_property",
                                                          "hybrid_property"})
            kind = "property" if prop else "method"
            func = stmt.func
        if not isinstance(func, FuncDef) or not func.arguments or func.name.startswith("__"):
            continue
        chains = _inline_super(_chains(func), info)
        if chains:
            found[func.name] = {"kind": kind, "chains": chains}
    return found


def _association_proxy(stmt: object) -> tuple[str, list[str]] | None:
    """``products = association_proxy("lines", "product")``: (name, ["lines", "product"])."""
    if not (isinstance(stmt, AssignmentStmt) and len(stmt.lvalues) == 1
            and isinstance(stmt.lvalues[0], NameExpr) and isinstance(stmt.rvalue, CallExpr)):
        return None
    callee = stmt.rvalue.callee
    if not (isinstance(callee, (NameExpr, MemberExpr)) and callee.name == "association_proxy"):
        return None
    args = stmt.rvalue.args[:2]
    if len(args) != 2 or not all(isinstance(a, StrExpr) for a in args):
        return None  # names not written as literals: unknown, no requirement
    return stmt.lvalues[0].name, [a.value for a in args if isinstance(a, StrExpr)]


def _inline_super(chains: list[list[str]], info: TypeInfo) -> list[list[str]]:
    """Replace ``super().member`` by what the base's member reads (its raw chains, relative
    to the same ``self``); ``super().rel`` by the plain read of ``rel``."""
    out: list[list[str]] = []
    for chain in chains:
        if not chain[0].startswith(_SUPER):
            out.append(chain)
            continue
        name = chain[0][len(_SUPER):]
        base = next((rec for cls in info.mro[1:]
                     if isinstance(rec := ((metadata(cls) or {}).get("own_members") or {}).get(name), dict)),
                    None)
        if base is None:
            out.append([name, *chain[1:]])
        else:
            out.extend(list(c) for c in base.get("chains", []))
    return sorted({tuple(c): c for c in out}.values())


def _chains(func: FuncDef) -> list[list[str]]:
    self_name = func.arguments[0].variable.name
    nodes = list(walk_nodes(func))
    env = alias_env(nodes, [self_name])
    skip = written(nodes)
    awaited = awaited_attrs(nodes)
    chains: set[tuple[str, ...]] = set()
    for node in nodes:
        if not isinstance(node, (MemberExpr, SuperExpr)) or id(node) in skip:
            continue
        found = attribute_chain(node, env)
        if found is None or not found[1]:
            continue
        root, names = found
        if root == SUPER_ROOT:
            chains.add((_SUPER + names[0], *names[1:]))
        elif names[0] not in awaited and names[0] != "awaitable_attrs":
            chains.add(names)
    # Keep the longest: a chain's prefixes are read on the way.
    return sorted(list(c) for c in chains if not any(o != c and o[:len(c)] == c for o in chains))


# ---------------------------------------------------------------------------------------
# Type checking: what a member needs, and the check at a use site


def member_record(info_data: Json, name: str) -> Json | None:
    record = (info_data.get("members") or {}).get(name)
    return record if isinstance(record, dict) else None


def requirement(schema: CheckerSchema, model: Model, member: str) -> list[tuple[tuple[str, ...], str]]:
    """(relationship path, route) pairs ``model.member`` reads; the route names the members
    it went through (empty when the member reads the path itself)."""
    found: dict[tuple[str, ...], str] = {}
    _expand(schema, model, member, (), "", found, set())
    return sorted(found.items())


def _expand(schema: CheckerSchema, model: Model, member: str, prefix: tuple[str, ...], route: str,
            found: dict[tuple[str, ...], str], seen: set[tuple[str, str]]) -> None:
    if (model.fullname, member) in seen or len(prefix) > _MAX_CHAIN:
        return
    seen.add((model.fullname, member))
    info = schema.info(model.fullname)
    data = (metadata(info) if info is not None else None) or {}
    record = member_record(data, member)
    if record is None:
        return
    here = f"{route} -> " if route else ""
    for chain in record.get("chains", []):
        current: Model | None = model
        path = list(prefix)
        for name in chain:
            if current is None:
                break
            rel = current.relationship(name)
            if rel is not None:
                path.append(name)
                current = schema.model(rel.target) if rel.target else None
                continue
            if current is not None and member_record(_data(schema, current), name) is not None:
                _expand(schema, current, name, tuple(path), f"{here}{current.name}.{name}", found, seen)
            break
        if len(path) > len(prefix):
            found.setdefault(tuple(path), route)


def _data(schema: CheckerSchema, model: Model) -> Json:
    info = schema.info(model.fullname)
    return (metadata(info) if info is not None else None) or {}


def _check(api: CheckerPluginInterface, schema: CheckerSchema, settings: Settings,
           receiver: Type, member: str, context: Context) -> None:
    """Report each path the member reads that the receiver's state does not load."""
    proper_receiver = get_proper_type(receiver)
    items = (merge_states(proper_receiver.relevant_items()) if isinstance(proper_receiver, UnionType)
             else [proper_receiver])
    for item in items:
        proper = get_proper_type(item)
        info = model_info(proper)
        if info is None or not isinstance(proper, Instance):
            continue
        model = schema.model(info.fullname)
        if model is None:
            continue
        paths = requirement(schema, model, member)
        if not paths:
            continue
        state, known = state_of(schema, settings, proper)
        if not known:
            continue
        tree = requirements.path_tree(".".join(p) for p, _ in paths)
        routes = {p: r for p, r in paths}
        for miss in requirements.missing(schema, state, tree):
            names = tuple(rel for _, rel in miss.hops)
            route = next((r for p, r in routes.items() if p[:len(names)] == names), "")
            report(api, context, messages.member_unmet(f"{model.name}.{member}", route, miss),
                   requirement_fix(api, schema, proper, miss, context), UNLOADED_RELATIONSHIP)
        depend_on_mappings(api, schema.consulted())
        return


def property_hook(member: str, lookup: Lookup, settings: Settings) -> Callable[[AttributeContext], Type]:
    def hook(ctx: AttributeContext) -> Type:
        if isinstance(ctx.context, MemberExpr) and not ctx.is_lvalue and not is_self(ctx.context.expr):
            schema = CheckerSchema(lookup)
            receiver = flow.fresh(ctx.api, schema, ctx.context.expr, ctx.type)
            _check(ctx.api, schema, settings, receiver, member, ctx.context)
        return ctx.default_attr_type

    return hook


def method_hook(member: str, lookup: Lookup, settings: Settings,
                then: Callable[[MethodContext], Type] | None = None) -> Callable[[MethodContext], Type]:
    def hook(ctx: MethodContext) -> Type:
        callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
        if isinstance(callee, MemberExpr) and not is_self(callee.expr):
            schema = CheckerSchema(lookup)
            receiver = flow.fresh(ctx.api, schema, callee.expr, ctx.type)
            _check(ctx.api, schema, settings, receiver, member, ctx.context)
        return then(ctx) if then is not None else ctx.default_return_type

    return hook
