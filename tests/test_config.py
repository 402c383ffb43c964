"""The plugin's settings: parsing, error messages, and their part in mypy's cache key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mypy_eagerload import config

MODULE = """\
from __future__ import annotations
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    bio: Mapped[str] = mapped_column(deferred=True)
    posts: Mapped[list[Post]] = relationship()

class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

def plain(user: User) -> None:
    user.posts

async def query(session: AsyncSession) -> None:
    user = (await session.execute(select(User))).scalar_one()
    user.posts
    user.bio
"""

# A sync read: silent unless allow_lazy_loads = "never" (an N+1 query, not a failure).
SYNC_MODULE = """\
from sqlalchemy import select
from sqlalchemy.orm import Session
from mod import User

def read(session: Session) -> None:
    user = session.execute(select(User)).scalar_one()
    user.posts
"""


def _mypy(tmp: Path, config_name: str, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp / "mod.py").write_text(MODULE)
    (tmp / config_name).write_text(text)
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", config_name,
                           "--cache-dir", ".cache", "--no-error-summary", *extra, "mod.py"],
                          cwd=tmp, capture_output=True, text=True, check=False)


def test_expire_on_commit_reads_booleans_and_words() -> None:
    assert config.parse({"expire_on_commit": True}, "x").expire_on_commit == "true"
    assert config.parse({"expire_on_commit": "False"}, "x").expire_on_commit == "false"
    assert config.parse({}, "x").expire_on_commit == "auto"


def test_parse_accepts_both_spellings() -> None:
    toml = config.parse({"strict": True, "allow_lazy_loads": "never",
                         "disabled_checks": ["missing-unique"]}, "x")
    ini = config.parse({"strict": "true", "allow_lazy_loads": "never",
                        "disabled_checks": "missing-unique"}, "x")
    assert toml == ini == config.Settings(True, "never", frozenset({"missing-unique"}))


@pytest.mark.parametrize(("raw", "message"), [
    ({"stirct": True}, "unknown setting 'stirct'"),
    ({"strict": "maybe"}, "strict must be true or false, not 'maybe'"),
    ({"allow_lazy_loads": "sometimes"}, "allow_lazy_loads must be one of sync, always, never"),
    ({"disabled_checks": ["unloaded"]}, "unknown check 'unloaded'"),
    ({"disabled_checks": 3}, "disabled_checks must be a list of check names"),
    ({"expire_on_commit": "sometimes"}, "expire_on_commit must be one of auto, true, false"),
])
def test_parse_rejects_with_a_message(raw: dict[str, object], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.parse(raw, "pyproject.toml [tool.mypy_eagerload]")


def test_a_bad_setting_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "pyproject.toml", '[tool.mypy]\nplugins = ["mypy_eagerload.plugin"]\n'
                 '[tool.mypy_eagerload]\nstrict = "yes please"\n')
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error: mypy_eagerload: pyproject.toml [tool.mypy_eagerload]: strict must be true or false" \
        in proc.stderr


def test_settings_change_output_and_invalidate_the_cache(tmp_path: Path) -> None:
    """One cache directory throughout: each settings change must show in the next run."""
    head = "[mypy]\nplugins = mypy_eagerload.plugin\n"
    default = _mypy(tmp_path, "mypy.ini", head).stdout
    assert "mod.py:21:" not in default and "mod.py:25:" in default and "mod.py:26:" in default
    strict = _mypy(tmp_path, "mypy.ini", head + "[mypy_eagerload]\nstrict = true\n").stdout
    assert "mod.py:21: error:" in strict  # the plain parameter
    quiet = _mypy(tmp_path, "mypy.ini", head + "[mypy_eagerload]\n"
                  "disabled_checks = unloaded-relationship, unloaded-column\n").stdout
    assert quiet == ""
    again = _mypy(tmp_path, "mypy.ini", head).stdout
    assert again == default


def test_report_config_data_carries_every_setting() -> None:
    from mypy.options import Options
    from mypy.plugin import ReportConfigContext

    from mypy_eagerload import __version__
    from mypy_eagerload.plugin import EagerLoadPlugin

    plugin = EagerLoadPlugin(Options())
    data = plugin.report_config_data(ReportConfigContext("app", "app.py", is_check=True))
    assert data == {"mypy_eagerload": __version__, "strict": False, "allow_lazy_loads": "sync",
                    "disabled_checks": [], "expire_on_commit": "auto"}


def test_a_warm_run_imports_no_hook_module(tmp_path: Path) -> None:
    """A warm run that re-checks nothing calls no hook; the plugin then costs little more
    than its entry module (the hook modules' import was most of its warm-run cost). The
    error codes are imported up front: mypy checks ``disable_error_code`` against them."""
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    (tmp_path / "mod.py").write_text(MODULE)
    script = ("import sys\nfrom mypy import api\n"
              "out = api.run(['--config-file', 'mypy.ini', '--cache-dir', '.cache', 'mod.py'])[0]\n"
              "print(sorted(m for m in sys.modules if m.startswith(('mypy_eagerload.hooks.',\n"
              "      'mypy_eagerload.core.')) and m != 'mypy_eagerload.hooks.errorcodes'))\n"
              "print(out)\n")

    def run() -> tuple[str, str]:
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                              text=True, check=True)
        modules, _, output = proc.stdout.partition("\n")
        return modules, output

    cold_modules, cold = run()
    warm_modules, warm = run()
    assert "mypy_eagerload.hooks.access" in cold_modules and "mypy_eagerload.core.loadstate" in cold_modules
    assert warm_modules == "[]"  # the error codes only (mypy checks configured codes)
    assert warm == cold and '"User.posts" is not loaded' in warm


HEAD_INI = "[mypy]\nplugins = mypy_eagerload.plugin\n"
HEAD_TOML = '[tool.mypy]\nplugins = ["mypy_eagerload.plugin"]\n'


@pytest.mark.parametrize(("files", "config_name", "warning"), [
    ({"pyproject.toml": HEAD_TOML + "[tool.mypy-eagerload]\nstrict = true\n"}, "pyproject.toml",
     "pyproject.toml: [tool.mypy-eagerload] is not read; the plugin's section is [tool.mypy_eagerload]"),
    ({"mypy.ini": HEAD_INI + "[mypy-eagerload]\nstrict = true\n"}, "mypy.ini",
     "mypy.ini: [mypy-eagerload] is not read; the plugin's section is [mypy_eagerload]"),
    ({"mypy.ini": HEAD_INI + "[tool.mypy_eagerload]\nstrict = true\n"}, "mypy.ini",
     "mypy.ini: [tool.mypy_eagerload] is not read; the plugin's section is [mypy_eagerload]"),
    ({"mypy.ini": HEAD_INI, "pyproject.toml": "[tool.mypy_eagerload]\nstrict = true\n"}, "mypy.ini",
     "pyproject.toml: [tool.mypy_eagerload] is not read (mypy reads mypy.ini); move these settings "
     "to [mypy_eagerload] in mypy.ini"),
    ({"pyproject.toml": HEAD_TOML, "setup.cfg": "[mypy_eagerload]\nstrict = true\n"}, "pyproject.toml",
     "setup.cfg: [mypy_eagerload] is not read (mypy reads pyproject.toml); move these settings "
     "to [tool.mypy_eagerload] in pyproject.toml"),
])
def test_misplaced_settings_are_a_one_line_warning(tmp_path: Path, files: dict[str, str],
                                                     config_name: str, warning: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = _mypy(tmp_path, config_name, files[config_name])
    lines = [line for line in proc.stderr.splitlines() if "mypy_eagerload" in line]
    assert lines == [f"warning: mypy_eagerload: {warning}"]
    # Not read, so the strict-only report on the plain parameter (line 21) is absent.
    assert "mod.py:21:" not in proc.stdout and "mod.py:25:" in proc.stdout


def test_settings_where_the_plugin_reads_them_give_no_warning(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[flake8]\nmax-line-length = 100\n")
    proc = _mypy(tmp_path, "pyproject.toml", HEAD_TOML + "[tool.mypy_eagerload]\nstrict = true\n")
    assert proc.stderr == ""
    assert "mod.py:21: error:" in proc.stdout


def test_the_package_as_plugin_path_names_the_right_one(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "mypy.ini", "[mypy]\nplugins = mypy_eagerload\n")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert 'the plugin\'s entry point is "mypy_eagerload.plugin"' in proc.stderr
