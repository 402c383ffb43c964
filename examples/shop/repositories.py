"""Repositories in the style of large FastAPI code bases: a generic base whose model comes
from the subclass, option providers and statement builders on the concrete classes.

Statement builders are typed ``Select[Any]``: SQLAlchemy 2.0 spells a one-entity statement
``Select[tuple[Order]]`` and 2.1 ``Select[Order]``, and this example runs on both. The
plugin follows them through their bodies, not their declared types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption

from shop.models import Base, Customer, Item, Order

M = TypeVar("M", bound=Base)
Options = Sequence[ExecutableOption]

# A module-level option tuple with a declared type (the type forgets the options; the
# plugin reads the display).
PAGE_OPTIONS: Options = (joinedload(Order.customer), selectinload(Order.items))


class RepositoryBase(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def get_base_statement(self) -> Select[Any]:
        return select(self.model)

    async def get_one_or_none(self, statement: Select[Any]) -> M | None:
        result = await self.session.execute(statement)
        found: M | None = result.unique().scalar_one_or_none()
        return found

    async def get_all(self, statement: Select[Any]) -> Sequence[M]:
        return (await self.session.scalars(statement)).unique().all()

    async def get_by_id(self, id: int, *, options: Options = (), for_update: bool = False) -> M | None:
        statement = self.get_base_statement().filter_by(id=id).options(*options)
        if for_update:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement)


class OrderRepository(RepositoryBase[Order]):
    model = Order

    def get_eager_options(self) -> Options:
        return (joinedload(Order.customer), selectinload(Order.items).joinedload(Item.product))

    def get_summary_options(self) -> Options:
        options: list[ExecutableOption] = [joinedload(Order.customer)]
        options.append(selectinload(Order.items))
        return options

    def get_readable_statement(self, org_id: int) -> Select[Any]:
        return (self.get_base_statement().join(Order.customer).where(Customer.org_id == org_id)
                .order_by(Order.id))


class CustomerRepository(RepositoryBase[Customer]):
    model = Customer
