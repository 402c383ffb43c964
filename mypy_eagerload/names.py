"""Fully qualified names of the SQLAlchemy and plugin objects the hooks look for.

SQLAlchemy 2.0 and 2.1 define these in the same modules; where they differ it is said.
"""

from __future__ import annotations

PLUGIN_KEY = "mypy_eagerload"  # TypeInfo.metadata key
MAPPING_DIGEST = "__eagerload_mapping__"  # generated class attribute (see hooks.models)
MODULE_FUNCTIONS = "__eagerload_functions__"  # generated module attribute (see hooks.layers)
FACTORY_PREFIX = "__eagerload_factory__"  # + a session factory's name (hooks.session_effects)
REVEAL_LOADS = "mypy_eagerload.reveal.reveal_loads"
# The public Loaded[...] is an alias of Annotated for type checkers (see loaded.py).
ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})

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

# Statement methods that add no loader option: a chain of them leads back to select().
STATEMENT_REFINERS = frozenset({"where", "filter", "filter_by", "join", "outerjoin", "join_from",
                                "order_by", "group_by", "having", "limit", "offset", "distinct",
                                "execution_options", "params", "select_from", "with_for_update"})

# Loader options
STRATEGY_OPTIONS_MODULE = "sqlalchemy.orm.strategy_options"
ABSTRACT_LOAD = f"{STRATEGY_OPTIONS_MODULE}._AbstractLoad"
LOAD_CLASS = f"{STRATEGY_OPTIONS_MODULE}.Load"
# The loader option functions (and ``Load``/option methods) the plugin reads; their
# strategies are in ``core.options.OPTION_STRATEGIES``.
LOADER_OPTION_FUNCTIONS = (
    "selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager", "lazyload",
    "raiseload", "noload", "defaultload", "load_only", "defer", "undefer", "undefer_group",
    "with_expression",
)
# Their fully qualified names -> the function's name.
OPTION_FUNCTIONS = {f"{STRATEGY_OPTIONS_MODULE}.{fn}": fn for fn in LOADER_OPTION_FUNCTIONS}
ALIASED_CLASS = "sqlalchemy.orm.util.AliasedClass"

# Sessions. Sync sessions load lazily without failing, so their results get a wider view.
SYNC_SESSION = "sqlalchemy.orm.session.Session"
SYNC_SESSION_CLASSES = (SYNC_SESSION, "sqlalchemy.orm.scoping.scoped_session")
ASYNC_SESSION_CLASSES = (
    "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
)
# The session classes a session is made with directly, and the factories (their
# ``expire_on_commit=`` decides what a commit does to the session's objects).
SESSION_CLASSES = frozenset({SYNC_SESSION, "sqlalchemy.ext.asyncio.session.AsyncSession"})
SESSION_FACTORIES = frozenset({"sqlalchemy.orm.session.sessionmaker",
                               "sqlalchemy.ext.asyncio.session.async_sessionmaker"})
# Methods whose ``options=`` apply to the object they return.
SESSION_GET = frozenset({"get", "get_one"})
# FastAPI's ``Depends(f)``: the parameter receives what ``f`` returns.
DEPENDS = frozenset({"fastapi.param_functions.Depends", "fastapi.Depends"})
# Methods that return ORM results (sync sessions only need these for the wider view).
SESSION_RESULT = frozenset({"execute", "scalars", "scalar", "query", *SESSION_GET})

# Results: fetching methods that raise when rows of a joined collection are not uniqued
# (measured; first() and scalar() do not raise).
RESULT_BASE = "sqlalchemy.engine.result.ResultInternal"
FETCH_METHODS = frozenset({"all", "fetchall", "fetchone", "fetchmany", "one", "one_or_none",
                           "scalar_one", "scalar_one_or_none", "partitions", "__iter__",
                           "__aiter__"})

# ``obj.awaitable_attrs.<name>``: attributes resolved through this class's __getattr__.

# ``row.User``: Row attributes resolved through __getattr__ (2.1: the Cython BaseRow; 2.0:
# the pure-Python one).

# The legacy Query API (sync sessions only): session.query(User).options(...).all()
QUERY_CLASS = "sqlalchemy.orm.query.Query"
QUERY_FETCH = frozenset({"all", "first", "one", "one_or_none", "get", "__iter__"})

# pydantic schemas that read ORM objects (hooks.serializers) and FastAPI routes (hooks.routes)
SCHEMA_KEY = "mypy_eagerload_schema"  # TypeInfo.metadata key of a pydantic schema's record
PYDANTIC_BASE_MODEL = "pydantic.main.BaseModel"
SCHEMA_VALIDATORS = frozenset({"model_validate", "from_orm"})  # class methods on a schema
TYPE_ADAPTER_VALIDATE = "pydantic.type_adapter.TypeAdapter.validate_python"
ROUTE_CLASSES = ("fastapi.applications.FastAPI", "fastapi.routing.APIRouter")
ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "options", "head", "trace",
                           "api_route", "add_api_route"})
