"""No input makes mypy crash with the plugin: generated programs and the crash corpus.

CI checks 2,000 generated programs (four batches, each cold and then warm with half the
files touched); ``python -m tests.fuzz.runner --count 20000`` runs a long campaign.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import runner

BATCHES = 4
PER_BATCH = 500


@pytest.mark.fuzz
@pytest.mark.parametrize("batch", range(BATCHES))
def test_generated_programs_never_crash_mypy(batch: int) -> None:
    outcome = runner.run(seed=20261126 + batch, count=PER_BATCH, keep=False)
    assert outcome.programs == PER_BATCH
    assert outcome.crashes == [], outcome.crashes[0][-4000:]


def test_crash_corpus_stays_fixed(tmp_path: Path) -> None:
    files = sorted(runner.CORPUS.glob("*.py"))
    assert files, "the corpus holds at least the hand-written seed shapes"
    for path in files:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    crashes, mypy_own = runner.check_dir(tmp_path, [p.name for p in files])
    assert crashes == [], crashes[0][-4000:]
    # The kept mypy crash must be recognised as mypy's own, cold and warm (on mypy versions
    # where it crashes at all), or the runner could not tell the two apart.
    own = runner.run_mypy(tmp_path, ["mypy_own_crash_dataclass_transform.py"], "--no-incremental",
                          plugin=False)
    assert mypy_own == (2 if runner.CRASH.search(own) else 0)


def test_the_fuzzer_reaches_the_plugin(tmp_path: Path) -> None:
    """A fuzzer that only produced broken programs would test nothing: many programs must
    get as far as the plugin's own checks."""
    files = runner.write_batch(tmp_path, seed=5, count=100)
    output = runner.run_mypy(tmp_path, files)
    assert output.count("[unloaded-relationship]") + output.count("[unloaded-column]") >= 5


@pytest.mark.fuzz
def test_annotate_never_crashes_on_generated_programs(tmp_path: Path) -> None:
    """``annotate`` over generated programs (half-typed code included), then mypy over what
    it wrote: neither may crash."""
    files = runner.write_batch(tmp_path, seed=4242, count=150)
    proc = subprocess.run([sys.executable, "-m", "mypy_eagerload", "annotate", *files], cwd=tmp_path,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "MYPYPATH": str(tmp_path)})
    assert proc.returncode in (0, 2) and not runner.CRASH.search(proc.stderr), proc.stderr[-4000:]
    if proc.returncode == 2:  # mypy itself stopped (a blocking error the generator wrote)
        assert "could not analyse the project" in proc.stderr
    assert not runner.CRASH.search(runner.run_mypy(tmp_path, files, "--no-incremental"))
