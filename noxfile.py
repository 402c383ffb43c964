"""Test sessions: the version matrix. The README's test command (and .ci/run) runs them all.

    python -m nox --session tests            # every combination below
    python -m nox --session "tests(sa2.1, mypy newest)"   # one of them
"""

from __future__ import annotations

import nox

# uv when it is installed (.ci/run installs it: the three sessions' installs take seconds
# instead of minutes), else the standard library's venv.
nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_existing_virtualenvs = True

# The supported range, as pyproject.toml states it: SQLAlchemy 2.0.30+ and 2.1.x, mypy 1.19+.
SQLALCHEMY = {"2.1": "sqlalchemy>=2.1,<2.2", "2.0": "sqlalchemy>=2.0.30,<2.1"}
MYPY = {"newest": "mypy>=1.19", "oldest": "mypy==1.19.1"}
MATRIX = [("2.1", "newest"), ("2.0", "newest"), ("2.0", "oldest")]


@nox.session
@nox.parametrize(("sqlalchemy", "mypy"), MATRIX, ids=[f"sa{s}, mypy {m}" for s, m in MATRIX])
def tests(session: nox.Session, sqlalchemy: str, mypy: str) -> None:
    session.install(".[test]", SQLALCHEMY[sqlalchemy], MYPY[mypy])
    session.run("python", "-m", "mypy", "--version")
    # Each suite runs in the sessions whose versions it depends on. The fuzzer exercises the
    # plugin's code paths, and the packaging tests the built distributions, neither of which
    # depends on the versions: one session runs them. The fix-note checks depend on
    # SQLAlchemy's version (what a patched query does), not mypy's: the two SQLAlchemy
    # sessions run them, the oldest-mypy one (SQLAlchemy 2.0 again) does not. The mode
    # checks (cache, workers, daemon) depend on mypy's version, not SQLAlchemy's: the two
    # mypy sessions run them, SQLAlchemy 2.0 on the newest mypy does not.
    marks = {
        MATRIX[0]: [],
        MATRIX[1]: ["-m", "not fuzz and not packaging and not modes"],
        MATRIX[2]: ["-m", "not fuzz and not packaging and not fixcheck"],
    }[(sqlalchemy, mypy)]
    # Two workers: CI machines have two cores, and most tests wait on a mypy subprocess.
    session.run("pytest", "-n", "2", *marks, *session.posargs)


@nox.session(python=False)
def example(session: nox.Session) -> None:
    """mypy with the plugin over the bundled example app (shows real diagnostics)."""
    session.run("mypy", "--config-file", "examples/mypy.ini", "examples/blog", success_codes=[0, 1])
