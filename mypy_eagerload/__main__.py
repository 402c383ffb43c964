"""``python -m mypy_eagerload annotate ...``."""

from mypy_eagerload.cli import main

raise SystemExit(main())
