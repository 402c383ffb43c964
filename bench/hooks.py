"""Where the plugin's cost goes: a cold run with and without it, split into parts.

    python bench/hooks.py --models 200 --runs 3

Generates a project (``generate.py``), fills a third-party cache per configuration, then
runs mypy cold with and without the plugin, alternating, each run in a fresh process that
times (medians over ``--runs``):

* the garbage collector (``gc.callbacks``): the plugin's long-lived objects fill the young
  generation sooner, and a collection of mypy's heap is not cheap;
* with the plugin, every hook it returns, wrapped in a timer: deciding which hook to return
  (``get_*_hook``: mypy asks for every call and attribute), semantic-analysis hooks and
  checker hooks, the checker hooks also by name;
* the rest: mypy's own work, which the plugin's types make larger, plus the machine's noise
  (on a shared 2-core machine, two identical runs differ by up to 10-15%). A collection that
  runs inside a hook counts as the collector's, not the hook's.

cProfile inflates Python code several times against mypy's compiled code and so misplaces
the split; timers do not. For a sampled view of the same run with mypy's compiled
functions named, ``py-spy record --native`` works (not a dependency of the project).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate
from run import compile_plugin, prepare

from mypy_eagerload.plugin import EagerLoadPlugin

_SEMANTIC = {"get_base_class_hook", "get_customize_class_mro_hook", "get_type_analyze_hook",
             "get_additional_deps"}
_ASKED = ["get_function_hook", "get_method_hook", "get_attribute_hook", *_SEMANTIC]


def instrument(totals: dict[str, float], by_hook: dict[str, float]) -> None:
    for name in _ASKED:
        ask = getattr(EagerLoadPlugin, name)

        def get(self: EagerLoadPlugin, fullname: Any, _ask: Any = ask, _name: str = name) -> Any:
            start, collected = time.perf_counter(), totals["gc"]
            hook = _ask(self, fullname)
            totals["asked"] += time.perf_counter() - start - (totals["gc"] - collected)
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
        start, collected = time.perf_counter(), totals["gc"]
        try:
            return hook(ctx)
        finally:  # a collection that runs meanwhile counts as the collector's
            spent = time.perf_counter() - start - (totals["gc"] - collected)
            totals[kind] += spent
            by_hook[label] = by_hook.get(label, 0.0) + spent

    return run


def child(config: Path, cache: Path, plugin: bool) -> None:
    """One cold run in this process; prints its figures as JSON on the last line."""
    totals = {"asked": 0.0, "semantic": 0.0, "checker": 0.0, "gc": 0.0}
    by_hook: dict[str, float] = {}
    if plugin:
        instrument(totals, by_hook)
    started = [0.0]

    def collecting(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            totals["gc"] += time.perf_counter() - started[0]

    gc.callbacks.append(collecting)
    from mypy import api

    start = time.perf_counter()
    api.run(["--config-file", str(config), "--cache-dir", str(cache), "--no-error-summary", "app"])
    totals["wall"] = time.perf_counter() - start
    print(json.dumps({"totals": totals, "by_hook": by_hook}))


def run_child(project: Path, config: Path, cache: Path, fresh: Path, plugin: bool) -> dict[str, Any]:
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(fresh, cache)
    proc = subprocess.run([sys.executable, __file__, "--child", str(config), str(cache),
                           "plugin" if plugin else "none"], cwd=project, capture_output=True,
                          text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"mypy failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "plugin")
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    compile_plugin()
    base = Path(tempfile.mkdtemp(prefix="eagerload-hooks-"))
    project = base / "project"
    generate(args.models, project)
    configs = {"none": project / "none.ini", "plugin": project / "plugin.ini"}
    configs["none"].write_text("[mypy]\n")
    configs["plugin"].write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    third = prepare(project, base, list(configs))  # third-party modules only

    samples: dict[str, list[dict[str, Any]]] = {"none": [], "plugin": []}
    for run in range(args.runs):
        for name in (["none", "plugin"] if run % 2 == 0 else ["plugin", "none"]):
            samples[name].append(run_child(project, configs[name], base / "cache", third[name],
                                           name == "plugin"))
    shutil.rmtree(base, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(s["totals"][key] for s in samples[name])

    own = {k: median("plugin", k) for k in ("asked", "semantic", "checker")}
    rows = [("wall", median("none", "wall"), median("plugin", "wall")),
            ("garbage collection", median("none", "gc"), median("plugin", "gc")),
            ("plugin: deciding which hook (asked)", 0.0, own["asked"]),
            ("plugin: semantic-analysis hooks", 0.0, own["semantic"]),
            ("plugin: checker hooks", 0.0, own["checker"])]
    rest = [median(n, "wall") - median(n, "gc") - (sum(own.values()) if n == "plugin" else 0.0)
            for n in ("none", "plugin")]
    rows.append(("the rest: mypy's own work (and noise)", rest[0], rest[1]))
    print(f"{args.models} models, cold, medians of {args.runs} runs each")
    print(f"  {'':40} {'no plugin':>10} {'plugin':>10} {'difference':>11}")
    for label, without, with_ in rows:
        print(f"  {label:40} {without:9.2f}s {with_:9.2f}s {with_ - without:+10.2f}s")
    by_hook: dict[str, list[float]] = {}
    for sample in samples["plugin"]:
        for label, spent in sample["by_hook"].items():
            by_hook.setdefault(label, []).append(spent)
    print("  checker and semantic hooks by name:")
    for label, spent in sorted(((k, statistics.median(v)) for k, v in by_hook.items()),
                               key=lambda kv: -kv[1])[:args.top]:
        print(f"    {spent:6.3f} s  {label}")


if __name__ == "__main__":
    main()
