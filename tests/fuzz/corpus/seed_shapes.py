"""Hand-written odd shapes: models in functions, aliases, of_type, dynamic options."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    DeclarativeBase,
    Load,
    Mapped,
    aliased,
    mapped_column,
    relationship,
    selectinload,
    with_polymorphic,
)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
    pets: Mapped[list[Pet]] = relationship(back_populates="owner")
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "person"}


class Engineer(Person):
    __tablename__ = "engineer"
    id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    __mapper_args__ = {"polymorphic_identity": "engineer"}


class Pet(Base):
    __tablename__ = "pet"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    owner: Mapped[Person] = relationship(back_populates="pets")


def make() -> Any:
    class Local(Base):
        __tablename__ = "local"
        id: Mapped[int] = mapped_column(primary_key=True)
        pets: Mapped[list[Pet]] = relationship()

    return Local


async def queries(session: AsyncSession, name: str, opts: Any) -> None:
    alias = aliased(Person)
    poly = with_polymorphic(Person, [Engineer])
    a = (await session.execute(select(alias).options(selectinload(alias.pets)))).scalar_one()
    a.pets
    b = (await session.execute(select(poly).options(Load(poly).selectinload(poly.pets)))).scalar_one()
    b.pets
    c = (await session.execute(select(Pet).options(selectinload(Pet.owner.of_type(Engineer))))).scalar_one()
    c.owner
    d = (await session.execute(select(Person).options(selectinload(getattr(Person, name)), *opts))).scalar_one()
    d.pets
    e = (await session.execute(select(make()).options(selectinload("pets")))).scalar_one()
    e.pets
