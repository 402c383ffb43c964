"""FastAPI dependencies: routes receive what these load (``order: Order = Depends(...)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.models import Order
from shop.services import order_service

session_factory: async_sessionmaker[AsyncSession] | None = None  # set by shop.demo


async def get_session() -> AsyncIterator[AsyncSession]:
    assert session_factory is not None
    async with session_factory() as session:
        yield session


async def get_order_or_404(id: int, session: AsyncSession = Depends(get_session)) -> Order:
    """A dependency that loads what the routes below read."""
    order = await order_service.get(session, id)
    if order is None:
        raise HTTPException(404)
    return order


async def get_bare_order(id: int, session: AsyncSession = Depends(get_session)) -> Order:
    order = await order_service.get_bare(session, id)
    if order is None:
        raise HTTPException(404)
    return order

