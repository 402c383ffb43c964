"""Serializer contracts against runtime: pydantic validation of query results under AsyncSession."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests import serializer_flow
from tests.differential import harness
from tests.differential.scenarios import REVERSE, through_reverse

CASES = 200


@pytest.mark.slow
def test_serializer_checks_agree_with_runtime(tmp_path: Path) -> None:
    cases = serializer_flow.generate(CASES, seed=11) + serializer_flow.handwritten()
    module = serializer_flow.write(tmp_path, cases)
    assert harness.run_mypy(tmp_path, [module.name], plugin=False) == []
    errors = harness.run_mypy(tmp_path, [module.name], plugin=True)
    foreign = [e for e in errors if e[3] not in ("unloaded-relationship", "unloaded-column")]
    assert foreign == [], f"errors other than the plugin's own: {foreign[:5]}"
    flagged = {line for _, line, _, _ in errors}
    outcomes = serializer_flow.run(module, cases)
    tally: Counter[str] = Counter()
    wrong = []
    for case in cases:
        outcome = outcomes[case.key]
        reported = case.line in flagged
        if outcome == "no data":
            tally["no data"] += 1
        elif outcome == "fail" and reported:
            tally["fails, reported"] += 1
        elif outcome == "ok" and not reported:
            tally["passes, silent"] += 1
        elif outcome == "fail" and any(through_reverse(case.root, "obj." + ".".join(p))
                                       for p in case.rel_paths):
            tally["unknown: back through a reverse relationship"] += 1
        elif outcome == "ok" and reported and _round_trip(case.options):
            # The options come back to objects already loaded (comment.post.comments holds
            # the root comment), and SQLAlchemy fills them on the way; the plugin's state
            # follows paths, not identities. The differential suite counts these too.
            tally["identity overlap"] += 1
        else:
            wrong.append(f"case_{case.key} (line {case.line}): runtime {outcome}, reported={reported}")
    print(f"\nserializers: {dict(tally)}")
    assert wrong == [], "\n".join(wrong[:20])
    assert tally["fails, reported"] >= CASES // 5 and tally["passes, silent"] >= CASES // 10
    assert tally["no data"] <= CASES // 4
    assert tally["identity overlap"] <= CASES // 50


def _round_trip(options: str) -> bool:
    """A loader chain that follows a relationship and then its reverse."""
    for chain in options.split(", "):
        hops = re.findall(r"\((\w+)\.(\w+)\)", chain)
        if any(REVERSE.get(a) == b[1] for a, b in itertools.pairwise(hops)):
            return True
    return False


PYDANTIC_PROJECT = '''\
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from dmodels import User


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    posts: list[PostOut]


class NoOrm(BaseModel):
    posts: list[PostOut]


async def f(session: AsyncSession) -> None:
    user = (await session.execute(select(User))).scalar_one()
    UserOut.model_validate(user)
    UserOut.from_orm(user)
    NoOrm.from_orm(user)
    UserOut()
'''


@pytest.mark.parametrize("order", ["eagerload first", "pydantic first"])
def test_pydantic_plugin_keeps_working_in_either_order(tmp_path: Path, order: str) -> None:
    """Both plugins' checks, in both orders of ``plugins = [...]``; the one documented loss:
    with pydantic.mypy listed first, its from_orm hook is the one mypy uses."""
    harness.write_models(tmp_path)
    (tmp_path / "app.py").write_text(PYDANTIC_PROJECT)
    plugins = ["mypy_eagerload.plugin", "pydantic.mypy"]
    if order == "pydantic first":
        plugins.reverse()
    (tmp_path / "both.ini").write_text(f"[mypy]\nplugins = {', '.join(plugins)}\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "both.ini", "--no-incremental",
                           "--show-error-codes", "app.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "MYPYPATH": str(tmp_path)}, check=False)
    error = re.compile(r"^app\.py:(\d+): error: .*\[([a-z-]+)\]$", re.M)
    found = {(int(m[1]), m[2]) for m in error.finditer(proc.stdout)}
    ours = {(23, "unloaded-relationship")}  # model_validate
    if order == "eagerload first":
        ours.add((24, "unloaded-relationship"))  # from_orm: this plugin's hook, chaining pydantic's
    pydantic = {(25, "pydantic-orm"), (26, "call-arg")}  # from_orm without from_attributes; __init__
    assert found == ours | pydantic, proc.stdout
