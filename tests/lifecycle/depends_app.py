"""A FastAPI app whose sessions come from dependencies (issue 18, part 2): runtime twin of
the plugin's reading of ``Depends(get_session)``. Each route reads once after its session
work; the comment on that line says what the runtime does (``test_lifecycle_dependencies``
checks both the runtime and the plugin against it).

``# fails`` the read fails and the plugin reports it; ``# works`` it works and the plugin
is silent; ``# fails, not followed`` it fails and the plugin cannot see why (documented)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from sqlalchemy.pool import StaticPool

engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
plain = async_sessionmaker(engine)
keep = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User] = relationship(back_populates="posts")


async def get_session() -> AsyncIterator[AsyncSession]:
    async with plain() as session:
        yield session


async def get_keep_session() -> AsyncIterator[AsyncSession]:
    async with keep() as session:
        yield session


async def load_user(session: AsyncSession, id: int) -> User:
    return (await session.scalars(select(User).options(selectinload(User.posts))
                                  .where(User.id == id))).one()


async def save(session: AsyncSession, user: User) -> None:
    session.add(user)
    await session.commit()


@app.post("/plain/{id}")
async def rename_plain(id: int, session: AsyncSession = Depends(get_session)) -> str:
    user = await load_user(session, id)
    user.name = "renamed"
    await session.commit()
    return user.name  # fails


@app.post("/plain-posts/{id}")
async def count_posts_plain(id: int, session: AsyncSession = Depends(get_session)) -> int:
    user = await load_user(session, id)
    await save(session, user)
    return len(user.posts)  # fails


@app.post("/keep/{id}")
async def rename_keep(id: int, session: AsyncSession = Depends(get_keep_session)) -> str:
    user = await load_user(session, id)
    user.name = "renamed"
    await session.commit()
    return user.name  # works


@app.post("/keep-posts/{id}")
async def count_posts_keep(id: int, session: AsyncSession = Depends(get_keep_session)) -> int:
    user = await load_user(session, id)
    await save(session, user)
    return len(user.posts)  # works


@app.post("/refreshed/{id}")
async def rename_refreshed(id: int, session: AsyncSession = Depends(get_session)) -> str:
    user = await load_user(session, id)
    user.name = "renamed"
    await session.commit()
    await session.refresh(user, ["name"])
    return user.name  # works


@app.post("/annotated/{id}")
async def rename_annotated(id: int, session: Annotated[AsyncSession, Depends(get_session)]) -> str:
    # mypy keeps no trace of Depends(...)'s argument inside Annotated[...], so the session's
    # factory is unknown here and the plugin says nothing (with expire_on_commit = "auto").
    user = await load_user(session, id)
    user.name = "renamed"
    await session.commit()
    return user.name  # fails, not followed


async def serve() -> dict[str, str]:
    """Each route's outcome: "ok", or the name of the exception it raised."""
    import httpx
    from fastapi.routing import APIRoute

    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with keep() as session:
        session.add(User(id=1, name="ada", posts=[Post(id=1)]))
        await session.commit()
    outcomes: dict[str, str] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for route in app.routes:
            if isinstance(route, APIRoute):
                try:
                    response = await client.post(route.path.replace("{id}", "1"))
                    outcomes[route.endpoint.__name__] = "ok" if response.status_code == 200 \
                        else f"HTTP {response.status_code}"
                except Exception as error:  # the outcome is the point
                    # A reload's MissingGreenlet surfaces wrapped in a StatementError.
                    cause = getattr(error, "orig", None) or error
                    outcomes[route.endpoint.__name__] = type(cause).__name__
    await engine.dispose()
    return outcomes
