"""Generate a realistic application for benchmarking: models, mixins, repositories, queries.

    python bench/generate.py --models 500 --out /tmp/app500

Per model: 3-30 relationships (most ``lazy="raise"``, some eager), a few deferred columns;
models ten to a module with ``TYPE_CHECKING`` imports between modules (cycles, as in real
code); a mixin with ``@declared_attr`` relationships; a generic repository; and ten query
functions per model with chained options and relationship reads, most of them correct.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PER_MODULE = 10
QUERIES_PER_MODEL = 10

MODELS_HEADER = '''\
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.base import Base, AuditMixin
{type_imports}
'''

BASE = '''\
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Sequence, TypeVar

from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.sql.base import ExecutableOption


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class AuditMixin:
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))

    @declared_attr
    def created_by(cls) -> Mapped[Account]:
        return relationship(Account, lazy="raise")


M = TypeVar("M", bound=Base)


class LayeredBase(Generic[M]):
    """The layered variant's repository base (issue 17): the model comes from the subclass."""

    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def base_statement(self) -> Any:
        return select(self.model)

    async def one_or_none(self, statement: Any) -> M | None:
        result = await self.session.execute(statement)
        found: M | None = result.unique().scalar_one_or_none()
        return found

    async def by_id(self, id: int, *, options: Sequence[ExecutableOption] = ()) -> M | None:
        statement = self.base_statement().filter_by(id=id).options(*options)
        return await self.one_or_none(statement)


class Repository(Generic[M]):
    def __init__(self, session: AsyncSession, model: type[M]) -> None:
        self.session = session
        self.model = model

    async def get_by_id(self, id: int, *, options: Sequence[ExecutableOption] = ()) -> M | None:
        stmt = select(self.model).where(self.model.id == id).options(*options)  # type: ignore[attr-defined]
        return (await self.session.execute(stmt)).unique().scalar_one_or_none()
'''


def _name(i: int) -> str:
    return f"Model{i}"


def _module_of(i: int) -> str:
    return f"app.models.m{i // PER_MODULE}"


def generate(models: int, out: Path, seed: int = 1, layered: bool = False) -> None:
    """With ``layered``, a third of the query functions get their object through a service
    and a concrete repository with an option provider (``app/services``) instead of a query
    written in place."""
    rng = random.Random(seed)
    (out / "app" / "models").mkdir(parents=True, exist_ok=True)
    (out / "app" / "queries").mkdir(parents=True, exist_ok=True)
    if layered:
        (out / "app" / "services").mkdir(parents=True, exist_ok=True)
    for pkg in ("app", "app/models", "app/queries", *(["app/services"] if layered else [])):
        (out / pkg / "__init__.py").write_text("")
    (out / "app" / "base.py").write_text(BASE)
    # rels[i] = [(name, target index, is collection, lazy)]
    rels: list[list[tuple[str, int, bool, str]]] = []
    for _ in range(models):
        mine = []
        for k in range(rng.randint(3, 30)):
            lazy = rng.choices(["raise", "select", "selectin", "joined", "raise_on_sql"],
                               weights=[70, 10, 10, 5, 5])[0]
            # Joined collections need unique(): keep joined ones scalar here.
            many = False if lazy == "joined" else rng.random() < 0.5
            mine.append((f"rel{k}", rng.randrange(models), many, lazy))
        rels.append(mine)
    for start in range(0, models, PER_MODULE):
        indices = range(start, min(start + PER_MODULE, models))
        targets = sorted({t for i in indices for _, t, _, _ in rels[i]} - set(indices))
        by_module: dict[str, list[str]] = {}
        for t in targets:
            by_module.setdefault(_module_of(t), []).append(_name(t))
        imports = "\n".join(f"    from {mod} import {', '.join(names)}"
                            for mod, names in sorted(by_module.items()))
        parts = [MODELS_HEADER.format(type_imports=f"if TYPE_CHECKING:\n{imports}\n" if imports else "")]
        for i in indices:
            lines = [f"class {_name(i)}(AuditMixin, Base):", f'    __tablename__ = "t{i}"',
                     "    id: Mapped[int] = mapped_column(primary_key=True)",
                     "    title: Mapped[str]",
                     "    body: Mapped[str] = mapped_column(deferred=True)"]
            for name, target, many, lazy in rels[i]:
                fk = f"{name}_id"
                if not many:
                    lines.append(f'    {fk}: Mapped[int | None] = mapped_column(ForeignKey("t{target}.id"))')
                annotation = f"list[{_name(target)}]" if many else f"{_name(target)} | None"
                lines.append(f'    {name}: Mapped[{annotation}] = relationship("{_name(target)}", '
                             f'lazy="{lazy}")')
            parts.append("\n".join(lines) + "\n")
        (out / "app" / "models" / f"m{start // PER_MODULE}.py").write_text("\n\n".join(parts))
    for start in range(0, models, PER_MODULE):
        indices = list(range(start, min(start + PER_MODULE, models)))
        (out / "app" / "queries" / f"q{start // PER_MODULE}.py").write_text(
            _queries(rng, indices, rels, layered))
        if layered:
            (out / "app" / "services" / f"s{start // PER_MODULE}.py").write_text(
                _services(rng, indices, rels))


def _services(rng: random.Random, indices: list[int], rels: list[list[tuple[str, int, bool, str]]]) -> str:
    """Per model: a repository with an option provider, and a service that uses both."""
    used = sorted(set(indices) | {t for i in indices for _, t, _, _ in rels[i]})
    by_module: dict[str, list[str]] = {}
    for t in used:
        by_module.setdefault(_module_of(t), []).append(_name(t))
    lines = ["from __future__ import annotations", "",
             "from collections.abc import Sequence", "",
             "from sqlalchemy.ext.asyncio import AsyncSession",
             "from sqlalchemy.orm import joinedload, selectinload",
             "from sqlalchemy.sql.base import ExecutableOption", "",
             "from app.base import LayeredBase"]
    lines += [f"from {mod} import {', '.join(names)}" for mod, names in sorted(by_module.items())]
    for i in indices:
        model = _name(i)
        name, _target, many, _lazy = rels[i][0]  # what the layered queries read
        loader = "selectinload" if many else "joinedload"
        lines += ["", "", f"class {model}Repo(LayeredBase[{model}]):", f"    model = {model}", "",
                  "    def eager(self) -> Sequence[ExecutableOption]:",
                  f"        return ({loader}({model}.{name}),)", "", "",
                  f"class {model}Service:",
                  f"    async def get(self, session: AsyncSession, id: int) -> {model} | None:",
                  f"        repository = {model}Repo(session)",
                  "        return await repository.by_id(id, options=repository.eager())"]
    return "\n".join(lines) + "\n"


def _queries(rng: random.Random, indices: list[int], rels: list[list[tuple[str, int, bool, str]]],
             layered: bool = False) -> str:
    used = sorted({i for i in indices} | {t for i in indices for _, t, _, _ in rels[i]})
    by_module: dict[str, list[str]] = {}
    for t in used:
        by_module.setdefault(_module_of(t), []).append(_name(t))
    lines = ["from __future__ import annotations", "",
             "from sqlalchemy import select",
             "from sqlalchemy.ext.asyncio import AsyncSession",
             "from sqlalchemy.orm import joinedload, raiseload, selectinload, undefer", "",
             "from app.base import Repository"]
    lines += [f"from {mod} import {', '.join(names)}" for mod, names in sorted(by_module.items())]
    if layered:
        services = ", ".join(f"{_name(i)}Service" for i in indices)
        lines.append(f"from app.services.s{indices[0] // PER_MODULE} import {services}")
    for i in indices:
        model = _name(i)
        for q in range(QUERIES_PER_MODEL):
            name, target, many, _lazy = rng.choice(rels[i])
            sub_name, _sub_target, _sub_many, _ = rng.choice(rels[target])
            loader = "selectinload" if many else "joinedload"
            option = f"{loader}({model}.{name}).selectinload({_name(target)}.{sub_name})"
            read = f"obj.{name}" if not many else f"obj.{name}[0]"
            wrong = rng.random() < 0.05  # a few real bugs, as in any code base
            lines.append("")
            lines.append("")
            if layered and q % 3 == 1:  # through the service and repository layers
                lines.append(f"async def layered_{i}_{q}(session: AsyncSession) -> object:")
                lines.append(f"    obj = await {model}Service().get(session, {q})")
                lines.append("    assert obj is not None")
                read = rels[i][0][0] if not wrong else name  # the service loads rels[i][0]
                lines.append(f"    return obj.{read}")
                continue
            if q % 3 == 0:
                lines.append(f"async def get_{i}_{q}(session: AsyncSession) -> object:")
                lines.append(f"    repo = Repository(session, {model})")
                lines.append(f"    obj = await repo.get_by_id(1, options=[{option}])")
                lines.append("    assert obj is not None")
                lines.append("    return obj.title")
                continue
            opts = option if not wrong else "raiseload('*')"
            lines.append(f"async def query_{i}_{q}(session: AsyncSession) -> object:")
            lines.append(f"    stmt = select({model}).where({model}.id == {q})"
                         f".options({opts}, undefer({model}.body))")
            lines.append("    obj = (await session.execute(stmt)).unique().scalar_one()")
            lines.append(f"    first = {read}")
            lines.append("    assert first is not None")
            lines.append(f"    return first.{sub_name}, obj.body")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layered", action="store_true", help="add services and repositories")
    args = parser.parse_args()
    generate(args.models, args.out, args.seed, args.layered)


if __name__ == "__main__":
    main()
