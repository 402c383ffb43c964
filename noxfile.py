"""Test sessions: the suite on SQLAlchemy 2.1 and 2.0 (the README's test command runs both)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


@nox.session
@nox.parametrize("sqlalchemy", ["2.1", "2.0"])
def tests(session: nox.Session, sqlalchemy: str) -> None:
    spec = "sqlalchemy>=2.1,<2.2" if sqlalchemy == "2.1" else "sqlalchemy>=2.0.30,<2.1"
    session.install(".[test]", spec)
    session.run("pytest", *session.posargs)


@nox.session(python=False)
def example(session: nox.Session) -> None:
    """mypy with the plugin over the bundled example app (shows real diagnostics)."""
    session.run("mypy", "--config-file", "examples/mypy.ini", "examples/blog", success_codes=[0, 1])
