"""Session factories of their own module (issue 18): the plugin reads each one's
``expire_on_commit`` where a scenario makes its session (``dsessions.keep(bind=...)``)."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

keep = async_sessionmaker(expire_on_commit=False)
plain = async_sessionmaker()
sync_keep = sessionmaker(expire_on_commit=False)
sync_plain = sessionmaker()


# Context managers and FastAPI-style dependencies that hand out a factory's session: the
# plugin follows them to the factory (``@sessions`` in the module's summary table).
@asynccontextmanager
async def keep_session(bind: AsyncEngine | AsyncConnection | None) -> AsyncIterator[AsyncSession]:
    async with keep(bind=bind) as session:
        yield session


@asynccontextmanager
async def plain_session(bind: AsyncEngine | AsyncConnection | None) -> AsyncIterator[AsyncSession]:
    async with plain(bind=bind) as session:
        yield session


@contextmanager
def sync_keep_session(bind: Engine | Connection | None) -> Iterator[Session]:
    with sync_keep(bind=bind) as session:
        yield session


@contextmanager
def sync_plain_session(bind: Engine | Connection | None) -> Iterator[Session]:
    with sync_plain(bind=bind) as session:
        yield session
