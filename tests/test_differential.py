"""The plugin's verdicts against real SQLAlchemy (AsyncSession on aiosqlite).

Every probed read is checked by mypy with the plugin and run for real; the plugin must
report exactly the reads that raise. Without the plugin the same module must be clean,
and with it no error other than the plugin's own may appear.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.differential import harness, scenarios

GENERATED = 200
GENERATED_SYNC = 60
LAYERED = 220  # issue 17: at least 200 layered scenarios
REFRESHING = 40  # layers that refresh what they return
CONSTANTS = 30  # module-level option tuples with a declared type


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[scenarios.Scenario], Path]:
    cases = (scenarios.handwritten() + scenarios.contracts() + scenarios.rebinding()
             + scenarios.generated(GENERATED) + scenarios.layered(LAYERED) + scenarios.refreshing(REFRESHING)
             + scenarios.option_constants(CONSTANTS)
             + scenarios.generated(GENERATED_SYNC, seed=11, sync=True))
    tmp = tmp_path_factory.mktemp("differential")
    return cases, harness.write_project(tmp, cases)


def test_module_is_clean_without_plugin(suite: tuple[list[scenarios.Scenario], Path]) -> None:
    _cases, module = suite
    assert harness.run_mypy(module.parent, [module.name], plugin=False) == []


_OUTCOMES: dict[Path, dict[str, str]] = {}
_OUTPUTS: dict[Path, str] = {}


def _outcomes(module: Path) -> dict[str, str]:
    """The suite's runtime outcomes, run once for the tests that compare with them (when
    they run in one worker)."""
    if module not in _OUTCOMES:
        _OUTCOMES[module] = harness.run_runtime(module)
    return _OUTCOMES[module]


def _plugin_output(module: Path) -> str:
    """mypy's output with the plugin on the suite, likewise run once."""
    if module not in _OUTPUTS:
        _OUTPUTS[module] = harness.mypy_output(module.parent, [module.name], plugin=True)
    return _OUTPUTS[module]


def test_plugin_agrees_with_runtime(suite: tuple[list[scenarios.Scenario], Path]) -> None:
    cases, module = suite
    errors = harness.errors_in(_plugin_output(module))
    foreign = [e for e in errors if e[3] not in harness.ALL_CODES]
    assert foreign == [], f"errors other than the plugin's own: {foreign}"
    outcomes = _outcomes(module)
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


@pytest.mark.fixcheck
def test_fix_notes_are_patches_that_work(suite: tuple[list[scenarios.Scenario], Path],
                                         tmp_path: Path) -> None:
    """Issue 19: every fix note that is a patch, applied as ``mypy-eagerload fix`` applies
    it (``fix.rewrite``), makes its line work at runtime and silent under the plugin, and
    makes no other probe fail."""
    from mypy_eagerload.core import patches
    from mypy_eagerload.fix import run as fix_run
    from mypy_eagerload.fix.rewrite import rewrite
    from mypy_eagerload.fix.run import reports

    cases, module = suite
    codes = ("unloaded-relationship", "unloaded-column", "missing-unique", "loader-conflict")
    found = [r for r in reports(_plugin_output(module)) if r.code in codes]
    parsed = {r: patches.parse_all(r.note) for r in found}
    source = module.read_text()
    patched = harness.write_project(tmp_path, cases)
    # The original's cache: each round rechecks the patched module only, not SQLAlchemy.
    shutil.copytree(module.parent / ".cache_p", tmp_path / ".cache_p")
    # As fix does: apply, run mypy again (a read two hops past the query is reported one hop
    # at a time), until no patch applies.
    current, todo, skipped = source, [p for stated in parsed.values() for p in stated], {}
    output = ""
    for _ in range(fix_run.MAX_ROUNDS):
        result = rewrite(current, todo)
        skipped.update({id(p): why for p, why in result.skipped})
        assert result.source.count("\n") == source.count("\n"), "a patch added lines (imports are there)"
        if result.source == current and output:
            break
        current = result.source
        patched.write_text(current)
        output = harness.mypy_output(tmp_path, [patched.name], plugin=True)
        todo = [p for r in reports(output) if r.code in codes for p in patches.parse_all(r.note)]
    before = _outcomes(module)
    after = harness.run_runtime(patched)
    # The last round's mypy run is the patched program's: nothing in it applied any more.
    still = {r.line for r in reports(output)
             if r.code in harness.PLUGIN_CODES or r.code == harness.UNIQUE_CODE}
    probe_at: dict[int, str] = {}
    for sc in cases:
        for line, i in sc.lines.items():
            probe_at[line] = f"{sc.name}:{i}"
        for i, extra in sc.extra_lines.items():
            for line in extra:
                probe_at.setdefault(line, f"{sc.name}:{i}")
        first, last = sc.setup_lines
        for line in range(first, last + 1):
            probe_at.setdefault(line, f"{sc.name}:setup")
    verified, failed, advice = 0, [], {}
    layered = layered_verified = 0
    for report in found:
        stated = parsed[report]
        probe = probe_at.get(report.line, "")
        in_layers = probe.startswith(("layer_", "refresh_", "const_"))
        layered += in_layers
        if not stated:
            key = report.note.split(" to ")[0][:40] + "..."
            advice[key] = advice.get(key, 0) + 1
            continue
        not_applied = [skipped[id(p)] for p in stated if id(p) in skipped]
        if not_applied:
            failed.append(f"line {report.line}: not applied ({not_applied[0]}): {report.note}")
            continue
        outcome = after.get(probe, "ok")
        if report.line in still or outcome in harness.FAILURES or (
                probe.endswith(":setup") and probe in after):
            failed.append(f"line {report.line} ({probe}): after the patch runtime={outcome}, "
                          f"reported={report.line in still}: {report.note}")
        else:
            verified += 1
            layered_verified += in_layers
    broken = [key for key, outcome in after.items()
              if outcome in harness.FAILURES and before.get(key) not in harness.FAILURES]
    patched_notes = len(found) - sum(advice.values())
    print(f"\nfix notes: {len(found)} reports, {patched_notes} patches, {verified} verified, "
          f"{len(failed)} failed; {len(found) - layered} reports outside the layered scenarios, "
          f"{verified - layered_verified} of them verified; advice: {sum(advice.values())}")
    print("\n".join(failed))
    print("\n".join(f"advice ({count}): {key}" for key, count in sorted(advice.items())))
    assert broken == [], f"probes that worked and fail after the patches: {broken}"
    # A patch note must be right: its line works afterwards. The few that are not are reads
    # that go on past the patched hop into what the plugin cannot tell (an object reached
    # again through a back-reference, sub-options merged from two .options() calls), and
    # options of another statement a replace cannot reach; they are listed above.
    assert verified >= patched_notes * 95 // 100, "\n".join(failed)
    # Where the query is in the function that reads, the note is a patch; through the layers
    # (services, repositories, option providers, dependencies) the patch goes to the argument
    # or the function that supplies the options, or the helper or tuple that writes an option
    # to replace (hooks.layer_sites); an object of several queries gets it in each. Issue 19's
    # bar: 95% of all reports carry a patch that works. Measured 96.4% (SA 2.1), 96.2% (SA 2.0).
    outside = len(found) - layered
    assert verified - layered_verified >= outside * 90 // 100, f"advice: {advice}"
    assert layered_verified >= layered * 90 // 100, f"advice: {advice}"
    assert verified >= len(found) * 95 // 100, f"advice: {advice}\n" + "\n".join(failed)
