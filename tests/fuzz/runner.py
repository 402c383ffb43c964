"""Check many fuzz programs in one mypy run, cold and then warm; find any crash.

``python -m tests.fuzz.runner --count 20000 --seed 1`` runs a long campaign in batches and
copies every program that made mypy crash into ``tests/fuzz/corpus/``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.generator import program

CORPUS = Path(__file__).parent / "corpus"
CRASH = re.compile(r"INTERNAL ERROR|Traceback \(most recent call last\)")
CRASH_FILE = re.compile(r"^(?P<file>[\w./-]+\.py):\d+: error: INTERNAL ERROR", re.M)


@dataclass
class Outcome:
    programs: int
    crashes: list[str]  # mypy output of each run that crashed because of the plugin
    mypy_crashes: int = 0  # runs where mypy crashed without the plugin too (mypy's own bugs)


def write_batch(tmp: Path, seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    files = []
    for i in range(count):
        prog = program(rng, f"fz{seed}_{i}")
        for name, source in prog.modules.items():
            (tmp / f"{name}.py").write_text(source)
            files.append(f"{name}.py")
    # Every other batch runs in strict mode, whose paths differ (plain types get states).
    strict = "[mypy_eagerload]\nstrict = true\n" if seed % 2 else ""
    (tmp / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n" + strict)
    return files


def run_mypy(tmp: Path, files: list[str], *extra: str, plugin: bool = True) -> str:
    config, cache = ("mypy.ini", ".cache") if plugin else ("without.ini", ".cache_without")
    (tmp / "without.ini").write_text("[mypy]\n")
    cmd = [sys.executable, "-m", "mypy", "--config-file", config, "--cache-dir", cache,
           "--show-traceback", "--no-error-summary", *extra, *files]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False,
                          env={**os.environ, "MYPYPATH": str(tmp)})
    return proc.stdout + proc.stderr


def check_dir(tmp: Path, files: list[str]) -> tuple[list[str], int]:
    """Cold, then warm after touching half the files (modules read from the cache).

    A crash counts against the plugin only if mypy does not crash on the same files
    without it (the fuzzer also finds mypy's own bugs, e.g. in its dataclass_transform
    support); those are counted apart."""
    crashes: list[str] = []
    mypy_own = 0
    for attempt in ("cold", "warm"):
        if attempt == "warm":
            for name in files[::2]:
                path = tmp / name
                path.write_text(path.read_text() + "\n# touched\n")
        output = run_mypy(tmp, files)
        if CRASH.search(output):
            if CRASH.search(run_mypy(tmp, files, "--no-incremental", plugin=False)):
                mypy_own += 1
            else:
                crashes.append(output)
    return crashes, mypy_own


def run(seed: int, count: int, keep: bool = True) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="eagerload-fuzz-"))
    try:
        files = write_batch(tmp, seed, count)
        crashes, mypy_own = check_dir(tmp, files)
        if keep:
            for output in crashes:
                for m in CRASH_FILE.finditer(output):
                    CORPUS.mkdir(exist_ok=True)
                    shutil.copy(tmp / m["file"], CORPUS / Path(m["file"]).name)
        return Outcome(count, crashes, mypy_own)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    total, crashed, mypy_own = 0, 0, 0
    for start in range(0, args.count, args.batch):
        outcome = run(args.seed * 1_000_000 + start, min(args.batch, args.count - start))
        total += outcome.programs
        crashed += len(outcome.crashes)
        mypy_own += outcome.mypy_crashes
        for output in outcome.crashes:
            print(output[-3000:])
        print(f"{total} programs, {crashed} runs crashed by the plugin, {mypy_own} crashes "
              "that mypy has without the plugin", flush=True)
    sys.exit(1 if crashed else 0)


if __name__ == "__main__":
    main()
