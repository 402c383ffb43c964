"""Run every query function of the example app against SQLite and print what happened.

    cd examples && python -m blog.demo

The functions the plugin reports are the ones that fail here (tests/test_example.py checks it).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from blog import repository, service, views
from blog.models import Base, Comment, Post, Profile, Tag, User

MODULES = (service, repository, views)


def query_functions() -> dict[str, Callable[..., Awaitable[object]]]:
    """Every ``async def f(session, ...)`` of the example modules, by qualified name."""
    found: dict[str, Callable[..., Awaitable[object]]] = {}
    for module in MODULES:
        for name, fn in vars(module).items():
            if inspect.iscoroutinefunction(fn) and fn.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = fn
    return found


async def seed(session: AsyncSession) -> None:
    tag = Tag(name="sqlalchemy")
    ann = User(name="ann", profile=Profile(bio="writes"))
    ann.posts = [Post(title="Loading", body="x" * 200, tags=[tag],
                      comments=[Comment(body="nice")]) for _ in range(2)]
    session.add_all([ann, User(name="bob")])
    await session.commit()


async def run(database: str = "blog-demo.db") -> dict[str, str]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        await seed(session)
    outcomes: dict[str, str] = {}
    for name, fn in query_functions().items():
        async with AsyncSession(engine) as session:  # a fresh identity map for each
            args = [1] * (len(inspect.signature(fn).parameters) - 1)
            try:
                result = await fn(session, *args)
                if isinstance(result, User):
                    # What the return type promises (a plain User here: strict mode would ask).
                    _ = result.posts  # type: ignore[unloaded-relationship, unused-ignore]
                outcomes[name] = "ok"
            except Exception as exc:  # the outcome is the point
                # A failed lazy load inside a statement wraps the real error.
                outcomes[name] = type(getattr(exc, "orig", None) or exc).__name__
    await engine.dispose()
    os.remove(database)
    return outcomes


if __name__ == "__main__":
    for name, outcome in asyncio.run(run()).items():
        print(f"{outcome:>22}  {name}")
