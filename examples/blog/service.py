"""Queries as an async service would write them: some right, some with the classic bug."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, load_only, selectinload, undefer

from blog.models import Post, User


async def user_page(session: AsyncSession, user_id: int) -> list[str]:
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    return [post.title for post in user.posts]  # bug: posts was never loaded


async def user_page_fixed(session: AsyncSession, user_id: int) -> list[str]:
    stmt = select(User).where(User.id == user_id).options(selectinload(User.posts))
    user = (await session.execute(stmt)).scalar_one()
    bio = user.profile.bio if user.profile else ""  # profile is lazy="selectin": loaded
    return [bio, *(post.title for post in user.posts)]


async def post_with_comments(session: AsyncSession, post_id: int) -> list[str]:
    stmt = select(Post).where(Post.id == post_id).options(joinedload(Post.author))
    post = (await session.execute(stmt)).scalar_one()
    return [post.author.name, *(c.body for c in post.comments)]  # bug: lazy="raise"


async def feed(session: AsyncSession) -> list[str]:
    stmt = select(User).options(selectinload(User.posts).selectinload(Post.comments))
    users = (await session.scalars(stmt)).all()
    lines = []
    for user in users:
        for post in user.posts:
            lines.append(f"{post.title}: {len(post.comments)} comments, {len(post.tags)} tags")
    return lines  # bug above: Post.tags is not loaded


async def post_previews(session: AsyncSession) -> list[str]:
    stmt = select(Post).options(load_only(Post.title), undefer(Post.body))
    return [f"{p.title}: {p.body[:80]}" for p in (await session.scalars(stmt)).all()]


async def post_bodies(session: AsyncSession) -> list[str]:
    posts = (await session.scalars(select(Post))).all()
    return [p.body for p in posts]  # bug: Post.body is deferred


async def authors_with_posts(session: AsyncSession) -> list[str]:
    stmt = select(User).options(joinedload(User.posts))
    users = (await session.scalars(stmt)).all()  # bug: a joined collection needs .unique()
    return [f"{u.name}: {len(u.posts)}" for u in users]


async def authors_with_posts_fixed(session: AsyncSession) -> list[str]:
    stmt = select(User).options(joinedload(User.posts))
    users = (await session.scalars(stmt)).unique().all()
    return [f"{u.name}: {len(u.posts)}" for u in users]
