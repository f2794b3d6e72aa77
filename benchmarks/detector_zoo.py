"""Per-detector cost of the waveform detectors: parameters, MACs for 1 s of audio, latency of one
1-second chunk at batch 1 on one thread beside its compute floor (MACs / the core's measured peak
multiply-accumulate rate, both from ``bench.serve.compute_floor``, as ``bench latency`` computes its floor),
and scoring RTFx on one thread over 4-second windows at batch 8.

    python benchmarks/detector_zoo.py [--repeats 7]

Training time is not measured here (it needs a corpus): it is recorded per model in its card
(``bench models show NAME@VERSION``) and quoted in BENCHMARKS.md from those cards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402

from bench.api.registry import DETECTORS  # noqa: E402
from bench.countermeasures.torch_model import n_parameters  # noqa: E402
from bench.serve.compute_floor import count_macs, peak_mac_rate  # noqa: E402

SR = 16_000
ROWS = [("aasist", "aasist"), ("aasist", "aasist-l"), ("lfcc-lcnn", "lfcc-lcnn"), ("specrnet", "specrnet"),
        ("rawnet2", "rawnet2")]


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    peak = peak_mac_rate()
    rows = []
    for name, arch in ROWS:
        det = DETECTORS.create(name)
        net = det.build(det.architectures[arch]).eval()
        macs = count_macs(net, SR)
        one = torch.randn(1, SR)
        batch = torch.randn(8, 64_600)
        with torch.no_grad():
            net(one)
            lat = statistics.median(_timed(lambda n=net, x=one: n(x)) for _ in range(args.repeats))
            net(batch)
            t4 = min(_timed(lambda n=net, x=batch: n(x)) for _ in range(max(2, args.repeats // 3)))
        rtfx = 8 * 64_600 / SR / t4
        floor = macs / peak
        rows.append([f"{name} ({arch})", f"{n_parameters(net):,}", f"{macs / 1e6:,.0f}", f"{1000 * lat:.1f}",
                     f"{1000 * floor:.1f}", f"{lat / floor:.1f}x", f"{rtfx:.1f}x"])
    print(header("Waveform detectors: size, 1-second latency and compute floor (one thread)"))
    print(f"peak float32 matmul rate on one thread: {peak / 1e9:.1f} GMAC/s (1024 x 1024 x 1024)\n")
    print(table(["detector (architecture)", "parameters", "MMACs per 1 s", "latency 1 s chunk, batch 1 (ms)",
                 "compute floor (ms)", "latency / floor", "scoring RTFx (4 s windows, batch 8)"], rows))


if __name__ == "__main__":
    main()
