"""FastAPI routes whose response models read what the services loaded."""

from __future__ import annotations

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from shop.deps import get_bare_order, get_order_or_404, get_session
from shop.models import Order
from shop.services import order_service

app = FastAPI()


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


@app.get("/orders/{id}/customer")
async def read_order_customer(order: Order = Depends(get_order_or_404)) -> str:
    return order.customer.name


@app.get("/orders/{id}/bare-customer")
async def read_bare_order_customer(order: Order = Depends(get_bare_order)) -> str:
    return order.customer.name  # bug: the dependency loads nothing
