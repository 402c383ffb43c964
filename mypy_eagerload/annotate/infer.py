"""What each parameter needs loaded, through calls, to a fixpoint. Plain Python, no mypy.

A function's facts (``Function``) are what ``collect`` saw in its body: relationship paths
read on a parameter (``Read``) and calls passing the parameter, or an object reached from it,
to another function of the project (``Call``). A parameter's requirement is its reads, its
existing ``Loaded[...]`` paths, and every callee requirement prefixed by the path the object
was reached by. Recursion (``walk(node.parent)``) would grow paths forever: they are cut at
``max_depth`` relationships (a cut path is a prefix of the real one, so still needed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mypy_eagerload.core import patches

Path = tuple[str, ...]
MAX_DEPTH = 5


@dataclass(frozen=True)
class Read:
    param: str
    path: Path  # relationship names from the parameter's model
    line: int
    text: str  # the expression as written, or the member it goes through


@dataclass(frozen=True)
class Call:
    param: str
    prefix: Path  # relationships from the parameter to the object passed
    callee: str  # fullname of a function in the project
    callee_param: str
    line: int
    text: str
    arrives: str = ""  # fullname of the model the passed object is (the parameter's, below prefix)


@dataclass
class Param:
    name: str
    model: str  # fullname of the mapped class
    existing: tuple[str, ...] = ()  # paths of a Loaded[...] already written
    rewritable: bool = True  # False: rebound in the body, or a shape the rewrite cannot edit
    why_not: str = ""


@dataclass
class Function:
    fullname: str
    module: str
    file: str
    line: int
    params: dict[str, Param] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # parameter -> why it is not analysed


@dataclass(frozen=True)
class Reason:
    """Why a path is required: a read in the body, a declared path, or a call."""

    line: int
    text: str
    via: tuple[str, str, Path] | None = None  # (callee, callee param, callee's path)
    declared: bool = False  # only the existing annotation says so: a read or call explains better


Requirements = dict[tuple[str, str], dict[Path, Reason]]  # (function, param) -> path -> why
# The longest prefix of a path that ``model`` has (see ``Call.arrives``).
Trim = Callable[[str, Path], Path]


def infer(functions: dict[str, Function], max_depth: int = MAX_DEPTH, trim: Trim | None = None
          ) -> Requirements:
    """Each parameter's required paths. ``trim`` cuts a callee's path where the model that
    arrives lacks it: ``if isinstance(price, MeteredPrice): f(price)`` passes a ``Price``
    to a function of ``MeteredPrice`` that reads ``meter``, which ``Price`` has not."""
    result: Requirements = {}
    for fn in functions.values():
        for param in fn.params.values():
            found = result.setdefault((fn.fullname, param.name), {})
            for dotted in param.existing:
                found.setdefault(tuple(dotted.split("."))[:max_depth],
                                 Reason(fn.line, "listed in the existing Loaded[...]", declared=True))
        for read in fn.reads:
            if read.param in fn.params and read.path:
                mine = result[fn.fullname, read.param]
                path = read.path[:max_depth]
                if path not in mine or mine[path].declared:
                    mine[path] = Reason(read.line, read.text)
    # Each round adds what callees need; paths are capped, so the rounds end.
    changed = True
    while changed:
        changed = False
        for fn in functions.values():
            for call in fn.calls:
                target = result.get((call.callee, call.callee_param))
                if call.param not in fn.params or target is None:
                    continue
                mine = result[fn.fullname, call.param]
                for callee_path in list(target):
                    path = trim(call.arrives, callee_path) if trim is not None and call.arrives \
                        else callee_path
                    if not path:
                        continue
                    full = (call.prefix + path)[:max_depth]
                    if full not in mine:
                        changed = True
                    elif not mine[full].declared or target[callee_path].declared:
                        continue
                    mine[full] = Reason(call.line, call.text, (call.callee, call.callee_param, path))
                if call.prefix and call.prefix[:max_depth] not in mine:
                    # Passing ``user.posts`` reads ``posts`` whatever the callee does.
                    mine[call.prefix[:max_depth]] = Reason(call.line, call.text)
                    changed = True
    return result


def maximal(paths: list[Path] | set[Path]) -> list[str]:
    """The dotted paths no other path extends (a path implies its prefixes)."""
    return patches.maximal(".".join(p) for p in paths if p)


def explain(functions: dict[str, Function], result: Requirements, fullname: str) -> list[str]:
    """Human lines: each required path of each parameter, with the line that causes it,
    following calls down to the read."""
    fn = functions.get(fullname)
    if fn is None:
        return [f"{fullname}: no such function in the analysed files"]
    lines = [f"{fn.fullname} ({fn.file}:{fn.line})"]
    for param in fn.params.values():
        paths = result.get((fn.fullname, param.name), {})
        model = param.model.rsplit(".", 1)[-1]
        if not paths:
            lines.append(f"  {param.name}: {model}: reads no relationship")
            continue
        note = "" if param.rewritable else f"  (not rewritten: {param.why_not})"
        lines.append(f"  {param.name}: {model}{note}")
        for path in sorted(paths):
            lines.append(f"    {'.'.join(path)}")
            lines.extend(f"      {step}" for step in _trail(functions, result, fn, param.name, path))
    return lines


def _trail(functions: dict[str, Function], result: Requirements, fn: Function, param: str,
           path: Path) -> list[str]:
    steps: list[str] = []
    for _ in range(32):  # the chain of calls down to the read (bounded: reasons can cycle)
        reason = result.get((fn.fullname, param), {}).get(path)
        if reason is None:
            break
        steps.append(f"{fn.file}:{reason.line}: {reason.text}")
        if reason.via is None:
            break
        callee, param, path = reason.via
        nxt = functions.get(callee)
        if nxt is None:
            break
        fn = nxt
    return steps
