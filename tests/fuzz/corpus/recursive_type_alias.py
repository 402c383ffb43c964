"""Found outside the fuzzer (mypy over starlette with the plugin): a recursive type alias
in a parameter made the plugin's type walks recurse without end (RecursionError)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.base import ExecutableOption

from mypy_eagerload import Loaded

JSON = Union[str, int, None, Sequence["JSON"], dict[str, "JSON"]]
Nested = Union["Item", list["Nested"], None]


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)


class Span:
    def set_attribute(self, key: str, value: JSON) -> None: ...
    def items(self, value: Nested, item: Loaded[Item, "x"]) -> Nested: ...  # noqa: F821


def use(span: Span, item: Item) -> None:
    span.set_attribute("k", ["a", ["b", {"c": 1}]])
    span.items([item, [item, None]], item)


class Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, options: Sequence[ExecutableOption] = ()) -> Nested:
        return (await self.session.execute(select(Item).options(*options))).scalar_one_or_none()


async def call(repo: Repo) -> None:
    found = await repo.find()
    print(found)
