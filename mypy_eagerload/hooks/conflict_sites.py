"""The fix note for a ``loader-conflict``: which option to change, written as a patch.

``core.conflicts.resolve_conflict`` picks the option (one that loads nothing, else the
later one) and its call that sets the strategy; here the options are read from the call's
arguments as written and the statement they belong to is found, so the note can say
``remove raiseload(User.posts) from select(User) on line 12`` or ``replace
joinedload(User.posts).selectinload(Post.tags) with defaultload(User.posts).selectinload(Post.tags)
in select(User) on line 12``. Options that are not written out there (a variable, a helper's
result, a call with several paths) leave the note as advice.
"""

from __future__ import annotations

from mypy.nodes import (
    CallExpr,
    Context,
    Expression,
    IntExpr,
    MemberExpr,
    NameExpr,
    RefExpr,
    StrExpr,
    TypeInfo,
    UnaryExpr,
)
from mypy.plugin import CheckerPluginInterface

from mypy_eagerload import names
from mypy_eagerload.core import conflicts, messages, patches
from mypy_eagerload.core.options import Option
from mypy_eagerload.core.patches import GET, Site
from mypy_eagerload.hooks.compat import expression_type
from mypy_eagerload.hooks.loader_options import decode_option_type
from mypy_eagerload.hooks.query_sites import select_sites

DEFAULTLOAD = "defaultload"


def conflict_fixes(api: CheckerPluginInterface, found: list[conflicts.Conflict], written: list[Expression],
                   site: Site | None) -> list[str]:
    """The note for each of ``found`` among the options ``written`` (the arguments of one
    ``.options(...)`` call, or the items of an ``options=[...]`` display) of ``site``. The
    conflicts one option is in are ended by one edit of it: every call of it that conflicts
    becomes ``defaultload()``, or, when its last call does, it goes."""
    advice = [messages.conflict_fix(list(c.path), c.first) for c in found]
    if site is None or not written:
        return advice
    options = [decode_option_type(expression_type(api, e) or api.get_expression_type(e)) for e in written]
    resolutions = [conflicts.resolve_conflict(options, c) for c in found]
    edits: dict[int, str | None] = {}
    for index in {r.option for r in resolutions if r is not None}:
        mine = [r for r in resolutions if r is not None and r.option == index]
        edits[index] = _edit(written[index], options[index], site, [r.step for r in mine],
                             any(r.remove for r in mine))
    return [edits.get(r.option) or text if r is not None else text for r, text in zip(resolutions, advice)]


def _edit(expr: Expression, option: Option | None, site: Site, steps: list[int], remove: bool) -> str | None:
    """The patch that removes ``expr``, or writes the calls at ``steps`` as ``defaultload()``."""
    calls = _calls(expr)
    old = source_text(expr)
    if calls is None or option is None or len(calls) != len(option[0]) or old is None:
        return None
    if remove:
        return patches.remove_option(site, old)
    new = source_text(expr, renamed={id(calls[step]) for step in steps})
    return patches.replace_option(site, old, new) if new is not None else None


def statement_site(callee: Expression) -> Site | None:
    """The ``select(Entity)`` the chain ending in ``callee``'s receiver starts from
    (``select(User).where(...).options``), or None (a variable, a legacy query)."""
    node = callee.expr if isinstance(callee, MemberExpr) else None
    while isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr):
        node = node.callee.expr
    if not isinstance(node, CallExpr) or not isinstance(node.callee, RefExpr) \
            or node.callee.fullname != names.SELECT:
        return None
    found = select_sites(node)
    return found[0][1] if found else None


def get_site(call: Context) -> Site | None:
    """``session.get(User, ...)``'s own site."""
    if not isinstance(call, CallExpr) or not call.args:
        return None
    entity = call.args[0]
    if not isinstance(entity, RefExpr) or not isinstance(entity.node, TypeInfo):
        return None
    return Site(GET, entity.node.name, call.line)


def _calls(expr: Expression) -> list[CallExpr] | None:
    """The calls of an option chain, first step first (``a(X).b(Y)``: a, then b); None for
    anything else, or a call naming more than one path."""
    calls: list[CallExpr] = []
    node: Expression = expr
    while isinstance(node, CallExpr):
        if len([k for k in node.arg_names if k is None]) != 1:
            return None
        calls.append(node)
        if isinstance(node.callee, NameExpr):
            return calls[::-1]
        if not isinstance(node.callee, MemberExpr):
            return None
        node = node.callee.expr
    return None


def source_text(expr: Expression, renamed: frozenset[int] | set[int] = frozenset()) -> str | None:
    """``expr`` written back as source (names, attributes, calls, literals), with the
    callees of the calls in ``renamed`` (ids) written ``defaultload``; None for anything else."""
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr):
        inner = source_text(expr.expr, renamed)
        return f"{inner}.{expr.name}" if inner is not None else None
    if isinstance(expr, StrExpr):
        return repr(expr.value).replace("'", '"') if '"' not in expr.value else None
    if isinstance(expr, IntExpr):
        return str(expr.value)
    if isinstance(expr, UnaryExpr) and expr.op == "-" and isinstance(expr.expr, IntExpr):
        return f"-{expr.expr.value}"
    if isinstance(expr, CallExpr):
        callee = expr.callee
        if id(expr) in renamed:
            head = DEFAULTLOAD if isinstance(callee, NameExpr) else None
            if isinstance(callee, MemberExpr):
                inner = source_text(callee.expr, renamed)
                head = f"{inner}.{DEFAULTLOAD}" if inner is not None else None
        else:
            head = source_text(callee, renamed)
        # defaultload() takes the path only: a renamed call's keywords (sql_only=) go.
        kept = [(a, k) for a, k in zip(expr.args, expr.arg_names) if k is None or id(expr) not in renamed]
        args = [source_text(a, renamed) for a, _ in kept]
        if head is None or any(a is None for a in args):
            return None
        shown = [a if k is None else f"{k}={a}" for a, (_, k) in zip(args, kept)]
        return f"{head}({', '.join(s for s in shown if s is not None)})"
    return None
