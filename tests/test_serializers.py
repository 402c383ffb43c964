"""Serializer contracts against runtime: pydantic validation of query results under AsyncSession."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests import serializer_flow
from tests.differential import harness
from tests.differential.scenarios import through_reverse

CASES = 200


@pytest.mark.slow
def test_serializer_checks_agree_with_runtime(tmp_path: Path) -> None:
    cases = serializer_flow.generate(CASES, seed=11) + serializer_flow.handwritten()
    module = serializer_flow.write(tmp_path, cases)
    assert harness.run_mypy(tmp_path, [module.name], plugin=False) == []
    errors = harness.run_mypy(tmp_path, [module.name], plugin=True)
    foreign = [e for e in errors if e[3] != "unloaded-relationship"]
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
        else:
            wrong.append(f"case_{case.key} (line {case.line}): runtime {outcome}, reported={reported}")
    print(f"\nserializers: {dict(tally)}")
    assert wrong == [], "\n".join(wrong[:20])
    assert tally["fails, reported"] >= CASES // 5 and tally["passes, silent"] >= CASES // 10
    assert tally["no data"] <= CASES // 4
