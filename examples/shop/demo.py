"""Run every handler and route of the shop against SQLite and print what happened.

    cd examples && python -m shop.demo

The handlers and routes the plugin reports are the ones that fail here
(tests/test_shop_example.py checks it).
"""

from __future__ import annotations

import asyncio
import inspect
import os

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shop import api, deps, handlers
from shop.models import Base, Customer, Item, Order, Product


async def seed(session: AsyncSession) -> None:
    pen, ink = Product(title="pen"), Product(title="ink")
    customer = Customer(name="ann", org_id=1)
    customer.orders = [Order(items=[Item(product=pen, quantity=2), Item(product=ink)])]
    session.add(customer)
    await session.commit()


def _outcome(exc: BaseException) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


async def run(database: str = "shop-demo.db") -> dict[str, str]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    factory = async_sessionmaker(engine)
    async with factory() as session:
        await seed(session)
    outcomes: dict[str, str] = {}
    for name, fn in vars(handlers).items():
        if inspect.iscoroutinefunction(fn) and fn.__module__ == handlers.__name__:
            async with factory() as session:  # a fresh identity map for each
                try:
                    await fn(session, 1)
                    outcomes[f"handlers.{name}"] = "ok"
                except Exception as exc:  # the outcome is the point
                    outcomes[f"handlers.{name}"] = _outcome(exc)
    deps.session_factory = factory
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        for route in api.app.routes:
            path = getattr(route, "path", "")
            if not path.startswith("/orders"):
                continue
            try:
                response = await client.get(path.replace("{id}", "1"))
                outcomes[f"api.{getattr(route, 'name', path)}"] = \
                    "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
            except Exception as exc:  # raised through the transport
                outcomes[f"api.{getattr(route, 'name', path)}"] = _outcome(exc)
    await engine.dispose()
    os.remove(database)
    return outcomes


if __name__ == "__main__":
    for name, outcome in asyncio.run(run()).items():
        print(f"{outcome:>22}  {name}")
