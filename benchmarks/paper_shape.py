"""`bench demo --size paper-shape`: wall time, and whether every challenge's AUROC CI is narrow enough.

    python benchmarks/paper_shape.py --out runs/paper-shape [--engine local|ray] [--workers 2]

Runs the preset from nothing (each step's wall time from the demo's own step lines), then
reads its result.json: samples per challenge, the widest 95% CI half-width (target: at most
10 AUROC points on every challenge), our AUROC beside the paper's per challenge (quoted, Pitch
Table 3) and pooled on the paper's top-10. Run it once per engine (same machine, same commit)
and paste both blocks into BENCHMARKS.md. The corpus is simulated speech: its numbers
describe the simulation, not the Pitch recordings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, header, table


def run(out: Path, engine: str, workers: int) -> tuple[float, list[tuple[str, float]]]:
    """Run the preset into ``out`` (emptied first); (total wall s, [(step, wall s)])."""
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "BENCH_ENGINE": engine}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench", "demo", "--size", "paper-shape", "--out", str(out),
                             "--workers", str(workers)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    steps, last, name = [], t0, None
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        if re.match(r"\[\d/\d\]", line):
            now = time.perf_counter()
            if name:
                steps.append((name, now - last))
            name, last = line.split("]", 1)[1].strip().split(" (")[0].split(" ->")[0], now
    if proc.wait() != 0:
        raise SystemExit(f"bench demo exited {proc.returncode}")
    total = time.perf_counter() - t0
    if name:
        steps.append((name, time.perf_counter() - last))
    return total, steps


def report(out: Path, engine: str, total: float, steps: list[tuple[str, float]], head: str) -> str:
    doc = json.loads((out / "results" / "pitch-lite-world" / "result.json").read_text())
    per = doc["per_challenge"]
    widths = {c["challenge"]: (c["auroc"]["ci_high"] - c["auroc"]["ci_low"]) / 2 for c in per}
    rows = [[f"#{c['challenge']} {c['name']}", c["n_bona_fide"], c["n_fake"],
             f"{100 * c['auroc']['value']:.1f} [{100 * c['auroc']['ci_low']:.1f}, {100 * c['auroc']['ci_high']:.1f}]",
             f"{100 * widths[c['challenge']]:.1f}",
             "-" if c["paper_auroc"] is None else f"{100 * c['paper_auroc']:.0f}"] for c in per]
    ten = doc["paper_top10_auroc"]
    lines = [head,
             f"- wall time: {total / 60:.1f} min in all; "
             + "; ".join(f"{name} {sec / 60:.1f} min" for name, sec in steps),
             f"- widest per-challenge 95% CI half-width: {100 * max(widths.values()):.1f} AUROC points "
             f"(target <= 10); challenges ranked: {len(doc['ranking']['ranked'])} of {len(per)}",
             f"- pooled AUROC on the paper's top-10: ours {100 * ten['value']:.1f} "
             f"[{100 * ten['ci_low']:.1f}, {100 * ten['ci_high']:.1f}] vs the paper's 88.7 (quoted)",
             f"- overall AUROC: {100 * doc['overall']['auroc']['value']:.1f}; throughput "
             f"{doc['timings']['rtfx_cpu']:.1f} audio s per CPU s",
             "- simulated corpus: these numbers describe the simulation, not the Pitch recordings", "",
             table(["challenge", "n real", "n fake", "AUROC % [95% CI] (ours)", "CI half-width", "Pitch Table 3 "
                    "AUROC % (quoted)"], rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "paper-shape")
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report-only", action="store_true", help="Only report on an existing --out.")
    args = ap.parse_args()
    head = header(f"bench demo --size paper-shape, BENCH_ENGINE={args.engine}")  # the commit as the run starts
    total, steps = (0.0, []) if args.report_only else run(args.out, args.engine, args.workers)
    text = report(args.out, args.engine, total, steps, head)
    print(text)
    (args.out / f"paper-shape-{args.engine}.md").write_text(text)


if __name__ == "__main__":
    main()
