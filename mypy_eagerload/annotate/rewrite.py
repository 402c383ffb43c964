"""Write inferred requirements into parameter annotations, keeping everything else as it is.

libcst keeps comments, spacing and quotes. Shapes edited (the model part is wrapped, the rest
kept): ``User``, ``models.User``, ``User | None``, ``Optional[User]``, ``list[User]``,
``Sequence[User]`` and the other containers the plugin reads, and an existing
``Loaded[User, ...]``, which is widened (its paths kept as written, new ones appended).
Anything else (a string annotation, a union of two models) is reported as skipped.
``from mypy_eagerload import Loaded`` is added where the module does not bind ``Loaded``.
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


def rewrite(source: str, edits: Sequence[Edit]) -> Rewritten:
    module = cst.parse_module(source)
    annotator = _Annotator(edits, _bound_name(module))
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
    def __init__(self, edits: Sequence[Edit], loaded: str) -> None:
        super().__init__()
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
        self.stack.pop()
        if not edits:
            return updated_node
        params = updated_node.params
        return updated_node.with_changes(params=params.with_changes(
            params=[self._param(p, edits) for p in params.params],
            posonly_params=[self._param(p, edits) for p in params.posonly_params],
            kwonly_params=[self._param(p, edits) for p in params.kwonly_params]))

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
