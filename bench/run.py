"""mypy with and without the plugin on the same generated project: time and memory ratios.

    python bench/run.py --sizes 50 200 500 --runs 3

For each size, runs alternate between the two configurations (plugin first on odd runs)
so drift in the machine's speed hits both alike. Modes:

* cold: third-party modules (SQLAlchemy, typeshed) come from a cache prepared once per
  configuration; the project's own modules are checked from scratch;
* warm: the same again, nothing changed;
* edit: warm after appending a function to one query module;
* cold -n 2: like cold, with ``--num-workers 2``.

``--layered`` generates the layered variant: a third of the query functions get their object
through a service and a concrete repository with an option provider (``app/services``).

It prints the median time of each, the ratio plugin / no plugin, and the peak memory
ratio (the largest resident set of mypy and its workers). ``--floor`` adds two reference
plugins from ``floor_plugins.py`` to the same interleaved runs: ``empty`` (hooks nothing)
and ``asked`` (this plugin's semantic analysis and hook dispatch, computing no load state),
which show how much of the ratio any plugin doing this job pays before analysing anything.
The plugin's bytecode is compiled first, as installing it does (``compile_plugin``).
"""

from __future__ import annotations

import argparse
import compileall
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

# Runs mypy in a child process and reports its own peak memory and its workers'.
MEASURE = """
import resource, sys
from mypy import api
out, err, status = api.run(sys.argv[1:])
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print("PEAK_KB", peak, "STATUS", status)
"""
MODES = ["cold", "warm", "edit", "cold -n 2"]


CONFIGS = {"none": "", "plugin": "mypy_eagerload.plugin",
           "empty": f"{Path(__file__).parent / 'floor_plugins.py'}:empty",
           "asked": f"{Path(__file__).parent / 'floor_plugins.py'}:asked"}


def compile_plugin() -> None:
    """Write the plugin's bytecode first, as installing a package does: where
    ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's machines), every run would
    otherwise compile the plugin's sources again, a cost no installed plugin pays."""
    import mypy_eagerload

    compileall.compile_dir(str(Path(mypy_eagerload.__file__).parent), quiet=1)


def mypy(project: Path, config_name: str, cache: Path, *extra: str) -> tuple[float, int]:
    config = project / f"{config_name}.ini"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, "--config-file", str(config), "--cache-dir", str(cache),
         "--no-error-summary", *extra, "app"],
        cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    line = [x for x in proc.stdout.splitlines() if x.startswith("PEAK_KB")]
    if not line or "INTERNAL ERROR" in proc.stdout + proc.stderr:
        raise RuntimeError(f"mypy failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, int(line[0].split()[1])


def prepare(project: Path, base: Path, configs: list[str]) -> dict[str, Path]:
    """A cache per configuration holding only third-party modules."""
    caches = {}
    probe = project / "thirdparty_probe.py"
    probe.write_text("import sqlalchemy.orm, sqlalchemy.ext.asyncio\n")
    for plugin in configs:
        cache = base / f"thirdparty_{plugin}"
        config = project / f"{plugin}.ini"
        subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
                        str(cache), str(probe)], cwd=project, capture_output=True, check=False)
        caches[plugin] = cache
    probe.unlink()
    return caches


def one_round(project: Path, base: Path, third: dict[str, Path], plugin: str,
              edit_target: Path) -> dict[str, tuple[float, int]]:
    results = {}
    cache = base / f"run_{plugin}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(third[plugin], cache)
    results["cold"] = mypy(project, plugin, cache)
    results["warm"] = mypy(project, plugin, cache)
    original = edit_target.read_text()
    edit_target.write_text(original + "\n\nasync def bench_added() -> int:\n    return 1\n")
    try:
        results["edit"] = mypy(project, plugin, cache)
    finally:
        edit_target.write_text(original)
    cache_n = base / f"run_n_{plugin}"
    shutil.rmtree(cache_n, ignore_errors=True)
    shutil.copytree(third[plugin], cache_n)
    results["cold -n 2"] = mypy(project, plugin, cache_n, "--num-workers", "2")
    return results


def bench(size: int, runs: int, configs: list[str], layered: bool = False) -> dict[str, dict[str, float]]:
    base = Path(tempfile.mkdtemp(prefix=f"eagerload-bench-{size}-"))
    project = base / "project"
    generate(size, project, layered=layered)
    for name in configs:
        plugins = f"plugins = {CONFIGS[name]}\n" if CONFIGS[name] else ""
        (project / f"{name}.ini").write_text(f"[mypy]\n{plugins}")
    third = prepare(project, base, configs)
    edit_target = project / "app" / "queries" / "q0.py"
    samples: dict[str, dict[str, list[tuple[float, int]]]] = {name: {} for name in configs}
    for run in range(runs):
        order = configs[run % len(configs):] + configs[:run % len(configs)]  # rotate who goes first
        for plugin in order:
            for mode, value in one_round(project, base, third, plugin, edit_target).items():
                samples[plugin].setdefault(mode, []).append(value)
    shutil.rmtree(base, ignore_errors=True)
    table = {}
    for mode in MODES:
        without = statistics.median(t for t, _ in samples["none"][mode])
        mem_without = max(m for _, m in samples["none"][mode])
        row = {"without_s": without}
        for name in configs[1:]:
            with_ = statistics.median(t for t, _ in samples[name][mode])
            mem_with = max(m for _, m in samples[name][mode])
            prefix = "" if name == "plugin" else f"{name}_"
            row.update({f"{prefix}with_s": with_, f"{prefix}ratio": with_ / without,
                        f"{prefix}mem_ratio": mem_with / mem_without})
        table[mode] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--layered", action="store_true",
                        help="the layered variant: services and repositories (issue 17)")
    parser.add_argument("--floor", action="store_true",
                        help="also run the reference plugins of floor_plugins.py (empty, asked)")
    args = parser.parse_args()
    configs = ["none", "plugin", *(["empty", "asked"] if args.floor else [])]
    compile_plugin()
    import mypy.version
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
          f"{platform.python_version()}, mypy {mypy.version.__version__}, runs per mode: {args.runs}")
    floor = "  empty  asked" if args.floor else ""
    print(f"{'models':>6}  {'mode':<10} {'no plugin':>10} {'plugin':>10} {'ratio':>7} {'memory':>7}{floor}")
    everything = {}
    for size in args.sizes:
        table = bench(size, args.runs, configs, args.layered)
        everything[size] = table
        for mode, row in table.items():
            extra = f" {row['empty_ratio']:>6.3f} {row['asked_ratio']:>6.3f}" if args.floor else ""
            print(f"{size:>6}  {mode:<10} {row['without_s']:>9.2f}s {row['with_s']:>9.2f}s "
                  f"{row['ratio']:>7.3f} {row['mem_ratio']:>7.3f}{extra}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
