"""The ``annotate`` command: analyse, infer, then print, check or write the edits."""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import TextIO

from mypy_eagerload.annotate import collect, infer
from mypy_eagerload.annotate.rewrite import DEFAULT_LINE_LENGTH, Edit, rewrite

if sys.version_info >= (3, 11):
    import tomllib
else:  # mypy depends on tomli for Python < 3.11
    import tomli as tomllib


def annotate(paths: list[str], *, config_file: str | None, diff: bool, check: bool, explain: list[str],
             exclude: list[re.Pattern[str]], max_depth: int, out: TextIO, err: TextIO,
             line_length: int | None = None, use_cache: bool = True) -> int:
    try:
        project = collect.analyse(paths, config_file, use_cache)
    except collect.BuildFailed as exc:
        print(f"mypy-eagerload annotate: mypy could not analyse the project:\n{exc}", file=err)
        return 2
    required = infer.infer(project.functions, max_depth, project.trim)
    if explain:
        for name in explain:
            print("\n".join(infer.explain(project.functions, required, name)), file=out)
        return 0
    changed_files = 0
    changed_params = 0
    width = line_length or formatter_line_length(Path.cwd())
    for fn in project.functions.values():
        for param, why in fn.skipped.items():
            print(f"{fn.file}: {fn.fullname[len(fn.module) + 1:]}({param}): skipped: {why}", file=err)
    for module, edits in sorted(_edits(project, required).items()):
        file = Path(project.files[module])
        if any(x.search(file.as_posix()) for x in exclude):
            continue
        old = file.read_text(encoding="utf-8")
        result = rewrite(old, edits, width)
        for edit, why in result.skipped:
            print(f"{file}: {edit.qualname}({edit.param}): skipped: {why}", file=err)
        if result.source == old:
            continue
        changed_files += 1
        changed_params += len(result.applied)
        if diff:
            out.write(_unified_diff(file, old, result.source))
        elif check:
            for edit, added in result.applied:
                shown = ", ".join(f'"{p}"' for p in added)
                print(f"{file}: {edit.qualname}({edit.param}) needs {shown}", file=out)
        else:
            file.write_text(result.source, encoding="utf-8")
    verb = "would change" if diff or check else "changed"
    print(f"mypy-eagerload annotate: {verb} {changed_params} parameter(s) in {changed_files} file(s)",
          file=err)
    return 1 if check and changed_params else 0


def formatter_line_length(start: Path) -> int:
    """The line length of the project's formatter: ruff's (``ruff.toml``, ``.ruff.toml``,
    ``[tool.ruff]``), else black's (``[tool.black]``), from the nearest folder up from
    ``start`` that configures one; else their common default."""
    for folder in (start, *start.parents):
        for name in ("ruff.toml", ".ruff.toml", "pyproject.toml"):
            file = folder / name
            if not file.is_file():
                continue
            try:
                data = tomllib.loads(file.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            tool = data.get("tool", {}) if name == "pyproject.toml" else {"ruff": data}
            for formatter in ("ruff", "black"):
                table = tool.get(formatter) if isinstance(tool, dict) else None
                if isinstance(table, dict):
                    value = table.get("line-length", table.get("line_length"))
                    return value if isinstance(value, int) and value > 0 else DEFAULT_LINE_LENGTH
    return DEFAULT_LINE_LENGTH


def _unified_diff(path: Path, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{path.as_posix()}", f"b/{path.as_posix()}"))


def _edits(project: collect.Project, required: infer.Requirements) -> dict[str, list[Edit]]:
    edits: dict[str, list[Edit]] = {}
    for fn in project.functions.values():
        qualname = fn.fullname[len(fn.module) + 1:]
        for param in fn.params.values():
            # Only paths the model has: a stale existing annotation is loaded-path's to report.
            found = {project.trim(param.model, p) for p in required.get((fn.fullname, param.name), {})}
            paths = infer.maximal({p for p in found if p})
            if paths and param.rewritable:
                edits.setdefault(fn.module, []).append(Edit(qualname, param.name, tuple(paths)))
    return edits
