# Found by the fuzzer (seed 9008500, program 223): mypy 2.4.1 crashes on it WITH OR WITHOUT
# the plugin ("too many class plugin hook passes", MappedAsDataclass with an undefined
# relationship target). Kept to check the runner tells mypy's own crashes apart.
from __future__ import annotations
from typing import Any, Optional
from sqlalchemy import select, ForeignKey, Column, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, declared_attr
from sqlalchemy.orm import selectinload, joinedload, subqueryload, immediateload, lazyload
from sqlalchemy.orm import raiseload, noload, defaultload, contains_eager, Load
from sqlalchemy.orm import load_only, defer, undefer, undefer_group, with_expression
from sqlalchemy.orm import aliased, with_polymorphic, deferred, column_property, query_expression
from sqlalchemy.orm import WriteOnlyMapped, DynamicMapped, Session, MappedAsDataclass
from sqlalchemy.ext.asyncio import AsyncSession, AsyncAttrs

class Base(MappedAsDataclass, DeclarativeBase):
    pass

class Mfz9008500_2230(Base):
    __tablename__ = "mfz9008500_2230"
    id: Mapped[int] = mapped_column(primary_key=True)
    c0: Mapped[str] = mapped_column(deferred=maybe())
    c1 = Column(Integer, ForeignKey("mfz9008500_2230.id"))
    c2: Mapped[str] = mapped_column(deferred_group="g", deferred_raiseload=True)
    r0: Mapped[Mfz9008500_2231] = relationship(back_populates="r3", lazy="raise")
    obj: Mapped[list[Nowhere]] = relationship(back_populates="r1")
    @declared_attr.directive
    def r2(cls) -> Any:
        return relationship("Mfz9008500_2232")

class Mfz9008500_2231(Base):
    __tablename__ = "mfz9008500_2231"
    id: Mapped[int] = mapped_column(primary_key=True)
    undefined = deferred(Column(String))
    undefined: Mapped[int] = mapped_column(primary_key=True)
    c2: Mapped[str]
    r0: Mapped[Any] = relationship(lazy="raise")
    r1: WriteOnlyMapped[Nowhere] = relationship(backref="b1")
    r2: Mapped["Nowhere"] = relationship(lambda: Nowhere, lazy=None)

class Mfz9008500_2232(Base):
    __tablename__ = "mfz9008500_2232"
    id: Mapped[int] = mapped_column(primary_key=True)


LAZY = "selectin"
UL = True
DEF = False
flag = bool()
name = "x"
paths: list[Any] = []
opts = [selectinload(Mfz9008500_2230.r3)] if flag else []
opts_any: Any = []
opt_any: Any = None
literal: Any = None
def maybe() -> bool: return True
def loader_fn() -> Any: return None
def helper(stmt: Any) -> Any: return stmt
alias = aliased(Mfz9008500_2230)
poly = with_polymorphic(Mfz9008500_2230, "*")
sync_session: Session = Session()

async def q0(session: AsyncSession) -> Any:
    obj = (await session.execute(select(Mfz9008500_2230).options(joinedload(Mfz9008500_2232.r4, Mfz9008500_2231.r2), immediateload(Mfz9008500_2230.Any)))).scalars().all()
    await session.refresh(obj[0], ['r2'])
    [x.r3 for x in obj.r1]
    return obj.r2
    return obj.r1

async def q1(session: AsyncSession) -> Any:
    stmt = select(Mfz9008500_2232).join(Mfz9008500_2232.r0).options(Load(alias).joinedload(alias.r2), lazyload(Mfz9008500_2231.r2)).limit(1)
    for obj in (await session.execute(stmt)).scalars():
        obj.r0 if obj else None
    del obj.r3
    obj.r2.r2
