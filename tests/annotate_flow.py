"""A generated multi-module project for ``annotate``: queries -> handlers -> render -> fmt.

Each flow ``k`` reads one relationship path (1 to 3 hops over ``dmodels``) spread over three
calls in three modules: ``handlers.h_k`` takes the query's object, ``render.r_k`` the object one
hop down (or a ``Sequence`` of them, or an ``Optional``), ``fmt.f_k`` reads the last hop (one
flow in four through a pydantic schema whose field reads it: a serializer helper). The
query in ``queries.q_k`` loads a random part of the path. Nothing is annotated: the project is
clean with and without the plugin until ``annotate`` writes what each function reads.

Runtime twin: every ``q_k`` runs under AsyncSession; the outcome is "ok" (the leaf read ran
and succeeded), "fail" (with the traceback's lines in queries.py) or "no data" (an empty
collection on the way: the leaf never ran, so the run says nothing).
"""

from __future__ import annotations

import asyncio
import importlib
import random
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from tests.differential import harness
from tests.differential.harness import seeded_engine
from tests.differential.scenarios import GRAPH

LOADERS = ("selectinload", "joinedload", "subqueryload")
ROOTS = {"User": 1, "Post": 1, "Group": 1, "Comment": 1}


@dataclass
class Flow:
    key: int
    root: str
    path: list[tuple[str, str, str, bool]]  # (owner, relationship, target, collection)
    options: str
    call_line: int = 0  # the line in queries.py that calls the handler


def generate(count: int, seed: int) -> list[Flow]:
    rng = random.Random(seed)
    flows = []
    for key in range(count):
        root = rng.choice(sorted(ROOTS))
        hops: list[tuple[str, str, str, bool]] = []
        owner = root
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(sorted(GRAPH[owner]))
            target, collection = GRAPH[owner][name]
            hops.append((owner, name, target, collection))
            owner = target
        flows.append(Flow(key, root, hops, _options(rng, hops)))
    return flows


def _options(rng: random.Random, hops: list[tuple[str, str, str, bool]]) -> str:
    depth = rng.randint(0, len(hops))
    if depth == 0 and rng.random() < 0.5:
        return ""
    # subqueryload only first: nested under other eager loads it can take minutes at runtime.
    parts = [f"{rng.choice(LOADERS if i == 0 else LOADERS[:2])}({owner}.{name})"
             for i, (owner, name, _, _) in enumerate(hops[:depth])]
    if depth < len(hops) and rng.random() < 0.3:
        owner, name, _, _ = hops[depth]
        parts.append(f"{rng.choice(('raiseload', 'lazyload'))}({owner}.{name})")
    if not parts:
        return ""
    return f".options({parts[0]}{''.join('.' + p for p in parts[1:])})"


def _split(flow: Flow) -> tuple[list[tuple[str, str, str, bool]], list[tuple[str, str, str, bool]],
                                tuple[str, str, str, bool]]:
    """Hops read by handlers, by render, and the leaf hop fmt reads."""
    *upper, leaf = flow.path
    return upper[:-1] if len(upper) == 2 else [], upper[-1:], leaf


def write(tmp: Path, flows: list[Flow]) -> None:
    pkg = tmp / "flowapp"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    harness.write_models(tmp, "flowapp/models.py")
    models = ("from flowapp.models import Address, Comment, Group, Node, Post, Profile, Tag, User"
              "  # noqa: F401\n")
    head = "from __future__ import annotations\n\nfrom collections.abc import Sequence  # noqa: F401\n\n"
    fmt = [head, models, "from typing import Any\n\nfrom pydantic import BaseModel, ConfigDict\n\n",
           "REACHED: set[int] = set()\n"]
    render = [head, models, "from flowapp.fmt import *  # noqa: F403\n"]
    handlers = [head, models, "from flowapp.render import *  # noqa: F403\n"]
    for flow in flows:
        k = flow.key
        top, mid, leaf = _split(flow)
        owner, name, _target, collection = leaf
        if k % 4 == 3:  # a serializer helper: the schema's field reads the leaf (issue 20)
            fmt.append(f"\n\nclass S{k}(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n"
                       f"    {name}: Any\n"
                       f"\n\ndef f_{k}(obj: {owner}) -> int:\n    REACHED.add({k})\n"
                       f"    S{k}.model_validate(obj)\n    return 1\n")
        else:
            fmt.append(f"\n\ndef f_{k}(obj: {owner}) -> int:\n    REACHED.add({k})\n"
                       f"    value = obj.{name}\n    return {'len(value)' if collection else '1'}\n")
        render.append(_step(f"r_{k}", f"f_{k}", mid, owner, k))
        handlers.append(_step(f"h_{k}", f"r_{k}", top, mid[0][0] if mid else owner, k))
    (pkg / "fmt.py").write_text("".join(fmt))
    (pkg / "render.py").write_text("".join(render))
    (pkg / "handlers.py").write_text("".join(handlers))
    lines = [head, models, "from sqlalchemy import select\nfrom sqlalchemy.ext.asyncio import AsyncSession\n",
             "from sqlalchemy.orm import joinedload, lazyload, raiseload, selectinload, subqueryload"
             "  # noqa: F401\n",
             "from flowapp.handlers import *  # noqa: F403\n"]
    text = "".join(lines)
    for flow in flows:
        stmt = f"select({flow.root}).where({flow.root}.id == {ROOTS[flow.root]}){flow.options}"
        text += (f"\n\nasync def q_{flow.key}(session: AsyncSession) -> int:\n"
                 f"    obj = (await session.execute({stmt})).unique().scalar_one()\n")
        flow.call_line = text.count("\n") + 1
        text += f"    return h_{flow.key}(obj)\n"
    text += "\n\nQUERIES = [" + ", ".join(f"q_{f.key}" for f in flows) + "]\n"
    (pkg / "queries.py").write_text(text)
    (tmp / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\nfiles = flowapp\n")


def _step(name: str, callee: str, hops: list[tuple[str, str, str, bool]], next_model: str, k: int) -> str:
    """A function that takes its model, reads ``hops`` (zero or one) and calls the next one.
    The parameter's shape varies: plain, ``X | None``, or ``Sequence[X]`` of the model."""
    if not hops:
        shape = k % 3
        if shape == 1:
            return (f"\n\ndef {name}(obj: {next_model} | None) -> int:\n"
                    f"    if obj is None:\n        return 0\n    return {callee}(obj)\n")
        return f"\n\ndef {name}(obj: {next_model}) -> int:\n    return {callee}(obj)\n"
    owner, rel, target, collection = hops[0]
    if collection and k % 2:
        # The collection itself is passed: the callee takes a Sequence and iterates it.
        return (f"\n\ndef {name}(obj: {owner}) -> int:\n    return {name}_all(obj.{rel})\n"
                f"\n\ndef {name}_all(items: Sequence[{target}]) -> int:\n"
                f"    return sum({callee}(item) for item in items)\n")
    if collection:
        return (f"\n\ndef {name}(obj: {owner}) -> int:\n    total = 0\n"
                f"    for item in obj.{rel}:\n        total += {callee}(item)\n    return total\n")
    return f"\n\ndef {name}(obj: {owner}) -> int:\n    return {callee}(obj.{rel})\n"


def run(tmp: Path, flows: list[Flow]) -> dict[int, tuple[str, set[int]]]:
    """{key: (outcome, lines of queries.py in the failure's traceback)}."""
    return asyncio.run(_run(tmp, flows))


async def _run(tmp: Path, flows: list[Flow]) -> dict[int, tuple[str, set[int]]]:
    from sqlalchemy.ext.asyncio import AsyncSession

    sys.path.insert(0, str(tmp))
    try:
        for name in [m for m in sys.modules if m == "flowapp" or m.startswith("flowapp.")]:
            del sys.modules[name]
        queries = importlib.import_module("flowapp.queries")
        fmt = importlib.import_module("flowapp.fmt")
        models = importlib.import_module("flowapp.models")
        engine = await seeded_engine(models, tmp / "flow.db")
        outcomes: dict[int, tuple[str, set[int]]] = {}
        for flow, query in zip(flows, queries.QUERIES):
            fmt.REACHED.discard(flow.key)
            async with AsyncSession(engine) as session:
                try:
                    await query(session)
                except Exception as exc:
                    lines = {frame.lineno or 0 for frame in traceback.extract_tb(exc.__traceback__)
                             if frame.filename.endswith("queries.py")}
                    outcomes[flow.key] = ("fail", lines)
                    continue
            outcomes[flow.key] = ("ok" if flow.key in fmt.REACHED else "no data", set())
        await engine.dispose()
        return outcomes
    finally:
        sys.path.remove(str(tmp))
