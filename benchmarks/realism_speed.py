"""Realism backend speed: RTFx (audio-seconds per CPU-second, one thread) for NISQA and
DNSMOS on 2-5 s clips, scored in one batched call vs one clip per call.

Run: python benchmarks/realism_speed.py [--clips 16] [--weights ../shared/models/nisqa/nisqa.tar]
Prints a Markdown section for BENCHMARKS.md. NISQA needs its weights (CC BY-NC-SA 4.0, not
shipped): --weights, $BENCH_NISQA_WEIGHTS or `bench models pull nisqa`; without them its
rows are skipped. CPU time is the process's (time.process_time), so other load on the
machine inflates the wall column more than the CPU column.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, header, table  # noqa: E402

from bench.challenges.simulate import make_speakers, plan, render  # noqa: E402
from bench.detectors.pitch.backends import REALISM  # noqa: E402
from bench.errors import BenchError  # noqa: E402

SR = 16_000


def clips_2_to_5s(n: int, seed: int = 0) -> list[np.ndarray]:
    """Simulated utterances (espeak-ng + WORLD, challenge 0) cut to random 2-5 s lengths."""
    rng = np.random.default_rng(seed)
    speakers = make_speakers(4, seed)
    items = plan(4, max(1, -(-n // 4)), [0], ["desktop"])[:n]
    out = []
    for item in items:
        x, _ = render(item, speakers, seed)
        want = int(rng.uniform(2.0, 5.0) * SR)
        out.append(np.pad(x, (0, max(0, want - len(x))))[:want].astype(np.float32))
    return out


def measure(backend, clips: list[np.ndarray], batched: bool, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` (CPU s, wall s) to score all clips."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        if batched:
            backend.score(clips)
        else:
            for c in clips:
                backend.score([c])
        best = min(best, (time.process_time() - c0, time.perf_counter() - w0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--weights", default=None, help="NISQA .tar (default: $BENCH_NISQA_WEIGHTS, the pull cache, "
                                                     "then ../shared/models/nisqa/nisqa.tar)")
    args = ap.parse_args()

    clips = clips_2_to_5s(args.clips)
    audio = sum(len(c) for c in clips) / SR
    shared = REPO.parent / "shared" / "models" / "nisqa" / "nisqa.tar"
    backends = []
    try:
        from bench.detectors.pitch.realism import resolve_nisqa_weights

        weights = args.weights or str(resolve_nisqa_weights())
    except BenchError:
        weights = str(shared) if shared.is_file() else None
    if weights:
        backends.append(("nisqa", REALISM.create("nisqa", weights=weights, threads=1, batch_size=len(clips))))
    else:
        print("NISQA weights not found: skipping nisqa (see --weights)", file=sys.stderr)
    backends.append(("dnsmos (OVRL)", REALISM.create("dnsmos", threads=1, batch_size=len(clips))))

    rows = []
    for name, backend in backends:
        backend.score(clips[:2])  # warm-up: model load, first-call allocations, librosa/numba caches
        for batched in (True, False):
            cpu, wall = measure(backend, clips, batched, args.repeats)
            rows.append([name, "one batch" if batched else "one by one", f"{cpu:.2f}", f"{wall:.2f}",
                         f"{1000 * cpu / len(clips):.0f}", f"**{audio / cpu:.1f}**"])
        if name == "nisqa":  # where NISQA's time goes: the 48 kHz resampling + Mel features
            c0 = time.process_time()
            for i, c in enumerate(clips):
                backend._segments(c, i)
            cpu = time.process_time() - c0
            rows.append([name, "features only", f"{cpu:.2f}", "", f"{1000 * cpu / len(clips):.0f}",
                         f"{audio / cpu:.1f}"])

    print(header("Realism backends speed (`bench.detectors.pitch.realism`)"))
    print(f"{len(clips)} simulated clips of 2-5 s ({audio:.1f} s of audio), 16 kHz; one torch / ONNX Runtime "
          f"thread; best of {args.repeats}; RTFx = audio-seconds per CPU-second.\n")
    print(table(["backend", "mode", "CPU s", "wall s", "CPU ms / clip", "RTFx"], rows))
    print("\nDNSMOS tiles every clip to at least 9.01 s and rates 9.01 s windows, so a 2-5 s clip costs "
          "one full window: its RTFx on short clips is far below its RTFx on long audio.")


if __name__ == "__main__":
    main()
