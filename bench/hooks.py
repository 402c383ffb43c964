"""Where the plugin's own time goes in one mypy run: its hooks, timed by kind.

    python bench/hooks.py --models 200

Generates a project (``generate.py``), fills a third-party cache, then runs mypy once
cold in this process with every hook the plugin returns wrapped in a timer. It prints the
total wall time, the time spent deciding which hook to return (``get_*_hook``: mypy asks
for every call and attribute), in semantic-analysis hooks, and in checker hooks, then the
checker hooks by name. cProfile inflates Python code several times against mypy's compiled
code and so misplaces the split; this does not.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

from mypy_eagerload.plugin import EagerLoadPlugin

_SEMANTIC = {"get_base_class_hook", "get_customize_class_mro_hook", "get_type_analyze_hook",
             "get_additional_deps"}
_ASKED = ["get_function_hook", "get_method_hook", "get_attribute_hook", *_SEMANTIC]


def instrument(totals: dict[str, float], by_hook: dict[str, float]) -> None:
    for name in _ASKED:
        ask = getattr(EagerLoadPlugin, name)

        def get(self: EagerLoadPlugin, fullname: Any, _ask: Any = ask, _name: str = name) -> Any:
            start = time.perf_counter()
            hook = _ask(self, fullname)
            totals["asked"] += time.perf_counter() - start
            if hook is None or _name == "get_additional_deps":
                return hook
            kind = "semantic" if _name in _SEMANTIC else "checker"
            if kind == "semantic":
                label = _name
            elif _name == "get_attribute_hook":
                label = "attribute reads"  # one hook per attribute name: summed
            else:
                label = f"{_name[4:-5]}: {str(fullname).rsplit('.', 1)[-1]}"
            return _timed(hook, kind, label, totals, by_hook)

        setattr(EagerLoadPlugin, name, functools.wraps(ask)(get))


def _timed(hook: Callable[[Any], Any], kind: str, label: str, totals: dict[str, float],
           by_hook: dict[str, float]) -> Callable[[Any], Any]:
    def run(ctx: Any) -> Any:
        start = time.perf_counter()
        try:
            return hook(ctx)
        finally:
            spent = time.perf_counter() - start
            totals[kind] += spent
            by_hook[label] = by_hook.get(label, 0.0) + spent

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="eagerload-hooks-"))
    project = base / "project"
    generate(args.models, project)
    config = project / "mypy.ini"
    config.write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    (project / "probe.py").write_text("import sqlalchemy.orm, sqlalchemy.ext.asyncio\n")
    subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
                    str(base / "cache"), "probe.py"], cwd=project, capture_output=True, check=False)
    (project / "probe.py").unlink()

    from mypy import api

    totals = {"asked": 0.0, "semantic": 0.0, "checker": 0.0}
    by_hook: dict[str, float] = {}
    instrument(totals, by_hook)
    start = time.perf_counter()
    import os
    os.chdir(project)
    api.run(["--config-file", str(config), "--cache-dir", str(base / "cache"), "--no-error-summary", "app"])
    total = time.perf_counter() - start
    print(f"{args.models} models, cold: {total:.2f} s in all; plugin: asked {totals['asked']:.2f} s, "
          f"semantic hooks {totals['semantic']:.2f} s, checker hooks {totals['checker']:.2f} s")
    for label, spent in sorted(by_hook.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {spent:6.3f} s  {label}")


if __name__ == "__main__":
    main()
