"""The sanctioned ways to load later: ``session.refresh(obj, [...])`` and ``awaitable_attrs``.

``await session.refresh(user, ["posts"])`` loads ``user.posts``; mypy gives no way to
narrow ``user``'s type after a call statement, so before reporting a read of ``name.attr``
the function is searched for such a refresh, or an ``await name.awaitable_attrs.attr``,
on an earlier line (flow-insensitive beyond that: a refresh in an earlier branch counts).
"""

from __future__ import annotations

from typing import TypeGuard

from mypy.nodes import CallExpr, ListExpr, MemberExpr, NameExpr, StrExpr, TupleExpr
from mypy.plugin import CheckerPluginInterface

from mypy_eagerload.hooks.compat import enclosing_functions
from mypy_eagerload.hooks.syntax import is_name, walk_nodes


def loaded_before(api: CheckerPluginInterface, access: MemberExpr) -> bool:
    """Whether ``access`` (``name.attr``) follows a refresh or awaitable load of it."""
    receiver = access.expr
    if not isinstance(receiver, NameExpr):
        return False
    name, attr = receiver.name, access.name
    for node in (n for func in enclosing_functions(api) for n in walk_nodes(func)):
        if node.line >= access.line:
            continue
        if _is_refresh_of(node, name) and attr in _refreshed_names(node):
            return True
        if _is_awaitable_attr(node, name, attr):
            return True
    return False


def _is_refresh_of(node: object, name: str) -> TypeGuard[CallExpr]:
    """``<session>.refresh(name, ...)``"""
    return (isinstance(node, CallExpr) and isinstance(node.callee, MemberExpr)
            and node.callee.name == "refresh" and bool(node.args) and is_name(node.args[0], name))


def _is_awaitable_attr(node: object, name: str, attr: str) -> bool:
    """``name.awaitable_attrs.attr``"""
    return (isinstance(node, MemberExpr) and node.name == attr and isinstance(node.expr, MemberExpr)
            and node.expr.name == "awaitable_attrs" and is_name(node.expr.expr, name))


def _refreshed_names(call: CallExpr) -> list[str]:
    for i, arg in enumerate(call.args):
        positional_or_named = i == 1 or call.arg_names[i] == "attribute_names"
        if positional_or_named and isinstance(arg, (ListExpr, TupleExpr)):
            return [item.value for item in arg.items if isinstance(item, StrExpr)]
    return []

