"""Apply fix-note patches (``core.patches``) to one module's source, keeping the rest as it is.

libcst keeps comments, spacing and quotes. Each patch names a line and a query there:

* ``select(User)``: the options join the first ``.options(...)`` of the statement's chain
  (``select(User).where(...).options(a)``); an option that only extends one already there
  (``selectinload(User.posts)`` -> ``selectinload(User.posts).selectinload(Post.tags)``)
  replaces it; with no ``.options(...)`` in the chain, one is added right after ``select()``;
* ``session.get(User, ...)``: an ``options=[...]`` argument;
* an argument of a call (``the options= of by_id(...)``, ``argument 3 of load(...)``): the
  option joins its list or tuple display; ``None`` becomes ``[option]``, any other
  expression ``[*expression, option]``, a keyword not given is added; a statement argument
  gets ``.options(option)`` (or joins the ``.options(...)`` it ends with);
* a place in another function (``... in OrderService.get (app.services)``): the same, among
  the calls of that function, which must hold exactly one that fits;
* ``remove``: the option argument goes (and an ``.options()`` left empty with it);
* ``unique``: ``.unique()`` after the awaited ``execute``/``scalars``/``stream`` on the line.

Several patches of one query are merged into one edit. A patch whose query is not found as
described, or whose option names a class the module does not bind, is skipped with the
reason; nothing else is touched. The imports of the option functions are added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from mypy_eagerload.core import patches
from mypy_eagerload.core.patches import Patch

OPTION_MODULE = "sqlalchemy.orm"
# The loader-option functions a patch may name (imported from sqlalchemy.orm when missing).
OPTION_FUNCTIONS = frozenset({"selectinload", "joinedload", "subqueryload", "immediateload",
                              "contains_eager", "defaultload", "undefer", "lazyload"})
LOADED, LOADED_MODULE = "Loaded", "mypy_eagerload"
_N = TypeVar("_N", bound=cst.CSTNode)
_RESULT_SOURCES = frozenset({"execute", "scalars", "stream", "stream_scalars"})
# Result methods that hand out rows or objects (a joined collection needs .unique() first).
_RESULT_METHODS = frozenset({"scalars", "scalar_one", "scalar_one_or_none", "scalar", "one", "one_or_none",
                             "first", "all", "fetchall", "fetchone", "fetchmany", "partitions", "tuples",
                             "mappings"})


@dataclass
class Rewritten:
    source: str
    applied: list[Patch] = field(default_factory=list)
    skipped: list[tuple[Patch, str]] = field(default_factory=list)


def rewrite(source: str, found: Sequence[Patch]) -> Rewritten:
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return Rewritten(source, skipped=[(p, f"the file does not parse ({exc.message})") for p in found])
    # Skipping the copy is safe: the module was parsed here and is not used otherwise.
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    bound = _module_names(wrapper.module)
    plan = _Plan(wrapper.module, positions, parents)
    result = Rewritten(source)
    for patch in _unique_patches(found):
        why = _unparsable(patch)
        if not why and patch.kind in (patches.ADD_OPTION, patches.REPLACE_OPTION):
            why = _unbound(patch.option, bound | {name for name, _ in patch.imports})
        why = why or plan.add(patch)
        if why:
            result.skipped.append((patch, why))
        else:
            result.applied.append(patch)
    if not result.applied:
        return result
    edited = wrapper.module.visit(_Apply(plan))
    missing = sorted({(OPTION_MODULE, name) for name in _functions_named(result.applied) - bound}
                     | {(module, name) for p in result.applied for name, module in p.imports
                        if name not in bound}
                     | ({(LOADED_MODULE, LOADED)} - {(LOADED_MODULE, n) for n in bound}
                        if plan.wrap_annotation else set()))
    if missing:  # the visitor walks the whole module: only when there is an import to add
        context = CodemodContext()
        for module_name, name in missing:
            AddImportsVisitor.add_needed_import(context, module_name, name)
        edited = AddImportsVisitor(context).transform_module(edited)
    result.source = edited.code
    return result


def _unique_patches(found: Sequence[Patch]) -> list[Patch]:
    seen: set[Patch] = set()
    return [p for p in found if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def _unparsable(patch: Patch) -> str:
    for text in (patch.option, patch.old):
        if text:
            try:
                cst.parse_expression(text)
            except cst.ParserSyntaxError:
                return f"the note's option is not an expression: {text}"
    return ""


_IDENTIFIER = re.compile(r"\b([A-Za-z_]\w*)\.")


def _unbound(option: str, bound: set[str]) -> str:
    """Why an option cannot be written here: a class it names is not bound in the module."""
    for name in _IDENTIFIER.findall(option):
        if name not in bound:
            return f"{name} is not imported in this module"
    return ""


def _functions_named(applied: list[Patch]) -> set[str]:
    names: set[str] = set()
    for patch in applied:
        names |= {n for n in re.findall(r"\b(\w+)\(", patch.option) if n in OPTION_FUNCTIONS}
    return names


def _module_names(module: cst.Module) -> set[str]:
    """Names bound at the module's top level (imports, classes, functions, assignments)."""
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) \
                        and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        if isinstance(bound, cst.Name):
                            names.add(bound.value)
                        elif isinstance(bound, cst.Attribute):
                            names.add(cst.Module([]).code_for_node(bound).split(".")[0])
                elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) \
                        else [small.target]
                    names |= {t.value for t in targets if isinstance(t, cst.Name)}
        elif isinstance(stmt, cst.If):  # if TYPE_CHECKING: imports
            names |= _module_names(cst.Module(body=list(stmt.body.body)))  # type: ignore[arg-type]
    return names


# ---------------------------------------------------------------------------------------
# Finding each patch's node, then editing them all in one pass


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _callee_name(call: cst.Call) -> str:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return ""


def _has_entity(call: cst.Call, entity: str) -> bool:
    return any(_first_arg_is(call.with_changes(args=[arg]), entity) for arg in call.args)


def _first_arg_is(call: cst.Call, entity: str) -> bool:
    if not call.args or call.args[0].keyword is not None or call.args[0].star:
        return False
    value = call.args[0].value
    return (isinstance(value, cst.Name) and value.value == entity) or (
        isinstance(value, cst.Attribute) and value.attr.value == entity)


class _Plan:
    """The edits, keyed by the nodes they replace."""

    def __init__(self, module: cst.Module, positions: object, parents: object) -> None:
        self.module = module
        self.positions = positions
        self.parents = parents
        # The nodes a patch can name, by line: one pass over the module, however many
        # patches (a search of the whole module per patch made a large file take minutes).
        self.by_line: dict[tuple[type[cst.CSTNode], int], list[cst.CSTNode]] = {}
        for node, position in positions.items():  # type: ignore[attr-defined]
            if isinstance(node, (cst.Call, cst.Await, cst.Attribute)):
                self.by_line.setdefault((type(node), position.start.line), []).append(node)
        self.add_to_options: dict[cst.Call, list[str]] = {}  # an existing .options(...) call
        self.wrap_select: dict[cst.Call, list[str]] = {}  # select(...) gets a new .options(...)
        self.add_get: dict[cst.Call, list[str]] = {}  # session.get(...) gets options=[...]
        self.add_keyword: dict[cst.Call, list[str]] = {}  # a call's options=[...] display
        self.add_argument: dict[cst.Arg, list[str]] = {}  # an option-sequence argument
        self.add_statement: dict[cst.Arg, list[str]] = {}  # a statement argument: .options(...)
        self.new_keyword: dict[cst.Call, dict[str, list[str]]] = {}  # a keyword the call lacks
        self.remove: dict[cst.Call, set[str]] = {}  # .options(...) calls losing arguments
        self.remove_elements: dict[cst.Call, set[str]] = {}  # calls whose options= display loses some
        self.remove_from: dict[cst.Call, str] = {}  # ... in the argument named so ("#2": positional)
        self.replace: dict[cst.Call, str] = {}  # an option expression -> its replacement
        self.widen: dict[cst.Subscript, list[str]] = {}  # Loaded[...] annotations gaining paths
        self.wrap_annotation: dict[cst.Annotation, list[str]] = {}  # a plain Model becoming Loaded[...]
        self.unique: set[cst.Attribute] = set()  # result method accesses to prefix
        self.unique_awaits: set[cst.Await] = set()  # awaited results used as they are

    def on_line(self, line: int) -> list[cst.Call]:
        """The calls that start on ``line``, in source order."""
        return self.nodes_on(line, cst.Call)

    def calls_of(self, patch: Patch) -> list[cst.Call] | None:
        """The calls a patch's place may be: those on its line, or those in its function
        (None when the module has no such function)."""
        if patch.site == patches.CONSTANT:
            holder: cst.CSTNode | None = _assignment_named(self.module, patch.entity)
        elif patch.function:
            holder = _function_named(self.module, patch.function)
        else:
            return self.on_line(patch.line)
        if holder is None:
            return None
        span = self.positions[holder]  # type: ignore[index]
        return [c for line in range(span.start.line, span.end.line + 1) for c in self.on_line(line)]

    def nodes_on(self, line: int, kind: type[_N]) -> list[_N]:
        return [n for n in self.by_line.get((kind, line), []) if isinstance(n, kind)]

    def targets(self) -> set[cst.CSTNode]:
        """The nodes the edits replace, and every node above them."""
        planned: list[cst.CSTNode] = [*self.add_to_options, *self.wrap_select, *self.add_get,
                                      *self.add_keyword, *self.remove, *self.remove_elements,
                                      *self.replace, *self.unique, *self.unique_awaits,
                                      *self.add_argument, *self.add_statement, *self.new_keyword,
                                      *self.widen, *self.wrap_annotation]
        out: set[cst.CSTNode] = set()
        for node in planned:
            while node is not None and node not in out:
                out.add(node)
                node = self.parents.get(node)  # type: ignore[attr-defined]
        return out

    def add(self, patch: Patch) -> str:
        """Plan one patch; the reason it cannot be applied, or ""."""
        if patch.kind == patches.UNIQUE:
            return self._unique(patch)
        if patch.kind == patches.WIDEN:
            return self._widen(patch)
        if patch.kind == patches.ANNOTATE:
            return self._annotate(patch)
        if patch.kind in (patches.REMOVE_OPTION, patches.REPLACE_OPTION):
            return self._edit_existing(patch)
        calls = self.calls_of(patch)
        if calls is None:
            return f"no function {patch.function} in this module"
        where = _where(patch)
        if patch.site == patches.GET:
            found = [c for c in calls
                     if _callee_name(c) in ("get", "get_one") and _first_arg_is(c, patch.entity)]
            if len(found) != 1:
                return f"no single session.get({patch.entity}, ...) {where}"
            self.add_get.setdefault(found[0], []).append(patch.option)
            return ""
        if patch.site == patches.CALL:
            return self._argument(patch, [c for c in calls if _callee_name(c) == patch.entity], where)
        name = "query" if patch.site == patches.QUERY else "select"
        selects = [c for c in calls if _callee_name(c) == name and _has_entity(c, patch.entity)]
        if len(selects) != 1:
            return f"no single {name}({patch.entity}) {where}"
        options = self._chain_options(selects[0])
        if options is None:
            self.wrap_select.setdefault(selects[0], []).append(patch.option)
        else:
            self.add_to_options.setdefault(options, []).append(patch.option)
        return ""

    def _argument(self, patch: Patch, calls: list[cst.Call], where: str) -> str:
        """An argument of a call: its display, ``None``, another expression, or a keyword
        to add (an option sequence); ``.options(...)`` for a statement."""
        if len(calls) != 1:
            return f"no single call of {patch.entity}(...) {where}"
        call = calls[0]
        arg = _find_argument(call, patch.arg)
        if arg is None:
            if patch.arg.startswith("#") or patch.statement:
                return f"{patch.entity}(...) {where} has no argument {patch.arg.lstrip('#')}"
            self.new_keyword.setdefault(call, {}).setdefault(patch.arg, []).append(patch.option)
            return ""
        if arg.star:
            return f"the argument of {patch.entity}(...) {where} is unpacked"
        planned = self.add_statement if patch.statement else self.add_argument
        planned.setdefault(arg, []).append(patch.option)
        return ""

    def _chain(self, call: cst.CSTNode) -> list[cst.Call]:
        """The calls of the method chain ``call`` starts: ``select(X).where(...).options(...)``."""
        chain: list[cst.Call] = []
        node: cst.CSTNode = call
        while True:
            parent = self.parents.get(node)  # type: ignore[attr-defined]
            if not isinstance(parent, cst.Attribute) or parent.value is not node:
                return chain
            outer = self.parents.get(parent)  # type: ignore[attr-defined]
            if not isinstance(outer, cst.Call) or outer.func is not parent:
                return chain
            chain.append(outer)
            node = outer

    def _chain_options(self, select: cst.Call) -> cst.Call | None:
        return next((c for c in self._chain(select) if _callee_name(c) == "options"), None)

    def _edit_existing(self, patch: Patch) -> str:
        """Remove or replace an option the query already has."""
        wanted = patch.old if patch.kind == patches.REPLACE_OPTION else patch.option
        builder = patch.site in (patches.BUILT, patches.CONSTANT)
        if builder and patch.kind != patches.REPLACE_OPTION:
            return f"an option is only replaced {_where(patch)}"
        if builder:  # every place the helper writes it (a tuple may name it twice)
            written = [call for _, call in self._existing_options(patch)
                       if isinstance(call, cst.Call) and _code(call) == wanted]
            for call in written:
                self.replace[call] = patch.option
            return "" if written else f"no {wanted} {_where(patch)}"
        for holder, option in self._existing_options(patch):
            if _code(option) != wanted or not isinstance(option, cst.Call):
                continue
            if patch.kind == patches.REPLACE_OPTION:
                self.replace[option] = patch.option
            elif patch.site in (patches.GET, patches.CALL) and not patch.statement:
                self.remove_elements.setdefault(holder, set()).add(wanted)
                self.remove_from.setdefault(holder, patch.arg)
            else:
                self.remove.setdefault(holder, set()).add(wanted)
            return ""
        return f"no {wanted} among the options of the query {_where(patch)}"

    def _existing_options(self, patch: Patch) -> list[tuple[cst.Call, cst.BaseExpression]]:
        """(holder, option expression) for each option the patch's query has: the arguments
        of the ``.options(...)`` calls of a statement's chain, the elements of an
        ``options=`` display."""
        found: list[tuple[cst.Call, cst.BaseExpression]] = []
        calls = self.calls_of(patch) or []
        if patch.site in (patches.BUILT, patches.CONSTANT):  # written anywhere in the helper
            return [(call, call) for call in calls]
        if patch.statement:  # the .options(...) calls of a statement argument's chain
            for call in calls:
                arg = _find_argument(call, patch.arg)
                node = arg.value if arg is not None and _callee_name(call) == patch.entity else None
                while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                    if node.func.attr.value == "options":
                        found += [(node, a.value) for a in node.args if a.keyword is None and not a.star]
                    node = node.func.value
            return found
        if patch.site in (patches.GET, patches.CALL):
            for call in calls:
                arg = _find_argument(call, patch.arg)
                if arg is not None and isinstance(arg.value, (cst.List, cst.Tuple)):
                    found += [(call, e.value) for e in arg.value.elements if isinstance(e, cst.Element)]
            return found
        name = "query" if patch.site == patches.QUERY else "select"
        for select in [c for c in calls if _callee_name(c) == name]:
            for call in self._statement_calls(select):
                if _callee_name(call) == "options":
                    found += [(call, a.value) for a in call.args if a.keyword is None and not a.star]
        return found

    def _statement_calls(self, select: cst.Call) -> list[cst.Call]:
        """The calls of ``select``'s chain and, where it is bound to a name
        (``stmt = select(User)...``), of the chains built on that name in the same function
        (``stmt = stmt.options(...)``, ``stmt1 = stmt0.options(...)``), transitively."""
        calls = self._chain(select)
        names = [n for n in [self._bound_name(calls[-1] if calls else select)] if n]
        seen: set[str] = set()
        scope = self._function_of(select)
        while names and scope is not None:
            name = names.pop()
            if name in seen:
                continue
            seen.add(name)
            for use in _names(scope, name):
                chain = self._chain(use)
                calls += chain
                bound = self._bound_name(chain[-1]) if chain else None
                if bound:
                    names.append(bound)
        return calls

    def _bound_name(self, node: cst.CSTNode) -> str | None:
        parent = self.parents.get(node)  # type: ignore[attr-defined]
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 \
                and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target.value
        return None

    def _function_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Module)):
            node = self.parents.get(node)  # type: ignore[attr-defined]
        return node

    def _annotation(self, patch: Patch) -> tuple[cst.Annotation | None, str] | str:
        """The annotation (None: not annotated) of parameter ``patch.arg``, or the return
        type, of the function whose ``def`` is on the patch's line, and how to name it; why
        not, when there is no such parameter."""
        for node in self.positions:  # type: ignore[attr-defined]
            if isinstance(node, cst.FunctionDef) \
                    and self.positions[node.name].start.line == patch.line:  # type: ignore[index]
                if patch.arg == patches.RETURN:
                    return node.returns, f"the return type of {node.name.value} on line {patch.line}"
                every = (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params)
                params = [p for p in every if p.name.value == patch.arg]
                if not params:
                    return f"no parameter {patch.arg} on line {patch.line}"
                return params[0].annotation, f"the parameter {patch.arg} on line {patch.line}"
        return f"no function defined on line {patch.line}"

    def _annotate(self, patch: Patch) -> str:
        """A plain ``Model`` annotation (a parameter's, or the return type) becomes
        ``Loaded[Model, ...]`` with the patch's paths (several patches of one: the paths of all)."""
        found = self._annotation(patch)
        if isinstance(found, str):
            return found
        annotation, what = found
        written = annotation.annotation if annotation is not None else None
        name = written.value if isinstance(written, cst.Name) else \
            written.attr.value if isinstance(written, cst.Attribute) else ""
        if annotation is None or name != patch.entity:
            return f"{what} is not annotated {patch.entity} there"
        self.wrap_annotation.setdefault(annotation, []).extend(patches.annotated_paths(patch))
        return ""

    def _widen(self, patch: Patch) -> str:
        """The ``Loaded[Model, ...]`` annotation of parameter ``patch.arg`` (or the return
        type) of the function whose ``def`` is on the patch's line gains the path (once)."""
        found = self._annotation(patch)
        if isinstance(found, str):
            return found
        written, what = found
        annotation = written.annotation if written is not None else None
        if not isinstance(annotation, cst.Subscript) or _subscript_name(annotation) != LOADED:
            return f"{what} is not annotated Loaded[...] there"
        self.widen.setdefault(annotation, []).append(patch.option)
        return ""

    def _unique(self, patch: Patch) -> str:
        """``.unique()`` on the line's result: before its first result method
        (``(await s.execute(q)).scalars()``, ``result.scalars()``), else on an awaited
        result used as it is (``for u in await s.scalars(q)``)."""
        for node in self.nodes_on(patch.line, cst.Attribute):
            if node.attr.value not in _RESULT_METHODS:
                continue
            value = node.value
            call = self.parents.get(node)  # type: ignore[attr-defined]
            # result.scalars() takes no statement: session.scalars(stmt) is not a result.
            if _awaited_result(value) or (isinstance(value, cst.Name) and isinstance(call, cst.Call)
                                          and call.func is node and not call.args):
                self.unique.add(node)
                return ""
        for await_node in self.nodes_on(patch.line, cst.Await):
            parent = self.parents.get(await_node)  # type: ignore[attr-defined]
            if _awaited_result(await_node) \
                    and not isinstance(parent, cst.Attribute):
                self.unique_awaits.add(await_node)
                return ""
        return f"no result of execute()/scalars() on line {patch.line}"


def _subscript_name(node: cst.Subscript) -> str:
    value = node.value
    if isinstance(value, cst.Name):
        return value.value
    return value.attr.value if isinstance(value, cst.Attribute) else ""


def _awaited_result(expr: cst.BaseExpression) -> bool:
    """``(await session.execute(stmt))``, ``session.execute(stmt)`` (sync): a session call
    given a statement (``result.scalars()`` takes none)."""
    if isinstance(expr, cst.Await):
        expr = expr.expression
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
        and expr.func.attr.value in _RESULT_SOURCES and bool(expr.args)


def _names(scope: cst.CSTNode, name: str) -> list[cst.Name]:
    """Reads of ``name`` in ``scope`` that start a method chain (``name.options(...)``)."""
    found = m.findall(scope, m.Attribute(value=m.Name(name)))
    return [node.value for node in found
            if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name)]


def _merged(existing: list[str], added: list[str]) -> list[str]:
    """``existing`` option texts with ``added`` joined: an added option that extends one
    (``a`` -> ``a.selectinload(...)``) replaces it; the others are appended, once each."""
    out = list(existing)
    for option in added:
        if option in out:
            continue
        prefix = next((i for i, old in enumerate(out) if option.startswith(old + ".")), None)
        if prefix is not None:
            out[prefix] = option
        else:
            out.append(option)
    return out


def _args(texts: list[str], old: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Arguments for ``texts``, reusing each unchanged old argument (its comments, spacing)."""
    by_text = {_code(a.value): a for a in old if a.keyword is None and not a.star}
    starred = [a for a in old if a.star or a.keyword is not None]
    args = [by_text.get(t) or cst.Arg(cst.parse_expression(t)) for t in texts]
    return _commas([*args, *starred])


def _commas(args: list[cst.Arg]) -> list[cst.Arg]:
    fixed = []
    for i, arg in enumerate(args):
        last = i == len(args) - 1
        if last and not isinstance(arg.comma, cst.Comma):
            fixed.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        elif not last and not isinstance(arg.comma, cst.Comma):
            fixed.append(arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        else:
            fixed.append(arg)
    return fixed


def _element_text(element: cst.BaseElement) -> str:
    """A display element as text; "*" first for one that is unpacked (``*BASE_OPTIONS``)."""
    return ("*" if isinstance(element, cst.StarredElement) else "") + _code(element.value)


def _display(value: cst.List | cst.Tuple, texts: list[str]) -> cst.BaseExpression:
    """``value`` holding the elements ``texts`` (``_element_text``), reusing the old ones."""
    old = {_element_text(e): e for e in value.elements}
    elements = [old.get(t) or (cst.StarredElement(cst.parse_expression(t[1:])) if t.startswith("*")
                               else cst.Element(cst.parse_expression(t))) for t in texts]
    # A trailing comma stays only where the display had one.
    trailing = bool(value.elements) and isinstance(value.elements[-1].comma, cst.Comma)
    fixed = []
    for i, element in enumerate(elements):
        last = i == len(elements) - 1
        if not last and not isinstance(element.comma, cst.Comma):
            element = element.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elif last and not trailing and isinstance(element.comma, cst.Comma):
            element = element.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        fixed.append(element)
    if isinstance(value, cst.Tuple) and len(fixed) == 1:
        fixed[0] = fixed[0].with_changes(comma=cst.Comma())
    return value.with_changes(elements=fixed)


class _Apply(cst.CSTTransformer):
    def __init__(self, plan: _Plan) -> None:
        super().__init__()
        self.plan = plan
        self.relevant = plan.targets()

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Only the edited nodes and their ancestors: the rest of the module is kept as it is.
        return node in self.relevant

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if original in self.plan.unique:
            value = updated.value
            if isinstance(value, cst.Await) and not value.lpar:
                value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            unique = cst.Call(cst.Attribute(value, cst.Name("unique")))
            return updated.with_changes(value=unique)
        return updated

    def leave_Await(self, original: cst.Await, updated: cst.Await) -> cst.BaseExpression:
        if original in self.plan.unique_awaits:
            wrapped = updated.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]) \
                if not updated.lpar else updated
            return cst.Call(cst.Attribute(wrapped, cst.Name("unique")))
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        plan = self.plan
        if original in plan.replace:
            return cst.parse_expression(plan.replace[original])
        if original in plan.add_to_options:
            texts = [_code(a.value) for a in updated.args if a.keyword is None and not a.star]
            merged = _merged(texts, plan.add_to_options[original])
            updated = updated.with_changes(args=_args(merged, updated.args))
        if original in plan.remove:
            kept = [a for a in updated.args if _code(a.value) not in plan.remove[original]]
            if not kept and isinstance(updated.func, cst.Attribute):
                return updated.func.value  # .options() left empty: drop it from the chain
            if kept and updated.args and not isinstance(updated.args[-1].comma, cst.Comma):
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)  # no trailing comma
            updated = updated.with_changes(args=_commas(kept))
        if original in plan.remove_elements:
            gone = plan.remove_elements[original]
            updated = _edit_options_display(updated, lambda texts: [t for t in texts if t not in gone],
                                            plan.remove_from.get(original, "options"))
        if original in plan.add_keyword:
            added = plan.add_keyword[original]
            updated = _edit_options_display(updated, lambda texts: _merged(texts, added))
        for keyword, texts in plan.new_keyword.get(original, {}).items():
            updated = _with_keyword(updated, keyword, texts)
        if original in plan.add_get:
            updated = _with_keyword(updated, "options", plan.add_get[original])
        if original in plan.wrap_select:
            texts = _merged([], plan.wrap_select[original])
            return cst.Call(cst.Attribute(updated, cst.Name("options")),
                            _commas([cst.Arg(cst.parse_expression(t)) for t in texts]))
        return updated


    def leave_Annotation(self, original: cst.Annotation, updated: cst.Annotation) -> cst.Annotation:
        paths = self.plan.wrap_annotation.get(original)
        if not paths:
            return updated
        strings = [cst.SimpleString(f'"{p}"') for p in patches.maximal(paths)]
        elements = [cst.SubscriptElement(cst.Index(e)) for e in (updated.annotation, *strings)]
        elements = [e.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    for e in elements[:-1]] + elements[-1:]
        return updated.with_changes(annotation=cst.Subscript(cst.Name(LOADED), elements))

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        added = self.plan.widen.get(original)
        if not added:
            return updated
        written = [e.slice.value for e in updated.slice if isinstance(e.slice, cst.Index)]
        paths = {s.evaluated_value for s in written if isinstance(s, cst.SimpleString)}
        quote = next((s.quote for s in written if isinstance(s, cst.SimpleString)), '"')
        new = [p for p in dict.fromkeys(added) if p not in paths]
        if not new:
            return updated
        elements = list(updated.slice)
        elements[-1] = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elements += [cst.SubscriptElement(cst.Index(cst.SimpleString(f"{quote}{p}{quote}")),
                                          comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                     for p in new]
        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(slice=elements)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        plan = self.plan
        if original in plan.add_argument:
            return updated.with_changes(value=_with_options(updated.value, plan.add_argument[original]))
        if original in plan.add_statement:
            return updated.with_changes(value=_with_statement_options(updated.value,
                                                                      plan.add_statement[original]))
        return updated


def _with_keyword(call: cst.Call, keyword: str, texts: list[str]) -> cst.Call:
    """``call`` with a new ``keyword=[...]`` argument holding the options ``texts``."""
    value = cst.List([cst.Element(cst.parse_expression(t)) for t in _merged([], texts)])
    added = cst.Arg(value, keyword=cst.Name(keyword),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    call = call.with_changes(args=_commas([*call.args, added]))
    return call.with_changes(args=[*call.args[:-1], _display_fix(call.args[-1])])


def _where(patch: Patch) -> str:
    if patch.site == patches.CONSTANT:
        return f"in {patch.entity}"
    return f"in {patch.function}" if patch.function else f"on line {patch.line}"


def _assignment_named(module: cst.Module, name: str) -> cst.CSTNode | None:
    """The module-level statement that binds ``name`` (``NAME = ...``, ``NAME: T = ...``)."""
    found: list[cst.CSTNode] = []
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else \
                [small.target] if isinstance(small, cst.AnnAssign) and small.value is not None else []
            if any(isinstance(t, cst.Name) and t.value == name for t in targets):
                found.append(statement)
    return found[0] if len(found) == 1 else None


def _function_named(module: cst.Module, qualified: str) -> cst.FunctionDef | None:
    """The function ``Class.method`` (or ``function``) at the top of ``module``."""
    body: Sequence[cst.CSTNode] = module.body
    *classes, name = qualified.split(".")
    for part in classes:
        found = [n for n in body if isinstance(n, cst.ClassDef) and n.name.value == part]
        if len(found) != 1:
            return None
        inner = found[0].body
        body = inner.body if isinstance(inner, cst.IndentedBlock) else []
    functions = [n for n in body if isinstance(n, cst.FunctionDef) and n.name.value == name]
    return functions[0] if len(functions) == 1 else None


def _find_argument(call: cst.Call, which: str) -> cst.Arg | None:
    """The argument ``which`` names: a keyword, or "#k" for the k-th positional one."""
    if which.startswith("#"):
        positional = [a for a in call.args if a.keyword is None]
        index = int(which[1:]) - 1
        return positional[index] if 0 <= index < len(positional) and not any(
            a.star for a in positional[:index]) else None
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == which), None)


def _with_options(value: cst.BaseExpression, added: list[str]) -> cst.BaseExpression:
    """An option-sequence argument with ``added``: into its display; ``None`` -> a list of
    them; any other expression is spread into a list before them."""
    if isinstance(value, (cst.List, cst.Tuple)):
        texts = [_element_text(e) for e in value.elements]
        return _display(value, _merged(texts, added))
    texts = _merged([], added)
    if isinstance(value, cst.Name) and value.value == "None":
        return _display(cst.List([]), texts)
    return _display(cst.List([cst.StarredElement(value)]), [_element_text(cst.StarredElement(value)), *texts])


def _with_statement_options(value: cst.BaseExpression, added: list[str]) -> cst.BaseExpression:
    """A statement argument with ``.options(...)``: joined to the ``.options(...)`` it ends
    with, or a new one."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value == "options":
        texts = [_code(a.value) for a in value.args if a.keyword is None and not a.star]
        return value.with_changes(args=_args(_merged(texts, added), value.args))
    receiver = value
    if not isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) and not value.lpar:
        receiver = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(cst.Attribute(receiver, cst.Name("options")),
                    _commas([cst.Arg(cst.parse_expression(t)) for t in _merged([], added)]))


def _edit_options_display(call: cst.Call, change: Callable[[list[str]], list[str]],
                          which: str = "options") -> cst.Call:
    """``call`` with the option texts of its argument ``which`` (an ``options=[...]``
    display, or "#k": the k-th positional one) passed through ``change``."""
    target = _find_argument(call, which)
    args = []
    for arg in call.args:
        if target is not None and arg is target and isinstance(arg.value, (cst.List, cst.Tuple)):
            texts = [_element_text(e) for e in arg.value.elements]
            arg = arg.with_changes(value=_display(arg.value, change(texts)))
        args.append(arg)
    return call.with_changes(args=args)


def _display_fix(arg: cst.Arg) -> cst.Arg:
    """The list display of a new ``options=`` keyword, with commas between its elements."""
    value = arg.value
    if isinstance(value, cst.List):
        return arg.with_changes(value=_display(value, [_element_text(e) for e in value.elements]))
    return arg
