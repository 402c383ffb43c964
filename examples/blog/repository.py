"""The repository recipe: callers pass loader options, the plugin follows them in.

``get_by_id`` qualifies (see docs/guide.md, "Repositories"): its only loader options are the
caller's, applied with ``.options(*options)`` to a ``select()`` of the model it returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.base import ExecutableOption

from blog.models import Post, User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_id(self, user_id: int, *, options: Sequence[ExecutableOption] = ()) -> User | None:
        stmt = select(User).where(User.id == user_id).options(*options)
        return (await self.session.execute(stmt)).scalar_one_or_none()


async def post_titles(session: AsyncSession, user_id: int) -> list[str]:
    user = await UserRepository(session).get_by_id(user_id, options=[selectinload(User.posts)])
    return [post.title for post in user.posts] if user else []


async def comment_counts(session: AsyncSession, user_id: int) -> list[int]:
    user = await UserRepository(session).get_by_id(user_id, options=[selectinload(User.posts)])
    return [len(post.comments) for post in user.posts] if user else []  # bug: comments not loaded


async def newest_post(session: AsyncSession) -> Post | None:
    return (await session.scalars(select(Post).order_by(Post.id.desc()))).first()
