"""The plugin's verdicts against real SQLAlchemy (AsyncSession on aiosqlite).

Every probed read is checked by mypy with the plugin and run for real; the plugin must
report exactly the reads that raise. Without the plugin the same module must be clean,
and with it no error other than the plugin's own may appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential import harness, scenarios

GENERATED = 200
GENERATED_SYNC = 60
LAYERED = 220  # issue 17: at least 200 layered scenarios


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[scenarios.Scenario], Path]:
    cases = (scenarios.handwritten() + scenarios.contracts() + scenarios.rebinding()
             + scenarios.generated(GENERATED) + scenarios.layered(LAYERED)
             + scenarios.generated(GENERATED_SYNC, seed=11, sync=True))
    tmp = tmp_path_factory.mktemp("differential")
    return cases, harness.write_project(tmp, cases)


def test_module_is_clean_without_plugin(suite: tuple[list[scenarios.Scenario], Path]) -> None:
    _cases, module = suite
    assert harness.run_mypy(module.parent, [module.name], plugin=False) == []


def test_plugin_agrees_with_runtime(suite: tuple[list[scenarios.Scenario], Path]) -> None:
    cases, module = suite
    errors = harness.run_mypy(module.parent, [module.name], plugin=True)
    foreign = [e for e in errors if e[3] not in harness.ALL_CODES]
    assert foreign == [], f"errors other than the plugin's own: {foreign}"
    outcomes = harness.run_runtime(module)
    result = harness.compare(cases, errors, outcomes)
    print(f"\ndifferential: {len(cases)} scenarios, {result.probes} probes, "
          f"{result.agreements} agreements, {result.unknown} documented unknown, "
          f"{result.overlaps} identity overlaps, {result.no_data} without data")
    assert result.disagreements == [], "\n".join(result.disagreements)
    assert result.probes >= 300
    # Overlaps are the data's doing, not a verdict the plugin could change; keep them rare.
    assert result.overlaps <= result.probes // 50
    assert result.no_data <= result.probes // 20


STRICT = 120


def test_strict_mode_agrees_with_runtime(tmp_path: Path) -> None:
    """Strict mode's claim: an object of unknown origin has its model's defaults loaded.
    Objects of ``select(Root)`` have exactly those; reads on them through plain-typed
    parameters must be reported exactly when they fail."""
    cases = scenarios.strict(STRICT)
    module = harness.write_project(tmp_path, cases)
    errors = harness.run_mypy(tmp_path, [module.name], plugin=True, settings="strict = true")
    foreign = [e for e in errors if e[3] not in harness.ALL_CODES]
    assert foreign == [], f"errors other than the plugin's own: {foreign}"
    result = harness.compare(cases, errors, harness.run_runtime(module))
    print(f"\nstrict: {len(cases)} scenarios, {result.probes} probes, {result.agreements} agreements, "
          f"{result.unknown} unknown, {result.overlaps} overlaps, {result.no_data} without data")
    assert result.disagreements == [], "\n".join(result.disagreements)
    assert result.agreements >= STRICT * 3 // 4
    flagged = sum(1 for e in errors if e[3] in harness.PLUGIN_CODES)
    assert flagged >= STRICT // 5, "strict mode should find the reads that fail"


LIFECYCLE = 240  # issue 18: at least 200 generated sequences of session operations
LIFECYCLE_LAYERS = 160  # the same through helpers, methods and factories of another module


def test_session_lifecycle_agrees_with_runtime(tmp_path: Path) -> None:
    """Commits, rollbacks, expiry, refreshes, closing and expunging between the query and
    the reads (``scenarios.lifecycle``): the plugin reports exactly the reads that fail."""
    cases = scenarios.lifecycle(LIFECYCLE) + scenarios.lifecycle_layers(
        LIFECYCLE_LAYERS, module_functions=scenarios.module_summaries())
    module = harness.write_project(tmp_path, cases)
    errors = harness.run_mypy(module.parent, [module.name], plugin=True, settings="expire_on_commit = true")
    foreign = [e for e in errors if e[3] not in harness.ALL_CODES]
    assert foreign == [], f"errors other than the plugin's own: {foreign}"
    outcomes = harness.run_runtime(module)
    result = harness.compare(cases, errors, outcomes)
    print(f"\nlifecycle: {len(cases)} scenarios, {result.probes} probes, {result.agreements} agreements, "
          f"{result.unknown} documented unknown, {result.no_data} without data")
    assert result.disagreements == [], "\n".join(result.disagreements)
    expired = sum(1 for e in errors if e[3] == "expired-attribute")
    assert result.probes >= 600 and expired >= 100
