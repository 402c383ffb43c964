"""Build one module from many scenarios, check it with mypy once, run it once, compare."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.differential.scenarios import (
    READER_PREFIX,
    Scenario,
    as_read,
    reader_def,
    through_backref,
    through_reverse,
)

HEADER = '''\
from __future__ import annotations

import warnings
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Load, Session, contains_eager, defaultload, defer, immediateload, joinedload, lazyload,
    load_only, noload, raiseload, selectinload, subqueryload, undefer, undefer_group,
)

from collections.abc import Sequence
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.base import ExecutableOption
from mypy_eagerload import Loaded

from dmodels import Address, Base, Comment, Group, Node, Post, Profile, Tag, User
import dsessions

OUTCOMES: dict[str, str] = {}
T = TypeVar("T")
UserStmt = Select[{one_u}]  # what a user writes to annotate a statement of User


from dlayers import LayerBase, Options


async def fetch_one(session: AsyncSession, stmt: Select[{one_t}]) -> T:
    """A user's generic helper: the load state must flow through the type variable."""
    return (await session.execute(stmt)).unique().scalar_one()


def note_overlap(key: str, root: object) -> None:
    """Record whether the query reached the root's identity again through a loop of three or
    more hops (Group -> members -> groups -> Group). Then the root's attributes may be filled
    through that other path, whatever the options said for the root itself."""
    from sqlalchemy import inspect

    frontier = [(root, 0)]
    seen = {id(root)}
    while frontier:
        obj, depth = frontier.pop()
        state: Any = inspect(obj)
        for value in state.dict.values():
            for item in value if isinstance(value, list) else [value]:
                if item is root and depth >= 1:
                    OUTCOMES[key + ":overlap"] = "yes"
                    return
                if hasattr(item, "_sa_instance_state") and id(item) not in seen:
                    seen.add(id(item))
                    frontier.append((item, depth + 1))


def probe(key: str, fn: Callable[[], object]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        OUTCOMES[key] = "ok"
    except Exception as exc:  # the outcome is the data
        # A lazy load inside a flush or statement wraps the real error.
        OUTCOMES[key] = type(getattr(exc, "orig", None) or exc).__name__

'''

LAYERS = '''\
"""A generic repository base, as applications write them (issue 17), in a module of its
own: the layered scenarios subclass it from the scenarios' module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ExecutableOption

from dmodels import Base

LM = TypeVar("LM", bound=Base)
Options = Sequence[ExecutableOption]


class LayerBase(Generic[LM]):
    model: type[LM]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def base_statement(self) -> Select[{one_lm}]:
        return select(self.model)

    async def one_of(self, statement: Select[{one_lm}]) -> LM:
        result = await self.session.execute(statement)
        return result.unique().scalar_one()

    async def by_id(self, id: int, *, options: Options = (), for_update: bool = False) -> LM:
        statement = self.base_statement().filter_by(id=id).options(*options)
        if for_update:
            statement = statement.with_for_update()
        return await self.one_of(statement)

    async def maybe(self, id: int, options: Options | None = None) -> LM:
        query = select(self.model).filter_by(id=id)
        if options is not None:
            query = query.options(*options)
        return (await self.session.execute(query)).unique().scalar_one()
'''


# The codes that say "this read fails at runtime".
PLUGIN_CODES = frozenset({"unloaded-relationship", "unloaded-column", "expired-attribute"})
# Outcomes of a read that fails (a detached object's unloaded attribute: DetachedInstanceError).
FAILURES = ("MissingGreenlet", "InvalidRequestError", "DetachedInstanceError")
CONFLICT_CODE = "loader-conflict"
UNIQUE_CODE = "missing-unique"
ALL_CODES = PLUGIN_CODES | {CONFLICT_CODE, UNIQUE_CODE}
ERROR_RE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)(?:  \[(?P<code>[a-z-]+)\])?$")


def render(scenarios: list[Scenario]) -> str:
    # SQLAlchemy 2.0 types one-entity statements as Select[tuple[T]]; 2.1 as Select[T].
    one_t = "tuple[T]" if sqlalchemy.__version__.startswith("2.0.") else "T"
    one_u = one_t.replace("T", "User")
    header = HEADER.replace("{one_t}", one_t).replace("{one_u}", one_u)
    lines = header.splitlines()
    readers = sorted({p for sc in scenarios for p in sc.probes if p.startswith(READER_PREFIX)})
    for call in readers:
        lines.extend(reader_def(call))
    for sc in scenarios:
        start = len(lines) + 1
        lines.extend(sc.helpers)
        sc.extra_lines = {}
        for offset, i in sc.helper_probes.items():
            sc.extra_lines.setdefault(i, []).append(start + offset)
        if sc.helpers:
            lines.extend(["", ""])
        param = "outer" if sc.wrap else "session"  # a wrap makes the session (see Scenario.wrap)
        if sc.sync:
            lines.append(f"def sc_{sc.name}({param}: Session) -> None:")
        else:
            lines.append(f"async def sc_{sc.name}({param}: AsyncSession) -> None:")
        pad = "    "
        if sc.wrap:
            lines.append(pad + sc.wrap)
            pad += "    "
        sc.setup_lines = (len(lines) + 1, len(lines) + len(sc.setup))
        lines.extend(pad + s for s in sc.setup)
        lines.append(f"{pad}note_overlap('{sc.name}', obj)")
        for i, stmt in enumerate(sc.probes):
            returns = "None"
            if "=" in stmt.split("(")[0] or ".append(" in stmt or ".remove(" in stmt:
                body = stmt
            elif i % 3 == 1:
                body = f'_ = f"{{{stmt}}}"'  # mypy checks f-string parts inside a trial
            elif i % 3 == 2:
                body, returns = f"return [{stmt}]", "object"  # returned displays: another trial
            else:
                body = f"_ = {stmt}"
            lines.append(f"{pad}def _p{i}() -> {returns}:")
            lines.append(f"{pad}    {body}")
            sc.lines[len(lines)] = i
            lines.append(f"{pad}probe('{sc.name}:{i}', _p{i})")
        lines.append("")
        lines.append("")
    for var, sync in (("SCENARIOS", False), ("SYNC_SCENARIOS", True)):
        functions = ", ".join("sc_" + sc.name for sc in scenarios if sc.sync == sync)
        lines.append(f"{var}: list[Any] = [{functions}]")
    return "\n".join(lines) + "\n"


def write_models(tmp: Path, models: str = "dmodels.py") -> None:
    """The differential models at ``tmp / models``, and the constants module they import
    (at ``tmp``, which is on the path of both mypy and the runtime)."""
    here = Path(__file__).parent
    (tmp / models).write_text((here / "dmodels.py").read_text())
    (tmp / "dconsts.py").write_text((here / "dconsts.py").read_text())
    (tmp / "dsessions.py").write_text((here / "dsessions.py").read_text())


def write_project(tmp: Path, scenarios: list[Scenario]) -> Path:
    write_models(tmp)
    one_lm = "tuple[LM]" if sqlalchemy.__version__.startswith("2.0.") else "LM"
    (tmp / "dlayers.py").write_text(LAYERS.replace("{one_lm}", one_lm))
    (tmp / "scenarios_mod.py").write_text(render(scenarios))
    return tmp / "scenarios_mod.py"


def run_mypy(tmp: Path, files: list[str], plugin: bool,
             extra: list[str] | None = None, settings: str = "") -> list[tuple[str, int, str, str]]:
    return errors_in(mypy_output(tmp, files, plugin, extra, settings))


def errors_in(output: str) -> list[tuple[str, int, str, str]]:
    """(file name, line, message, code) of each error line of mypy's output."""
    errors = []
    for line in output.splitlines():
        m = ERROR_RE.match(line)
        if m:
            errors.append((Path(m["file"]).name, int(m["line"]), m["msg"], m["code"] or ""))
    return errors


def mypy_output(tmp: Path, files: list[str], plugin: bool,
                extra: list[str] | None = None, settings: str = "") -> str:
    """mypy's plain output (errors and notes) on ``files`` of the project in ``tmp``."""
    config = tmp / ("with.ini" if plugin else "without.ini")
    config.write_text("[mypy]\n" + ("plugins = mypy_eagerload.plugin\n" if plugin else "")
                      + (f"[mypy_eagerload]\n{settings}\n" if settings else ""))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(config), "--no-error-summary",
           "--show-error-codes", "--no-color-output", "--hide-error-context",
           "--cache-dir", str(tmp / (".cache_p" if plugin else ".cache_n")), *(extra or []), *files]
    env = {**os.environ, "MYPYPATH": str(tmp)}
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env, check=False)
    if "Traceback" in proc.stderr or "INTERNAL ERROR" in proc.stdout + proc.stderr:
        raise AssertionError(f"mypy crashed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


async def _run_all(module_path: Path) -> dict[str, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    sys.path.insert(0, str(module_path.parent))
    try:
        for name in ("dmodels", "dconsts", "dsessions", "dlayers", "scenarios_mod"):
            sys.modules.pop(name, None)
        spec = importlib.util.spec_from_file_location("scenarios_mod", module_path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["scenarios_mod"] = mod
        spec.loader.exec_module(mod)
        import dmodels  # type: ignore[import-not-found]

        # A file, so a sync engine can run the sync scenarios against the same data.
        db = module_path.parent / "differential.db"
        engine = await seeded_engine(dmodels, db)
        for fn in mod.SCENARIOS:
            async with AsyncSession(engine) as session:  # a fresh identity map each time
                try:
                    await fn(session)
                except Exception as exc:
                    mod.OUTCOMES[f"{fn.__name__[3:]}:setup"] = f"setup failed: {exc!r}"
        await engine.dispose()
        sync_engine = create_engine(f"sqlite:///{db}")
        for fn in mod.SYNC_SCENARIOS:
            with Session(sync_engine) as sync_session:
                try:
                    fn(sync_session)
                except Exception as exc:
                    mod.OUTCOMES[f"{fn.__name__[3:]}:setup"] = f"setup failed: {exc!r}"
        sync_engine.dispose()
        return dict(mod.OUTCOMES)
    finally:
        sys.path.remove(str(module_path.parent))


async def seeded_engine(models: Any, db: Path) -> AsyncEngine:
    """A fresh SQLite file with ``models``' tables and its ``seed()`` data (the dmodels
    mapping, under whatever name the caller imported it)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    db.unlink(missing_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    async with engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        await models.seed(session)
    return engine


REPO = Path(__file__).resolve().parents[2]


def run_runtime(module_path: Path) -> dict[str, str]:
    """Each scenario's outcome, from a fresh interpreter: a run imports the models anew, and
    mapping them again in a process that ran an earlier module lets SQLAlchemy 2.0.59's
    caches of the earlier mappers get in the way (measured: a loader conflict on a refresh
    that runs fine on its own, on the third run in one process)."""
    out = module_path.parent / "outcomes.json"
    code = ("import asyncio, json, sys; from pathlib import Path; from tests.differential import harness; "
            "Path(sys.argv[2]).write_text(json.dumps(asyncio.run(harness._run_all(Path(sys.argv[1])))))")
    proc = subprocess.run([sys.executable, "-c", code, str(module_path), str(out)], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes: dict[str, str] = json.loads(out.read_text())
    return outcomes


@dataclass
class Comparison:
    probes: int
    agreements: int
    unknown: int
    overlaps: int
    disagreements: list[str]
    no_data: int = 0


def _root(sc: Scenario) -> str:
    if sc.root:
        return sc.root
    m = re.search(r"(?:select|get)\((\w+)", " ".join(sc.setup))
    return m.group(1) if m else ""


def compare(scenarios: list[Scenario], errors: list[tuple[str, int, str, str]],
            outcomes: dict[str, str]) -> Comparison:
    reported = {line: msg for _, line, msg, code in errors if code in PLUGIN_CODES}
    conflicts = {line for _, line, _, code in errors if code == CONFLICT_CODE}
    uniques = {line for _, line, _, code in errors if code == UNIQUE_CODE}
    probes = agreements = unknown = overlaps = no_data = 0
    bad: list[str] = []
    # One program run down several paths: a probe fails if it fails on any of them.
    failing_paths = {(sc.paths, i) for sc in scenarios if sc.paths for i in range(len(sc.probes))
                     if outcomes.get(f"{sc.name}:{i}") in FAILURES}
    for sc in scenarios:
        first, last = sc.setup_lines
        flagged_conflict = any(first <= line <= last for line in conflicts)
        if sc.conflict or flagged_conflict:
            probes += 1
            # 2.1: "... is in conflict with ..."; 2.0: "Loader strategies for ... conflict"
            failed = "conflict" in outcomes.get(f"{sc.name}:setup", "")
            if failed and flagged_conflict:
                agreements += 1
            else:
                bad.append(f"{sc.name}: runtime conflict={failed} plugin conflict={flagged_conflict}"
                           f"\n    setup: {' | '.join(sc.setup)}")
            continue
        flagged_unique = any(first <= line <= last for line in uniques)
        needs_unique = "unique()" in outcomes.get(f"{sc.name}:setup", "")
        if flagged_unique or needs_unique:
            probes += 1
            if flagged_unique and needs_unique:
                agreements += 1
            else:
                bad.append(f"{sc.name}: runtime needs unique()={needs_unique} plugin={flagged_unique}"
                           f"\n    setup: {' | '.join(sc.setup)}")
            continue
        if f"{sc.name}:setup" in outcomes:
            bad.append(f"{sc.name}: {outcomes[sc.name + ':setup']}")
            continue
        for line, i in sc.lines.items():
            probes += 1
            outcome = outcomes.get(f"{sc.name}:{i}", "not run")
            if outcome == "IndexError":
                probes -= 1
                no_data += 1  # an empty collection in the seed data: nothing was read
                continue
            fails = outcome in FAILURES or (sc.paths, i) in failing_paths
            if outcome != "ok" and outcome not in FAILURES:
                bad.append(f"{sc.name}: probe {sc.probes[i]!r} had an unexpected outcome {outcome}")
                continue
            flagged = line in reported or any(x in reported for x in sc.extra_lines.get(i, []))
            read = sc.reads.get(i, as_read(sc.probes[i]))  # what the probe reads, for the rules below
            if flagged == fails:
                agreements += 1
            elif not flagged and (sc.unknown or through_backref(_root(sc), read, sc.sync)):
                unknown += 1
            elif flagged and through_reverse(_root(sc), read):
                # Past a relationship and its reverse (Tag.posts -> Post.tags) the collection
                # holds the object we came from, with whatever it has loaded.
                overlaps += 1
            elif (f"{sc.name}:overlap" in outcomes
                  and read.count(".") == 1 and "[" not in read):
                # The root row was reached again through another path, whose options then
                # filled (or, for unloaded attributes, replaced the loader of) the root's own.
                overlaps += 1
            else:
                bad.append(f"{sc.name}: {sc.probes[i]!r} runtime={outcome} plugin="
                           f"{reported.get(line, 'silent')}\n    setup: {' | '.join(sc.setup)}")
    # Inside a reader every read is declared: an error there would be a false alarm.
    probe_lines = {line for sc in scenarios for line in sc.lines}
    helper_lines = {x for sc in scenarios for xs in sc.extra_lines.values() for x in xs}
    for _, line, msg, code in errors:
        if code in PLUGIN_CODES and line not in probe_lines and line not in helper_lines:
            bad.append(f"line {line}: an error no probe explains: {msg}")
    return Comparison(probes, agreements, unknown, overlaps, bad, no_data)
