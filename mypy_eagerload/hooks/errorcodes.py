from __future__ import annotations

from mypy.errorcodes import ErrorCode

UNLOADED_RELATIONSHIP = ErrorCode(
    "unloaded-relationship",
    "Reading a relationship that the query producing the object did not load",
    "mypy_eagerload",
)

UNLOADED_COLUMN = ErrorCode(
    "unloaded-column",
    "Reading a column that the query producing the object deferred",
    "mypy_eagerload",
)

LOADER_CONFLICT = ErrorCode(
    "loader-conflict",
    "Two loader strategies for one path in one statement (SQLAlchemy raises at execution)",
    "mypy_eagerload",
)

MISSING_UNIQUE = ErrorCode(
    "missing-unique",
    "Fetching rows of a statement that joined-eager-loads a collection without Result.unique()",
    "mypy_eagerload",
)

EXPIRED_ATTRIBUTE = ErrorCode(
    "expired-attribute",
    "Reading an attribute that a session operation (commit, rollback, expire) expired since the query",
    "mypy_eagerload",
)

LOADED_PATH = ErrorCode(
    "loaded-path",
    "A Loaded[...] annotation names a path that is not a relationship of the model",
    "mypy_eagerload",
)

# Off unless enabled (enable_error_code = unverified-serializer): a schema the plugin cannot
# read, or a route whose return type says nothing, is not an error in the code.
UNVERIFIED_SERIALIZER = ErrorCode(
    "unverified-serializer",
    "What a serializer reads cannot be checked (dynamic aliases, validators, routes returning Any)",
    "mypy_eagerload",
    default_enabled=False,
)
