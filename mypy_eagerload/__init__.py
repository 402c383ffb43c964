"""mypy_eagerload: a mypy plugin that puts SQLAlchemy's relationship load state in the type.

Enable it with ``plugins = ["mypy_eagerload.plugin"]``. This module stays import-light:
``from mypy_eagerload import Loaded`` runs in production code.
"""

from mypy_eagerload.loaded import Loaded as Loaded
from mypy_eagerload.reveal import reveal_loads as reveal_loads

__version__ = "0.12.0"
__all__ = ["Loaded", "reveal_loads"]


def __getattr__(name: str) -> object:
    # `plugins = ["mypy_eagerload"]` makes mypy look for an entry point `plugin` here and
    # report "does not define entry point function": say which path is right instead. (Once
    # the real `mypy_eagerload.plugin` module is imported, the attribute is that module.)
    if name == "plugin":
        return _misnamed_entry_point
    raise AttributeError(f"module 'mypy_eagerload' has no attribute {name!r}")


def _misnamed_entry_point(version: str) -> object:
    import sys

    print('error: mypy_eagerload: the plugin\'s entry point is "mypy_eagerload.plugin": '
          'plugins = ["mypy_eagerload.plugin"] in pyproject.toml, '
          "plugins = mypy_eagerload.plugin in mypy.ini", file=sys.stderr)
    raise SystemExit(2)
