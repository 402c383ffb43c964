"""The distributions as users get them: built, checked, installed into fresh virtualenvs.

* ``twine check --strict`` passes on the sdist and the wheel, and the wheel carries the
  license, the type marker and nothing but the package;
* a venv with only the package's runtime requirements (no mypy) runs
  ``from mypy_eagerload import Loaded`` and imports nothing heavy (production's view);
* a venv with the ``example`` extra runs the example app's demo and the README's first
  command (mypy with the plugin over it: its errors, exit status 1).

They install from the package index, so they run in one session of the version matrix
(``-m "not packaging"`` in the others, as for the fuzzer).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from mypy_eagerload import __version__

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.packaging


def _run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    src = tmp_path_factory.mktemp("src") / "project"
    # A copy without build leftovers or caches: what a clean checkout builds.
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".nox", "*.egg-info", "__pycache__", ".mypy_cache", "dist", "build"))
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, src)
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


def _venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / ("Scripts" if sys.platform == "win32" else "bin") / "python"


def test_distributions_pass_twine_check(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"], files
    _run(sys.executable, "-m", "twine", "check", "--strict", *files)


def test_wheel_holds_the_package_license_and_metadata(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as wheel:
        names = wheel.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(meta_name).decode()
    assert {n.split("/")[0] for n in names} == {"mypy_eagerload", f"mypy_eagerload-{__version__}.dist-info"}
    assert "mypy_eagerload/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"Version: {__version__}" in metadata
    assert "License-Expression: MIT" in metadata
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, re.M)
    unconditional = [r for r in requires if "extra ==" not in r]
    assert [re.split(r"[<>=; ]", r)[0].lower() for r in unconditional] == ["sqlalchemy"], unconditional
    assert "Classifier: Typing :: Typed" in metadata


PRODUCTION_CHECK = """\
import importlib.util, sys
assert importlib.util.find_spec("mypy") is None, "mypy is installed"
before = set(sys.modules)
from mypy_eagerload import Loaded, reveal_loads

class User:
    pass

assert Loaded[User, "posts"] is User
assert reveal_loads(3) == 3
new = sorted(m for m in set(sys.modules) - before if not m.startswith("_"))
heavy = [m for m in new if m.split(".")[0] in ("mypy", "sqlalchemy", "typing_extensions", "pydantic")]
assert not heavy, heavy
print(",".join(new))
"""


def test_loaded_imports_without_mypy(dist: Path, tmp_path: Path) -> None:
    """Production installs the package for ``Loaded``: with its runtime requirements only."""
    python = _venv(tmp_path / "prod")
    _run(python, "-m", "pip", "install", "--quiet", _wheel(dist))
    imported = _run(python, "-c", PRODUCTION_CHECK).stdout.strip().split(",")
    assert {"mypy_eagerload", "mypy_eagerload.loaded", "mypy_eagerload.reveal"} <= set(imported)
    version = _run(python, "-m", "mypy_eagerload", "--version").stdout
    assert version.startswith(f"mypy-eagerload {__version__} (mypy not installed, SQLAlchemy 2.")


def test_example_extra_runs_the_demo_and_the_first_command(dist: Path, tmp_path: Path) -> None:
    python = _venv(tmp_path / "example")
    _run(python, "-m", "pip", "install", "--quiet", f"{_wheel(dist)}[example]")
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns("__pycache__"))
    demo = _run(python, "-m", "blog.demo", cwd=examples)
    assert "MissingGreenlet" in demo.stdout + demo.stderr
    shop = _run(python, "-m", "shop.demo", cwd=examples)
    assert shop.stdout.strip()
    # The README's first command, as documented there: the plugin's errors, exit status 1.
    proc = subprocess.run([python, "-m", "mypy", "--config-file", "examples/mypy.ini", "examples/blog"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text()
    assert summary in readme, f"README does not show the first command's summary {summary!r}"
    assert "[unloaded-relationship]" in proc.stdout


PRECOMMIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: mypy
        name: mypy
        entry: mypy
        language: python
        types_or: [python, pyi]
        require_serial: true
        additional_dependencies:
          - "mypy=={mypy}"
          - "{wheel}"
          - "sqlalchemy[asyncio]=={sqlalchemy}"
        pass_filenames: false
        args: ["app/"]
"""

APP_MODELS = """\
from __future__ import annotations
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    posts: Mapped[list[Post]] = relationship()

class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
"""

APP_QUERIES = """\
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from app.models import User

async def count(session: AsyncSession) -> int:
    user = (await session.execute(select(User){options})).scalar_one()
    return len(user.posts)
"""


def test_precommit_recipe(dist: Path, tmp_path: Path) -> None:
    """The guide's pre-commit recipe (as a local hook: pre-commit installs the same
    additional_dependencies into its own environment): it fails on the plugin's error and
    passes once the query loads what is read."""
    from importlib import metadata

    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "models.py").write_text(APP_MODELS)
    (repo / "app" / "queries.py").write_text(APP_QUERIES.format(options=""))
    (repo / "pyproject.toml").write_text('[tool.mypy]\nplugins = ["mypy_eagerload.plugin"]\n')
    (repo / ".pre-commit-config.yaml").write_text(PRECOMMIT_CONFIG.format(
        mypy=metadata.version("mypy"), wheel=_wheel(dist), sqlalchemy=metadata.version("sqlalchemy")))
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def run() -> subprocess.CompletedProcess[str]:
        _run("git", "add", "-A", cwd=repo)
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                              capture_output=True, text=True, env=env, check=False)

    _run("git", "init", "-q", cwd=repo)
    failing = run()
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert 'app/queries.py:8: error: "User.posts" is not loaded' in failing.stdout, failing.stdout
    (repo / "app" / "queries.py").write_text(APP_QUERIES.format(options=".options(selectinload(User.posts))"))
    passing = run()
    assert passing.returncode == 0, passing.stdout + passing.stderr
