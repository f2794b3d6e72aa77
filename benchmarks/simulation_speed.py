"""Simulation speed: audio-seconds produced per CPU-second, per challenge and overall.

Run: python benchmarks/simulation_speed.py [--speakers 4] [--workers 2]
Prints a Markdown section for BENCHMARKS.md. Numbers describe the simulator only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402

from bench.challenges.simulate import make_speakers, plan, render  # noqa: E402
from bench.challenges.taxonomy import get  # noqa: E402
from bench.runs.simulate_corpus import simulate_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    speakers = make_speakers(args.speakers, seed=0)
    items = plan(args.speakers, 1, list(range(21)), ["desktop"])
    render(items[0], speakers, 0)  # warm-up (imports, first library load)
    per = defaultdict(lambda: [0.0, 0.0])
    for item in items:
        c0 = time.process_time()
        x, _ = render(item, speakers, 0)
        per[item.challenge][0] += len(x) / 16000
        per[item.challenge][1] += time.process_time() - c0
    rows = [[f"#{c} {get(c).name}", f"{a:.1f}", f"{s:.2f}", f"{a / s:.1f}"] for c, (a, s) in sorted(per.items())]
    audio = sum(a for a, _ in per.values())
    cpu = sum(s for _, s in per.values())
    rows.append(["**all (1 core, in-process)**", f"{audio:.1f}", f"{cpu:.2f}", f"**{audio / cpu:.1f}**"])

    with tempfile.TemporaryDirectory() as tmp:
        w0 = time.perf_counter()
        manifest = simulate_corpus(Path(tmp) / "c", speakers=args.speakers, sentences=2, seed=0,
                                   workers=args.workers)
        wall = time.perf_counter() - w0
        from bench.data.corpus import open_dataset
        total = sum(open_dataset(Path(tmp) / "c")["duration_s"])
    print(header("Simulation speed (`bench data simulate`)"))
    print(table(["challenge", "audio s", "CPU s", "audio s / CPU s"], rows))
    print(f"\nEnd to end `simulate_corpus` ({args.speakers} speakers x 21 challenges x 2 sentences = "
          f"{manifest['rows']} clips, {total:.0f} s of audio, {args.workers} workers, including dataset "
          f"writing): {wall:.1f} s wall = {total / wall:.1f} audio-seconds per wall-second.")


if __name__ == "__main__":
    main()
