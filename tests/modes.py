"""Build the mode-equivalence corpus and run mypy on it in every mode.

The corpus is one project holding the whole typesafety suite (each case as its own package,
its ``main`` beside its files), the example app, and a slice of the differential scenarios.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.differential import harness, scenarios

ROOT = Path(__file__).resolve().parent.parent
LINE_RE = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+): (?P<sev>error|note): (?P<msg>.*)$")


def _case_package(tmp: Path, name: str, case: dict[str, object]) -> None:
    pkg = tmp / f"ts_{name}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    files = case.get("files") or []
    assert isinstance(files, list)
    local = [Path(str(f["path"])).stem for f in files]
    texts = {"main.py": str(case["main"]), **{str(f["path"]): str(f["content"]) for f in files}}
    for path, text in texts.items():
        for mod in local:  # the case's own modules live in its package now
            text = re.sub(rf"\b(from|import) {mod}\b", rf"\1 ts_{name}.{mod}", text)
        (pkg / path).write_text(text)


def build(tmp: Path) -> list[str]:
    """Write the corpus into ``tmp``; return the paths to check."""
    targets: list[str] = []
    for yml in sorted((ROOT / "typesafety").glob("*.yml")):
        for case in yaml.safe_load(yml.read_text()):
            if eval(str(case.get("skip", "False"))):  # same rule as pytest-mypy-plugins
                continue
            name = re.sub(r"\W", "_", case["case"])
            _case_package(tmp, name, case)
            targets.append(f"ts_{name}")
    shutil.copytree(ROOT / "examples" / "blog", tmp / "blog")
    shutil.copytree(ROOT / "examples" / "shop", tmp / "shop")
    targets += ["blog", "shop"]
    cases = scenarios.handwritten() + scenarios.contracts() + scenarios.generated(20, seed=7)
    harness.write_project(tmp, cases)
    (tmp / "services.py").write_text(SERVICES)
    (tmp / "callers.py").write_text(CALLERS)
    for name, text in MIXIN_FILES.items():
        (tmp / name).write_text(text)
    targets += ["dmodels.py", "dconsts.py", "scenarios_mod.py", "services.py", "callers.py", *MIXIN_FILES]
    (tmp / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    return targets


# Loaded[...] annotations and a repository in one module, used from another: the edits in
# test_modes.py change them (and the models under them) without touching the callers.
SERVICES = """\
from __future__ import annotations
from collections.abc import Sequence
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload, selectinload
from sqlalchemy.sql.base import ExecutableOption
from mypy_eagerload import Loaded
from dmodels import User

def render(user: Loaded[User, "addresses"]) -> int:
    return len(user.addresses)

def count(user: Loaded[User, "addresses"]) -> int:
    return 0

class Users:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: int, options: Sequence[ExecutableOption] = ()) -> User | None:
        stmt = select(User).where(User.id == id).options(*options)
        return (await self.session.execute(stmt)).unique().scalar_one_or_none()
"""

# A mixin in its own module, a model using it (and super()) in another, uses in a third: the
# edits change the mixin only.
MIXIN_FILES = {
    "ownmixin.py": """\
from __future__ import annotations
from typing import TYPE_CHECKING
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship
if TYPE_CHECKING:
    from dmodels import User

class HasWriter:
    writer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    @declared_attr
    def writer(cls) -> Mapped[User]:
        return relationship("User", lazy="joined")

    def writer_name(self) -> str:
        return self.writer.name
""",
    "ownmodels.py": """\
from __future__ import annotations
from sqlalchemy.orm import Mapped, mapped_column
from dmodels import Base
from ownmixin import HasWriter

class Note(HasWriter, Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)

    def label(self) -> str:
        return "note by " + super().writer_name()
""",
    # A pydantic schema in its own module, validated from a query result in another.
    "ownschemas.py": """\
from pydantic import BaseModel, ConfigDict

class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
""",
    "ownserial.py": """\
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from dmodels import User
from ownschemas import UserBrief

async def brief(session: AsyncSession) -> UserBrief:
    user = (await session.execute(select(User))).scalar_one()
    return UserBrief.model_validate(user)
""",
    "ownuse.py": """\
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from ownmodels import Note

async def use(session: AsyncSession) -> None:
    note = (await session.execute(select(Note))).scalar_one()
    note.writer_name()
    note.label()
""",
}

CALLERS = """\
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from dmodels import User
from services import Users, render

async def use(session: AsyncSession) -> None:
    user = await Users(session).get(1, options=[selectinload(User.posts)])
    assert user is not None
    user.posts
    user.posts[0].comments
    render(user)
"""


def supported_flags() -> str:
    """mypy's --help text: which cache format and parallel flags this version has."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True,
                          check=False)
    return proc.stdout


def _parse(out: str, tmp: Path) -> list[str]:
    lines = []
    for raw in out.splitlines():
        m = LINE_RE.match(raw.strip())
        if m:
            file = Path(m["file"]).as_posix().replace(tmp.as_posix() + "/", "")
            lines.append(f"{file}:{m['line']}: {m['sev']}: {m['msg']}")
    return sorted(lines)  # parallel workers and the daemon order files differently


def _check(proc: subprocess.CompletedProcess[str]) -> None:
    text = proc.stdout + proc.stderr
    if "Traceback" in text or "INTERNAL ERROR" in text:
        raise AssertionError(f"mypy crashed:\n{text}")


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "MYPYPATH": str(tmp)}


def library_seed(tmp: Path, cache: str) -> Path:
    """A copy of the cache dir ``cache`` without the corpus's own modules: what a cold run of
    the project finds when SQLAlchemy, FastAPI, pydantic and typeshed were analysed before
    with the same configuration (the project's modules are checked from scratch, the
    libraries are not analysed again for every edit)."""
    own = {p.stem if p.is_file() else p.name for p in tmp.iterdir()
           if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".py")}
    seed = tmp / ".cache_seed"
    shutil.rmtree(seed, ignore_errors=True)
    source = tmp / cache

    def project_files(directory: str, names: list[str]) -> list[str]:
        if Path(directory).parent != source:
            return []  # below a version directory: a package's own files stay with it
        return [n for n in names if n.split(".")[0] in own]

    shutil.copytree(source, seed, ignore=project_files)
    return seed


def mypy(tmp: Path, targets: list[str], cache: str, *extra: str, seed: Path | None = None) -> list[str]:
    if seed is not None:
        shutil.rmtree(tmp / cache, ignore_errors=True)
        shutil.copytree(seed, tmp / cache)
    cmd = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--show-error-codes",
           "--no-error-summary", "--no-color-output", "--hide-error-context", "--cache-dir",
           cache, *extra, *targets]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=_env(tmp), check=False)
    _check(proc)
    return _parse(proc.stdout, tmp)


class Daemon:
    """dmypy over the same corpus; each ``check`` is a fine-grained recheck after edits."""

    def __init__(self, tmp: Path, targets: list[str]) -> None:
        self.tmp, self.targets = tmp, targets
        self.status = str(tmp / ".dmypy.json")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "mypy.dmypy", "--status-file", self.status, *args]
        proc = subprocess.run(cmd, cwd=self.tmp, capture_output=True, text=True, env=_env(self.tmp),
                              check=False)
        _check(proc)
        return proc

    def _flags(self) -> list[str]:
        return ["--config-file", "mypy.ini", "--show-error-codes", "--no-error-summary",
                "--no-color-output", "--hide-error-context", "--cache-dir", str(self.tmp / ".cache_daemon")]

    def start(self) -> None:
        self._run("start", "--", *self._flags())

    def run(self) -> list[str]:
        """``dmypy run``: starts the daemon if needed, restarts it when the configuration changed."""
        return _parse(self._run("run", "--", *self._flags(), *self.targets).stdout, self.tmp)

    def check(self) -> list[str]:
        return _parse(self._run("check", *self.targets).stdout, self.tmp)

    def stop(self) -> None:
        self._run("kill")
