"""Hand-written odd shapes for the serializer and route checks and the annotate collector:
half-written schemas, recursive and generic ones, odd decorators. None may crash mypy."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI
from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

T = TypeVar("T")
alias = "posts"


class Base(DeclarativeBase):
    pass


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    children: Mapped[list[Node]] = relationship()


class Tree(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    children: list[Tree]  # recursive


class Weird(BaseModel):
    model_config = 1  # type: ignore[assignment]
    a: int = Field(validation_alias=AliasPath())
    b: int = Field(validation_alias=AliasChoices())
    c: int = Field(validation_alias=alias)
    d = 3
    e: Undefined  # type: ignore[name-defined]  # noqa: F821


class Box(BaseModel, Generic[T]):
    model_config = ConfigDict(from_attributes=True)
    children: list[T]
    more: dict[str, T]


class Config:  # a class named Config outside a schema
    from_attributes = True


app = FastAPI()
router = APIRouter()


@app.get("/a", response_model=None)
async def a(session: AsyncSession) -> Node:
    return (await session.execute(select(Node))).scalar_one()


@router.get("/b", response_model=dict[str, Tree])
async def b(session: AsyncSession) -> Node:
    return (await session.execute(select(Node))).scalar_one()


@app.get("/c", response_model=Box)  # type: ignore[type-arg]
async def c(session: AsyncSession) -> Node:
    return (await session.execute(select(Node))).scalar_one()


@app.get("/d", response_model=Tree)
def d():  # type: ignore[no-untyped-def]
    return None


class Views:
    @app.get("/e", response_model=Tree)
    async def e(self, session: AsyncSession) -> Node:
        return (await session.execute(select(Node))).scalar_one()


app.add_api_route("/f", lambda: None, response_model=Tree)
app.add_api_route("/g", d, response_model=Tree)


async def calls(session: AsyncSession, anything: Any, node: Node) -> None:
    n = (await session.execute(select(Node))).scalar_one()
    Tree.model_validate(n)
    Tree.model_validate()  # type: ignore[call-arg]
    Tree.model_validate(anything)
    Tree.model_validate(n, from_attributes=anything)
    Box.model_validate(n)
    Box[Tree].model_validate(n)
    Box[Any].model_validate(node)
    Weird.model_validate(n)
    TypeAdapter(Any).validate_python(n, from_attributes=True)
    TypeAdapter(list[Tree]).validate_python([n, None, 1], from_attributes=True)
    TypeAdapter(Tree | None).validate_python(n)
    Tree.from_orm(n)
