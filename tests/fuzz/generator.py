"""Generate programs that use the SQLAlchemy API in valid, half-written and wrong ways.

Each program is one module (or a pair of modules importing each other). The shapes come
from what editors and real code produce: missing imports, ``Any``, unresolved names,
options on the wrong entity, string paths, models defined inside functions, dynamic
``getattr`` options, aliased entities, ``with_polymorphic``, ``of_type``, import cycles.
Every program is valid syntax (a syntax error is a blocking error in mypy and would stop
the whole batch); everything else may be wrong.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

HEADER = """\
from __future__ import annotations
import dataclasses
from typing import Any, Optional
from typing_extensions import assert_type
from sqlalchemy import Select
{imports}
"""

IMPORT_CHOICES = [
    "from sqlalchemy import select, ForeignKey, Column, Integer, String, Table",
    "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, declared_attr",
    "from sqlalchemy.orm import selectinload, joinedload, subqueryload, immediateload, lazyload",
    "from sqlalchemy.orm import raiseload, noload, defaultload, contains_eager, Load",
    "from sqlalchemy.orm import load_only, defer, undefer, undefer_group, with_expression",
    "from sqlalchemy.orm import aliased, with_polymorphic, deferred, column_property, query_expression",
    "from sqlalchemy.orm import WriteOnlyMapped, DynamicMapped, Session, MappedAsDataclass",
    "from sqlalchemy.ext.asyncio import AsyncSession, AsyncAttrs",
    "from mypy_eagerload import Loaded",
    "from collections.abc import Sequence\nfrom typing import Union, Generic, TypeVar\n"
    "from sqlalchemy.sql.base import ExecutableOption",
]

BASES = [
    "class Base(DeclarativeBase):\n    pass\n",
    "class Base(AsyncAttrs, DeclarativeBase):\n    pass\n",
    "class Base(MappedAsDataclass, DeclarativeBase):\n    pass\n",
    "Base: Any = object\n",
    "class Base:\n    pass\n",
]

LAZIES = ['', ', lazy="selectin"', ', lazy="joined"', ', lazy="raise"', ', lazy="raise_on_sql"',
          ', lazy="noload"', ', lazy="dynamic"', ', lazy="write_only"', ", lazy=LAZY", ", lazy=True",
          ', lazy="bogus"', ", lazy=None", ', lazy="subquery"', ', lazy="immediate"']

REL_DECLS = [
    '    {name}: Mapped[list[{target}]] = relationship({back}{lazy})',
    '    {name}: Mapped[{target}] = relationship({back}{lazy})',
    '    {name}: Mapped[Optional[{target}]] = relationship({back}{lazy})',
    '    {name}: Mapped[list["{target}"]] = relationship("{target}"{lazy})',
    '    {name}: Mapped["{target}"] = relationship(lambda: {target}{lazy})',
    '    {name}: WriteOnlyMapped[{target}] = relationship({back})',
    '    {name}: DynamicMapped[{target}] = relationship({back})',
    '    {name} = relationship("{target}"{lazy})',
    '    {name}: Mapped[list[{target}]] = relationship(secondary="assoc"{lazy}, uselist=UL)',
    '    {name}: Mapped[set[{target}]] = relationship(collection_class=set{lazy})',
    '    {name}: Mapped[list[Undefined]] = relationship({lazy_bare})',
    '    {name}: Mapped[Any] = relationship({back}{lazy})',
    '    {name}: "Mapped[list[{target}]]" = relationship({back}{lazy}, join_depth=2)',
    '    @declared_attr\n    def {name}(cls) -> Mapped[list[{target}]]:\n        return relationship({back_bare}{lazy})',
    '    @declared_attr\n    def {name}(cls) -> Mapped[{target}]:\n        return relationship("{target}"{lazy})',
    '    @declared_attr.directive\n    def {name}(cls) -> Any:\n        return relationship("{target}")',
]

COL_DECLS = [
    "    {name}: Mapped[int] = mapped_column(primary_key=True)",
    "    {name}: Mapped[str]",
    "    {name}: Mapped[str] = mapped_column(deferred=True)",
    '    {name}: Mapped[str] = mapped_column(deferred_group="g", deferred_raiseload=True)',
    "    {name}: Mapped[Optional[int]] = mapped_column(ForeignKey(\"{table}.id\"))",
    "    {name} = deferred(Column(String))",
    "    {name}: Mapped[int] = column_property(Column(Integer), deferred=DEF)",
    "    {name}: Mapped[Optional[int]] = query_expression()",
    "    {name} = Column(Integer, ForeignKey(\"{table}.id\"))",
    "    {name}: Mapped[str] = mapped_column(deferred=maybe())",
]

OPTIONS = [
    "selectinload({A}.{r})", "joinedload({A}.{r})", "subqueryload({A}.{r})", "immediateload({A}.{r})",
    "lazyload({A}.{r})", "raiseload({A}.{r})", "raiseload({A}.{r}, sql_only=True)", "noload({A}.{r})",
    "defaultload({A}.{r}).selectinload({B}.{s})", "selectinload({A}.{r}).joinedload({B}.{s})",
    "selectinload({A}.{r}).options(joinedload({B}.{s}), raiseload('*'))", "raiseload('*')",
    "lazyload('*')", "selectinload('{r}')", "Load({A}).selectinload({A}.{r})",
    "Load(alias).joinedload(alias.{r})", "selectinload(getattr({A}, name))", "selectinload(*paths)",
    "selectinload({A}.{r}.of_type(alias))", "joinedload({A}.{r}, {B}.{s})",
    "selectinload({A}.{r}, recursion_depth=2)", "contains_eager({A}.{r})",
    "contains_eager({A}.{r}, alias=alias)", "load_only({A}.{c})", "load_only({A}.{c}, raiseload=True)",
    "defer({A}.{c})", "undefer({A}.{c})", "undefer_group('g')", "defer('*')",
    "with_expression({A}.{c}, literal)", "selectinload({A}.{r}).load_only({B}.{c})",
    "selectinload({A}.{r}).defer({B}.{c}).selectinload({B}.{s})", "selectinload()",
    "selectinload(None)", "joinedload(undefined_name)", "opt_any", "*opts", "*opts_any",
    "selectinload({A}.{r}).options(*opts)", "selectinload({B}.{s})", "loader_fn()",
]

QUERIES = [
    "    stmt = select({A}){opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    obj = (await session.scalars(select({A}){opts})).unique().one()\n{reads}",
    "    rows = (await session.execute(select({A}, {B}){opts})).all()\n    obj = rows[0][0]\n{reads}",
    "    obj = await session.get({A}, 1{get_opts})\n    if obj is not None:\n    {reads}",
    "    stmt = select(alias){opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    stmt = select(poly){opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    stmt = select({A}).join({A}.{r}){opts}\n    for obj in (await session.execute(stmt)).scalars():\n    {reads}",
    "    result = await session.execute(select({A}){opts})\n    obj = result.unique().scalars().first()\n{reads}",
    "    stmt: Any = select({A}){opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    stmt = select({A})\n    if flag:\n        stmt = stmt{opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    obj = sync_session.query({A}){opts}.first()\n{reads}",
    "    obj = {A}()\n{reads}",
    "    obj = helper(select({A}){opts})\n{reads}",
    "    async for obj in await session.stream_scalars(select({A}){opts}):\n    {reads}",
    "    obj = (await session.execute(select({A}){opts})).scalars().all()\n    await session.refresh(obj[0], ['{r}'])\n{reads}",
    "    obj = (await session.execute(select({A}){opts})).tuples().one()\n{reads}",
    # Ordinary typed code around the queries (issue 16: the plugin must not change what mypy
    # says about it): typed builders, displays and ternaries of statements, invariant
    # containers, annotations, generic helpers, dataclass fields, re-binds, assert_type.
    "    def build() -> Select[Any]:\n        return select({A}){opts}\n    obj = (await session.execute(build())).scalar_one()\n{reads}",
    "    stmts = [select({A}), select({A}){opts}]\n    for s in stmts:\n        s.limit(10)\n    obj = (await session.execute(stmts[0])).scalar_one()\n{reads}",
    "    stmt = select({A}) if flag else select({A}){opts}\n    obj = (await session.execute(stmt)).scalar_one()\n{reads}",
    "    objs: list[{A}] = list((await session.scalars(select({A}){opts})).all())\n    objs.append({A}())\n    obj = objs[0]\n{reads}",
    "    stmt = select({A})\n    stmt = stmt{opts}\n    stmt = stmt.where(True)\n    typed: Select[Any] = stmt\n    obj = (await session.execute(typed)).scalar_one()\n    assert_type(obj, {A})\n{reads}",
    "    holder = Box(obj=(await session.execute(select({A}){opts})).scalar_one())\n    obj = holder.obj\n    assert_type(obj, {A})\n{reads}",
    "    obj = ident((await session.execute(select({A}){opts})).scalar_one())\n    reveal_type(obj)\n{reads}",
    "    stmt = select({A})\n    if flag:\n        stmt = stmt{opts}\n    else:\n        stmt = stmt.where(False)\n    obj = (await session.execute(stmt)).scalar_one()\n    reveal_type(stmt)\n{reads}",
    "    got: Optional[{A}] = (await session.execute(select({A}){opts})).scalar_one_or_none()\n    assert got is not None\n    obj = got\n    keep: dict[str, {A}] = dict(k=obj)\n    obj = keep['k']\n{reads}",
]

# Loaded[...] annotations (valid, misspelled, malformed) on parameters, returns, containers,
# attributes; repositories that take options; recursive type aliases.
LOADED = ['Loaded[{A}, "{r}"]', 'Loaded[{A}, "{r}", "{r}.{s}"]', 'Loaded[{A}]', 'Loaded[{A}, 1]',
          'Loaded[Undefined, "{r}"]', 'Loaded[{A}, "{r}..{s}"]', 'Loaded["{A}", "{r}"]',
          'Loaded[{A}, "{c}"]', 'Loaded', 'Loaded[list[{A}], "{r}"]', 'Loaded[Any, "{r}"]',
          'list[Loaded[{A}, "{r}"]]', 'Optional[Loaded[{A}, "{r}"]]', 'Sequence[Loaded[{B}, "{s}"]]',
          'Loaded[{A}, "{r}"] | None', 'Json', 'Loaded[{A}, "{r}", "{r}"]']
CONTRACTS = [
    "def use{i}(x: {L1}, y: {L2} = None) -> {L1}:  # type: ignore[assignment]\n    {reads}\n    return x\n",
    "async def ret{i}(session: AsyncSession) -> {L1}:\n    return (await session.execute(select({A}){opts})).scalar_one()\n",
    "async def ret_name{i}(session: AsyncSession) -> {L1}:\n    u = (await session.execute(select({A}))).scalar_one()\n    return u\n",
    "class Holder{i}:\n    attr: {L1}\n    def m(self, z: {L2}) -> None:\n        self.attr.{r}\n        use_any(z)\n",
    "class Repo{i}(Generic[T]):\n    model: Any\n    def __init__(self, session: AsyncSession) -> None:\n        self.session = session\n"
    "    async def get(self, id: int, options: Sequence[ExecutableOption] = ()) -> {A} | None:\n"
    "        stmt = select({A}).where(True).options(*options)\n"
    "        return (await self.session.execute(stmt)).scalar_one_or_none()\n"
    "    async def gen(self, options: Sequence[ExecutableOption] = ()) -> T | None:\n"
    "        return (await self.session.scalars(select(self.model).options(*options))).first()\n"
    "    async def sget(self, options: Sequence[Any] = ()) -> Json:\n"
    "        return await self.session.get({A}, 1, options=options)\n",
]
CALLS = ["use{i}(obj)", "use{i}(obj, obj)", "use{i}(y=obj, x=obj)", "use{i}([obj])", "use{i}(*[obj])",
         "Holder{i}().m(obj)", "await Repo{i}(session).get(1, options=[{opt}])",
         "(await Repo{i}(session).get(1)).{r}", "await Repo{i}[{A}](session).gen(options=[{opt}])",
         "await Repo{i}(session).sget([{opt}])", "use{i}(**kw)"]

MEMBERS = [
    "    @property\n    def p{i}(self) -> Any:\n        return self.{r}",
    "    def m{i}(self) -> Any:\n        return [x.{s} for x in self.{r}]",
    "    def m{i}(self) -> Any:\n        y = self.{r}\n        for z in y:\n            z.{s}.{r}\n        return self.p0",
    "    @property\n    def p{i}(self) -> Any:\n        return super().p{i} + self.m0()",
    "    @property\n    def p{i}(self) -> Any:\n        return self.{r}\n    @p{i}.setter\n    def p{i}(self, v: Any) -> None:\n        self.{r} = v",
    "    async def m{i}(self) -> Any:\n        await self.awaitable_attrs.{r}\n        return self.{r}.{s}",
    "    def m{i}(this) -> Any:\n        return this.{r}[0].{s}",
    "    @staticmethod\n    def m{i}(x: Any) -> Any:\n        return x.{r}",
]

READS = ["obj.{r}", "obj.{r}[0].{s}", "obj.{c}", "len(obj.{r})", "obj.{r}.append({B}())",
         "obj.{r} = []", "obj.{r} += []", "obj.{r}.{s}", "await obj.awaitable_attrs.{r}",
         "[x.{s} for x in obj.{r}]", "f'{{obj.{r}}}'", "obj.nonexistent", "getattr(obj, '{r}')",
         "obj.{r} = None", "del obj.{r}", "obj.{r} if obj else None", "print(obj.{c}, obj.{r})",
         "obj.{r}[0].{c}", "return obj.{r}", "obj.{r}.select()", "obj.p0", "obj.p1", "obj.m0()",
         "obj.m1()", "obj.{r}.p0", "obj.{r}[0].m1()", "await obj.m0()"]

PRELUDE = """
LAZY = "selectin"
UL = True
DEF = False
flag = bool()
name = "x"
paths: list[Any] = []
opts = [selectinload({A}.{r})] if flag else []
opts_any: Any = []
opt_any: Any = None
literal: Any = None
def maybe() -> bool: return True
def use_any(x: Any) -> None: ...
kw: dict[str, Any] = dict()
T = TypeVar("T")
Json = Union[str, int, None, list["Json"], dict[str, "Json"]]
def loader_fn() -> Any: return None
def helper(stmt: Any) -> Any: return stmt
alias = aliased({A})
poly = with_polymorphic({A}, "*")
sync_session: Session = Session()
def ident(x: T) -> T: return x
@dataclasses.dataclass
class Box(Generic[T]):
    obj: T
"""


@dataclass
class Program:
    """One fuzz case: module name -> source."""

    modules: dict[str, str]


def _model(rng: random.Random, name: str, others: list[str], inside_function: bool) -> str:
    lines = [f"class {name}(Base):", f'    __tablename__ = "{name.lower()}"']
    if rng.random() < 0.1:
        lines.append("    __abstract__ = True")
    lines.append("    id: Mapped[int] = mapped_column(primary_key=True)")
    for i in range(rng.randint(0, 3)):
        lines.append(rng.choice(COL_DECLS).format(name=f"c{i}", table=rng.choice(others).lower()))
    for i in range(rng.randint(0, 4)):
        target = rng.choice(others)
        back = rng.choice(["", f'back_populates="r{rng.randint(0, 3)}"', f'backref="b{i}"'])
        lazy = rng.choice(LAZIES)
        lines.append(rng.choice(REL_DECLS).format(
            name=f"r{i}", target=target, back=back, back_bare=back, lazy=lazy if back else lazy.lstrip(", "),
            lazy_bare=lazy.lstrip(", ")))
    for i in range(rng.randint(0, 2)):  # members reading relationships on self
        lines.append(rng.choice(MEMBERS).format(i=i, r=f"r{rng.randint(0, 4)}", s=f"r{rng.randint(0, 4)}"))
    text = "\n".join(lines) + "\n"
    if inside_function:
        text = "def make_model() -> Any:\n" + "\n".join("    " + line for line in text.splitlines()) + \
               f"\n    return {name}\n"
    return text


class _Keep(dict[str, str]):
    """format_map() that leaves other placeholders for a later pass."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(rng: random.Random, template: str, names: list[str]) -> str:
    a, b = rng.choice(names), rng.choice(names)
    return template.format_map(_Keep(A=a, B=b, r=f"r{rng.randint(0, 4)}", s=f"r{rng.randint(0, 4)}",
                                     c=f"c{rng.randint(0, 3)}"))


def _contract(rng: random.Random, index: int, names: list[str]) -> str:
    reads = "\n    ".join(_fill(rng, rng.choice(READS), names).replace("obj", "x")
                          for _ in range(rng.randint(1, 3)))
    return _fill(rng, rng.choice(CONTRACTS), names).format_map(_Keep(
        i=index, L1=_fill(rng, rng.choice(LOADED), names), L2=_fill(rng, rng.choice(LOADED), names),
        reads=reads if "return" not in reads else "pass",
        opts=rng.choice(["", f".options({_fill(rng, rng.choice(OPTIONS), names)})"])))


def _query_function(rng: random.Random, index: int, names: list[str], contracts: bool = False) -> str:
    opts = ", ".join(_fill(rng, rng.choice(OPTIONS), names) for _ in range(rng.randint(0, 3)))
    opts_call = rng.choice([f".options({opts})", f".where(True).options({opts}).options({opts})",
                            "", f".options({opts}).limit(1)"])
    get_opts = rng.choice(["", f", options=[{opts}]", ", options=opts", ", options=opts_any"])
    reads = "\n".join("    " + _fill(rng, rng.choice(READS), names) for _ in range(rng.randint(1, 4)))
    if contracts:
        reads += "\n    " + _fill(rng, rng.choice(CALLS), names).format_map(_Keep(
            i=rng.randint(0, 2), opt=_fill(rng, rng.choice(OPTIONS), names)))
    body = _fill(rng, rng.choice(QUERIES), names).format_map(
        _Keep(opts=opts_call, get_opts=get_opts, reads=reads))
    return f"async def q{index}(session: AsyncSession) -> Any:\n{body}\n"


def program(rng: random.Random, module: str) -> Program:
    """A random program; regenerated until every module parses (see the module doc)."""
    while True:
        candidate = _program(rng, module)
        try:
            for source in candidate.modules.values():
                ast.parse(source)
        except SyntaxError:
            continue
        return candidate


def _program(rng: random.Random, module: str) -> Program:
    # Half the programs are meant to be right (all imports, a real declarative base, no
    # mutation), so the plugin's narrowing paths run, not only its early exits.
    tidy = rng.random() < 0.5
    imports = [line for line in IMPORT_CHOICES if tidy or rng.random() < 0.93]
    names = [f"M{module}{i}" for i in range(rng.randint(1, 4))]
    parts = [HEADER.format(imports="\n".join(imports)), rng.choice(BASES[:3] if tidy else BASES)]
    if rng.random() < 0.2:
        parts.append('assoc = Table("assoc", Base.metadata, Column("a", ForeignKey("x.id")))\n')
    targets = names if tidy else [*names, "Nowhere"]
    for name in names:
        parts.append(_model(rng, name, targets, inside_function=rng.random() < 0.05))
    if rng.random() < 0.3:  # inheritance
        parts.append(f"class {names[0]}Child({names[0]}):\n    extra: Mapped[int] = mapped_column(default=0)\n")
    parts.append(_fill(rng, PRELUDE, names))
    contracts = any("mypy_eagerload" in line for line in imports) and rng.random() < 0.7
    if contracts:
        for i in range(rng.randint(1, 3)):
            parts.append(_contract(rng, i, names))
    for i in range(rng.randint(1, 4)):
        parts.append(_query_function(rng, i, names, contracts))
    source = "\n".join(parts)
    if not tidy and rng.random() < 0.6:
        source = mutate(rng, source)
    modules = {module: source}
    if rng.random() < 0.1:  # an import cycle between two model modules
        other = module + "_b"
        modules[module] = f"from {other} import *  # noqa\n" + source
        modules[other] = (HEADER.format(imports="\n".join(IMPORT_CHOICES)) +
                          f"from {module} import *  # noqa\n" +
                          _model(rng, f"Other{module}", names, inside_function=False))
    return Program(modules)


_IDENT = re.compile(r"\b(?:M\w+|r\d|c\d|select|selectinload|joinedload|Mapped|relationship|obj|Any)\b")


def mutate(rng: random.Random, source: str) -> str:
    """Swap identifiers for others or for undefined names: still valid syntax."""
    spans = list(_IDENT.finditer(source))
    for _ in range(rng.randint(1, 4)):
        if not spans:
            break
        m = rng.choice(spans)
        replacement = rng.choice(["Any", "undefined", "obj", "r9", "select", m.group(0)[::-1]])
        if not replacement.isidentifier():
            replacement = "undefined"
        source = source[:m.start()] + replacement + source[m.end():]
        spans = list(_IDENT.finditer(source))
    return source
