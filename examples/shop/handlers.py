"""What the application does with the services' results. Each ``async def f(session, id)``
is run by ``shop.demo``; the ones the plugin reports are the ones that fail there."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shop.models import Order
from shop.services import customer_service, order_service


def describe(order: Order) -> str:
    """A helper given an object: what it reads is known only from its callers (strict mode
    asks for a ``Loaded[...]`` annotation, which ``mypy-eagerload annotate`` writes)."""
    return f"{order.customer.name}: {len(order.items)} items"


async def order_lines(session: AsyncSession, id: int) -> list[str]:
    order = await order_service.get(session, id)
    if order is None:
        return []
    return [f"{order.customer.name}: {item.quantity} x {item.product.title}" for item in order.items]


async def order_summary(session: AsyncSession, id: int) -> str:
    order = await order_service.get_summary(session, id)
    if order is None:
        return ""
    return f"{order.customer.name}: {len(order.items)} items"


async def order_summary_titles(session: AsyncSession, id: int) -> list[str]:
    order = await order_service.get_summary(session, id)
    return [item.product.title for item in order.items] if order else []  # bug: product not loaded


async def order_customer(session: AsyncSession, id: int) -> str:
    order = await order_service.get_bare(session, id, lock=True)
    return order.customer.name if order else ""  # bug: nothing loaded


async def readable_titles(session: AsyncSession, org_id: int) -> list[str]:
    orders = await order_service.list_readable(session, org_id)
    return [item.product.title for order in orders for item in order.items]


async def readable_customers(session: AsyncSession, org_id: int) -> list[str]:
    orders = await order_service.list_readable_bare(session, org_id)
    return [order.customer.name for order in orders]  # bug: the join does not load customer


async def customer_order_count(session: AsyncSession, id: int) -> int:
    customer = await customer_service.with_orders(session, id)
    return len(customer.orders) if customer else 0


async def customer_plain_orders(session: AsyncSession, id: int) -> int:
    customer = await customer_service.get(session, id)
    return len(customer.orders) if customer else 0  # bug: options=None loads nothing


async def customer_order_items(session: AsyncSession, id: int) -> int:
    customer = await customer_service.with_orders(session, id)
    return sum(len(o.items) for o in customer.orders) if customer else 0  # bug: items not loaded


async def refreshed_lines(session: AsyncSession, id: int) -> str:
    order = await order_service.get_with_lines(session, id)
    return f"{order.customer.name}: {len(order.items)} items" if order else ""


async def refreshed_customer_items(session: AsyncSession, id: int) -> int:
    order = await order_service.get_with_customer(session, id)
    return len(order.items) if order else 0  # bug: only customer was refreshed


async def order_description(session: AsyncSession, id: int) -> str:
    order = await order_service.get(session, id)
    return describe(order) if order else ""


async def bare_order_description(session: AsyncSession, id: int) -> str:
    order = await order_service.get_bare(session, id)
    return describe(order) if order else ""  # bug: describe reads customer and items


async def page_lines(session: AsyncSession, id: int) -> list[str]:
    order = await order_service.get_page(session, id)
    return [f"{order.customer.name}: {item.quantity}" for item in order.items] if order else []


async def page_titles(session: AsyncSession, id: int) -> list[str]:
    order = await order_service.get_page(session, id)
    return [item.product.title for item in order.items] if order else []  # bug: product not loaded
