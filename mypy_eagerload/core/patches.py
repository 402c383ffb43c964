"""Fix notes that are patches: the note's text names the query and the exact change, in a form
``mypy-eagerload fix`` reads back (``parse``) and applies. One module writes and reads the
form, so the two cannot drift apart. No mypy imports.

A note is a patch when the plugin found where the object's query takes its options: in the
function that reads it (``hooks.query_sites``), or, through the application's layers, an
argument of the call that produced it or a query in a function it calls
(``hooks.layer_sites``):

* ``add .options(selectinload(User.posts).selectinload(Post.tags)) to select(User) on line 12``
* ``add options=[selectinload(User.posts)] to session.get(User, ...) on line 12``
* ``add selectinload(User.posts) to the options= of get_by_id(...) on line 12``
* ``add selectinload(User.posts) to argument 3 of load_user(...) on line 12``
* ``add .options(selectinload(User.posts)) to argument 1 of one_of(...) on line 12`` (a statement)
* ``add selectinload(User.posts) to the options= of by_id(...) in UserService.get (app.services)``
* ``replace lazyload(User.posts) with selectinload(User.posts) in select(User) on line 12``
* ``remove defer(Post.body) from select(Post) on line 12``
* ``replace lazyload(User.posts) with selectinload(User.posts) in the options built in
  UserRepository.eager (app.repositories)`` (a helper that returns the options)
* ``replace lazyload(User.posts) with selectinload(User.posts) in the options of
  USER_OPTIONS (app.options)`` (a module-level option tuple)
* ``call .unique() on the result on line 12``
* ``add "comments" to the Loaded[Post, ...] annotation of post on line 17`` (a parameter of
  the function on that line; its callers are then told to load it), and ``... annotation of
  post_page's return on line 76`` (a route's return type its response model reads past)
* ``annotate the parameter order on line 17 as Loaded[Order, "customer", "items.price"]``
  (strict mode, a parameter of the plain model: every path its function reads from it)
* several of these joined by ``"; "``, when the object may come from several queries

A place in another function is named by the function's qualified name and module, not by a
line: the reading function's diagnostics must not change when lines move in another module
(a warm cache would keep the old line). Any other note (the query is out of reach, a
``Loaded[...]`` annotation, an expired attribute) is advice, not a patch: ``parse`` returns
None and ``fix`` lists it as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

ADD_OPTION = "add-option"
REPLACE_OPTION = "replace-option"
REMOVE_OPTION = "remove-option"
UNIQUE = "unique"
WIDEN = "widen-annotation"  # a path added to a parameter's Loaded[...] annotation
ANNOTATE = "annotate"  # a plain ``order: Order`` parameter becomes Loaded[Order, <paths>]

SELECT = "select"
GET = "get"
QUERY = "query"  # the legacy Session.query(User)
CALL = "call"  # a call with options=, e.g. a repository's get_by_id(..., options=[...])
BUILT = "built"  # a function that returns the options (or a statement it gives them)
CONSTANT = "constant"  # a module-level option tuple
ANNOTATION = "annotation"  # a parameter's Loaded[Model, ...] annotation (entity: the model)
RETURN = "return"  # an ANNOTATION's ``arg`` when it is the return type of ``function``
PARAMETER = "parameter"  # a parameter annotated with the plain model (strict mode): ``arg``


@dataclass(frozen=True)
class Builder:
    """A function (``BUILT``) or a module-level name (``CONSTANT``) that writes out options
    a site is given when the site itself does not (``options=repository.eager()``,
    ``options=ORDER_OPTIONS``, ``one_of(repository.readable())``): an option already there
    is replaced where it is written."""

    kind: str
    name: str  # the function's qualified name, or the constant's
    module: str
    options: tuple[str, ...]  # the option expressions written there, as source text


@dataclass(frozen=True)
class Site:
    """Where the object's query takes its options: ``select(<entity>)``,
    ``<session>.get(<entity>, ...)``, ``<session>.query(<entity>)`` or an argument of
    ``<callee>(...)`` (``entity`` is then the callee's name as written), on ``line`` of the
    reading function, or in ``function`` of ``module`` (then ``line`` is 0)."""

    kind: str
    entity: str  # the class name as written; for CALL, the called function's name
    line: int
    more: bool = False  # select(User, Post): other entities follow
    arg: str = "options"  # CALL: the keyword, or "#3" for the third positional argument
    statement: bool = False  # CALL: the argument is a statement (it gets .options(...))
    display: bool = True  # the options are written there as a display (an option can be replaced)
    function: str = ""  # the qualified name of the function holding it, when not the reader
    module: str = ""
    # Classes the option names that the site's module does not bind: (name, module).
    imports: tuple[tuple[str, str], ...] = ()
    builders: tuple[Builder, ...] = ()  # where options it is given are written, when not here
    # The other queries the object may come from (``a if flag else b``): an option to add
    # goes to each; an option to replace or remove is not named (each has its own).
    also: tuple[Site, ...] = ()
    # PARAMETER: the relationship paths the function reads from it (dotted, maximal).
    needs: tuple[str, ...] = ()


def written_in(site: Site, option: str) -> Site | None:
    """The place that writes ``option`` among the options ``site`` is given: the site, when
    they are written out there, else the one builder that holds it (None: not known)."""
    if site.also:
        return None
    holders = [b for b in site.builders if option in b.options]
    if len(holders) == 1:
        b = holders[0]
        # No imports: the replacement names the classes the option it replaces names.
        return Site(b.kind, b.name, 0, function=b.name if b.kind == BUILT else "", module=b.module)
    return site if site.display and not holders else None


@dataclass(frozen=True)
class Patch:
    kind: str
    line: int
    entity: str = ""
    option: str = ""  # the option expression to add, to put in, or to remove, as source text
    site: str = SELECT
    old: str = ""  # REPLACE_OPTION: the option expression replaced
    arg: str = "options"
    statement: bool = False
    function: str = ""  # the patch is in this function (qualified name) of ``module``
    module: str = ""
    imports: tuple[tuple[str, str], ...] = ()  # (class name, module) to import there


def _location(site: Site) -> str:
    if site.function:
        return f"in {site.function} ({site.module})"
    return f"on line {site.line}"


def _where(site: Site) -> str:
    if site.kind == BUILT:
        return f"the options built in {site.entity} ({site.module})"
    if site.kind == CONSTANT:
        return f"the options of {site.entity} ({site.module})"
    entities = f"{site.entity}, ..." if site.more else site.entity
    if site.kind == GET:
        return f"session.get({site.entity}, ...) {_location(site)}"
    if site.kind == CALL:
        which = f"argument {site.arg[1:]}" if site.arg.startswith("#") else f"the {site.arg}="
        return f"{which} of {site.entity}(...) {_location(site)}"
    if site.kind == QUERY:
        return f"session.query({entities}) {_location(site)}"
    return f"select({entities}) {_location(site)}"


_WHERE = (r"(?:the options (?:built in (?P<built>[\w.]+)|of (?P<constant>\w+)) \((?P<owner>[\w.]+)\)$"
          r"|(?:select\((?P<select>\w+)(?:, \.\.\.)?\)|session\.get\((?P<get>\w+), \.\.\.\)"
          r"|session\.query\((?P<query>\w+)(?:, \.\.\.)?\)"
          r"|(?:the (?P<keyword>\w+)=|argument (?P<position>\d+)) of (?P<call>\w+)\(\.\.\.\))"
          r" (?:on line (?P<line>\d+)|in (?P<function>[\w.]+) \((?P<module>[\w.]+)\))$)")


def describe(site: Site) -> str:
    """The site as a note names it (``the options= of by_id(...) on line 12``)."""
    return _where(site)


def _importing(site: Site) -> str:
    if not site.imports:
        return ""
    return ", importing " + " and ".join(f"{name} from {module}" for name, module in site.imports)


# Between the patches of a note that names several queries.
SEPARATOR = "; "


def add_option_to_each(sites: list[Site], option: str) -> str:
    """The object may come from any of ``sites`` (``a if flag else b``, a variable bound in
    two branches): the option goes to each; one that has it already is left as it is."""
    return SEPARATOR.join(_add_one(site, option) for site in sites)


def add_option(site: Site, option: str) -> str:
    """The option goes to the site (and to each other query the object may come from)."""
    if site.also:
        return add_option_to_each([replace(site, also=()), *site.also], option)
    return _add_one(site, option)


def _add_one(site: Site, option: str) -> str:
    if site.kind == GET:
        return f"add options=[{option}] to {_where(site)}{_importing(site)}"
    if site.kind == CALL and not site.statement:
        return f"add {option} to {_where(site)}{_importing(site)}"
    return f"add .options({option}) to {_where(site)}{_importing(site)}"


def replace_option(site: Site, old: str, new: str) -> str:
    return f"replace {old} with {new} in {_where(site)}{_importing(site)}"


def remove_option(site: Site, option: str) -> str:
    return f"remove {option} from {_where(site)}"


def widen(site: Site, dotted: str) -> str:
    """``site``: an ANNOTATION (the parameter in ``arg``, or RETURN and the function's name in
    ``function``; the ``def`` on ``line``)."""
    of = f"{site.function}'s return" if site.arg == RETURN else site.arg
    return f'add "{dotted}" to the Loaded[{site.entity}, ...] annotation of {of} on line {site.line}'


_WIDEN = re.compile(r'add "(?P<path>[\w.]+)" to the Loaded\[(?P<model>\w+), \.\.\.\] annotation of '
                    r"(?:(?P<function>\w+)'s return|(?P<param>\w+)) on line (?P<line>\d+)$")


def annotate(site: Site, also: Iterable[str] = ()) -> str:
    """``site``: a PARAMETER; the annotation lists what its function reads from it (``needs``)
    and what ``also`` adds (a path a callee or a serializer requires of it)."""
    paths = maximal(set(site.needs) | set(also))
    listed = ", ".join(f'"{p}"' for p in paths)
    what = f"the return type of {site.function}" if site.arg == RETURN else f"the parameter {site.arg}"
    return f"annotate {what} on line {site.line} as Loaded[{site.entity}, {listed}]"


_ANNOTATE = re.compile(r"annotate (?:the return type of (?P<function>\w+)|the parameter (?P<param>\w+)) "
                       r"on line (?P<line>\d+) as "
                       r'Loaded\[(?P<model>\w+), (?P<paths>"[\w.]+"(?:, "[\w.]+")*)\]$')


def maximal(paths: Iterable[str]) -> list[str]:
    """The dotted paths no other extends (a path implies its prefixes), sorted."""
    unique = set(paths)
    return sorted(p for p in unique if not any(o.startswith(p + ".") for o in unique))


def annotated_paths(patch: Patch) -> list[str]:
    """The paths an ANNOTATE patch's annotation lists."""
    return re.findall(r'"([\w.]+)"', patch.option)


def unique(line: int) -> str:
    return f"call .unique() on the result on line {line}"


_ADD = re.compile(r"add (?:\.options\((?P<wrapped>.+)\)|options=\[(?P<listed>.+)\]|(?P<bare>.+)) to "
                  + _WHERE)
_REPLACE = re.compile(r"replace (?P<old>.+?) with (?P<option>.+) in " + _WHERE)
_REMOVE = re.compile(r"remove (?P<option>.+) from " + _WHERE)
_UNIQUE = re.compile(r"call \.unique\(\) on the result on line (?P<line>\d+)")


def _site(found: re.Match[str]) -> tuple[str, str]:
    for kind in (SELECT, GET, QUERY, CALL, BUILT, CONSTANT):
        if found[kind]:
            return kind, found[kind]
    raise AssertionError("the pattern names one site")


def _patch(kind: str, found: re.Match[str], option: str, old: str = "", statement: bool = False) -> Patch:
    site, entity = _site(found)
    arg = f"#{found['position']}" if found["position"] else (found["keyword"] or "options")
    return Patch(kind, int(found["line"] or 0), entity, option, site, old, arg, statement,
                 found["function"] or found["built"] or "", found["module"] or found["owner"] or "")


_IMPORTING = re.compile(r", importing (?P<imports>\w+ from [\w.]+(?: and \w+ from [\w.]+)*)$")


def parse_all(note: str) -> list[Patch]:
    """The patches a note states: one, or one per query when the object may come from
    several (``add ... to select(User) on line 4; add ... to select(User) on line 6``);
    [] for a note that is advice, or that is a patch only in part."""
    found = [parse(part) for part in note.split(SEPARATOR)]
    return [p for p in found if p is not None] if None not in found else []


def parse(note: str) -> Patch | None:
    """The patch a note states; None for a note that is advice (or states several)."""
    if SEPARATOR in note:
        return None
    imports: tuple[tuple[str, str], ...] = ()
    suffix = _IMPORTING.search(note)
    if suffix is not None:
        note = note[:suffix.start()]
        imports = tuple((name, module) for name, _, module in
                        (pair.partition(" from ") for pair in suffix["imports"].split(" and ")))
    found = _parse(note)
    return replace(found, imports=imports) if found is not None and imports else found


def _parse(note: str) -> Patch | None:
    found = _ADD.match(note)
    if found:
        kind, _ = _site(found)
        if kind == CALL:  # a statement argument gets .options(...), an option sequence the option
            form = "wrapped" if found["wrapped"] is not None else "bare"
        else:
            form = "wrapped" if kind in (SELECT, QUERY) else "listed"
        option = found[form]
        if option is None:
            return None  # the wording of one site with the option form of another
        return _patch(ADD_OPTION, found, option, statement=kind == CALL and form == "wrapped")
    found = _REPLACE.match(note)
    if found:
        return _patch(REPLACE_OPTION, found, found["option"], found["old"])
    found = _REMOVE.match(note)
    if found:
        return _patch(REMOVE_OPTION, found, found["option"])
    found = _UNIQUE.match(note)
    if found:
        return Patch(UNIQUE, int(found["line"]))
    found = _ANNOTATE.match(note)
    if found:
        return Patch(ANNOTATE, int(found["line"]), found["model"], found["paths"], PARAMETER,
                     arg=found["param"] or RETURN, function=found["function"] or "")
    found = _WIDEN.match(note)
    if found:
        return Patch(WIDEN, int(found["line"]), found["model"], found["path"], ANNOTATION,
                     arg=found["param"] or RETURN, function=found["function"] or "")
    return None
