"""Same diagnostics in every mode: cold, warm cache, warm after an edit, --num-workers 2."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.differential import harness, scenarios


def test_cold_warm_and_parallel_agree(tmp_path: Path) -> None:
    cases = scenarios.handwritten() + scenarios.generated(60, seed=7)
    module = harness.write_project(tmp_path, cases)
    cold = harness.run_mypy(tmp_path, [module.name], plugin=True)
    assert any(code == harness.PLUGIN_CODE for *_, code in cold)
    warm = harness.run_mypy(tmp_path, [module.name], plugin=True)
    assert warm == cold
    # Touch the models module: the query module is rechecked against cached models.
    models = tmp_path / "dmodels.py"
    models.write_text(models.read_text() + "\n# edited\n")
    assert harness.run_mypy(tmp_path, [module.name], plugin=True) == cold
    # Edit the query module only: models come from the cache.
    module.write_text(module.read_text() + "\n# edited\n")
    assert harness.run_mypy(tmp_path, [module.name], plugin=True) == cold
    shutil.rmtree(tmp_path / ".cache_p")
    parallel = harness.run_mypy(tmp_path, [module.name, "dmodels.py"], plugin=True,
                                extra=["--num-workers", "2"])
    assert sorted(parallel) == sorted(cold)
    parallel_warm = harness.run_mypy(tmp_path, [module.name, "dmodels.py"], plugin=True,
                                     extra=["--num-workers", "2"])
    assert sorted(parallel_warm) == sorted(cold)
