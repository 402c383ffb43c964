"""``mypy-eagerload fix`` (issue 19): the note format read back, the rewrites on real shapes of
query code, and the command over the example app (clean afterwards, demo still runs) and over
generated programs (never worse). The runtime check of every note of the differential suite
is ``test_differential.test_fix_notes_are_patches_that_work``."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mypy_eagerload.core import messages, patches
from mypy_eagerload.core import options as opt
from mypy_eagerload.core.patches import Site
from mypy_eagerload.fix.rewrite import rewrite
from mypy_eagerload.fix.run import reports

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

HEADER = """from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from app.models import Post, User
"""


def test_every_patch_note_reads_back() -> None:
    select, get, call = Site(patches.SELECT, "User", 3), Site(patches.GET, "User", 4), \
        Site(patches.CALL, "get_by_id", 5)
    option = "selectinload(User.posts).selectinload(Post.tags)"
    cases = [
        (patches.add_option(select, option), patches.Patch(patches.ADD_OPTION, 3, "User", option)),
        (patches.add_option(Site(patches.SELECT, "User", 3, more=True), option),
         patches.Patch(patches.ADD_OPTION, 3, "User", option)),
        (patches.add_option(get, option), patches.Patch(patches.ADD_OPTION, 4, "User", option, patches.GET)),
        (patches.add_option(call, option),
         patches.Patch(patches.ADD_OPTION, 5, "get_by_id", option, patches.CALL)),
        (patches.add_option(Site(patches.QUERY, "User", 6), option),
         patches.Patch(patches.ADD_OPTION, 6, "User", option, patches.QUERY)),
        (patches.replace_option(select, "lazyload(User.posts)", "selectinload(User.posts)"),
         patches.Patch(patches.REPLACE_OPTION, 3, "User", "selectinload(User.posts)",
                       old="lazyload(User.posts)")),
        (patches.remove_option(select, "defer(User.bio)"),
         patches.Patch(patches.REMOVE_OPTION, 3, "User", "defer(User.bio)")),
        (patches.unique(9) + " (e.g. ...), or load the collection with selectinload()",
         patches.Patch(patches.UNIQUE, 9)),
    ]
    for note, expected in cases:
        assert patches.parse(note) == expected, note
    for advice in ('add "comments" to the Loaded[Post, ...] annotation',
                   "add .options(selectinload(User.posts)) to the query that produced this User",
                   "read it before line 12, or reload it with await session.refresh(user, [\"name\"])"):
        assert patches.parse(advice) is None


def _fix(source: str, *found: patches.Patch) -> str:
    result = rewrite(HEADER + source, list(found))
    assert result.skipped == [], result.skipped
    return result.source[len(HEADER):]


def test_a_new_option_joins_the_options_already_there() -> None:
    src = "stmt = select(User).where(User.id == 1).options(joinedload(User.profile))  # keep me\n"
    add = patches.Patch(patches.ADD_OPTION, 4, "User", "selectinload(User.posts)")
    assert _fix(src, add) == ("stmt = select(User).where(User.id == 1).options(joinedload(User.profile), "
                              "selectinload(User.posts))  # keep me\n")


def test_an_option_that_extends_one_replaces_it_and_two_fixes_merge() -> None:
    src = "stmt = select(User).options(selectinload(User.posts))\n"
    tags = patches.Patch(patches.ADD_OPTION, 4, "User", "selectinload(User.posts).selectinload(Post.tags)")
    profile = patches.Patch(patches.ADD_OPTION, 4, "User", "joinedload(User.profile)")
    assert _fix(src, tags, profile) == ("stmt = select(User).options(selectinload(User.posts)"
                                        ".selectinload(Post.tags), joinedload(User.profile))\n")


def test_a_statement_without_options_gets_them_after_select() -> None:
    src = "user = (await session.execute(select(User).where(User.id == 1))).scalar_one()\n"
    add = patches.Patch(patches.ADD_OPTION, 4, "User", "selectinload(User.posts)")
    assert _fix(src, add) == ("user = (await session.execute(select(User).options(selectinload(User.posts))"
                              ".where(User.id == 1))).scalar_one()\n")


def test_session_get_and_repository_calls_take_options_lists() -> None:
    src = ("user = await session.get(User, 1)\n"
           "other = await repo.get_by_id(1, options=[joinedload(User.profile)])\n")
    get = patches.Patch(patches.ADD_OPTION, 4, "User", "selectinload(User.posts)", patches.GET)
    call = patches.Patch(patches.ADD_OPTION, 5, "get_by_id", "selectinload(User.posts)", patches.CALL)
    assert _fix(src, get, call) == (
        "user = await session.get(User, 1, options=[selectinload(User.posts)])\n"
        "other = await repo.get_by_id(1, options=[joinedload(User.profile), selectinload(User.posts)])\n")


def test_replace_and_remove_follow_the_statement_through_its_names() -> None:
    src = ("stmt = select(User).where(User.id == 1)\n"
           "stmt = stmt.options(lazyload(User.posts), defer(User.bio))\n")
    replace = patches.Patch(patches.REPLACE_OPTION, 4, "User", "selectinload(User.posts)",
                            old="lazyload(User.posts)")
    remove = patches.Patch(patches.REMOVE_OPTION, 4, "User", "defer(User.bio)")
    assert _fix(src, replace, remove) == ("stmt = select(User).where(User.id == 1)\n"
                                          "stmt = stmt.options(selectinload(User.posts))\n")


def test_an_option_leaves_an_options_list() -> None:
    src = "user = await session.get(User, 1, options=[lazyload(User.posts), joinedload(User.profile)])\n"
    replace = patches.Patch(patches.REPLACE_OPTION, 4, "User", "selectinload(User.posts)", patches.GET,
                            old="lazyload(User.posts)")
    remove = patches.Patch(patches.REMOVE_OPTION, 4, "User", "joinedload(User.profile)", patches.GET)
    assert _fix(src, remove) == "user = await session.get(User, 1, options=[lazyload(User.posts)])\n"
    assert _fix(src, replace) == ("user = await session.get(User, 1, options=[selectinload(User.posts), "
                                  "joinedload(User.profile)])\n")


def test_unique_goes_before_the_first_result_method() -> None:
    src = ("users = (await session.execute(stmt)).scalars().all()\n"
           "for u in await session.scalars(stmt):\n    pass\n"
           "rows = result.scalars()\n"
           "found = session.scalars(stmt).all()\n")
    fixed = _fix(src, *(patches.Patch(patches.UNIQUE, line) for line in (4, 5, 7)))
    assert fixed == ("users = (await session.execute(stmt)).unique().scalars().all()\n"
                     "for u in (await session.scalars(stmt)).unique():\n    pass\n"
                     "rows = result.unique().scalars()\n"
                     "found = session.scalars(stmt).all()\n")


def test_what_cannot_be_applied_is_skipped_with_the_reason() -> None:
    src = ("stmt = select(User)\nother = select(User)\n"  # two on one line would be ambiguous
           "user = await repo.get_by_id(1, options=OPTIONS)\n")
    found = [patches.Patch(patches.ADD_OPTION, 6, "get_by_id", "selectinload(User.posts)", patches.CALL,
                           arg="#2"),
             patches.Patch(patches.ADD_OPTION, 4, "User", "selectinload(Tag.posts)"),
             patches.Patch(patches.ADD_OPTION, 9, "User", "selectinload(User.posts)"),
             patches.Patch(patches.ADD_OPTION, 0, "User", "selectinload(User.posts)", function="Repo.get")]
    result = rewrite(HEADER + src, found)
    reasons = [why for _, why in result.skipped]
    assert reasons == ["get_by_id(...) on line 6 has no argument 2", "Tag is not imported in this module",
                       "no single select(User) on line 9", "no function Repo.get in this module"]
    assert result.source == HEADER + src


# Issue 19's second part: the places the layers lead to (hooks.layer_sites).
LAYERED = """class Service:
    async def get(self, session, id):
        repository = OrderRepository(session)
        return await repository.by_id(id, options=repository.eager())

    async def bare(self, session, id):
        return await OrderRepository(session).by_id(id)

    async def readable(self, session):
        repository = OrderRepository(session)
        return await repository.all_of(repository.readable())


async def load(session, id):
    return await fetch(session, id, None)
"""


def test_layer_sites_read_back() -> None:
    option = "selectinload(User.posts)"
    cases = [
        (Site(patches.CALL, "load", 3, arg="#3"),
         "add selectinload(User.posts) to argument 3 of load(...) on line 3"),
        (Site(patches.CALL, "by_id", 0, function="Service.get", module="app.services"),
         "add selectinload(User.posts) to the options= of by_id(...) in Service.get (app.services)"),
        (Site(patches.CALL, "all_of", 0, arg="#1", statement=True, function="Service.readable",
              module="app.x"),
         "add .options(selectinload(User.posts)) to argument 1 of all_of(...) in Service.readable (app.x)"),
        (Site(patches.SELECT, "User", 0, function="f", module="m", imports=(("Post", "app.models"),)),
         "add .options(selectinload(User.posts)) to select(User) in f (m), importing Post from app.models"),
    ]
    for site, note in cases:
        assert patches.add_option(site, option) == note
        parsed = patches.parse(note)
        assert parsed is not None and (parsed.arg, parsed.statement, parsed.function, parsed.module,
                                       parsed.imports) == (site.arg, site.statement, site.function,
                                                           site.module, site.imports), note
    # A replace where the options are not written out is advice.
    hidden = Site(patches.CALL, "by_id", 4, display=False)
    from mypy_eagerload.core import messages
    note = messages.fix([("app.User", "posts")], True, True, "raiseload()", [], hidden)
    assert note.startswith("replace raiseload(User.posts) with selectinload(User.posts) where")
    assert patches.parse(note) is None


def test_layer_patches_rewrite_the_place_they_name() -> None:
    option = "selectinload(User.posts)"
    found = [patches.Patch(patches.ADD_OPTION, 0, "by_id", option, patches.CALL, function="Service.get"),
             patches.Patch(patches.ADD_OPTION, 0, "by_id", option, patches.CALL, function="Service.bare"),
             patches.Patch(patches.ADD_OPTION, 0, "all_of", option, patches.CALL, arg="#1", statement=True,
                           function="Service.readable"),
             patches.Patch(patches.ADD_OPTION, 0, "fetch", option, patches.CALL, arg="#3", function="load",
                           imports=(("Tag", "app.tags"),))]
    result = rewrite(HEADER + LAYERED, found)
    assert result.skipped == []
    out = result.source
    assert "options=[*repository.eager(), selectinload(User.posts)])" in out
    assert "by_id(id, options=[selectinload(User.posts)])" in out
    assert "repository.all_of(repository.readable().options(selectinload(User.posts)))" in out
    assert "fetch(session, id, [selectinload(User.posts)])" in out
    assert "from app.tags import Tag\n" in out
    ast.parse(out)
    # Idempotent: the same patches again change nothing.
    assert rewrite(out, found).source == out


# Options written in a helper or a module-level tuple (``Site.builders``).
BUILDERS = """EAGER_BASE = (lazyload(User.posts), joinedload(Post.author))
EAGER = (*EAGER_BASE, lazyload(User.posts))


class UserRepository:
    def eager(self):
        opts = []
        opts.append(selectinload(User.addresses).lazyload(Post.tags))
        return opts

    def readable(self):
        return select(User).options(lazyload(User.posts))  # the statement is built here
"""


def test_an_option_written_in_a_helper_is_replaced_where_it_is_written() -> None:
    built = patches.Builder(patches.BUILT, "UserRepository.eager", "app.repositories",
                            ("selectinload(User.addresses).lazyload(Post.tags)",
                             "selectinload(User.addresses)"))
    constant = patches.Builder(patches.CONSTANT, "EAGER_BASE", "app.options", ("lazyload(User.posts)",))
    site = Site(patches.CALL, "by_id", 0, display=False, function="Service.get", module="app.services",
                builders=(built, constant))
    old = "selectinload(User.addresses).lazyload(Post.tags)"
    new = "selectinload(User.addresses).selectinload(Post.tags)"
    holder = patches.written_in(site, old)
    assert holder is not None
    note = patches.replace_option(holder, old, new)
    assert note == (f"replace {old} with {new} in the options built in UserRepository.eager "
                    "(app.repositories)")
    assert patches.parse(note) == patches.Patch(patches.REPLACE_OPTION, 0, "UserRepository.eager", new,
                                                patches.BUILT, old, function="UserRepository.eager",
                                                module="app.repositories")
    note = patches.replace_option(patches.written_in(site, "lazyload(User.posts)") or site,
                                  "lazyload(User.posts)", "selectinload(User.posts)")
    assert note.endswith("in the options of EAGER_BASE (app.options)")
    # Written in no builder, or in two: not known where; the note stays advice.
    assert patches.written_in(site, "raiseload(User.posts)") is None
    assert patches.written_in(replace(site, builders=(constant, constant)), "lazyload(User.posts)") is None

    found = [patches.parse(note),
             patches.parse(f"replace {old} with {new} in the options built in UserRepository.eager (m)"),
             patches.parse("replace lazyload(User.posts) with selectinload(User.posts) in the options built "
                           "in UserRepository.readable (m)")]
    assert None not in found
    result = rewrite(HEADER + BUILDERS, [p for p in found if p is not None])
    assert result.skipped == []
    out = result.source
    # Both places the tuple writes it (its replacement is the same), and nothing else.
    assert "EAGER_BASE = (selectinload(User.posts), joinedload(Post.author))" in out
    assert "EAGER = (*EAGER_BASE, lazyload(User.posts))" in out
    assert f"opts.append({new})" in out
    assert "select(User).options(selectinload(User.posts))  # the statement is built here" in out
    assert rewrite(out, [p for p in found if p is not None]).skipped != []  # nothing left to replace
    # Only replaced there: an option to remove or add in a builder is not applied.
    remove = patches.Patch(patches.REMOVE_OPTION, 0, "EAGER", "lazyload(User.posts)", patches.CONSTANT,
                           module="m")
    assert [why for _, why in rewrite(HEADER + BUILDERS, [remove]).skipped] == [
        "an option is only replaced in EAGER"]


def test_an_object_from_several_queries_gets_the_option_in_each() -> None:
    first, second = Site(patches.SELECT, "User", 4), Site(patches.SELECT, "User", 5)
    note = patches.add_option(replace(first, also=(second,)), "selectinload(User.posts)")
    assert note == ("add .options(selectinload(User.posts)) to select(User) on line 4; "
                    "add .options(selectinload(User.posts)) to select(User) on line 5")
    stated = patches.parse_all(note)
    assert [p.line for p in stated] == [4, 5] and patches.parse(note) is None
    # A replace names one query's option: with several queries it is advice.
    assert patches.written_in(replace(first, also=(second,)), "lazyload(User.posts)") is None
    assert patches.parse_all(note + "; add it to the query that produced this User") == []
    src = ("async def f(session, flag):\n"
           "    a = (await session.execute(select(User).options(selectinload(User.posts)))).scalar_one()\n"
           "    b = (await session.execute(select(User))).scalar_one()\n"
           "    user = a if flag else b\n")
    result = rewrite(HEADER + src, [replace(p, line=p.line + 1) for p in stated])  # a: line 5, b: 6
    assert result.skipped == []
    out = result.source
    assert "select(User).options(selectinload(User.posts)))).scalar_one()\n    b = (await session.execute(" \
           "select(User).options(selectinload(User.posts))))" in out
    assert out.count("selectinload(User.posts)") == 2  # the first had it: not written twice


def test_a_parameter_annotation_gains_the_path_its_function_reads() -> None:
    site = Site(patches.ANNOTATION, "Post", 4, arg="post")
    note = patches.widen(site, "comments")
    assert note == 'add "comments" to the Loaded[Post, ...] annotation of post on line 4'
    patch = patches.parse(note)
    assert patch == patches.Patch(patches.WIDEN, 4, "Post", "comments", patches.ANNOTATION, arg="post")
    src = ("def render(post: Loaded[Post, 'author'], other: Post) -> str:  # kept\n"
           "    return post.comments\n")
    out = rewrite(HEADER + src, [patch, replace(patch, option="comments.author")]).source
    widened = "post: Loaded[Post, 'author', 'comments', 'comments.author'], other: Post) -> str:  # kept"
    assert widened in out
    assert rewrite(out, [patch]).source == out  # listed already: nothing to add
    skipped = rewrite(HEADER + src, [replace(patch, arg="other")]).skipped
    assert [why for _, why in skipped] == ["the parameter other on line 4 is not annotated Loaded[...] there"]


def test_a_return_annotation_gains_the_path_a_response_model_reads() -> None:
    site = Site(patches.ANNOTATION, "Post", 5, arg=patches.RETURN, function="post_page")
    note = patches.widen(site, "comments")
    assert note == "add \"comments\" to the Loaded[Post, ...] annotation of post_page's return on line 5"
    patch = patches.parse(note)
    assert patch == patches.Patch(patches.WIDEN, 5, "Post", "comments", patches.ANNOTATION,
                                  arg=patches.RETURN, function="post_page")
    src = ("@app.get('/posts', response_model=PostDetail)\n"
           "async def post_page(post: Loaded[Post, 'author']) -> Loaded[Post, 'tags']:\n"
           "    return post\n")
    out = rewrite(HEADER + src, [patch]).source
    # The return type gains it; the parameter of the same model is left as it was.
    assert "(post: Loaded[Post, 'author']) -> Loaded[Post, 'tags', 'comments']:" in out
    plain = rewrite(HEADER + src.replace("-> Loaded[Post, 'tags']", "-> Post"), [patch])
    assert [why for _, why in plain.skipped] == [
        "the return type of post_page on line 5 is not annotated Loaded[...] there"]


def test_a_plain_parameter_is_annotated_with_every_path_its_function_reads() -> None:
    """Strict mode: one note names all the paths (reported one read at a time, each note
    would name one, and the next run would ask for the next)."""
    site = Site(patches.PARAMETER, "User", 4, arg="user", needs=("posts.comments", "posts"))
    note = patches.annotate(site, ["addresses"])
    assert note == 'annotate the parameter user on line 4 as Loaded[User, "addresses", "posts.comments"]'
    patch = patches.parse(note)
    assert patch == patches.Patch(patches.ANNOTATE, 4, "User", '"addresses", "posts.comments"',
                                  patches.PARAMETER, arg="user")
    src = ("def render(user: User, other: User) -> str:  # kept\n"
           "    return user.posts[0].comments\n")
    # Two notes of one parameter (a read, a callee's requirement): one annotation with both.
    more = replace(patch, option='"posts.author"')
    out = rewrite(HEADER + src, [patch, more]).source
    assert ('def render(user: Loaded[User, "addresses", "posts.author", "posts.comments"], other: User) '
            "-> str:  # kept") in out
    assert "from mypy_eagerload import Loaded\n" in out
    skipped = rewrite(out, [replace(patch, line=6)]).skipped  # (the import moved it down)
    assert [why for _, why in skipped] == ["the parameter user on line 6 is not annotated User there"]
    ret = Site(patches.PARAMETER, "User", 4, arg=patches.RETURN, function="page", needs=("posts.tags",))
    assert patches.annotate(ret) == 'annotate the return type of page on line 4 as Loaded[User, "posts.tags"]'
    returned = patches.parse(patches.annotate(ret))
    assert returned is not None and (returned.arg, returned.function) == (patches.RETURN, "page")
    out = rewrite(HEADER + "async def page(user_id: int) -> User:\n    ...\n", [returned]).source
    assert 'async def page(user_id: int) -> Loaded[User, "posts.tags"]:' in out


def test_levels_of_a_tree_are_loaded_with_recursion_depth() -> None:
    """A recursive schema (every level) or a read N levels down: one option with
    recursion_depth, not one level per run; levels a recursion loads: its depth is raised."""
    site = Site(patches.SELECT, "Node", 3)
    children = ("app.Node", "children")
    def fix(path: list[tuple[str, str]], reason: str = "", strategies: list[str] | None = None,
            deeper: int = 0) -> str:
        return messages.fix(path, True, True, reason, strategies or [], site, deeper)
    assert fix([children], deeper=-1) == \
        "add .options(selectinload(Node.children, recursion_depth=-1)) to select(Node) on line 3"
    assert fix([children], deeper=2) == \
        "add .options(selectinload(Node.children, recursion_depth=2)) to select(Node) on line 3"
    assert fix([children]) == "add .options(selectinload(Node.children)) to select(Node) on line 3"
    # The query's own lazyload() left it unloaded: replaced, as any option (a second
    # strategy for the path would conflict).
    assert fix([children], "lazyload()", deeper=-1).startswith("replace lazyload(Node.children) with ")
    # Levels loaded by an option already: one more level, chained (not a second strategy).
    assert fix([children, children], strategies=["selectin"], deeper=-1) == \
        "add .options(selectinload(Node.children).selectinload(Node.children)) to select(Node) on line 3"
    mark = f"selectin{opt.RECURSIVE_MARK}1"
    assert fix([children] * 3, strategies=[mark, mark]) == (
        "replace selectinload(Node.children, recursion_depth=1) with "
        "selectinload(Node.children, recursion_depth=2) in select(Node) on line 3")
    assert "does not follow options below" in fix([children, children, ("app.Node", "parent")],
                                                   strategies=[mark, mark])
    patch = patches.parse(fix([children] * 3, strategies=[mark, mark]))
    assert patch is not None
    src = "stmt = select(Node).options(selectinload(Node.children, recursion_depth=1))\n"
    out = rewrite("from app.models import Node\n" + src, [replace(patch, line=2)]).source
    assert out.endswith("select(Node).options(selectinload(Node.children, recursion_depth=2))\n")


def test_missing_option_functions_are_imported() -> None:
    src = "from sqlalchemy import select\nfrom app.models import User\nstmt = select(User)\n"
    result = rewrite(src, [patches.Patch(patches.ADD_OPTION, 3, "User", "selectinload(User.posts)")])
    assert "from sqlalchemy.orm import selectinload\n" in result.source
    assert result.source.endswith("stmt = select(User).options(selectinload(User.posts))\n")


def test_reports_pair_each_error_with_its_note() -> None:
    output = ("a.py:3:5: error: \"User.posts\" is not loaded: ...  [unloaded-relationship]\n"
              "a.py:3:5: note: add .options(selectinload(User.posts)) to select(User) on line 2\n"
              "a.py:4: error: Incompatible types  [assignment]\n"
              "a.py:4: note: something of mypy's\n")
    (found,) = reports(output)
    assert (found.path, found.line, found.code) == ("a.py", 3, "unloaded-relationship")
    # mypy prints a note once per line: the second conflict of one edit has the first's note.
    twice = ("a.py:5: error: \"User.posts\" is given two ...  [loader-conflict]\n"
             "a.py:5: note: remove joinedload(User.posts) from select(User) on line 5\n"
             "a.py:5: error: \"User.posts -> Post.tags\" is given two ...  [loader-conflict]\n")
    note = "remove joinedload(User.posts) from select(User) on line 5"
    assert [r.note for r in reports(twice)] == [note, note]
    expected = patches.Patch(patches.ADD_OPTION, 2, "User", "selectinload(User.posts)")
    assert patches.parse(found.note) == expected


def _mypy(cwd: Path, *args: str, config: str = "mypy.ini") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", config, *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


@pytest.mark.fixcheck
@pytest.mark.parametrize("config", ["mypy.ini", "mypy-strict.ini"])
def test_fix_leaves_the_example_app_clean_and_its_demo_running(tmp_path: Path, config: str) -> None:
    """In strict mode too: there plain ``User`` parameters and route return types are
    annotated with every path their function (or response model) reads, in one patch."""
    app = tmp_path / "examples"
    shutil.copytree(EXAMPLES, app, ignore=shutil.ignore_patterns(".mypy_cache", "__pycache__", "*.db"))
    before = _mypy(app, "blog", config=config).stdout
    fix = [sys.executable, "-m", "mypy_eagerload", "fix", "--config-file", config, "blog"]
    proc = subprocess.run(fix, cwd=app, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert before.count(": error:") >= 10
    after = _mypy(app, "blog", config=config).stdout
    assert ": error:" not in after, after
    # Annotations were widened where the reads were past them: a parameter's (its caller's
    # query then told to load the path, in the next round) and a route's return type.
    views = (app / "blog" / "views.py").read_text()
    assert 'def render_post(post: Loaded[Post, "author", "comments"])' in views
    api = (app / "blog" / "api.py").read_text()
    assert 'def post_page(post_id: int, session: Session) -> Loaded[Post, "tags", "comments"]:' in api
    if config == "mypy-strict.ini":
        assert 'def post_count(user: Loaded[User, "posts"]) -> int:' in views
        assert 'def author_page(user_id: int, session: Session) -> Loaded[User, "posts.tags"]:' in api
    again = subprocess.run(fix, cwd=app, capture_output=True, text=True, check=False)
    assert "applied 0 fix(es)" in again.stderr  # idempotent
    demo = subprocess.run([sys.executable, "-m", "blog.demo"], cwd=app, capture_output=True, text=True,
                          check=False, timeout=300)
    assert demo.returncode == 0, demo.stderr[-3000:]
    failing = [line.split()[-1] for line in demo.stdout.splitlines() if line.strip() and not
               line.strip().startswith("ok")]
    assert failing == [], demo.stdout


@pytest.mark.fixcheck  # mypy 2.x: the dependency's module-level function is summarised
def test_fix_leaves_the_layered_example_clean_and_every_handler_working(tmp_path: Path) -> None:
    """examples/shop reads objects its services and repositories fetched (issue 17): every
    note there names the argument or the service method that supplies the options, and
    applying them (across modules, with the imports) fixes every failing handler and route."""
    app = tmp_path / "examples"
    shutil.copytree(EXAMPLES, app, ignore=shutil.ignore_patterns(".mypy_cache", "__pycache__", "*.db"))
    before = _mypy(app, "shop").stdout
    assert before.count(": error:") >= 10
    fix = [sys.executable, "-m", "mypy_eagerload", "fix", "--config-file", "mypy.ini", "shop"]
    proc = subprocess.run(fix, cwd=app, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # The patches went into the service module, not only into the handlers that read.
    assert (app / "shop" / "services.py").read_text() != (EXAMPLES / "shop" / "services.py").read_text()
    after = _mypy(app, "shop").stdout
    assert ": error:" not in after, after
    again = subprocess.run(fix, cwd=app, capture_output=True, text=True, check=False)
    assert "applied 0 fix(es)" in again.stderr  # idempotent
    demo = subprocess.run([sys.executable, "-m", "shop.demo"], cwd=app, capture_output=True, text=True,
                          check=False, timeout=300)
    assert demo.returncode == 0, demo.stderr[-3000:]
    failing = [line for line in demo.stdout.splitlines()
               if line.strip() and not line.strip().startswith("ok")]
    assert failing == [], demo.stdout


@pytest.mark.fuzz
def test_fix_never_breaks_generated_programs(tmp_path: Path) -> None:
    """``fix`` over generated programs: every file still parses, and mypy without the
    plugin finds no more errors of its own than before."""
    from tests.fuzz import runner

    files = runner.write_batch(tmp_path, seed=7171, count=150)
    env = {**os.environ, "MYPYPATH": str(tmp_path)}
    before = runner.run_mypy(tmp_path, files, "--no-incremental", plugin=False)
    proc = subprocess.run([sys.executable, "-m", "mypy_eagerload", "fix", "--config-file", "mypy.ini",
                           *files], cwd=tmp_path, capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0 and not runner.CRASH.search(proc.stderr), proc.stderr[-4000:]
    assert "applied" in proc.stderr and " 0 fix(es)" not in proc.stderr, proc.stderr[-2000:]
    for name in files:
        ast.parse((tmp_path / name).read_text())
    after = runner.run_mypy(tmp_path, files, "--no-incremental", plugin=False)
    assert after.count(": error:") <= before.count(": error:"), after
