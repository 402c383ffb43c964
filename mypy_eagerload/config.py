"""The plugin's settings: ``[tool.mypy_eagerload]`` in pyproject.toml, ``[mypy_eagerload]`` in
mypy.ini / setup.cfg / .mypy.ini (read from the config file mypy itself uses).

Every setting that changes output is in ``as_report()``, which the plugin returns from
``report_config_data``: changing one invalidates mypy's cache.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field

# Where lazy loads are allowed (they emit SQL and succeed):
ALLOW_LAZY = ("sync", "always", "never")
# "sync": in sync sessions (the default; async sessions fail, MissingGreenlet);
# "always": everywhere (a sync-only code base: strict mode reports only raise strategies);
# "never": nowhere (also report the N+1 queries of sync sessions).

CHECKS = ("unloaded-relationship", "unloaded-column", "missing-unique", "loader-conflict",
          "expired-attribute")
# What a commit does to a session's objects when the code does not show how the session was
# made: "auto" (not known: commits are not followed), "true" (SQLAlchemy's default), "false".
EXPIRE_ON_COMMIT = ("auto", "true", "false")

SECTION_TOML = "tool.mypy_eagerload"
SECTION_INI = "mypy_eagerload"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    strict: bool = False
    allow_lazy_loads: str = "sync"
    disabled_checks: frozenset[str] = field(default_factory=frozenset)
    expire_on_commit: str = "auto"

    def enabled(self, check: str) -> bool:
        return check not in self.disabled_checks

    def as_report(self) -> dict[str, object]:
        return {"strict": self.strict, "allow_lazy_loads": self.allow_lazy_loads,
                "disabled_checks": sorted(self.disabled_checks), "expire_on_commit": self.expire_on_commit}


def key(settings: Settings) -> str:
    """A short digest of the settings (dmypy compares it between runs: see ``plugin``)."""
    text = json.dumps(settings.as_report(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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
    section = _toml_tables(path).get("mypy_eagerload")
    return section if isinstance(section, dict) else None


def _toml_tables(path: str) -> dict[str, object]:
    """The ``[tool.*]`` tables of a TOML file; none when it does not parse (mypy says why)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # mypy depends on tomli for Python < 3.11
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    tool = data.get("tool")
    return tool if isinstance(tool, dict) else {}


def _read_ini(path: str) -> dict[str, object] | None:
    parser = _ini(path)
    if parser is None or not parser.has_section(SECTION_INI):
        return None
    return dict(parser.items(SECTION_INI))


def _ini(path: str) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return None
    return parser


# -- settings the plugin does not read -------------------------------------------------------
# The files mypy looks for, in its order (mypy.defaults.CONFIG_NAMES plus the user files it
# falls back to are not the project's): only the first that has a mypy section is read.
PROJECT_FILES = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")


def _meant_for_us(name: str) -> bool:
    """``mypy-eagerload``, ``tool.mypy_eagerload`` in an ini file, ``mypy_eagerload.plugin``,
    ``eagerload``: a section name that can only mean this plugin's settings."""
    normal = re.sub(r"[^a-z]", "", name.lower())
    return normal.removeprefix("tool").removeprefix("mypy").removesuffix("plugin") == "eagerload"


def misplaced(config_file: str | None) -> list[str]:
    """One-line warnings for settings the plugin does not read: a misspelled section in the
    file mypy reads, or the plugin's section in a project file mypy does not read."""
    if not config_file or not os.path.exists(config_file):
        return []
    warnings = [f"{config_file}: [{found}] is not read; the plugin's section is [{right}]"
                for found, right in _sections(config_file) if found != right]
    folder = os.path.dirname(os.path.abspath(config_file))
    right = f"[{SECTION_TOML if config_file.endswith('.toml') else SECTION_INI}] in {config_file}"
    for name in PROJECT_FILES:
        other = os.path.join(folder, name)
        if os.path.exists(other) and not os.path.samefile(other, config_file):
            warnings += [f"{name}: [{found}] is not read (mypy reads {config_file}); move these "
                         f"settings to {right}" for found, _ in _sections(other)]
    return warnings


def _sections(path: str) -> list[tuple[str, str]]:
    """(section found, the spelling the plugin reads there) for each section of ``path``
    meant for the plugin."""
    if path.endswith(".toml"):
        return [(f"tool.{name}", SECTION_TOML) for name in _toml_tables(path) if _meant_for_us(name)]
    parser = _ini(path)
    return [] if parser is None else [(name, SECTION_INI) for name in parser.sections()
                                      if _meant_for_us(name)]


def parse(raw: dict[str, object], where: str) -> Settings:
    known = {"strict", "allow_lazy_loads", "disabled_checks", "expire_on_commit"}
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
    expire = raw.get("expire_on_commit", "auto")
    if isinstance(expire, bool):
        expire = "true" if expire else "false"
    if not isinstance(expire, str) or expire.strip().lower() not in EXPIRE_ON_COMMIT:
        raise ConfigError(f"{where}: expire_on_commit must be one of {', '.join(EXPIRE_ON_COMMIT)}, "
                          f"not {expire!r}")
    return Settings(strict, allow.strip(), frozenset(checks), expire.strip().lower())


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
