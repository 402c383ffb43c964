"""mypy_eagerload: a mypy plugin that puts SQLAlchemy's relationship load state in the type.

Enable it with ``plugins = ["mypy_eagerload.plugin"]``. This module stays import-light:
``from mypy_eagerload import Loaded`` runs in production code.
"""

from mypy_eagerload.loaded import Loaded as Loaded
from mypy_eagerload.reveal import reveal_loads as reveal_loads

__version__ = "0.7.0"
__all__ = ["Loaded", "reveal_loads"]
