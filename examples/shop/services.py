"""Services: what the handlers and routes call. Two styles, as in real code bases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shop.models import Base, Customer, Order
from shop.repositories import PAGE_OPTIONS, Options, OrderRepository

M = TypeVar("M", bound=Base)


class OrderService:
    async def get(self, session: AsyncSession, id: int) -> Order | None:
        repository = OrderRepository(session)
        return await repository.get_by_id(id, options=repository.get_eager_options())

    async def get_summary(self, session: AsyncSession, id: int) -> Order | None:
        repository = OrderRepository(session)
        return await repository.get_by_id(id, options=repository.get_summary_options())

    async def get_page(self, session: AsyncSession, id: int) -> Order | None:
        return await OrderRepository(session).get_by_id(id, options=PAGE_OPTIONS)

    async def get_bare(self, session: AsyncSession, id: int, *, lock: bool = False) -> Order | None:
        return await OrderRepository(session).get_by_id(id, for_update=lock)

    async def list_readable(self, session: AsyncSession, org_id: int) -> Sequence[Order]:
        repository = OrderRepository(session)
        statement = repository.get_readable_statement(org_id).options(*repository.get_eager_options())
        return await repository.get_all(statement)

    async def list_readable_bare(self, session: AsyncSession, org_id: int) -> Sequence[Order]:
        repository = OrderRepository(session)
        return await repository.get_all(repository.get_readable_statement(org_id))

    async def get_with_lines(self, session: AsyncSession, id: int) -> Order | None:
        order = await OrderRepository(session).get_by_id(id)
        if order is None:
            return None
        return await self._with_lines(session, order)

    async def get_with_customer(self, session: AsyncSession, id: int) -> Order | None:
        order = await OrderRepository(session).get_by_id(id)
        if order is None:
            return None
        await session.refresh(order, ["customer"])
        return order

    async def _with_lines(self, session: AsyncSession, order: Order) -> Order:
        await session.refresh(order, {"customer", "items"})
        return order


class GenericService(Generic[M]):
    """The older style: the model is a class attribute, options are optional."""

    model: type[M]

    async def get(self, session: AsyncSession, id: int, options: Options | None = None) -> M | None:
        query = select(self.model).filter_by(id=id)
        if options is not None:
            query = query.options(*options)
        return (await session.execute(query)).unique().scalar_one_or_none()


class CustomerService(GenericService[Customer]):
    model = Customer

    async def with_orders(self, session: AsyncSession, id: int) -> Customer | None:
        return await self.get(session, id, options=[selectinload(Customer.orders)])


order_service = OrderService()
customer_service = CustomerService()
