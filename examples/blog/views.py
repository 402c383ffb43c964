"""Objects passed between functions: ``Loaded[...]`` says what a function needs loaded."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from blog.models import Post, User
from mypy_eagerload import Loaded


def render_user(user: Loaded[User, "posts", "posts.tags"]) -> list[str]:
    return [f"{post.title} [{', '.join(tag.name for tag in post.tags)}]" for post in user.posts]


def render_post(post: Loaded[Post, "author"]) -> str:
    return f"{post.title} by {post.author.name}: {len(post.comments)} comments"  # not declared


async def user_page(session: AsyncSession, user_id: int) -> list[str]:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts).selectinload(Post.tags))
    return render_user((await session.execute(stmt)).scalar_one())


async def user_page_missing_tags(session: AsyncSession, user_id: int) -> list[str]:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts))
    return render_user((await session.execute(stmt)).scalar_one())  # bug: posts.tags not loaded


async def load_author_page(session: AsyncSession, user_id: int) -> Loaded[User, "posts"]:
    stmt = select(User).where(User.id == user_id)
    return (await session.execute(stmt)).scalar_one()  # bug: the return type promises posts


async def post_page(session: AsyncSession, post_id: int) -> str:
    stmt = select(Post).where(Post.id == post_id).options(selectinload(Post.author))
    return render_post((await session.execute(stmt)).scalar_one())


def post_count(user: User) -> int:
    """A plain ``User``: unchecked by default; strict mode asks for ``Loaded[User, "posts"]``."""
    return len(user.posts)


async def post_count_page(session: AsyncSession, user_id: int) -> int:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts))
    return post_count((await session.execute(stmt)).scalar_one())
