"""FreeVC conversion speed on CPU: ms of compute per audio-second and real-time factor.

Run: python benchmarks/freevc_speed.py [--repo third_party/FreeVC] [--variants freevc freevc-s]
     [--wavlm-layers 24] [--seconds 3] [--repeats 3] [--threads 1 2]

Runs the ``freevc`` generator (the official FreeVC code from a checkout) with its real
architecture and random weights (built by ``bench.generators.freevc.make_random_assets``):
WavLM-Large's full 24-layer shape unless ``--wavlm-layers`` says otherwise, and the
configs' SynthesizerTrn. Speed does not depend on the weights' values. The source is
espeak-ng speech. Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, header, table  # noqa: E402

from bench import SAMPLE_RATE  # noqa: E402
from bench.audio import resample  # noqa: E402
from bench.challenges.espeak import Espeak, Voice  # noqa: E402
from bench.generators.freevc import ENV_REPO, FreeVCGenerator, make_random_assets  # noqa: E402

#: the figure the project's issue quotes from the FreeVC paper (GPU inference)
PAPER_MS_PER_AUDIO_S = 98.0

TEXT = ("Hello, this is your bank calling about a payment on your account. "
        "Please confirm the last four digits of your card number and the date of your last transfer.")


def speech(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    engine = Espeak.get()

    def say(text: str, voice: Voice) -> np.ndarray:
        return resample(engine.synth(text, voice), engine.sample_rate, SAMPLE_RATE).astype(np.float32)

    src = say(TEXT, Voice(variant="m1"))
    while len(src) < seconds * SAMPLE_RATE:
        src = np.concatenate([src, src])
    ref = say("My voice is my password, please verify me now.", Voice(variant="f2", pitch=70))
    return src[: int(seconds * SAMPLE_RATE)], ref


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: first-call allocations, caches
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure(gen: FreeVCGenerator, variant: str, src: np.ndarray, ref: np.ndarray, threads: int,
            args: argparse.Namespace, stream: bool) -> tuple[list, list | None]:
    """One table row (and a streaming row when ``stream``) for ``gen`` on ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    audio_s = len(src) / SAMPLE_RATE
    target = gen.prepare_target(ref)
    tgt_s = timed(lambda: gen.prepare_target(ref), args.repeats)
    conv_s = timed(lambda: gen.convert(src, target), args.repeats)
    x = torch.from_numpy(src).unsqueeze(0)

    def content() -> None:  # WavLM alone (what utils.get_content runs), for the split
        with torch.no_grad():
            gen._cmodel.extract_features(x)

    wavlm_s = timed(content, args.repeats)
    ms = 1000 * statistics.median(conv_s) / audio_s
    share = statistics.median(wavlm_s) / statistics.median(conv_s)
    row = [variant, args.wavlm_layers, f"CPU, {threads} thread{'s' * (threads > 1)}", f"{audio_s:.1f}",
           f"**{ms:.0f}**", f"{ms / 1000:.2f}", f"{100 * share:.0f}%", f"{1000 * statistics.median(tgt_s):.0f}"]
    if not stream:
        return row, None
    _, stats = gen.stream(src, target, chunk_ms=args.stream_chunk_ms)
    st = stats.summary()
    return row, [variant, threads, f"{st['chunk_ms']:.0f}", f"{gen.context_ms:.0f} + {gen.lookahead_ms:.0f}",
                 f"{st['compute_ms_mean']:.0f}", f"{st['compute_ms_max']:.0f}",
                 f"{st['algorithmic_delay_ms'] + st['compute_ms_max']:.0f}", f"{100 * st['realtime_fraction']:.0f}%"]


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.environ.get(ENV_REPO) or str(REPO / "third_party" / "FreeVC"))
    ap.add_argument("--variants", nargs="+", default=["freevc", "freevc-s"], choices=["freevc", "freevc-s"])
    ap.add_argument("--wavlm-layers", type=int, default=24, help="24 = WavLM-Large")
    ap.add_argument("--seconds", type=float, default=3.0, help="source clip length")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stream-chunk-ms", type=float, default=1000.0)
    args = ap.parse_args()
    if not (Path(args.repo) / "models.py").is_file():
        sys.exit(f"no FreeVC checkout at {args.repo}: git clone https://github.com/OlaWod/FreeVC there, "
                 f"or pass --repo / set {ENV_REPO}")

    src, ref = speech(args.seconds)
    load0 = os.getloadavg()[0]
    rows, stream_rows, notes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            t0 = time.perf_counter()
            opts = make_random_assets(args.repo, Path(tmp) / variant, variant=variant,
                                      wavlm_layers=args.wavlm_layers)
            gen = FreeVCGenerator(**opts)
            gen.load()
            n_wavlm = sum(p.numel() for p in gen._cmodel.parameters()) / 1e6
            n_net = sum(p.numel() for p in gen._net.parameters()) / 1e6
            notes.append(f"{variant}: WavLM {n_wavlm:.1f} M + SynthesizerTrn {n_net:.1f} M parameters "
                         f"(assets built and loaded in {time.perf_counter() - t0:.0f} s)")
            for threads in args.threads:
                row, stream_row = measure(gen, variant, src, ref, threads, args, variant == args.variants[0])
                rows.append(row)
                if stream_row:
                    stream_rows.append(stream_row)
    rows.append(["FreeVC paper (figure quoted in the issue)", 24, "GPU", "-", f"{PAPER_MS_PER_AUDIO_S:.0f}",
                 f"{PAPER_MS_PER_AUDIO_S / 1000:.3f}", "-", "-"])

    print(header("FreeVC conversion speed (`freevc` generator, official code, random weights)").rstrip("\n"))
    print(f"- torch {torch.__version__}; source: {len(src) / SAMPLE_RATE:.1f} s of espeak-ng speech; median of "
          f"{args.repeats} run(s) after one warm-up; 1-min load average {load0:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end (other processes on the machine skew the 2-thread rows most)")
    for n in notes:
        print(f"- {n}")
    print()
    print(table(["variant", "WavLM layers", "device", "clip s", "ms / audio-s", "RTF", "WavLM share",
                 "prepare_target ms"], rows))
    print(f"\nStreaming (`Generator.stream`, {args.stream_chunk_ms:.0f} ms chunks, each converted with its "
          f"context and look-ahead):\n")
    print(table(["variant", "threads", "chunk ms", "context + look-ahead ms", "compute ms mean",
                 "compute ms max", "latency ms (delay + max compute)", "chunks in real time"], stream_rows))


if __name__ == "__main__":
    main()
