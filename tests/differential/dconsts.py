"""Constants that dmodels' mapping reads from another module (issue 20: a mapping argument
given through a ``Final`` name is read like the literal, also from a cached module)."""

from typing import Final

RAISE: Final = "raise"
SELECTIN: Final = "selectin"
