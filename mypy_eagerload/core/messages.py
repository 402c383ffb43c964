"""Message text for people: the path, why it is not loaded, and the fix."""

from __future__ import annotations

from mypy_eagerload.core import patches
from mypy_eagerload.core.loadstate import CYCLE_PREFIX, OPTION_REASONS, SYNC_STRICT_PREFIX, WITH_SUBOPTIONS
from mypy_eagerload.core.options import LOADING, OPTION_STRATEGIES, RECURSIVE_MARK
from mypy_eagerload.core.patches import Site
from mypy_eagerload.core.requirements import STRICT_PREFIX, UNDECLARED_PREFIX, Missing


def _short(fullname: str) -> str:
    """The class name as written: mypy names a class defined in a function ``Name@12``."""
    return fullname.rsplit(".", 1)[-1].split("@", 1)[0]


def why(reason: str, target: str) -> str:
    reason = reason.removesuffix(WITH_SUBOPTIONS)
    if reason.startswith(SYNC_STRICT_PREFIX):
        return _as_sync(why(reason[len(SYNC_STRICT_PREFIX):], target))
    if reason.startswith(UNDECLARED_PREFIX):
        root, path = _undeclared(reason)
        return f'the Loaded[{root}, ...] annotation it came through does not list "{path}"'
    if reason.startswith(STRICT_PREFIX):
        return ("strict mode: nothing shows how this object was loaded, so only its model's "
                f"eager defaults count, and {why(reason[len(STRICT_PREFIX):], target)}")
    if reason.startswith(CYCLE_PREFIX):
        lazy = reason[len(CYCLE_PREFIX):]
        return (f'its {lazy.replace("=", "=", 1)} default is skipped because {_short(target)} is '
                "already on the loader path (SQLAlchemy stops eager defaults at cycles), so reading "
                "it emits SQL, which fails under AsyncSession")
    if reason == "lazy=select":
        return 'lazy="select" would emit SQL on access, which fails under AsyncSession'
    if reason == "lazy=raise":
        return 'lazy="raise" makes the access raise InvalidRequestError'
    if reason == "lazy=raise_on_sql":
        return 'lazy="raise_on_sql" makes the access raise, since loading it needs SQL'
    if reason == "lazyload()":
        return "the query's lazyload() option leaves it to load on access, which emits SQL"
    if reason in ("raiseload()", "raiseload(sql_only=True)"):
        return f"the query's {reason} option makes the access raise"
    if reason.endswith("('*')"):
        return f"the query's {reason} wildcard covers it, and no option loads it"
    return "not every query that reaches this object loads it"


_FAILS_ASYNC = ", which fails under AsyncSession"


def _as_sync(text: str) -> str:
    """The same reason for a sync Session under allow_lazy_loads = "never"."""
    return text.replace(_FAILS_ASYNC, ': one more query per object under this sync Session '
                                      '(allow_lazy_loads = "never")')


def _undeclared(reason: str) -> tuple[str, str]:
    root, _, path = reason[len(UNDECLARED_PREFIX):].partition(":")
    return root, path


def unloaded(path: list[tuple[str, str]], reason: str, target: str) -> str:
    """``path`` is [(model fullname, relationship)] from the furthest known hop."""
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in path)
    owner = _short(path[0][0])
    if reason.startswith(UNDECLARED_PREFIX):
        root, dotted = _undeclared(reason)
        return (f'"{shown}" is not loaded: the Loaded[{root}, ...] annotation this {owner} '
                f'comes from does not list "{dotted}"')
    if reason.startswith(STRICT_PREFIX):
        return f'"{shown}" may not be loaded: {why(reason, target)}'
    return (f'"{shown}" is not loaded: the query that produced this {owner} did not load it '
            f"({why(reason, target)})")


def fix(path: list[tuple[str, str]], uselist: bool, from_root: bool, reason: str = "",
        strategies: list[str] | None = None, site: Site | None = None, deeper: int = 0) -> str:
    """``strategies``: how each hop before the last was loaded (an option's strategy, ""
    for a default), when the state recorded it; ``site``: the query, when the function that
    reads shows which it is (the note is then a patch, ``core.patches``); ``deeper``: the
    levels of the last hop's self-referential relationship read below it (-1: a recursive
    schema, every level)."""
    if reason.startswith(UNDECLARED_PREFIX):
        root, dotted = _undeclared(reason)
        if site is not None and site.kind == patches.ANNOTATION and site.entity == root:
            return patches.widen(site, dotted)
        return f'add "{dotted}" to the Loaded[{root}, ...] annotation'
    if reason.startswith(STRICT_PREFIX):
        owner, dotted = _short(path[0][0]), ".".join(r for _, r in path)
        if site is not None and site.kind == patches.PARAMETER \
                and (site.needs or (site.arg != patches.RETURN and site.entity == owner)):
            # The object is the parameter, or reached from it (a loop over its collection):
            # then the function's reads from the parameter (``needs``) include this one.
            return patches.annotate(site, [dotted] if site.entity == owner else [])
        return (f'annotate where this {owner} comes from as Loaded[{owner}, "{dotted}"], or read it '
                "from the query that loads it")
    raise_depth = _deeper_recursion(path, strategies, site if from_root else None)
    if raise_depth:
        return raise_depth
    recursion = _recursion(path, strategies, deeper, reason, site) if from_root else ""
    if recursion:
        return recursion
    loader = "selectinload" if uselist else "joinedload"
    # The hops before the last are loaded already (else they would be reported first), by
    # an option or a default: the same option function for an option's hop (SQLAlchemy
    # merges the two chains), defaultload() for a default's (it walks through without
    # naming a second, conflicting strategy for the same path).
    parts = [f"{_loader(strategies[i] if strategies else '')}({_short(m)}.{r})"
             for i, (m, r) in enumerate(path[:-1])]
    last_model, last_rel = path[-1]
    parts.append(f"{loader}({_short(last_model)}.{last_rel})")
    chain = ".".join(parts)
    if from_root and site is not None:
        # The query's own option left it unloaded: adding a loader for the same path would
        # conflict with it (InvalidRequestError), so the note replaces it, where the options
        # are written out (else where they are built is not known: advice).
        template = _OPTION_TEXT.get(reason.removeprefix(SYNC_STRICT_PREFIX).removesuffix(WITH_SUBOPTIONS))
        if template is not None:
            old = ".".join([*parts[:-1], template.format(f"{_short(last_model)}.{last_rel}")])
            holder = patches.written_in(site, old)
            if holder is None and site.also:
                return (f"replace {old} with {chain} in each query this {_short(path[0][0])} "
                        "may come from")
            if holder is None:
                return (f"replace {old} with {chain} where the options given to "
                        f"{patches.describe(site)} are built")
            return patches.replace_option(holder, old, chain)
        return patches.add_option(site, chain)
    if from_root:
        return f"add .options({chain}) to the query that produced this {_short(path[0][0])}"
    return (f"load it in the query that produced this {_short(last_model)}, e.g. by chaining "
            f".{parts[-1]} onto the option that loads it")


def _recursion(path: list[tuple[str, str]], strategies: list[str] | None, deeper: int, reason: str,
               site: Site | None) -> str:
    """The note loading a self-referential relationship's levels at once with
    ``recursion_depth``, or "" (then the chain form, one level per note): when the path's
    last hop is the first level of that relationship read and ``deeper`` more levels are
    read below it (-1: a recursive schema, every level). Not where the query's own option
    left the level unloaded (that option is replaced by the usual note), nor where earlier
    levels are loaded already (an option there may be one of several on the same path, and
    a second strategy for a path conflicts: measured)."""
    model, rel = path[-1]
    if deeper == 0 or (len(path) > 1 and path[-2] == (model, rel)):
        return ""
    if _OPTION_TEXT.get(reason.removeprefix(SYNC_STRICT_PREFIX).removesuffix(WITH_SUBOPTIONS)):
        return ""
    prefix = [f"{_loader(strategies[i] if strategies else '')}({_short(m)}.{r})"
              for i, (m, r) in enumerate(path[:-1])]
    option = ".".join([*prefix, f"selectinload({_short(model)}.{rel}, recursion_depth={deeper})"])
    return patches.add_option(site, option) if site is not None else \
        f"add .options({option}) to the query that produced this {_short(path[0][0])}"


_BELOW_RECURSION = " (the plugin does not follow options below the levels of a recursion_depth= option)"


def _deeper_recursion(path: list[tuple[str, str]], strategies: list[str] | None, site: Site | None) -> str:
    """The note for a read below the levels a ``recursion_depth`` option loads (raise its
    depth, where it is written), or ""."""
    levels = [i for i, s in enumerate(strategies or []) if RECURSIVE_MARK in s]
    if not levels or strategies is None:
        return ""
    first = levels[0]
    model, rel = path[first]
    how, _, depth = strategies[first].partition(RECURSIVE_MARK)
    if any(hop != (model, rel) for hop in path[first:]):
        return f"load {_short(path[-1][0])}.{path[-1][1]} in the query that produced this " \
               f"{_short(path[0][0])}" + _BELOW_RECURSION
    prefix = [f"{_loader(strategies[i])}({_short(m)}.{r})" for i, (m, r) in enumerate(path[:first])]
    old, new = (".".join([*prefix, f"{_loader(how)}({_short(model)}.{rel}, recursion_depth={d})"])
                for d in (depth, len(path) - first - 1))
    holder = patches.written_in(site, old) if site is not None else None
    if holder is not None:
        return patches.replace_option(holder, old, new)
    return f"replace {old} with {new} in the query that produced this {_short(path[0][0])}"


_COLUMN_WHY = {
    "deferred": "it is declared deferred, and reading it emits SQL, which fails under AsyncSession",
    "deferred_raiseload": "it is declared deferred with raiseload, so reading it raises",
    "load_only()": "the query's load_only() leaves it out, and reading it emits SQL, which fails "
                   "under AsyncSession",
    "load_only(raiseload=True)": "the query's load_only(..., raiseload=True) leaves it out, so "
                                 "reading it raises",
    "defer()": "the query's defer() defers it, and reading it emits SQL, which fails under AsyncSession",
    "defer(raiseload=True)": "the query's defer(..., raiseload=True) makes reading it raise",
}


def unloaded_column_at(path: list[tuple[str, str]], column: str, reason: str, owner: str) -> str:
    if reason.startswith(SYNC_STRICT_PREFIX):
        return _as_sync(unloaded_column_at(path, column, reason[len(SYNC_STRICT_PREFIX):], owner))
    hops = [f"{_short(m)}.{r}" for m, r in path] + [f"{_short(owner)}.{column}"]
    root = _short(path[0][0]) if path else _short(owner)
    if reason.startswith(STRICT_PREFIX):
        why_text = _COLUMN_WHY.get(reason[len(STRICT_PREFIX):], "")
        return (f'"{" -> ".join(hops)}" may not be loaded: strict mode: nothing shows how this '
                f"{root} was loaded, and {why_text}")
    why_text = _COLUMN_WHY.get(reason, "not every query that reaches this object loads it")
    return (f'"{" -> ".join(hops)}" is not loaded: the query that produced this {root} '
            f"did not load it ({why_text})")


def column_fix(path: list[tuple[str, str]], column: str, reason: str, owner: str,
               from_root: bool, strategies: list[str] | None = None, site: Site | None = None) -> str:
    attr = f"{_short(owner)}.{column}"
    reason = reason.removeprefix(SYNC_STRICT_PREFIX)
    if reason.startswith(STRICT_PREFIX):
        return f"undefer it in the query that produces this {_short(owner)}: .options(undefer({attr}))"
    if reason.startswith("defer(") and not path:
        written = f"defer({attr}, raiseload=True)" if "raiseload" in reason else f"defer({attr})"
        holder = patches.written_in(site, written) if from_root and site is not None else None
        if holder is not None and holder.kind not in (patches.BUILT, patches.CONSTANT):
            return patches.remove_option(holder, written)
        return f"remove {written} from the query"
    if any(RECURSIVE_MARK in s for s in strategies or []):
        return f"undefer it in the query that produced this {_short(owner)}" + _BELOW_RECURSION
    option = "".join(f"{_loader(strategies[i] if strategies else '')}({_short(m)}.{r})."
                     for i, (m, r) in enumerate(path)) + f"undefer({attr})"
    if from_root and site is not None:
        return patches.add_option(site, option)
    if from_root:
        root = _short(path[0][0] if path else owner)
        return f"add .options({option}) to the query that produced this {root}"
    return f"undefer it in the query that produced this {_short(owner)}"


# An option's reason (loadstate.OPTION_REASONS: "lazyload()", "raiseload(sql_only=True)")
# -> the option as written, its path to fill in.
_OPTION_TEXT = {reason: reason.replace("()", "({})") if reason.endswith("()")
                else reason.replace("(", "({}, ", 1) for reason in OPTION_REASONS.values()}
_LOADERS = {strategy: name for name, strategy in OPTION_STRATEGIES.items() if strategy in LOADING}


def _loader(strategy: str) -> str:
    return _LOADERS.get(strategy, "defaultload")


def conflict(path: list[tuple[str, str]], first: str, second: str) -> str:
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in path)
    return (f'"{shown}" is given two loader strategies in one statement, {first} and {second}: '
            "SQLAlchemy raises InvalidRequestError when it runs")


def conflict_fix(path: list[tuple[str, str]], first: str) -> str:
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in path)
    if "defer" in first:
        return f"keep one of them for {shown}"
    return f"keep one of them for {shown} (defaultload() walks a path without setting a strategy)"


def missing_unique(path: list[tuple[str, str]]) -> str:
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in path)
    return (f'rows of a statement that joined-eager-loads the collection "{shown}" must be '
            "fetched through .unique(): without it SQLAlchemy raises InvalidRequestError")


def missing_unique_fix(line: int) -> str:
    return (f"{patches.unique(line)} (e.g. (await session.execute(stmt)).unique().scalars().all()), "
            "or load the collection with selectinload()")


def requirement_unmet(where: str, annotation: str, miss: Missing) -> str:
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in miss.hops)
    lead = f'{where} requires "{shown}" loaded ({annotation})'
    if miss.reason.startswith((UNDECLARED_PREFIX, STRICT_PREFIX)):
        return f"{lead}, but {why(miss.reason, miss.target)}"
    return f"{lead}, but the query that produced it did not load it ({why(miss.reason, miss.target)})"


def requirement_fix(miss: Missing, site: Site | None = None, deeper: int = 0) -> str:
    if miss.reason.startswith((UNDECLARED_PREFIX, STRICT_PREFIX)):
        return fix(list(miss.hops), miss.uselist, True, miss.reason, site=site)
    return fix(list(miss.hops), miss.uselist, True, strategies=list(miss.strategies), site=site,
               deeper=deeper)


def member_unmet(member: str, route: str, miss: Missing) -> str:
    """``"Order.total" reads "Order.customer -> Customer.addresses" (via ...), ...``."""
    shown = " -> ".join(f"{_short(m)}.{r}" for m, r in miss.hops)
    via = f" through {route}" if route else ""
    return _reads_unmet(f'"{member}" reads "{shown}"{via}', miss)


def serializer_unmet(reader: str, field: str, miss: Missing, qualified: bool = False) -> str:
    """``"UserOut.model_validate" reads "UserOut.posts[].comments" ("User.posts -> ..."), ...``;
    ``reader`` is shown as given (quoted by the caller). ``qualified``: the models are shown
    with their modules (a schema has the name of a model: the caller qualifies the schema)."""
    shown = " -> ".join(f"{m if qualified else _short(m)}.{r}" for m, r in miss.hops)
    return _reads_unmet(f'{reader} reads "{field}" ("{shown}")', miss)


def _reads_unmet(lead: str, miss: Missing) -> str:
    """The end of a message about something that reads an unloaded path: who did not load it."""
    if miss.reason.startswith((UNDECLARED_PREFIX, STRICT_PREFIX)):
        return f"{lead}, but {why(miss.reason, miss.target)}"
    return (f"{lead}, which the query that produced this {_short(miss.hops[0][0])} did not load "
            f"({why(miss.reason, miss.target)})")


# ---------------------------------------------------------------------------------------------
# Session lifecycle (expired-attribute)

_OPERATION_TEXT = {"commit": "commit()", "rollback": "rollback()", "expire_all": "expire_all()",
                   "expire": "expire()"}


def _as_written(name: str) -> str:
    """mypy renames a variable bound again in another block (``session'``); say it as the
    code does."""
    return name.replace("'", "")


def expired(owner: str, attr: str, op: str, session: str, line: int, setting: str, detached: str,
            sync: bool, raises: str = "", via: str = "") -> str:
    """``"User.name" is expired: session.commit() on line 12 expired it (...), ...``"""
    session, detached = _as_written(session), _as_written(detached)
    why = f" ({setting})" if setting else ""
    if detached:
        outcome = f"and {detached} detached the object: reading it raises DetachedInstanceError"
    elif raises:
        outcome = f"and reloading it raises InvalidRequestError ({raises})"
    elif sync:
        outcome = "and reading it emits SQL (an extra query per object)"
    else:
        outcome = "and reading it emits SQL, which fails under AsyncSession"
    where = f"in {via} (called on line {line})" if via else f"on line {line}"
    return (f'"{owner}.{attr}" is expired: {session}.{_OPERATION_TEXT.get(op, op + "()")} {where} '
            f"expired it{why}, {outcome}")


def expired_fix(variable: str, attr: str, op: str, session: str, line: int, sync: bool = False) -> str:
    variable, session = _as_written(variable), _as_written(session)
    reload = f'{"" if sync else "await "}{session}.refresh({variable}, ["{attr}"])'
    if op == "commit":
        return (f"read it before line {line}, reload it with {reload}, or make the session with "
                "expire_on_commit=False")
    return f"read it before line {line}, or reload it with {reload}"
