"""FastAPI routes whose response models read what the services loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.models import Order
from shop.services import order_service

app = FastAPI()
session_factory: async_sessionmaker[AsyncSession] | None = None  # set by shop.demo


async def get_session() -> AsyncIterator[AsyncSession]:
    assert session_factory is not None
    async with session_factory() as session:
        yield session


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    quantity: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer: CustomerOut
    items: list[ItemOut]


@app.get("/orders/{id}", response_model=OrderOut)
async def read_order(id: int, session: AsyncSession = Depends(get_session)) -> Order:
    order = await order_service.get(session, id)
    if order is None:
        raise HTTPException(404)
    return order


@app.get("/orders/{id}/bare", response_model=OrderOut)
async def read_order_bare(id: int, session: AsyncSession = Depends(get_session)) -> Order:
    order = await order_service.get_bare(session, id)
    if order is None:
        raise HTTPException(404)
    return order  # bug: the response model reads customer and items


@app.get("/orders/{id}/direct", response_model=OrderOut)
async def read_order_direct(id: int, session: AsyncSession = Depends(get_session)) -> Order | None:
    return await order_service.get_bare(session, id)
