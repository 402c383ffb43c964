"""The ``fix`` command: run mypy with the plugin once, read each report's fix note, apply the
ones that are patches (``core.patches``), list the others as skipped with the reason."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mypy_eagerload.core import patches
from mypy_eagerload.core.patches import Patch
from mypy_eagerload.fix.rewrite import rewrite

# The plugin's own codes: fix never acts on another tool's note.
CODES = frozenset({"unloaded-relationship", "unloaded-column", "missing-unique", "loader-conflict",
                   "loaded-path", "unverified-serializer", "expired-attribute"})
# mypy's output, whatever the project's configuration adds to it (columns, end positions).
_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::\d+)?(?::\d+:\d+)?: (?P<kind>error|note): (?P<text>.*?)"
                   r"(?:  \[(?P<code>[\w-]+)\])?$")


@dataclass(frozen=True)
class Report:
    path: str
    line: int
    code: str
    message: str
    note: str  # the fix note ("" when there is none)


def reports(output: str) -> list[Report]:
    """The plugin's reports in mypy's output, each with its last note (the fix). mypy prints
    a note once per line: an error after another on its line, with no note of its own, has
    the same one (two conflicts one edit ends)."""
    found: list[Report] = []
    current: dict[str, object] | None = None

    def close(report: dict[str, object]) -> None:
        last = found[-1] if found else None
        same_line = last is not None and (last.path, last.line) == (report["path"], report["line"])
        if not report["note"] and last is not None and same_line:
            report["note"] = last.note
        found.append(Report(**report))  # type: ignore[arg-type]

    for raw in output.splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        if match["kind"] == "error":
            if current is not None:
                close(current)
            current = None
            if match["code"] in CODES:
                current = {"path": match["path"], "line": int(match["line"]), "code": match["code"],
                           "message": match["text"], "note": ""}
        elif current is not None and match["path"] == current["path"] \
                and int(match["line"]) == current["line"] and not current["note"]:
            current["note"] = match["text"]  # the plugin's fix note comes right after its error
    if current is not None:
        close(current)
    return found


def run_mypy(paths: Sequence[str], config_file: str | None) -> str:
    """mypy's output for ``paths`` with the project's configuration, in the plain format."""
    from mypy import api

    args = [*(["--config-file", config_file] if config_file else []), "--show-error-codes", "--no-pretty",
            "--hide-error-context", "--no-error-summary", "--no-color-output", *paths]
    out, err, _ = api.run(args)
    return out + err


# A read two hops past what the query loads is reported one hop at a time: after a round of
# patches, mypy runs again and the next hop's note is applied. Each round only adds loads,
# so this ends; the bound is for reads deeper than any real option chain.
MAX_ROUNDS = 5


def fix(paths: Sequence[str], *, config_file: str | None, diff: bool, check: bool, codes: Sequence[str],
        out: TextIO, err: TextIO) -> int:
    """Apply the patches, round after round; with ``diff`` or ``check``, one round computed
    in memory (nothing is written), which shows what the first ``fix`` run starts with."""
    originals: dict[str, str] = {}
    edited: dict[str, str] = {}
    applied = 0
    skipped: dict[tuple[str, int, str], str] = {}
    for _ in range(1 if diff or check else MAX_ROUNDS):
        found = [r for r in reports(run_mypy(paths, config_file)) if not codes or r.code in codes]
        round_applied = 0
        for path, found_patches in sorted(_by_file(found, skipped).items()):
            file = Path(path)
            old = file.read_text(encoding="utf-8")
            result = rewrite(old, found_patches)
            for patch, why in result.skipped:
                skipped[(path, patch.line, _describe(patch))] = why
            if result.source != old:
                originals.setdefault(path, old)
                edited[path] = result.source
                if not (diff or check):
                    _write(file, result.source)
                round_applied += len(result.applied)
        applied += round_applied
        if not round_applied:
            break
    for (path, line, what), why in sorted(skipped.items()):
        where = f"{path}:{line}" if line else path
        print(f"{where}: skipped: {why}: {what}", file=err)
    for path, old in sorted(originals.items()):
        if diff:
            shown = Path(path).as_posix()
            out.write("".join(difflib.unified_diff(old.splitlines(keepends=True),
                                                   edited[path].splitlines(keepends=True),
                                                   f"a/{shown}", f"b/{shown}")))
        elif check:
            print(f"{path}: would change", file=out)
    verb = "would apply" if diff or check else "applied"
    print(f"mypy-eagerload fix: {verb} {applied} fix(es) in {len(originals)} file(s)", file=err)
    return 1 if check and applied else 0


def _by_file(found: list[Report], skipped: dict[tuple[str, int, str], str]) -> dict[str, list[Patch]]:
    by_file: dict[str, list[Patch]] = {}
    for report in found:
        stated = patches.parse_all(report.note)
        if not stated:
            why = "the place of the query's options is not known" if report.note.startswith("add .options(") \
                else "its note is advice, not a patch"
            skipped[(report.path, report.line, f"[{report.code}] {report.note}")] = why
            continue
        for patch in stated:
            path = _same_form(report.path)
            if patch.module:  # a place in another function, maybe of another module
                located = module_file(patch.module, report.path)
                if located is None:
                    skipped[(report.path, report.line, f"[{report.code}] {report.note}")] = \
                        f"no file found for module {patch.module}"
                    continue
                path = located
            by_file.setdefault(path, []).append(patch)
    return by_file


def module_file(module: str, near: str) -> str | None:
    """The file of ``module``, looked for from the reporting file's folders up to the
    current one (mypy names modules from where it finds them: a package root above them)."""
    relative = Path(*module.split("."))
    folders = [Path(near).parent, *Path(near).parent.parents, Path.cwd()]
    for folder in folders:
        for candidate in (folder / relative.with_suffix(".py"), folder / relative / "__init__.py"):
            if candidate.is_file():
                return _same_form(str(candidate))
    return None


def _same_form(path: str) -> str:
    """One spelling per file (relative to the current folder), so that the patches of a
    file reported under one path and found by module under another are applied together."""
    return os.path.relpath(os.path.abspath(path))


def _describe(patch: Patch) -> str:
    if patch.kind == patches.UNIQUE:
        return ".unique()"
    what = f"remove {patch.option}" if patch.kind == patches.REMOVE_OPTION else patch.option
    return f"{what} (in {patch.function})" if patch.function else what


def _write(file: Path, source: str) -> None:
    """Write ``source``, making sure the next round's mypy sees the change: mypy trusts its
    cache for a file of the same size and the same mtime in whole seconds, so an edit of
    equal length within the second (``recursion_depth=1`` -> ``2``) would go unseen."""
    before = int(file.stat().st_mtime)
    file.write_text(source, encoding="utf-8")
    after = file.stat()
    if int(after.st_mtime) <= before:
        os.utime(file, (after.st_atime, before + 1))

