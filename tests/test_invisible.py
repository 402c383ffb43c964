"""Invisible to mypy: with the plugin, mypy prints what it prints without it, apart from the
plugin's own errors and the notes attached to them (issue 16).

Each program set is checked with ``mypy --strict`` twice, with and without the plugin, in one
invocation per set (modules renamed apart where two programs share a name), and the outputs
are compared line by line: errors with their texts, ``reveal_type`` notes, ``assert_type``
failures. The sets: SQLAlchemy's own typing tests (``../shared/corpora/sqlalchemy-typing``,
the version matching the installed SQLAlchemy), every typesafety case, the differential
scenarios (the layered ones too), the fuzz corpus and generated fuzz programs, and the
example apps.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
import yaml

from tests.differential import harness, scenarios
from tests.fuzz import generator

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora" / "sqlalchemy-typing"
PLUGIN_CODES = frozenset({"unloaded-relationship", "unloaded-column", "missing-unique",
                          "loader-conflict", "loaded-path", "unverified-serializer", "expired-attribute"})
_LINE = re.compile(r"^(?P<loc>[^:]+:\d+(?::\d+)?): (?P<kind>error|note|warning): (?P<msg>.*?)"
                   r"(?:  \[(?P<code>[a-z-]+)\])?$")


def mypy_output(directory: Path, targets: list[str], plugin: bool) -> list[str]:
    """mypy --strict over ``targets``; the lines that are not the plugin's own."""
    config = directory / ("with.ini" if plugin else "without.ini")
    config.write_text("[mypy]\n" + ("plugins = mypy_eagerload.plugin\n" if plugin else ""))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(config), "--strict",
           "--no-error-summary", "--show-error-codes", "--no-color-output", "--hide-error-context",
           "--no-pretty", "--cache-dir", str(directory / (".cache_p" if plugin else ".cache_n")),
           *targets]
    env = {**os.environ, "MYPYPATH": str(directory)}
    proc = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, env=env, check=False)
    assert "Traceback" not in proc.stderr and "INTERNAL ERROR" not in proc.stdout, proc.stdout + proc.stderr
    return strip_plugin_lines(proc.stdout.splitlines())


def strip_plugin_lines(lines: list[str]) -> list[str]:
    """Drop the plugin's errors and the notes that follow them at the same place."""
    kept: list[str] = []
    dropping: str | None = None
    for line in lines:
        m = _LINE.match(line)
        if m is None:
            kept.append(line)
            continue
        if m["kind"] == "error":
            dropping = m["loc"] if m["code"] in PLUGIN_CODES else None
            if dropping is None:
                kept.append(line)
        elif m["kind"] == "note" and (dropping == m["loc"] or m["msg"].startswith("load state")):
            continue  # a note of the plugin's error, or of reveal_loads() (the plugin's own)
        else:
            if m["kind"] != "note":
                dropping = None
            kept.append(line)
    return kept


def _ignores_plugin_codes_only(directory: Path, line: str) -> bool:
    """``# type: ignore[unloaded-relationship]`` is unused without the plugin, by design."""
    m = _LINE.match(line)
    if m is None or m["code"] != "unused-ignore":
        return False
    path, number = m["loc"].split(":")[:2]
    source = (directory / path).read_text().splitlines()[int(number) - 1]
    codes = re.search(r"type:\s*ignore\[([^\]]*)\]", source)
    return codes is not None and {c.strip() for c in codes[1].split(",")} <= PLUGIN_CODES


def assert_same(directory: Path, targets: list[str]) -> int:
    without = [line for line in mypy_output(directory, targets, plugin=False)
               if not _ignores_plugin_codes_only(directory, line)]
    with_plugin = mypy_output(directory, targets, plugin=True)
    missing = [line for line in without if line not in with_plugin]
    added = [line for line in with_plugin if line not in without]
    assert (missing, added) == ([], []), "mypy's output changed with the plugin:\n" + "\n".join(
        [f"- {line}" for line in missing] + [f"+ {line}" for line in added])
    assert with_plugin == without  # also the order
    return len(without)


# ---------------------------------------------------------------------------------------


def corpus_version() -> str:
    return "2.0" if sqlalchemy.__version__.startswith("2.0") else "2.1"


def test_sqlalchemy_typing_corpus(tmp_path: Path) -> None:
    """SQLAlchemy's own typing tests, every file as its own module (several share a name)."""
    source = CORPORA / corpus_version()
    if not source.is_dir():
        pytest.skip(f"{source} is not there (it comes with the shared folder)")
    names = []
    for i, path in enumerate(sorted(source.rglob("*.py"))):
        name = f"c{i:03d}_{path.stem}.py"
        shutil.copy(path, tmp_path / name)
        names.append(name)
    assert len(names) >= 50
    lines = assert_same(tmp_path, names)
    print(f"\ncorpus {corpus_version()}: {len(names)} files, {lines} lines of mypy output, identical")


def _rename(text: str, modules: dict[str, str]) -> str:
    for old, new in modules.items():
        text = re.sub(rf"\b(from|import)\s+{old}\b", rf"\1 {new}", text)
    return text


def test_typesafety_cases(tmp_path: Path) -> None:
    """Every typesafety case, its modules renamed apart so that one run checks them all."""
    targets: list[str] = []
    count = 0
    for suite in sorted((ROOT / "typesafety").glob("*.yml")):
        for case in yaml.safe_load(suite.read_text()):
            count += 1
            prefix = f"t{count:03d}_"
            files = {f["path"]: f.get("content", "") for f in case.get("files") or []}
            modules = {p[:-3]: prefix + p[:-3] for p in files if p.endswith(".py") and "/" not in p}
            for path, content in files.items():
                (tmp_path / (prefix + path)).write_text(_rename(content, modules))
            (tmp_path / f"{prefix}main.py").write_text(_rename(case["main"], modules))
            targets.append(f"{prefix}main.py")
    assert count >= 30
    lines = assert_same(tmp_path, targets)
    print(f"\ntypesafety: {count} cases, {lines} lines of mypy output, identical")


def test_differential_scenarios(tmp_path: Path) -> None:
    cases = (scenarios.handwritten() + scenarios.contracts() + scenarios.rebinding() + scenarios.generated(60)
             + scenarios.generated(20, seed=11, sync=True) + scenarios.strict(20) + scenarios.layered(60))
    module = harness.write_project(tmp_path, cases)
    lines = assert_same(tmp_path, [module.name])
    print(f"\ndifferential: {len(cases)} scenarios, {lines} lines of mypy output, identical")


def test_fuzz_programs(tmp_path: Path) -> None:
    """The crash corpus and a batch of generated programs (ordinary typed code around the
    queries, ``Loaded[...]`` annotations, members, serializers)."""
    targets = []
    for path in sorted((ROOT / "tests" / "fuzz" / "corpus").glob("*.py")):
        if "mypy_own_crash" in path.name:
            continue  # crashes mypy itself, with or without the plugin
        shutil.copy(path, tmp_path / path.name)
        targets.append(path.name)
    rng = random.Random(20261205)
    for i in range(60):
        program = generator.program(rng, f"gen{i:03d}")
        for module, source in program.modules.items():
            (tmp_path / f"{module}.py").write_text(source)
            targets.append(f"{module}.py")
    lines = assert_same(tmp_path, targets)
    print(f"\nfuzz: {len(targets)} modules, {lines} lines of mypy output, identical")


def test_example_apps(tmp_path: Path) -> None:
    for app in ("blog", "shop"):
        shutil.copytree(ROOT / "examples" / app, tmp_path / app)
    lines = assert_same(tmp_path, ["blog", "shop"])
    print(f"\nexamples: {lines} lines of mypy output, identical")
