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
* ``call .unique() on the result on line 12``

A place in another function is named by the function's qualified name and module, not by a
line: the reading function's diagnostics must not change when lines move in another module
(a warm cache would keep the old line). Any other note (the query is out of reach, a
``Loaded[...]`` annotation, an expired attribute) is advice, not a patch: ``parse`` returns
None and ``fix`` lists it as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

ADD_OPTION = "add-option"
REPLACE_OPTION = "replace-option"
REMOVE_OPTION = "remove-option"
UNIQUE = "unique"

SELECT = "select"
GET = "get"
QUERY = "query"  # the legacy Session.query(User)
CALL = "call"  # a call with options=, e.g. a repository's get_by_id(..., options=[...])


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
    entities = f"{site.entity}, ..." if site.more else site.entity
    if site.kind == GET:
        return f"session.get({site.entity}, ...) {_location(site)}"
    if site.kind == CALL:
        which = f"argument {site.arg[1:]}" if site.arg.startswith("#") else f"the {site.arg}="
        return f"{which} of {site.entity}(...) {_location(site)}"
    if site.kind == QUERY:
        return f"session.query({entities}) {_location(site)}"
    return f"select({entities}) {_location(site)}"


_WHERE = (r"(?:select\((?P<select>\w+)(?:, \.\.\.)?\)|session\.get\((?P<get>\w+), \.\.\.\)"
          r"|session\.query\((?P<query>\w+)(?:, \.\.\.)?\)"
          r"|(?:the (?P<keyword>\w+)=|argument (?P<position>\d+)) of (?P<call>\w+)\(\.\.\.\))"
          r" (?:on line (?P<line>\d+)|in (?P<function>[\w.]+) \((?P<module>[\w.]+)\))$")


def describe(site: Site) -> str:
    """The site as a note names it (``the options= of by_id(...) on line 12``)."""
    return _where(site)


def _importing(site: Site) -> str:
    if not site.imports:
        return ""
    return ", importing " + " and ".join(f"{name} from {module}" for name, module in site.imports)


def add_option(site: Site, option: str) -> str:
    if site.kind == GET:
        return f"add options=[{option}] to {_where(site)}{_importing(site)}"
    if site.kind == CALL and not site.statement:
        return f"add {option} to {_where(site)}{_importing(site)}"
    return f"add .options({option}) to {_where(site)}{_importing(site)}"


def replace_option(site: Site, old: str, new: str) -> str:
    return f"replace {old} with {new} in {_where(site)}{_importing(site)}"


def remove_option(site: Site, option: str) -> str:
    return f"remove {option} from {_where(site)}"


def unique(line: int) -> str:
    return f"call .unique() on the result on line {line}"


_ADD = re.compile(r"add (?:\.options\((?P<wrapped>.+)\)|options=\[(?P<listed>.+)\]|(?P<bare>.+)) to "
                  + _WHERE)
_REPLACE = re.compile(r"replace (?P<old>.+?) with (?P<option>.+) in " + _WHERE)
_REMOVE = re.compile(r"remove (?P<option>.+) from " + _WHERE)
_UNIQUE = re.compile(r"call \.unique\(\) on the result on line (?P<line>\d+)")


def _site(found: re.Match[str]) -> tuple[str, str]:
    for kind in (SELECT, GET, QUERY, CALL):
        if found[kind]:
            return kind, found[kind]
    raise AssertionError("the pattern names one site")


def _patch(kind: str, found: re.Match[str], option: str, old: str = "", statement: bool = False) -> Patch:
    site, entity = _site(found)
    arg = f"#{found['position']}" if found["position"] else (found["keyword"] or "options")
    return Patch(kind, int(found["line"] or 0), entity, option, site, old, arg, statement,
                 found["function"] or "", found["module"] or "")


_IMPORTING = re.compile(r", importing (?P<imports>\w+ from [\w.]+(?: and \w+ from [\w.]+)*)$")


def parse(note: str) -> Patch | None:
    """The patch a note states; None for a note that is advice."""
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
    return None
