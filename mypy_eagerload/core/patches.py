"""Fix notes that are patches: the note's text names the query and the exact change, in a form
``mypy-eagerload fix`` reads back (``parse``) and applies. One module writes and reads the
form, so the two cannot drift apart. No mypy imports.

A note is a patch when the plugin found the query the object came from in the function that
reads it (``hooks.query_sites``):

* ``add .options(selectinload(User.posts).selectinload(Post.tags)) to select(User) on line 12``
* ``add options=[selectinload(User.posts)] to session.get(User, ...) on line 12``
* ``add selectinload(User.posts) to the options= of get_by_id(...) on line 12``
* ``replace lazyload(User.posts) with selectinload(User.posts) in select(User) on line 12``
* ``remove defer(Post.body) from select(Post) on line 12``
* ``call .unique() on the result on line 12``

Any other note (the query is elsewhere, a ``Loaded[...]`` annotation, an expired attribute)
is advice, not a patch: ``parse`` returns None and ``fix`` lists it as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    """Where the object's query is: ``select(<entity>)``, ``<session>.get(<entity>, ...)``,
    ``<session>.query(<entity>)`` or ``<callee>(..., options=...)``, on ``line`` (the call's
    first line)."""

    kind: str
    entity: str  # the class name as written; for CALL, the called function's name
    line: int
    more: bool = False  # select(User, Post): other entities follow


@dataclass(frozen=True)
class Patch:
    kind: str
    line: int
    entity: str = ""
    option: str = ""  # the option expression to add, to put in, or to remove, as source text
    site: str = SELECT
    old: str = ""  # REPLACE_OPTION: the option expression replaced


def _where(site: Site) -> str:
    entities = f"{site.entity}, ..." if site.more else site.entity
    if site.kind == GET:
        return f"session.get({site.entity}, ...) on line {site.line}"
    if site.kind == CALL:
        return f"the options= of {site.entity}(...) on line {site.line}"
    if site.kind == QUERY:
        return f"session.query({entities}) on line {site.line}"
    return f"select({entities}) on line {site.line}"


_WHERE = (r"(?:select\((?P<select>\w+)(?:, \.\.\.)?\)|session\.get\((?P<get>\w+), \.\.\.\)"
          r"|session\.query\((?P<query>\w+)(?:, \.\.\.)?\)|the options= of (?P<call>\w+)\(\.\.\.\))"
          r" on line (?P<line>\d+)$")


def add_option(site: Site, option: str) -> str:
    if site.kind == GET:
        return f"add options=[{option}] to {_where(site)}"
    if site.kind == CALL:
        return f"add {option} to {_where(site)}"
    return f"add .options({option}) to {_where(site)}"


def replace_option(site: Site, old: str, new: str) -> str:
    return f"replace {old} with {new} in {_where(site)}"


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


def parse(note: str) -> Patch | None:
    """The patch a note states; None for a note that is advice."""
    found = _ADD.match(note)
    if found:
        kind, entity = _site(found)
        form = "wrapped" if kind in (SELECT, QUERY) else "listed" if kind == GET else "bare"
        option = found[form]
        if option is None:
            return None  # the wording of one site with the option form of another
        return Patch(ADD_OPTION, int(found["line"]), entity, option, kind)
    found = _REPLACE.match(note)
    if found:
        kind, entity = _site(found)
        return Patch(REPLACE_OPTION, int(found["line"]), entity, found["option"], kind, found["old"])
    found = _REMOVE.match(note)
    if found:
        kind, entity = _site(found)
        return Patch(REMOVE_OPTION, int(found["line"]), entity, found["option"], kind)
    found = _UNIQUE.match(note)
    if found:
        return Patch(UNIQUE, int(found["line"]))
    return None
