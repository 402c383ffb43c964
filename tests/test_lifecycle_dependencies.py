"""FastAPI dependencies that yield a factory's session (issue 18, part 2), twinned with the
runtime: ``tests/lifecycle/depends_app.py`` is type-checked with the plugin and served with
httpx; each route's probe comment says what both must find."""

from __future__ import annotations

import ast
import asyncio
import re
import subprocess
import sys
from pathlib import Path

from tests.differential import scenarios

APP = Path(__file__).resolve().parent / "lifecycle" / "depends_app.py"


def _probes() -> dict[str, tuple[int, str]]:
    """route name -> (line of its probe, what the comment expects)."""
    lines = APP.read_text().splitlines()
    found: dict[str, tuple[int, str]] = {}
    for node in ast.parse(APP.read_text()).body:
        if isinstance(node, ast.AsyncFunctionDef) and node.decorator_list:
            for number in range(node.lineno, node.end_lineno + 1):  # type: ignore[operator]
                match = re.search(r"# (fails, not followed|fails|works)$", lines[number - 1])
                if match:
                    found[node.name] = (number, match.group(1))
    return found


def test_dependency_sessions_agree_with_the_runtime(tmp_path: Path) -> None:
    probes = _probes()
    assert len(probes) == 6
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nplugins = mypy_eagerload.plugin\nstrict = True\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config),
                           "--cache-dir", str(tmp_path / "cache"), str(APP)],
                          check=False, capture_output=True, text=True)
    errors = re.findall(r"depends_app\.py:(\d+): error: .*\[([\w-]+)\]", proc.stdout)
    assert {code for _, code in errors} <= {"expired-attribute"}, proc.stdout
    reported = {int(line) for line, _ in errors}
    # mypy 1.x gives the plugin no summaries of module-level functions: the dependency and
    # the helper are not followed there, and the plugin stays silent (never guesses).
    expected = {line for line, what in probes.values() if what == "fails"} \
        if scenarios.module_summaries() else set()
    assert reported == expected, proc.stdout

    sys.path.insert(0, str(APP.parent))
    try:
        import depends_app  # type: ignore[import-not-found]

        outcomes = asyncio.run(depends_app.serve())
    finally:
        sys.path.remove(str(APP.parent))
    for route, (_, what) in probes.items():
        assert outcomes[route] == ("ok" if what == "works" else "MissingGreenlet"), (route, outcomes)
