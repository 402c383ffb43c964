"""mypy glue: each module handles one concern and stays thin over ``mypy_eagerload.core``."""
