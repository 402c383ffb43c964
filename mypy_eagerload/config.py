"""The plugin's settings: ``[tool.mypy_eagerload]`` in pyproject.toml, ``[mypy_eagerload]`` in
mypy.ini / setup.cfg / .mypy.ini (read from the config file mypy itself uses).

Every setting that changes output is in ``as_report()``, which the plugin returns from
``report_config_data``: changing one invalidates mypy's cache.
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass, field

# Where lazy loads are allowed (they emit SQL and succeed):
ALLOW_LAZY = ("sync", "always", "never")
# "sync": in sync sessions (the default; async sessions fail, MissingGreenlet);
# "always": everywhere (a sync-only code base: strict mode reports only raise strategies);
# "never": nowhere (also report the N+1 queries of sync sessions).

CHECKS = ("unloaded-relationship", "unloaded-column", "missing-unique", "loader-conflict")

SECTION_TOML = "tool.mypy_eagerload"
SECTION_INI = "mypy_eagerload"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    strict: bool = False
    allow_lazy_loads: str = "sync"
    disabled_checks: frozenset[str] = field(default_factory=frozenset)

    def enabled(self, check: str) -> bool:
        return check not in self.disabled_checks

    def as_report(self) -> dict[str, object]:
        return {"strict": self.strict, "allow_lazy_loads": self.allow_lazy_loads,
                "disabled_checks": sorted(self.disabled_checks)}


def load(config_file: str | None) -> Settings:
    """The settings in ``config_file`` (mypy's); defaults when it has none."""
    if not config_file or not os.path.exists(config_file):
        return Settings()
    if config_file.endswith(".toml"):
        raw = _read_toml(config_file)
        where = f"{config_file} [{SECTION_TOML}]"
    else:
        raw = _read_ini(config_file)
        where = f"{config_file} [{SECTION_INI}]"
    return parse(raw, where) if raw is not None else Settings()


def _read_toml(path: str) -> dict[str, object] | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # mypy depends on tomli for Python < 3.11
        import tomli as tomllib
    with open(path, "rb") as f:
        data = tomllib.load(f)
    section = data.get("tool", {}).get("mypy_eagerload")
    return section if isinstance(section, dict) else None


def _read_ini(path: str) -> dict[str, object] | None:
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section(SECTION_INI):
        return None
    return dict(parser.items(SECTION_INI))


def parse(raw: dict[str, object], where: str) -> Settings:
    known = {"strict", "allow_lazy_loads", "disabled_checks"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    strict = _bool(raw.get("strict", False), f"{where}: strict")
    allow = raw.get("allow_lazy_loads", "sync")
    if not isinstance(allow, str) or allow.strip() not in ALLOW_LAZY:
        raise ConfigError(f"{where}: allow_lazy_loads must be one of {', '.join(ALLOW_LAZY)}, "
                          f"not {allow!r}")
    checks = _list(raw.get("disabled_checks", []), f"{where}: disabled_checks")
    bad = [c for c in checks if c not in CHECKS]
    if bad:
        raise ConfigError(f"{where}: disabled_checks: unknown check {bad[0]!r} "
                          f"(known: {', '.join(CHECKS)})")
    return Settings(strict, allow.strip(), frozenset(checks))


def _bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{what} must be true or false, not {value!r}")


def _list(value: object, what: str) -> list[str]:
    if isinstance(value, str):  # ini: comma-separated
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise ConfigError(f"{what} must be a list of check names, not {value!r}")
