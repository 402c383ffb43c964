"""``mypy-eagerload`` (also ``python -m mypy_eagerload``): the command line.

Two commands, ``annotate`` (see ``mypy_eagerload.annotate``) and ``fix`` (see
``mypy_eagerload.fix``). They need libcst, the ``annotate`` extra:
``pip install 'mypy-eagerload[annotate]'``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence


def _version() -> str:
    """This package's version and the installed mypy's and SQLAlchemy's (read from their
    metadata, not imported)."""
    from importlib import metadata

    from mypy_eagerload import __version__

    found = []
    for dist in ("mypy", "SQLAlchemy"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} not installed")
    return f"mypy-eagerload {__version__} ({', '.join(found)})"


def _paths_and_modes(command: argparse.ArgumentParser, changes: str) -> argparse._MutuallyExclusiveGroup:
    """PATHS, and --diff / --check (the group, for a command's further modes)."""
    command.add_argument("paths", nargs="*",
                         help="files or directories (default: files= of the mypy configuration)")
    mode = command.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print the changes as a diff, write nothing")
    mode.add_argument("--check", action="store_true", help=f"write nothing; exit 1 if {changes} (for CI)")
    return mode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mypy-eagerload")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)
    annotate = commands.add_parser(
        "annotate", help="write what each function reads on its model parameters as Loaded[...]",
        description="Run mypy once over PATHS (with the project's mypy configuration), infer which "
                    "relationship paths each function reads on its model-typed parameters (directly, "
                    "through model members and through calls), and write them as Loaded[...] "
                    "annotations, widening existing ones.")
    mode = _paths_and_modes(annotate, "an annotation would change")
    mode.add_argument("--explain", metavar="FUNCTION", action="append", default=[],
                      help="show why each path of module.function (or module.Class.method) is needed")
    annotate.add_argument("--exclude", metavar="REGEX", action="append", default=[],
                          help="do not rewrite files whose path matches (they are still analysed)")
    annotate.add_argument("--config-file", metavar="FILE", help="the mypy configuration to use")
    annotate.add_argument("--max-depth", type=int, default=5, metavar="N",
                          help="cut inferred paths at N relationships (recursive reads; default 5)")
    annotate.add_argument("--no-cache", action="store_true",
                          help="analyse everything afresh (the default keeps mypy's cache and the "
                               "facts of each module in <cache_dir>/eagerload-annotate)")
    annotate.add_argument("--line-length", type=int, metavar="N",
                          help="split signatures longer than N one parameter per line (default: the "
                               "line-length of ruff or black in pyproject.toml / ruff.toml, else 88)")
    fix = commands.add_parser(
        "fix", help="apply the fix notes that are patches (loader options, .unique())",
        description="Run mypy over PATHS (with the project's mypy configuration) and apply each "
                    "report's fix note that names a query and an exact change: loader options merged "
                    "into the query's options, options=[...] for session.get and repository calls, "
                    "conflicting or deferring options replaced or removed, .unique() on results; then "
                    "again, until nothing more applies (a read past two unloaded hops is reported one "
                    "hop at a time). Other notes are listed as skipped, with the reason.")
    _paths_and_modes(fix, "a fix would apply")
    fix.add_argument("--code", action="append", default=[], metavar="CODE",
                     help="only the reports of this error code (repeatable)")
    fix.add_argument("--config-file", metavar="FILE", help="the mypy configuration to use")
    args = parser.parse_args(argv)
    if args.command == "fix":
        try:
            from mypy_eagerload.fix import run as fix_run
        except ImportError as exc:  # libcst missing
            print(f"mypy-eagerload fix needs libcst: pip install 'mypy-eagerload[annotate]' ({exc})",
                  file=sys.stderr)
            return 2
        return fix_run.fix(args.paths, config_file=args.config_file, diff=args.diff, check=args.check,
                           codes=args.code, out=sys.stdout, err=sys.stderr)
    try:
        from mypy_eagerload.annotate import run
    except ImportError as exc:  # libcst missing
        print(f"mypy-eagerload annotate needs libcst: pip install 'mypy-eagerload[annotate]' ({exc})",
              file=sys.stderr)
        return 2
    return run.annotate(args.paths, config_file=args.config_file, diff=args.diff, check=args.check,
                        explain=args.explain, exclude=[re.compile(x) for x in args.exclude],
                        max_depth=args.max_depth, out=sys.stdout, err=sys.stderr,
                        line_length=args.line_length, use_cache=not args.no_cache)
