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
    crashes: list[str]  # mypy output of each crashing run


def write_batch(tmp: Path, seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    files = []
    for i in range(count):
        prog = program(rng, f"fz{seed}_{i}")
        for name, source in prog.modules.items():
            (tmp / f"{name}.py").write_text(source)
            files.append(f"{name}.py")
    (tmp / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n")
    return files


def run_mypy(tmp: Path, files: list[str], *extra: str) -> str:
    cmd = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", ".cache",
           "--show-traceback", "--no-error-summary", *extra, *files]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False,
                          env={**os.environ, "MYPYPATH": str(tmp)})
    return proc.stdout + proc.stderr


def check_dir(tmp: Path, files: list[str]) -> list[str]:
    """Cold, then warm after touching half the files (modules read from the cache)."""
    crashes = []
    cold = run_mypy(tmp, files)
    if CRASH.search(cold):
        crashes.append(cold)
    for name in files[::2]:
        path = tmp / name
        path.write_text(path.read_text() + "\n# touched\n")
    warm = run_mypy(tmp, files)
    if CRASH.search(warm):
        crashes.append(warm)
    return crashes


def run(seed: int, count: int, keep: bool = True) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="eagerload-fuzz-"))
    try:
        files = write_batch(tmp, seed, count)
        crashes = check_dir(tmp, files)
        if keep:
            for output in crashes:
                for m in CRASH_FILE.finditer(output):
                    CORPUS.mkdir(exist_ok=True)
                    shutil.copy(tmp / m["file"], CORPUS / Path(m["file"]).name)
        return Outcome(count, crashes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    total, crashed = 0, 0
    for start in range(0, args.count, args.batch):
        outcome = run(args.seed * 1_000_000 + start, min(args.batch, args.count - start))
        total += outcome.programs
        crashed += len(outcome.crashes)
        for output in outcome.crashes:
            print(output[-3000:])
        print(f"{total} programs, {crashed} crashing runs", flush=True)
    sys.exit(1 if crashed else 0)


if __name__ == "__main__":
    main()
