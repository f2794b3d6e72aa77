"""Scoring throughput of the pitch-lite detector: RTFx (audio-seconds per CPU-second) per
component and for the whole detector, one process, one thread (open_asr_leaderboard style),
for each of its recipes side by side in one run (``--recipes 1.0,1.1``).

Run: python benchmarks/pitch_lite_rtfx.py [--speakers 4] [--compliance DIR] [--recipes 1.0,1.1]
Simulated clips (all 21 challenges): numbers describe this machine and simulator.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402

from bench.data.corpus import open_dataset  # noqa: E402
from bench.detectors.pitch import detector as pitch_detector  # noqa: E402
from bench.detectors.pitch.compliance import TrainConfig, train_compliance  # noqa: E402
from bench.detectors.pitch.detector import PitchLite  # noqa: E402
from bench.runs.evaluate import build_samples  # noqa: E402
from bench.runs.simulate_corpus import simulate_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--compliance", type=Path, default=None)
    ap.add_argument("--recipes", default="1.0,1.1", help="pitch-lite recipes to time, in this order")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        simulate_corpus(corpus, speakers=args.speakers, sentences=1, seed=0, workers=1)
        comp = args.compliance
        if comp is None:
            comp = Path(tmp) / "compliance"
            train_compliance(corpus, comp, config=TrainConfig(epochs=4, folds=2, test_speakers=1))
        samples = build_samples(open_dataset(corpus).to_list(), [])
        audio = sum(s.duration_s for s in samples)
        rows, totals = [], {}
        for recipe in args.recipes.split(","):
            totals[recipe] = time_recipe(recipe, str(comp), str(corpus), tmp, samples, audio, rows)
    print(header("pitch-lite scoring throughput (RTFx, one core)"))
    print(f"\n{len(samples)} simulated clips ({args.speakers} speakers x 21 challenges), {audio:.0f} s of audio; "
          "process CPU time, one thread, models loaded before timing; recipes timed one after the other in "
          "this process.\n")
    print(table(["recipe", "component", "configuration", "CPU s", "RTFx (audio s / CPU s)"], rows))
    if len(totals) > 1:
        first = next(iter(totals))
        print("\n" + ", ".join(f"recipe {r}: {audio / t:.1f}x ({totals[first] / t:.2f}x recipe {first}'s speed)"
                               for r, t in totals.items()))


def time_recipe(recipe: str, comp: str, corpus: str, tmp: str, samples: list, audio: float, rows: list) -> float:
    """Time each component of pitch-lite with ``recipe`` on ``samples`` (rows appended); the total CPU s."""
    # speaker-match references are embedded once per process: forget them, so each recipe pays for its own
    for key in [k for k in pitch_detector._MODELS if k.startswith("ref:")]:
        del pitch_detector._MODELS[key]
    det = PitchLite(compliance=comp, recipe=recipe)
    det.prepare(corpus, tmp)
    total = 0.0
    for component in det.components():
        component.compute(samples[:2])  # warm-up: model loading is not scoring
        by_group: dict = {}
        for s in samples:
            by_group.setdefault(component.group_key(s), []).append(s)
        c0 = time.process_time()
        for group in by_group.values():
            for i in range(0, len(group), 16):
                component.compute(group[i:i + 16])
        cpu = time.process_time() - c0
        total += cpu
        config = {k: v for k, v in component.describe().items() if k not in ("component", "path", "fingerprint")}
        rows.append([recipe, component.name, str(config), f"{cpu:.1f}", f"{audio / cpu:.1f}"])
    rows.append([recipe, "**whole pitch-lite**", "sum of the components (score combination is negligible)",
                 f"{total:.1f}", f"**{audio / total:.1f}**"])
    return total


if __name__ == "__main__":
    main()
