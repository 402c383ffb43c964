"""The example app: the functions the plugin reports are exactly the ones that fail.

``examples/blog/demo.py`` runs every query function of the app under AsyncSession on SQLite;
mypy with the plugin checks the same app. A reported line inside a helper that a query
function calls (``views.render_post``) counts for that query function.
"""

from __future__ import annotations

import ast
import asyncio
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ERROR = re.compile(r"^blog/(\w+)\.py:(\d+): error: .*\[(?P<code>[a-z-]+)\]$")
PLUGIN_CODES = {"unloaded-relationship", "unloaded-column", "missing-unique", "loader-conflict"}


def _functions(module: str) -> list[tuple[str, int, int, set[str]]]:
    """(name, first line, last line, names it calls) for each top-level function."""
    tree = ast.parse((EXAMPLES / "blog" / f"{module}.py").read_text())
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            calls = {n.func.id for n in ast.walk(node)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            found.append((node.name, node.lineno, node.end_lineno or node.lineno, calls))
    return found


def _flagged(errors: list[tuple[str, int]], queries: set[str]) -> set[str]:
    flagged: set[str] = set()
    for module, line in errors:
        functions = _functions(module)
        for name, first, last, _calls in functions:
            if first <= line <= last:
                qualified = f"blog.{module}.{name}"
                if qualified in queries:
                    flagged.add(qualified)
                else:  # a helper: blame the query functions of its module that call it
                    flagged |= {f"blog.{module}.{n}" for n, _, _, calls in functions if name in calls}
    return flagged


def test_reported_functions_are_the_failing_ones(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir",
                           str(tmp_path / "cache"), "blog"], cwd=EXAMPLES, capture_output=True,
                          text=True, check=False)
    errors = [(m[1], int(m[2])) for line in proc.stdout.splitlines() if (m := ERROR.match(line))]
    codes = {m["code"] for line in proc.stdout.splitlines() if (m := ERROR.match(line))}
    assert codes <= PLUGIN_CODES, proc.stdout  # nothing but the plugin's own findings
    sys.path.insert(0, str(EXAMPLES))
    try:
        from blog import demo  # type: ignore[import-not-found]

        outcomes = asyncio.run(demo.run(str(tmp_path / "demo.db")))
    finally:
        sys.path.remove(str(EXAMPLES))
    failing = {name for name, outcome in outcomes.items() if outcome != "ok"}
    assert set(outcomes.values()) <= {"ok", "MissingGreenlet", "InvalidRequestError"}, outcomes
    assert len(failing) >= 5 and len(outcomes) - len(failing) >= 5  # both kinds, or it proves little
    assert _flagged(errors, set(outcomes)) == failing


def test_strict_mode_adds_only_plain_typed_reads(tmp_path: Path) -> None:
    """Strict mode (examples/mypy-strict.ini) reports what the default mode does, plus the
    reads on plain-typed parameters: ``views.post_count``, which works at runtime because
    its caller loads ``posts``, and which strict mode asks to annotate; and the two routes
    declared ``-> User`` under a response model, likewise."""
    def errors(config: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", config, "--cache-dir",
                               str(tmp_path / config), "blog"], cwd=EXAMPLES, capture_output=True,
                              text=True, check=False)
        return {line for line in proc.stdout.splitlines() if ERROR.match(line)}

    default, strict = errors("mypy.ini"), errors("mypy-strict.ini")
    assert default < strict
    extra = sorted(strict - default)
    # The routes declared ``-> User`` under a response model: strict mode takes the plain
    # type as the defaults, which do not cover UserOut, and asks for Loaded[User, ...].
    plain_routes = {f"blog/api.py:{first - 1}:" for name, first, _, _ in _functions("api")
                    if name in ("author_page", "author_page_full")}
    assert {line.split(" ", 1)[0] for line in extra if line.startswith("blog/api.py")} == plain_routes
    views = [line for line in extra if not line.startswith("blog/api.py")]
    assert len(views) == 1 and views[0].startswith("blog/views.py:")


def test_reported_routes_are_the_failing_ones(tmp_path: Path) -> None:
    """``examples/blog/api.py`` served by FastAPI over httpx, under AsyncSession: the routes
    the plugin reports (at the return or the decorator) are the ones whose response
    validation fails."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir",
                           str(tmp_path / "cache"), "blog"], cwd=EXAMPLES, capture_output=True,
                          text=True, check=False)
    lines = [int(m[2]) for line in proc.stdout.splitlines() if (m := ERROR.match(line)) and m[1] == "api"]
    routes = {name: (first, last) for name, first, last, _ in _functions("api")}
    # A decorator's line belongs to the function below it.
    flagged = {name for name, (first, last) in routes.items()
               for line in lines if first - 1 <= line <= last}
    sys.path.insert(0, str(EXAMPLES))
    try:
        statuses = asyncio.run(_serve(str(tmp_path / "api.db")))
    finally:
        sys.path.remove(str(EXAMPLES))
    assert set(statuses.values()) <= {200, 500}, statuses
    failing = {name for name, status in statuses.items() if status == 500}
    assert failing and len(failing) < len(statuses)
    assert flagged == failing, proc.stdout


async def _serve(database: str) -> dict[str, int]:
    import httpx
    from blog import api, demo  # type: ignore[import-not-found]
    from blog.models import Base  # type: ignore[import-not-found]
    from fastapi.routing import APIRoute
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        await demo.seed(session)
    api.configure(maker)
    statuses: dict[str, int] = {}
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for route in api.app.routes:
            if isinstance(route, APIRoute):
                response = await client.get(re.sub(r"\{\w+\}", "1", route.path))
                statuses[route.endpoint.__name__] = response.status_code
    await engine.dispose()
    return statuses
