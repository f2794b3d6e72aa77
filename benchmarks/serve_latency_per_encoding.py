"""Edge-server latency per wire encoding (issue #23): the same model and callers, clean 16-bit PCM at 16 kHz
against calls that came over a phone line (G.711 mu-law and A-law at 8 kHz, AMR-NB and Opus decoded to 8 kHz
PCM, G.722 at 16 kHz).

Usage (a model from `bench train`, its corpus + fakes so that its held-out speakers call):

    BENCH_MODEL_STORE=store python benchmarks/serve_latency_per_encoding.py --model devox@1 \
        --corpus corpus --fakes fakes-world --callers 50 --out latency-per-encoding

Two parts, both in this process's run:
1. What decoding a 1-second chunk costs the server, per encoding: ``decode_pcm`` (16-bit PCM, or the G.711
   table) and the resampling to 16 kHz, median of many repeats, one thread.
2. `bench latency --channel PROFILE` (bench.serve.latency.run_latency) on the edge-cpu profile (server pinned to
   one core, one inference thread) for each line, real time, the same callers and duration; end-to-end and
   inference percentiles, the server's CPU outside inference per chunk, and the bytes a second of audio takes on
   the wire. A finished run's folder is reused (delete it to measure again). Prints the BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402

#: (label, channel profile or None for clean): one line per wire encoding and rate
LINES = [("clean", None), ("pstn-g711u", "pstn-g711u"), ("pstn-g711a", "pstn-g711a"),
         ("mobile-amr-nb", "mobile-amr-nb"), ("hd-g722", "hd-g722")]


def decode_costs(repeats: int = 300) -> list[list[str]]:
    """Median microseconds to turn one second of each encoding's bytes into 16 kHz float32, as the server does."""
    from bench.audio import resample
    from bench.serve.protocol import decode_pcm, encode_pcm

    rng = np.random.default_rng(0)
    rows = []
    for encoding, rate in (("pcm_s16le", 16000), ("pcm_s16le", 8000), ("pcm_mulaw", 8000), ("pcm_alaw", 8000)):
        frame = encode_pcm((rng.standard_normal(rate) * 0.1).astype(np.float32), encoding)
        times = {"decode": [], "resample": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            x = decode_pcm(frame, rate, 0.1, 2.0, encoding)
            t1 = time.perf_counter()
            if rate != 16000:
                x = resample(x, rate, 16000)
            t2 = time.perf_counter()
            times["decode"].append(t1 - t0)
            times["resample"].append(t2 - t1)
        dec, res = (1e6 * float(np.median(v)) for v in times.values())
        rows.append([encoding, f"{rate}", f"{len(frame):,}", f"{dec:.1f}", f"{res:.1f}" if rate != 16000 else "–",
                     f"{dec + (res if rate != 16000 else 0):.1f}"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--fakes", default=None)
    ap.add_argument("--callers", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--out", default="latency-per-encoding")
    args = ap.parse_args()

    from bench.evaluation.results import load_latency
    from bench.serve.latency import run_latency

    out = Path(args.out)
    print(header("Edge-server latency per wire encoding (issue #23)"))
    print(f"model {args.model}, {args.callers} real-time callers, {args.duration:g} s, edge-cpu profile; corpus "
          f"{args.corpus} (say whether it is simulated)\n")
    print("**Decoding one second of audio on the server (median of 300, one thread)**\n")
    print(table(["encoding", "rate Hz", "bytes per second on the wire", "decode us", "resample to 16 kHz us",
                 "total us"], decode_costs()))
    rows = []
    for label, profile in LINES:
        folder = out / label
        if not (folder / "latency.json").is_file():
            print(f"measuring {label} ...", file=sys.stderr, flush=True)
            run_latency(args.model, folder, callers=args.callers, duration=args.duration, corpus=args.corpus,
                        fakes=args.fakes, channel=profile, command=f"benchmarks/serve_latency_per_encoding.py "
                        f"({label})")
        r = load_latency(folder)
        e2e, inf = r.parts["end_to_end"], r.parts["inference"]
        cpu = r.server_cpu or {}
        line = r.line or {}
        rows.append([label, line.get("encoding", "pcm_s16le"), str(line.get("sample_rate", 16000)),
                     f"{e2e.p50_ms:.2f} / {e2e.p95_ms:.2f} / {e2e.p99_ms:.2f}", f"{inf.p95_ms:.2f}",
                     f"{cpu.get('outside_inference_ms_per_chunk', float('nan')):.3f}",
                     f"{r.verdicts} of {r.chunks_sent}", f"{r.isolated_inference_ms or float('nan'):.2f}"])
    print("\n**bench latency --channel, per line (real time)**\n")
    print(table(["line", "encoding", "rate Hz", "end-to-end p50 / p95 / p99 ms", "inference p95 ms",
                 "server CPU outside inference ms per chunk", "verdicts of chunks sent",
                 "isolated inference ms (reference)"], rows))


if __name__ == "__main__":
    main()
