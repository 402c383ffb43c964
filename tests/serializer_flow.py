"""Generated pydantic schemas over ``dmodels``, validated from query results under AsyncSession.

Each case defines its own schema classes (a random tree of relationship fields, 1 to 3 levels,
with aliases, ``AliasChoices``, ``AliasPath``, ``computed_field``, a field read through an ORM
``@property``, ``X | None``, and the configuration or the call saying ``from_attributes``),
runs a query with random loader options, and validates the object (``model_validate`` or a
``TypeAdapter`` over a list). Outcomes: "ok", "fail" (the validation raised because of a load:
MissingGreenlet, or InvalidRequestError for ``lazy="raise"``), or "no data" (the same
validation over a fully loaded object meets an empty collection or a None on the way, so a
pass would say nothing).
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.differential import harness
from tests.differential.harness import seeded_engine
from tests.differential.scenarios import GRAPH, ROOT_IDS

LOADERS = ("selectinload", "joinedload")
# A field named like a model member reads what the member reads (dmodels' User.post_count).
MEMBERS = {"User": ("post_count", "int")}
# Deferred columns of dmodels (secret raises instead of loading; email is in a group).
DEFERRED = {"User": ("bio", "email", "secret"), "Post": ("body",)}


@dataclass
class Case:
    key: int
    root: str
    classes: list[str]  # source lines of the schema classes
    top: str  # the root schema's class name
    rel_paths: list[tuple[str, ...]]  # every relationship path the schema tree walks
    options: str
    call: str  # the validation expression, with {obj}
    line: int = 0
    columns: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)  # path, model, column


def generate(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for key in range(count):
        root = rng.choice(["User", "Post", "Comment", "Group"])
        classes: list[str] = []
        paths: list[tuple[str, ...]] = []
        columns: list[tuple[tuple[str, ...], str, str]] = []
        top = _schema(rng, key, root, (), classes, paths, columns, depth=0, counter=[0])
        options = _options(rng, root, paths, columns)
        if rng.random() < 0.25:
            call = f"TypeAdapter(list[{top}]).validate_python([{{obj}}], from_attributes=True)"
        else:
            call = f"{top}.model_validate({{obj}}{', from_attributes=True' if key % 3 == 0 else ''})"
        cases.append(Case(key, root, classes, top, paths, options, call, columns=columns))
    return cases


def _schema(rng: random.Random, key: int, model: str, prefix: tuple[str, ...], classes: list[str],
            paths: list[tuple[str, ...]], columns: list[tuple[tuple[str, ...], str, str]], depth: int,
            counter: list[int]) -> str:
    counter[0] += 1
    name = f"S{key}_{counter[0]}"
    config = "from_attributes=True" if key % 3 else ""
    lines = [f"class {name}(BaseModel):", f"    model_config = ConfigDict({config})", "    id: int"]
    rels = sorted(GRAPH[model])
    for rel in rng.sample(rels, k=min(len(rels), rng.randint(0, 2 if depth else 3))):
        target, many = GRAPH[model][rel]
        path = (*prefix, rel)
        paths.append(path)
        if depth < 2 and rng.random() < 0.7:
            sub = _schema(rng, key, target, path, classes, paths, columns, depth + 1, counter)
            typ = f"list[{sub}]" if many else (f"{sub} | None" if rng.random() < 0.3 else sub)
        else:
            typ = "list[Any]" if many else "Any"
        style = rng.random()
        if style < 0.15:
            lines.append(f"    renamed_{rel}: {typ} = Field(validation_alias={rel!r})")
        elif style < 0.25:
            lines.append(f"    choice_{rel}: {typ} = "
                         f"Field(validation_alias=AliasChoices('no_such_{rel}', {rel!r}))")
        elif style < 0.3 and not many:
            lines.append(f"    path_{rel}_id: int = Field(validation_alias=AliasPath({rel!r}, 'id'))")
        else:
            lines.append(f"    {rel}: {typ}")
    if model in DEFERRED and rng.random() < 0.4:
        column = rng.choice(DEFERRED[model])
        lines.append(f"    {column}: str")
        columns.append((prefix, model, column))
    if model in MEMBERS and rng.random() < 0.3:
        member, typ = MEMBERS[model]
        lines.append(f"    {member}: {typ}")
        paths.append((*prefix, "posts"))
    if rng.random() < 0.3 and rels:
        # computed_field is not read from the object: no requirement.
        lines += ["    @computed_field  # type: ignore[prop-decorator]", "    @property",
                  f"    def {rels[0]}_label(self) -> str:", "        return 'x'"]
    classes.append("\n".join(lines))
    return name


def _options(rng: random.Random, root: str, paths: list[tuple[str, ...]],
             columns: list[tuple[tuple[str, ...], str, str]]) -> str:
    if not (paths or columns) or rng.random() < 0.15:
        return ""
    chosen = rng.sample(paths, k=min(len(paths), rng.randint(1, 3)))
    parts = []
    loaders: dict[tuple[str, ...], str] = {}  # one strategy per path: two would conflict
    for path in chosen:
        parts.append(_chain(rng, root, path[:rng.randint(1, len(path))], loaders))
    for path, model, column in columns:
        if rng.random() < 0.5:
            hops = _chain(rng, root, path, loaders)
            parts.append(f"{hops}.undefer({model}.{column})" if hops else f"undefer({model}.{column})")
    return f".options({', '.join(parts)})" if parts else ""


def _chain(rng: random.Random, root: str, path: tuple[str, ...], loaders: dict[tuple[str, ...], str]) -> str:
    owner, hops = root, []
    for i, rel in enumerate(path):
        loader = loaders.setdefault(path[:i + 1], rng.choice(LOADERS))
        hops.append(f"{loader}({owner}.{rel})")
        owner = GRAPH[owner][rel][0]
    return ".".join(hops)


# No ``from __future__ import annotations``: pydantic resolves the field types when each class
# is created (nested schemas are written before the schemas that use them).
def handwritten() -> list[Case]:
    """Shapes the generator does not write: a generic schema, a union whose members read
    different things, v1-style from_orm with a class Config, a schema with a validator
    that sees the object (unknown: nothing claimed)."""
    def case(key: int, root: str, classes: str, top: str, paths: list[tuple[str, ...]], options: str,
             call: str) -> Case:
        return Case(key, root, [classes], top, paths, options, call.replace("TOP", top))

    generic = ("class G1_post(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n"
               "    comments: list[Any]\n\n\n"
               "class G1(BaseModel, Generic[T]):\n    model_config = ConfigDict(from_attributes=True)\n"
               "    posts: list[T]")
    union = ("class U_a(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n"
             "    id: int\n    posts: list[Any]\n\n\n"
             "class U_b(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n    id: int\n\n\n"
             "class U(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n"
             "    author: U_a | U_b")
    v1 = ("class V1(BaseModel):\n    posts: list[Any]\n\n    class Config:\n        from_attributes = True")
    return [
        case(1000, "User", generic, "G1", [("posts",), ("posts", "comments")],
             ".options(selectinload(User.posts))", "TOP[G1_post].model_validate({obj})"),
        case(1001, "User", generic.replace("G1", "G2"), "G2", [("posts",), ("posts", "comments")],
             ".options(selectinload(User.posts).selectinload(Post.comments))",
             "TOP[G2_post].model_validate({obj})"),
        case(1002, "Post", union, "U", [("author",), ("author", "posts")],
             ".options(joinedload(Post.author))", "TOP.model_validate({obj})"),
        case(1003, "User", v1, "V1", [("posts",)], "", "TOP.from_orm({obj})"),
        case(1004, "User", v1.replace("V1", "V2"), "V2", [("posts",)], ".options(selectinload(User.posts))",
             "TOP.from_orm({obj})"),
    ]


HEADER = """\
import warnings
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, TypeAdapter, computed_field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload, undefer

from dmodels import Address, Comment, Group, Node, Post, Profile, Tag, User

T = TypeVar("T")
warnings.filterwarnings("ignore", category=DeprecationWarning)  # from_orm, class Config
"""


def render(cases: list[Case]) -> str:
    text = HEADER
    for case in cases:
        text += "\n\n" + "\n\n\n".join(case.classes) + "\n"
        root_id = ROOT_IDS.get(case.root, 1)
        stmt = f"select({case.root}).where({case.root}.id == {root_id}){case.options}"
        full = _full_options(case.root, case.rel_paths, case.columns)
        text += (f"\n\nasync def case_{case.key}(session: AsyncSession, full: bool) -> object:\n"
                 f"    if full:\n"
                 f"        loaded = (await session.execute(select({case.root})"
                 f".where({case.root}.id == {root_id}){full})).unique().scalar_one()\n"
                 f"        return {case.call.format(obj='loaded')}\n"
                 f"    obj = (await session.execute({stmt})).unique().scalar_one()\n")
        case.line = text.count("\n") + 1
        text += f"    return {case.call.format(obj='obj')}\n"
    text += "\n\nCASES = [" + ", ".join(f"case_{c.key}" for c in cases) + "]\n"
    return text


def _full_options(root: str, paths: list[tuple[str, ...]],
                  columns: list[tuple[tuple[str, ...], str, str]]) -> str:
    """selectinload along every path, undefer every column read: the object the schema would
    see with everything loaded."""
    chains = []
    for path in paths:
        chains.append(_select_chain(root, path))
    for path, model, column in columns:
        hops = _select_chain(root, path)
        chains.append(f"{hops}.undefer({model}.{column})" if hops else f"undefer({model}.{column})")
    return f".options({', '.join(chains)})" if chains else ""


def _select_chain(root: str, path: tuple[str, ...]) -> str:
    owner, hops = root, []
    for rel in path:
        hops.append(f"selectinload({owner}.{rel})")
        owner = GRAPH[owner][rel][0]
    return ".".join(hops)


def write(tmp: Path, cases: list[Case]) -> Path:
    harness.write_models(tmp)
    module = tmp / "serializer_cases.py"
    module.write_text(render(cases))
    return module


def run(module: Path, cases: list[Case]) -> dict[int, str]:
    return asyncio.run(_run(module, cases))


async def _run(module: Path, cases: list[Case]) -> dict[int, str]:
    from sqlalchemy.exc import InvalidRequestError, MissingGreenlet
    from sqlalchemy.ext.asyncio import AsyncSession

    sys.path.insert(0, str(module.parent))
    try:
        sys.modules.pop("dmodels", None)
        spec = importlib.util.spec_from_file_location("serializer_cases", module)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["serializer_cases"] = mod  # pydantic resolves names through it
        spec.loader.exec_module(mod)
        import dmodels  # type: ignore[import-not-found]

        engine = await seeded_engine(dmodels, module.parent / "serializers.db")
        outcomes: dict[int, str] = {}
        for case, fn in zip(cases, mod.CASES):
            async with AsyncSession(engine) as session:
                try:
                    await fn(session, False)
                    outcomes[case.key] = "ok"
                except Exception as exc:
                    text = f"{exc!r} {exc}"
                    loading = isinstance(exc, (MissingGreenlet, InvalidRequestError)) or \
                        "greenlet_spawn" in text or "lazy='raise'" in text or "raise" in text
                    outcomes[case.key] = "fail" if loading else f"error: {exc!r}"
            if outcomes[case.key] == "ok":
                # A pass says something only if every nested read ran: not when an empty
                # collection or a None cut the walk short.
                try:
                    async with AsyncSession(engine) as session:
                        full = await fn(session, True)
                except Exception:  # a None where the schema wants an object
                    full = None
                if not _complete(full):
                    outcomes[case.key] = "no data"
        await engine.dispose()
        return outcomes
    finally:
        sys.path.remove(str(module.parent))


def _complete(value: object) -> bool:
    """No empty list and no None anywhere in the validated result (so each nested read ran)."""
    from pydantic import BaseModel

    if isinstance(value, list):
        return bool(value) and all(_complete(v) for v in value)
    if isinstance(value, BaseModel):
        return all(_complete(getattr(value, name)) for name in type(value).model_fields)
    return value is not None
