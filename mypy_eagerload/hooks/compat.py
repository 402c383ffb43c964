"""The few places where the plugin leans on mypy internals, guarded in one module."""

from __future__ import annotations

from mypy.plugin import CheckerPluginInterface
from mypy.types import Type


def is_speculative(api: CheckerPluginInterface) -> bool:
    """True while mypy tries an overload or operator candidate under an error filter.

    An error reported then makes the candidate fail and changes inference (seen:
    ``User.id == len(u.posts)`` became ``bool`` with a spurious ``[arg-type]``). The same
    expression is checked again outside the filter, so skipping the report loses nothing.
    """
    errors = getattr(getattr(api, "msg", None), "errors", None)
    return bool(getattr(errors, "_watchers", None))


def type_context(api: CheckerPluginInterface) -> Type | None:
    """The type the surrounding expression expects (a variable's declared type, a return type)."""
    checker = getattr(api, "expr_checker", None)
    stack = getattr(checker, "type_context", None)
    return stack[-1] if stack else None
