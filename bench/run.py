"""Run the benchmarks: ``python -m bench.run [NAME ...]`` (``make bench`` runs them all).

Each benchmark is a module ``bench/NAME.py`` runnable on its own (``python -m bench.NAME``); it
prints its figures and says what to copy into bench/RESULTS.md. Benchmarks measure; tests
never assert timings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"__init__", "run", "common"}


def available() -> list[str]:
    """Names of the benchmark modules in this folder."""
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP)


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all when none is named); return the worst exit code."""
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    worst = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
