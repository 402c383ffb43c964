"""mypy_eagerload: a mypy plugin that puts SQLAlchemy's relationship load state in the type.

Enable it with ``plugins = ["mypy_eagerload.plugin"]``. This module stays import-light:
mypy analyses it whenever the plugin adds ``mypy_eagerload._types`` to a build.
"""

from mypy_eagerload.loaded import Loaded as Loaded

__version__ = "0.5.0"
__all__ = ["Loaded"]
