"""``Loaded[...]`` outside mypy: at runtime it is the model class, and other checkers see it.

FastAPI, pydantic and ``typing.get_type_hints`` evaluate annotations; pyright reads the
``TYPE_CHECKING`` alias of ``Annotated``. None of them may fail because of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mypy_eagerload import Loaded


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "rt_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "rt_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("rt_authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


def takes(author: Loaded[Author, "books", "books.author"], many: list[Loaded[Author, "books"]]
          ) -> Loaded[Book, "author"] | None:
    return None


def test_subscription_is_the_model() -> None:
    assert Loaded[Author, "books"] is Author
    assert Loaded[Author, "books", "books.author"] is Author
    with pytest.raises(TypeError):
        Loaded[Author, 1]  # type: ignore[misc]  # paths are strings
    with pytest.raises(TypeError):
        Loaded()  # type: ignore[operator]


def test_loaded_path_errors_state_the_mapping() -> None:
    """The facts typesafety's loaded_misspelled_paths states as [loaded-path] errors, on the
    real mapper: "id" is a column (a primary key), not a relationship, and no loader option
    can name it or an empty path; a union is not a mapped class (at runtime Loaded[...] of
    one is that union, as the annotation without the plugin)."""
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.orm import Session, selectinload
    from sqlalchemy.orm.exc import LoaderStrategyException

    mapper = inspect(Author)
    assert "id" in mapper.columns and "id" not in mapper.relationships
    assert "books" in mapper.relationships
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(select(Author).options(selectinload(Author.books))).all()
        with pytest.raises(LoaderStrategyException, match=r'"Author\.id", which is a "column property"'):
            session.execute(select(Author).options(selectinload(Author.id))).all()  # type: ignore[arg-type]
        with pytest.raises(ArgumentError):
            session.execute(select(Author).options(selectinload(""))).all()  # the empty path: nothing
    assert Loaded[Author | None, "books"] == Author | None  # type: ignore[misc]
    with pytest.raises(Exception, match="No inspection system"):
        inspect(Author | None)


def test_get_type_hints_gives_model_classes() -> None:
    hints = typing.get_type_hints(takes)
    assert hints["author"] is Author
    assert hints["many"] == list[Author]
    assert hints["return"] == Book | None


def test_pydantic_model_and_type_adapter() -> None:
    from pydantic import BaseModel, ConfigDict, TypeAdapter

    class Holder(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        author: Loaded[Author, "books"]

    author = Author(id=1, name="a")
    assert Holder(author=author).author is author
    with pytest.raises(ValueError):
        Holder(author="not an author")  # type: ignore[arg-type]
    adapter: TypeAdapter[Author] = TypeAdapter(Loaded[Author, "books"],
                                               config=ConfigDict(arbitrary_types_allowed=True))
    assert adapter.validate_python(author) is author


def current_author() -> Loaded[Author, "books"]:
    return Author(id=1, name="ann", books=[Book(id=7)])


def test_fastapi_route_with_loaded_annotations() -> None:
    """FastAPI resolves a route's annotations from the module's globals (with postponed
    evaluation): the dependency and return annotations are Loaded[...] here."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import BaseModel, ConfigDict

    class BookOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        id: int

    class AuthorOut(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        name: str
        books: list[BookOut]

    app = FastAPI()

    def me(author: Annotated[Loaded[Author, "books"], Depends(current_author)]) -> Loaded[Author, "books"]:
        return author

    app.get("/me", response_model=AuthorOut)(me)
    response = TestClient(app).get("/me")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "ann", "books": [{"id": 7}]}


PYRIGHT_SOURCE = '''\
from __future__ import annotations
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from mypy_eagerload import Loaded


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    books: Mapped[list[Book]] = relationship()


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)


def show(author: Loaded[Author, "books", "books.author"]) -> Loaded[Book, "x"] | None:
    reveal_type(author)
    return author.books[0] if author.books else None
'''


def test_pyright_sees_the_plain_model(tmp_path: Path) -> None:
    """pyright (as packaged by basedpyright, which bundles its Node.js) accepts the
    annotation without errors and types it as the model."""
    exe = shutil.which("basedpyright", path=str(Path(sys.executable).parent)) or shutil.which("basedpyright")
    assert exe is not None, "basedpyright is part of the test extra"
    (tmp_path / "mod.py").write_text(PYRIGHT_SOURCE)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps({
        "typeCheckingMode": "standard", "pythonPath": sys.executable}))
    proc = subprocess.run([exe, "--outputjson", "mod.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    report = json.loads(proc.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert errors == []
    revealed = [d["message"] for d in report["generalDiagnostics"] if "Type of" in d["message"]]
    assert revealed == ['Type of "author" is "Author"']


def test_reveal_loads_returns_its_argument() -> None:
    from mypy_eagerload import reveal_loads

    marker = object()
    assert reveal_loads(marker) is marker
