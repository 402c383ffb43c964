"""``Loaded[User, "posts", "posts.comments"]``: a model whose listed relationships are loaded.

Type checkers other than mypy with this plugin see ``Annotated[User, "posts", ...]``, which
is ``User``. At runtime ``Loaded[User, ...]`` *is* ``User``, so ``typing.get_type_hints``,
pydantic and FastAPI see the plain model class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ForwardRef

__all__ = ["Loaded"]

if TYPE_CHECKING:
    # An alias of Annotated itself (not a variable holding it): mypy then treats the string
    # arguments as metadata, not as forward references to look up. The plugin recognises
    # the name by the import that binds it (see hooks/annotations.py).
    from typing import Annotated as Loaded
else:

    class Loaded:
        """Use as ``Loaded[Model, "relationship", "relationship.nested", ...]``."""

        __slots__ = ()

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("Loaded[...] is an annotation; it cannot be instantiated")

        def __class_getitem__(cls, params: Any) -> Any:
            if not isinstance(params, tuple):
                params = (params,)
            model, *paths = params
            if any(not isinstance(path, str) for path in paths):
                raise TypeError('Loaded[...] takes a model, then relationship paths as strings: '
                                'Loaded[User, "posts", "posts.comments"]')
            return ForwardRef(model) if isinstance(model, str) else model
