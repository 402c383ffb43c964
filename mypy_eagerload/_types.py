"""Types the plugin puts into user code. Read by mypy only; nothing here runs.

mypy analyses this module as part of any build that uses the plugin (the plugin adds it as a
dependency), so the classes below must be valid typed Python for every supported SQLAlchemy.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, SupportsIndex, TypeVar, overload

if TYPE_CHECKING:
    from sqlalchemy.orm.strategy_options import _AbstractLoad

    _P_co = TypeVar("_P_co", covariant=True)
    _T = TypeVar("_T")
    _L_co = TypeVar("_L_co", covariant=True)

    class LoaderPath(_AbstractLoad, Generic[_P_co]):
        """A loader option whose path the plugin knows: ``_P_co`` is ``Literal["<json>"]``."""

    class LoadState(enum.Enum):
        """The fallback of the literal in ``Loaded@Model[Literal[<state>]]`` (``hooks.types``).

        An enum because mypy joins two different enum literals into their union, where two
        ``str`` literals join to ``str``: the join of two states keeps both, and the plugin
        intersects them. mypy contracts a union holding every member of an enum back into the
        enum; no state is named ``NONE``, so that never happens here."""

        NONE = 0

    class LoadedList(list[_T], Generic[_T, _L_co]):
        """A loaded collection: accepts plain ``_T`` like ``list[_T]``, yields ``_L_co``.

        ``_L_co`` is the element type narrowed by load state. Writes keep the plain element
        type so that ``user.posts.append(Post())`` stays valid.
        """

        def __iter__(self) -> Iterator[_L_co]: ...  # type: ignore[override]
        @overload  # type: ignore[override]
        def __getitem__(self, i: SupportsIndex, /) -> _L_co: ...
        @overload
        def __getitem__(self, s: slice, /) -> list[_L_co]: ...
        def __getitem__(self, i: SupportsIndex | slice, /) -> _L_co | list[_L_co]: ...
        def pop(self, index: SupportsIndex = -1, /) -> _L_co: ...  # type: ignore[override]
