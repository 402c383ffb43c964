"""Write inferred requirements into parameter annotations, keeping everything else as it is.

libcst keeps comments, spacing and quotes. Shapes edited (the model part is wrapped, the rest
kept): ``User``, ``models.User``, ``User | None``, ``Optional[User]``, ``list[User]``,
``Sequence[User]`` and the other containers the plugin reads, and an existing
``Loaded[User, ...]``, which is widened (its paths kept as written, new ones appended).
Anything else (a string annotation, a union of two models) is reported as skipped.
``from mypy_eagerload import Loaded`` is added where the module does not bind ``Loaded``.
A signature that grows past the project's line length is split one parameter per line, with
a trailing comma, as black and ruff format it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

PACKAGE = "mypy_eagerload"
LOADED = "Loaded"
# Written names of the containers whose element is the model (the plugin's CONTAINERS).
_CONTAINER_NAMES = frozenset({"list", "List", "set", "Set", "frozenset", "FrozenSet", "tuple", "Tuple",
                              "Sequence", "MutableSequence", "Collection", "Iterable", "Iterator",
                              "AbstractSet", "Optional"})


@dataclass(frozen=True)
class Edit:
    qualname: str  # "render_user" or "Service.render"
    param: str
    paths: tuple[str, ...]  # every required path, maximal ones (a path implies its prefixes)


@dataclass
class Rewritten:
    source: str
    applied: list[tuple[Edit, tuple[str, ...]]] = field(default_factory=list)  # edit, paths added
    skipped: list[tuple[Edit, str]] = field(default_factory=list)  # edit, why


DEFAULT_LINE_LENGTH = 88  # black's and ruff's default


def rewrite(source: str, edits: Sequence[Edit], line_length: int = DEFAULT_LINE_LENGTH) -> Rewritten:
    module = cst.parse_module(source)
    annotator = _Annotator(edits, _bound_name(module), module, line_length)
    module = module.visit(annotator)
    out = Rewritten(module.code, annotator.applied, annotator.skipped)
    if annotator.wrapped and annotator.loaded == LOADED and not _binds(module, LOADED):
        context = CodemodContext()
        AddImportsVisitor.add_needed_import(context, PACKAGE, LOADED)
        out.source = AddImportsVisitor(context).transform_module(module).code
    return out


def _bound_name(module: cst.Module) -> str:
    """The name this module imports ``Loaded`` as (``from mypy_eagerload import Loaded as L``)."""
    for imp in _from_imports(module):
        if isinstance(imp.names, Sequence):
            for alias in imp.names:
                if isinstance(alias.name, cst.Name) and alias.name.value == LOADED:
                    asname = alias.asname
                    if asname is not None and isinstance(asname.name, cst.Name):
                        return asname.name.value
                    return LOADED
    return LOADED


def _binds(module: cst.Module, name: str) -> bool:
    return any(isinstance(imp.names, Sequence) and any(
        (a.asname.name.value if a.asname is not None and isinstance(a.asname.name, cst.Name)
         else a.name.value if isinstance(a.name, cst.Name) else "") == name for a in imp.names)
        for imp in _from_imports(module))


def _from_imports(module: cst.Module) -> list[cst.ImportFrom]:
    found: list[cst.ImportFrom] = []
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            found.extend(s for s in stmt.body if isinstance(s, cst.ImportFrom)
                         and _dotted(s.module) == PACKAGE)
    return found


def _dotted(expr: cst.BaseExpression | None) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr.value}"
    return ""


class _Annotator(cst.CSTTransformer):
    def __init__(self, edits: Sequence[Edit], loaded: str, module: cst.Module, line_length: int) -> None:
        super().__init__()
        self.module = module
        self.line_length = line_length
        self.depth = 0  # indentation levels of the function being left
        self.edits: dict[str, dict[str, Edit]] = {}
        for edit in edits:
            self.edits.setdefault(edit.qualname, {})[edit.param] = edit
        self.loaded = loaded
        self.stack: list[str] = []
        self.applied: list[tuple[Edit, tuple[str, ...]]] = []
        self.skipped: list[tuple[Edit, str]] = []
        self.wrapped = False  # a new Loaded[...] was written (the import may be needed)
        self.added: tuple[str, ...] = ()  # what the parameter being edited gains

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.stack.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        edits = self.edits.get(".".join(self.stack), {})
        indent = len(self.stack) - 1  # classes and functions around it (block indentation)
        self.stack.pop()
        if not edits:
            return updated_node
        params = updated_node.params
        applied = len(self.applied)
        new = updated_node.with_changes(params=params.with_changes(
            params=[self._param(p, edits) for p in params.params],
            posonly_params=[self._param(p, edits) for p in params.posonly_params],
            kwonly_params=[self._param(p, edits) for p in params.kwonly_params]))
        if len(self.applied) > applied and self._too_long(new, indent):
            return _one_parameter_per_line(new, self.module.default_indent)
        return new

    def _too_long(self, func: cst.FunctionDef, indent: int) -> bool:
        """A line of the signature (``def`` to ``:``) is longer than the project allows."""
        header = self.module.code_for_node(func.with_changes(
            body=cst.SimpleStatementSuite([cst.Expr(cst.Ellipsis())]), decorators=[],
            leading_lines=[]))
        width = len(self.module.default_indent.expandtabs()) * indent
        return any(width + len(line) > self.line_length for line in header.splitlines())

    def _param(self, param: cst.Param, edits: dict[str, Edit]) -> cst.Param:
        edit = edits.get(param.name.value)
        if edit is None or param.annotation is None:
            return param
        self.added = ()
        new = self._annotate(param.annotation.annotation, edit.paths)
        if new is None:
            self.skipped.append((edit, "annotation shape not handled (written as a string, or a union)"))
            return param
        if self.added:
            self.applied.append((edit, self.added))
        return param.with_changes(annotation=param.annotation.with_changes(annotation=new))

    def _annotate(self, expr: cst.BaseExpression, paths: tuple[str, ...]) -> cst.BaseExpression | None:
        if isinstance(expr, cst.Subscript) and _last_name(expr.value) == self.loaded:
            return self._widen(expr, paths)
        if isinstance(expr, cst.Subscript) and _last_name(expr.value) in _CONTAINER_NAMES and expr.slice:
            first = expr.slice[0]
            if not isinstance(first.slice, cst.Index):
                return None
            inner = self._annotate(first.slice.value, paths)
            if inner is None:
                return None
            element = first.with_changes(slice=first.slice.with_changes(value=inner))
            return expr.with_changes(slice=[element, *expr.slice[1:]])
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
            if _is_none(expr.right):
                left = self._annotate(expr.left, paths)
                return None if left is None else expr.with_changes(left=left)
            if _is_none(expr.left):
                right = self._annotate(expr.right, paths)
                return None if right is None else expr.with_changes(right=right)
            return None
        if isinstance(expr, (cst.Name, cst.Attribute)):
            self.added = paths
            self.wrapped = True
            elements = [cst.SubscriptElement(cst.Index(expr)), *(_string(p) for p in paths)]
            return cst.Subscript(value=cst.Name(self.loaded), slice=elements)
        return None

    def _widen(self, expr: cst.Subscript, paths: tuple[str, ...]) -> cst.BaseExpression:
        existing = [e.slice.value.evaluated_value for e in expr.slice[1:]
                    if isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.SimpleString)]
        have = {p for p in existing if isinstance(p, str)}
        new = tuple(p for p in paths if not any(h == p or h.startswith(p + ".") for h in have))
        if not new:
            return expr
        self.added = new
        return expr.with_changes(slice=[*expr.slice, *(_string(p) for p in new)])


def _one_parameter_per_line(func: cst.FunctionDef, indent: str) -> cst.FunctionDef:
    """``def f(\n    a: A,\n    b: B,\n) -> R:``: black's and ruff's shape for a signature that
    does not fit (the trailing comma keeps them from joining it again)."""
    params = func.params
    slash = [params.posonly_ind] if isinstance(params.posonly_ind, cst.ParamSlash) else []
    star = [params.star_arg] if isinstance(params.star_arg, (cst.Param, cst.ParamStar)) else []
    kwargs = [params.star_kwarg] if params.star_kwarg is not None else []
    elements: list[cst.Param | cst.ParamSlash | cst.ParamStar] = [
        *params.posonly_params, *slash, *params.params, *star, *params.kwonly_params, *kwargs]
    if not elements:
        return func

    def newline(last: str) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), empty_lines=[],
                                           indent=True, last_line=cst.SimpleWhitespace(last))

    changed: dict[int, cst.CSTNode] = {}
    for i, element in enumerate(elements):
        last = i == len(elements) - 1
        comma = cst.Comma(whitespace_before=cst.SimpleWhitespace(""),
                          whitespace_after=newline("" if last else indent))
        changed[id(element)] = element.with_changes(comma=comma)

    def pick(node: object) -> object:
        return changed.get(id(node), node)

    new_params = params.with_changes(
        posonly_params=[pick(p) for p in params.posonly_params],
        posonly_ind=pick(params.posonly_ind),
        params=[pick(p) for p in params.params],
        star_arg=pick(params.star_arg),
        kwonly_params=[pick(p) for p in params.kwonly_params],
        star_kwarg=pick(params.star_kwarg))
    return func.with_changes(params=new_params, whitespace_before_params=newline(indent))


def _string(path: str) -> cst.SubscriptElement:
    return cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{path}"')))


def _last_name(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return ""


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
