"""An HTTP API over the blog: FastAPI validates each response against its response_model with
``from_attributes=True``, so the schema reads the returned objects' relationships.

``author_page`` returns a user whose posts' tags were not loaded, and ``UserOut`` reads them:
the plugin reports the return, and under AsyncSession the request fails with a
``ResponseValidationError`` (MissingGreenlet inside). ``author_page_full`` loads them.
``post_page`` declares ``Loaded[Post, "tags"]`` but responds with ``PostDetail``, which
reads ``comments`` too: the plugin reports the decorator (and the query).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from blog.models import Post, User
from mypy_eagerload import Loaded

app = FastAPI()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessions  # see configure()
    async with maker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TagOut(Schema):
    name: str


class CommentOut(Schema):
    body: str


class PostOut(Schema):
    title: str
    labels: list[TagOut] = Field(validation_alias="tags")


class UserOut(Schema):
    name: str
    posts: list[PostOut]


class PostDetail(PostOut):
    comments: list[CommentOut]


@app.get("/authors/{user_id}", response_model=UserOut)
async def author_page(user_id: int, session: Session) -> User:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts))
    return (await session.execute(stmt)).scalar_one()  # posts' tags are not loaded


@app.get("/authors/{user_id}/full", response_model=UserOut)
async def author_page_full(user_id: int, session: Session) -> User:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts).selectinload(Post.tags))
    return (await session.execute(stmt)).scalar_one()


@app.get("/posts/{post_id}", response_model=PostDetail)
async def post_page(post_id: int, session: Session) -> Loaded[Post, "tags"]:
    stmt = select(Post).where(Post.id == post_id).options(selectinload(Post.tags))
    return (await session.execute(stmt)).scalar_one()  # comments: lazy="raise"


@app.get("/posts/{post_id}/full", response_model=PostDetail)
async def post_page_full(post_id: int, session: Session) -> Loaded[Post, "tags", "comments"]:
    stmt = select(Post).where(Post.id == post_id).options(selectinload(Post.tags),
                                                          selectinload(Post.comments))
    return (await session.execute(stmt)).scalar_one()


def configure(maker: async_sessionmaker[AsyncSession]) -> None:
    """Serve with this sessionmaker (the test and any server set it once)."""
    app.state.sessions = maker
