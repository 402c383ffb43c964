"""Fully qualified names of the SQLAlchemy and plugin objects the hooks look for.

SQLAlchemy 2.0 and 2.1 define these in the same modules; where they differ it is said.
"""

from __future__ import annotations

PLUGIN_KEY = "mypy_eagerload"  # TypeInfo.metadata key
TYPES_MODULE = "mypy_eagerload._types"
LOADER_PATH = f"{TYPES_MODULE}.LoaderPath"
LOADED_LIST = f"{TYPES_MODULE}.LoadedList"

# Declarative mapping
DECLARATIVE_BASES = frozenset({
    "sqlalchemy.orm.decl_api.DeclarativeBase",
    "sqlalchemy.orm.decl_api.DeclarativeBaseNoMeta",
})
DECLARED_ATTR = "sqlalchemy.orm.decl_api.declared_attr"
MAPPED = "sqlalchemy.orm.base.Mapped"
WRITE_ONLY_MAPPED = "sqlalchemy.orm.base.WriteOnlyMapped"
DYNAMIC_MAPPED = "sqlalchemy.orm.base.DynamicMapped"
RELATIONSHIP = "sqlalchemy.orm._orm_constructors.relationship"
MAPPED_COLUMN = "sqlalchemy.orm._orm_constructors.mapped_column"
FOREIGN_KEY = "sqlalchemy.sql.schema.ForeignKey"

# Statements
SELECT = "sqlalchemy.sql._selectable_constructors.select"
SELECT_CLASS = "sqlalchemy.sql.selectable.Select"
SELECT_OPTIONS = f"{SELECT_CLASS}.options"
TUPLE = "builtins.tuple"

# Loader options
STRATEGY_OPTIONS_MODULE = "sqlalchemy.orm.strategy_options"
ABSTRACT_LOAD = f"{STRATEGY_OPTIONS_MODULE}._AbstractLoad"
LOAD_CLASS = f"{STRATEGY_OPTIONS_MODULE}.Load"
ALIASED_CLASS = "sqlalchemy.orm.util.AliasedClass"

# Sessions: methods whose ``options=`` apply to the object they return.
SESSION_CLASSES = (
    "sqlalchemy.orm.session.Session",
    "sqlalchemy.orm.scoping.scoped_session",
    "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
)
SESSION_GET_METHODS = frozenset(
    f"{cls}.{meth}" for cls in SESSION_CLASSES for meth in ("get", "get_one"))
