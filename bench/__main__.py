"""Run every benchmark module ``bench/bench_*.py`` (each has ``run(report)``), or those named.

Usage: python -m bench [NAME ...]      e.g. python -m bench hexes
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from bench._report import Report


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = argv or sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    report = Report()
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        sys.stdout.write(f"\n== {name} ==\n")
        started = time.perf_counter()
        module.run(report)
        sys.stdout.write(f"   ({time.perf_counter() - started:.1f} s)\n")
    report.save()
    sys.stdout.write(f"\nfigures written to {report.path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
