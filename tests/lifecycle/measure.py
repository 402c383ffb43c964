"""What session operations do to loaded objects, measured (issue 18, part 1).

Each row is a sequence of steps on a fresh seeded database, then reads of attributes; each
read's outcome is recorded: ``ok``, ``SQL`` (a sync session emitted a query to answer it: an
extra round trip, the N+1 shape), or the exception it raised. The same rows run on
``AsyncSession`` (aiosqlite) and on ``Session`` (pysqlite). ``python -m tests.lifecycle.measure``
prints the tables that ``docs/session-lifecycle.md`` holds for the installed SQLAlchemy;
``tests/test_lifecycle_tables.py`` re-measures and compares, so the document is a twin.

Objects: ``user`` is loaded by ``select(User).options(selectinload(User.posts))`` (its
columns, ``posts`` loaded; ``notes`` is ``lazy="raise"``, never loaded); ``new`` is built in
code and added (``created`` has a ``server_default``, ``touched`` an ``onupdate``, ``double``
is ``Computed``).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy import Computed, ForeignKey, event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "lc_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    created: Mapped[str | None] = mapped_column(server_default="now")
    touched: Mapped[str | None] = mapped_column(onupdate="later")
    double: Mapped[int | None] = mapped_column(Computed("id * 2"))
    posts: Mapped[list[Post]] = relationship(back_populates="author")
    notes: Mapped[list[Note]] = relationship(lazy="raise")


class Post(Base):
    __tablename__ = "lc_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("lc_users.id"))
    author: Mapped[User] = relationship(back_populates="posts")


class Note(Base):
    __tablename__ = "lc_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lc_users.id"))


@dataclass(frozen=True)
class Row:
    label: str
    steps: tuple[str, ...]
    reads: tuple[str, ...]
    factory: dict[str, Any] = field(default_factory=dict)  # sessionmaker arguments


LOADED = ("user.id", "user.name", "user.posts", "user.notes")
NEW = ("new.id", "new.name", "new.created", "new.double", "new.posts")

ROWS = [
    Row("loaded, nothing else", ("load",), LOADED),
    Row("commit()", ("load", "commit"), LOADED),
    Row("commit(), expire_on_commit=False", ("load", "commit"), LOADED, {"expire_on_commit": False}),
    Row("rollback()", ("load", "rollback"), LOADED),
    Row("rollback() after a change", ("load", "change", "rollback"), LOADED),
    Row("commit(), then rollback(), expire_on_commit=False", ("load", "commit", "rollback"), LOADED,
        {"expire_on_commit": False}),
    Row("begin_nested(), rollback of the savepoint", ("load", "savepoint", "savepoint_rollback"), LOADED),
    Row("change in a savepoint, rollback of it", ("load", "savepoint", "change", "savepoint_rollback"), LOADED),
    Row("begin_nested(), commit of the savepoint", ("load", "savepoint", "savepoint_commit"), LOADED),
    Row("expire(user)", ("load", "expire"), LOADED),
    Row('expire(user, ["name"])', ("load", "expire_name"), LOADED),
    Row('expire(user, ["posts"])', ("load", "expire_posts"), LOADED),
    Row("expire_all()", ("load", "expire_all"), LOADED),
    Row("refresh(user)", ("load", "expire", "refresh"), LOADED),
    Row('refresh(user, ["posts"]) after expire', ("load", "expire", "refresh_posts"), LOADED),
    Row('refresh(user, ["name"]) after expire', ("load", "expire", "refresh_name"), LOADED),
    Row('refresh(user, ["notes"]) (lazy="raise")', ("load", "refresh_notes"), LOADED),
    Row("close()", ("load", "close"), LOADED),
    Row("expunge(user)", ("load", "expunge"), LOADED),
    Row("expunge(user) after expire", ("load", "expire", "expunge"), LOADED),
    Row("commit() then close()", ("load", "commit", "close"), LOADED),
    Row("leaving session.begin()", ("begin_block",), LOADED),
    Row("User(...) added, not flushed", ("new",), NEW),
    Row("User(...) added, flush()", ("new", "flush"), NEW),
    Row("User(...) added, flush(), eager_defaults", ("new", "flush"), NEW, {"eager_defaults": True}),
    Row("User(...) added, commit()", ("new", "commit"), NEW),
    Row("User(...) added, commit(), expire_on_commit=False", ("new", "commit"), NEW,
        {"expire_on_commit": False}),
    Row("User(...) added, rollback()", ("new", "rollback"), NEW),
    Row("User(...) added, flush(), rollback()", ("new", "flush", "rollback"), NEW),
    Row("loaded, changed, flush() (onupdate)", ("load", "change", "flush"), ("user.name", "user.touched")),
    Row("loaded, changed, flush(), eager_defaults", ("load", "change", "flush"), ("user.name", "user.touched"),
        {"eager_defaults": True}),
]


def _mapper_options(row: Row) -> dict[str, Any]:
    return {k: v for k, v in row.factory.items() if k != "eager_defaults"}


def _seed(session: Session) -> None:
    user = User(id=1, name="ann", posts=[Post(id=1), Post(id=2)], notes=[Note(id=1)])
    session.add(user)
    session.commit()


class Counter:
    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, *args: object) -> None:
        self.statements += 1


def _read(objects: dict[str, Any], read: str) -> object:
    name, attr = read.split(".")
    return getattr(objects[name], attr)


def _outcome(fn: Callable[[], object], counter: Counter) -> str:
    before = counter.statements
    try:
        fn()
    except Exception as exc:  # the outcome is the exception's class (the driver's, if wrapped)
        orig = getattr(exc, "orig", None)
        return type(orig if isinstance(orig, Exception) else exc).__name__
    return "SQL" if counter.statements > before else "ok"


# -- the steps, sync and async ----------------------------------------------------------------


def _step(session: Any, objects: dict[str, Any], step: str) -> tuple[object, str | None]:
    """Start ``step`` on either kind of session: (what the call returned, an awaitable under
    AsyncSession; the name of the object the result becomes, if any)."""
    user = objects.get("user")
    if step == "load":
        return session.scalars(select(User).where(User.id == 1).options(selectinload(User.posts))), "user"
    if step == "new":
        objects["new"] = User(id=2, name="bob")
        return session.add(objects["new"]), None
    if step == "change":
        user.name = "changed"
        return None, None
    if step == "savepoint":
        return session.begin_nested(), "savepoint"
    if step in ("savepoint_rollback", "savepoint_commit"):
        return getattr(objects["savepoint"], step.split("_")[1])(), None
    if step in ("expire", "expire_name", "expire_posts"):
        names = {"expire": None, "expire_name": ["name"], "expire_posts": ["posts"]}[step]
        return session.expire(user, names), None
    if step == "expire_all":
        return session.expire_all(), None
    if step.startswith("refresh"):
        names = {"refresh": None, "refresh_posts": ["posts"], "refresh_name": ["name"],
                 "refresh_notes": ["notes"]}[step]
        return session.refresh(user, names), None
    if step == "expunge":
        return session.expunge(user), None
    return getattr(session, step)(), None  # commit, rollback, flush, close


def _keep(objects: dict[str, Any], name: str | None, value: Any) -> None:
    if name == "user":
        objects["user"] = value.one()
    elif name is not None:
        objects[name] = value


def _sync_step(session: Session, objects: dict[str, Any], step: str) -> None:
    value, name = _step(session, objects, step)
    _keep(objects, name, value)


async def _async_step(session: AsyncSession, objects: dict[str, Any], step: str) -> None:
    value, name = _step(session, objects, step)
    if inspect.isawaitable(value):
        value = await value
    _keep(objects, name, value)


# -- running a row ----------------------------------------------------------------------------


def _configure(row: Row) -> None:
    User.__mapper__.eager_defaults = bool(row.factory.get("eager_defaults"))


def run_sync(row: Row) -> dict[str, str]:
    """Each read in a run of its own: a read that refreshes the object changes what the next
    one sees."""
    return {read: _run_sync(row, read) for read in row.reads}


def _run_sync(row: Row, read: str) -> str:
    engine = sqlalchemy.create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        _seed(s)
    counter = Counter()
    event.listen(engine, "before_cursor_execute", counter)
    _configure(row)
    factory = sessionmaker(engine, **_mapper_options(row))
    objects: dict[str, Any] = {}
    session = factory()
    try:
        if row.steps == ("begin_block",):
            with session.begin():
                _sync_step(session, objects, "load")
        else:
            for step in row.steps:
                _sync_step(session, objects, step)
        return _outcome(lambda: _read(objects, read), counter)
    finally:
        session.close()
        engine.dispose()


async def _run_async(row: Row, read: str) -> str:
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as s:
        await s.run_sync(_seed)
    counter = Counter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    _configure(row)
    factory = async_sessionmaker(engine, **_mapper_options(row))
    objects: dict[str, Any] = {}
    session = factory()
    try:
        if row.steps == ("begin_block",):
            async with session.begin():
                await _async_step(session, objects, "load")
        else:
            for step in row.steps:
                await _async_step(session, objects, step)
        return _outcome(lambda: _read(objects, read), counter)
    finally:
        await session.close()
        await engine.dispose()


def run_async(row: Row) -> dict[str, str]:
    with warnings.catch_warnings():  # a read that fails leaves a driver coroutine unawaited
        warnings.simplefilter("ignore", RuntimeWarning)
        return {read: asyncio.run(_run_async(row, read)) for read in row.reads}


def measure() -> dict[str, dict[str, dict[str, str]]]:
    """{"async"/"sync": {row label: {read: outcome}}}."""
    return {"async": {row.label: run_async(row) for row in ROWS},
            "sync": {row.label: run_sync(row) for row in ROWS}}


def markdown(found: dict[str, dict[str, dict[str, str]]]) -> str:
    version = ".".join(sqlalchemy.__version__.split(".")[:2])
    lines = [f"<!-- measured: SQLAlchemy {version} -->", "",
             "| operation | read | AsyncSession | Session |", "|---|---|---|---|"]
    for row in ROWS:
        for read in row.reads:
            lines.append(f"| {row.label} | `{read}` | {found['async'][row.label][read]} "
                         f"| {found['sync'][row.label][read]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(measure()))
