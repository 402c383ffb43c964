"""The mapping the differential suite runs against: every relationship shape at once.

One-to-one, one-to-many, many-to-one, many-to-many, self-referential, eager-by-default
(selectin and joined), raise, raise_on_sql and a declared_attr mixin. Scalars are not
Optional so that generated accesses type-check without None guards.

Some arguments are constants (issue 20), so every scenario that reads those relationships
checks that the plugin reads them like literals: ``Final`` names from this module and from
``dconsts``, a ``Literal``-typed name, plain module constants, a string concatenation, and
``lazy=True``/``lazy=False`` (SQLAlchemy's old spellings of "select" and "joined").
"""

from __future__ import annotations

from typing import Any, Final, Literal

import dconsts
from dconsts import RAISE
from sqlalchemy import Column, ForeignKey, Table
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

JOINED: Final = "joined"
RAISE_ON_SQL: Literal["raise_on_sql"] = "raise_on_sql"
SINGLE: Final = False
POSTS = "posts"  # plain module constants: assigned once, read like literals
PLURAL = "s"


class Base(AsyncAttrs, DeclarativeBase):
    pass


user_groups = Table(
    "user_groups", Base.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("group_id", ForeignKey("groups.id"), primary_key=True),
)
post_tags = Table(
    "post_tags", Base.metadata,
    Column("post_id", ForeignKey("posts.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class HasOwner:
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    @declared_attr
    def owner(cls) -> Mapped[User]:
        return relationship("User", lazy=JOINED)

    def owner_label(self) -> str:  # a mixin's member, extended through super() in Group
        return self.owner.name


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    bio: Mapped[str] = mapped_column(default="bio", deferred=True)
    email: Mapped[str] = mapped_column(default="e@x", deferred_group="contact")
    phone: Mapped[str] = mapped_column(default="555", deferred_group="contact")
    secret: Mapped[str] = mapped_column(default="s", deferred_raiseload=True)
    posts: Mapped[list[Post]] = relationship(back_populates="author")
    profile: Mapped[Profile] = relationship(back_populates="user", lazy=dconsts.SELECTIN, uselist=SINGLE)
    groups: Mapped[list[Group]] = relationship(secondary=user_groups, back_populates="members",
                                               lazy="selectin")
    addresses: Mapped[list[Address]] = relationship(back_populates="user", lazy=True)  # "select"
    comments: Mapped[list[Comment]] = relationship(back_populates="author", lazy=RAISE)

    # Members that read relationships on self (their requirements are checked at use sites).
    @property
    def post_count(self) -> int:
        return len(self.posts)

    def comment_total(self) -> int:
        return sum(len(post.comments) for post in self.posts)

    def describe(self) -> str:
        return f"{self.name}: {self.post_count} posts"

    # Reads self.posts and each post's title (a column): the collection proxy loads on use.
    post_titles: AssociationProxy[list[str]] = association_proxy("posts", "title")


class Profile(Base):
    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="profile")


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses", lazy=False)  # "joined"


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(default="title")
    body: Mapped[str] = mapped_column(default="body", deferred=True)
    author: Mapped[User] = relationship(back_populates=POSTS)
    comments: Mapped[list[Comment]] = relationship(back_populates="post")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts",
                                           lazy=RAISE_ON_SQL)

    @property
    def tag_count(self) -> int:
        return len(self.tags)

    @hybrid_property
    def comment_count(self) -> int:
        return len(self.comments)

    @comment_count.inplace.expression
    @classmethod
    def _comment_count(cls) -> Any:
        return cls.id  # the SQL side: never an instance read

    @hybrid_method
    def by_author(self, name: str) -> bool:
        return self.author.name == name

    comment_authors: AssociationProxy[list[User]] = association_proxy("comments", "author")
    author_name: AssociationProxy[str] = association_proxy("author", "name")  # scalar: reads at once


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    post: Mapped[Post] = relationship(back_populates="comments", lazy="selectin")
    author: Mapped[User] = relationship(back_populates="comment" + PLURAL)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags",
                                             lazy=JOINED)  # a joined collection by default


class Group(HasOwner, Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    members: Mapped[list[User]] = relationship(secondary=user_groups, back_populates="groups")

    def owner_label(self) -> str:  # overrides the mixin's, which it calls through super()
        return f"{super().owner_label()} ({len(self.members)} members)"


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    parent: Mapped[Node] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Node]] = relationship(back_populates="parent", lazy="selectin")


async def seed(session: object) -> None:
    """Every relationship non-empty, every scalar set, for ids 1 and 2 at least."""
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    # Users 1-2 are the roots; 3-4 write comments; 5-6 own groups. Keeping them apart means
    # a probe reaches a different identity than the root through a different path, so an
    # object loaded on one path does not quietly satisfy a read on another.
    users = [User(id=i, name=f"u{i}") for i in range(1, 7)]
    tags = [Tag(id=i) for i in (1, 2)]
    for u in users:
        u.profile = Profile(id=u.id)
        u.addresses = [Address(id=u.id * 10 + k) for k in (1, 2)]
    groups = [Group(id=i, owner=users[3 + i]) for i in (1, 2)]
    for u in users[:4]:
        u.groups = list(groups)
    pid = cid = 0
    for u in users:
        for _ in range(2 if u.id <= 4 else 0):
            pid += 1
            post = Post(id=pid, author=u, tags=list(tags))
            for _ in range(2):
                cid += 1
                post.comments.append(Comment(id=cid, author=users[2 + cid % 2]))
    # A chain 10 <- 11 <- 1 <- 2 <- 3 <- 5 <- 6 <- 7, and 4 under 1: node 3 has
    # non-null parents and non-empty children three hops deep in both directions.
    top = Node(id=10)
    node = Node(id=11, parent=top)
    for nid in (1, 2, 3, 5, 6, 7):
        node = Node(id=nid, parent=node)
    Node(id=4, parent=node.parent.parent.parent.parent)
    session.add_all([*users, *tags, *groups, top])
    await session.commit()
