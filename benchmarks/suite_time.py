"""The fast test suite's wall time (issue #22's target: under three minutes here), beside the whole suite's
size: `pytest -m "not slow"` timed end to end in a subprocess, with the counts pytest reports.

Run: python benchmarks/suite_time.py [--runs 2] [--full]
Prints a Markdown section for BENCHMARKS.md. `--full` also times the whole suite (about 17 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, header, table  # noqa: E402


def timed_run(marker: str | None) -> tuple[float, str, float]:
    """(wall seconds, pytest's summary line, 1-minute load average at the start) of one suite run."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-m", marker] if marker else [])]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [line for line in out.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return wall, (lines[-1].strip("= ") if lines else f"exit {out.returncode}"), load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    rows = []
    for i in range(args.runs):
        wall, summary, load = timed_run("not slow")
        rows.append([f'-m "not slow" (run {i + 1})', f"{wall:.1f}", f"{load:.2f}", summary])
    if args.full:
        wall, summary, load = timed_run(None)
        rows.append(["whole suite", f"{wall:.1f}", f"{load:.2f}", summary])
    print(header("Test suite wall time (issue #22)"))
    print(table(["suite", "wall s", "load at start", "pytest's summary"], rows))


if __name__ == "__main__":
    main()
