"""Speed of the channel stage: x real time on one core per profile (audio seconds per CPU second of
`bench.channel.profiles.apply`, one process, one thread), on the recordings of a corpus.

Run: python benchmarks/channel_speed.py [--corpus DIR] [--recordings 60]
Prints a Markdown section for BENCHMARKS.md. Without --corpus, a small corpus is simulated first (simulated
speech: say so beside the numbers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402

from bench.audio import load_entry  # noqa: E402
from bench.channel.profiles import PROFILES, apply  # noqa: E402
from bench.data.corpus import open_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--recordings", type=int, default=60)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    corpus = args.corpus
    if corpus is None:
        from bench.runs.simulate_corpus import simulate_corpus

        corpus = Path(tempfile.mkdtemp()) / "corpus"
        simulate_corpus(corpus, speakers=4, sentences=2, seed=0, workers=1)
    rows = open_dataset(corpus).select(range(args.recordings)).to_list() if args.recordings else []
    waves = [load_entry(r["audio"]) for r in rows]
    audio_s = sum(len(w) for w in waves) / 16000
    for chain in PROFILES.values():  # load the codec libraries and scipy's filters once, outside the timings
        apply(waves[0], chain, seed=0)
    out = []
    for name, chain in PROFILES.items():
        t0 = time.process_time()
        for k, w in enumerate(waves):
            apply(w, chain, seed=k)
        cpu = time.process_time() - t0
        out.append([name, chain.note, f"{audio_s:.0f}", f"{cpu:.2f}", f"{audio_s / cpu:.0f}"])
    print(header("Channel stage speed (issue #23), one core"))
    print(f"{len(waves)} recordings of {corpus} (simulated speech), one process, one thread.\n")
    print(table(["profile", "chain", "audio s", "CPU s", "x real time"], out))


if __name__ == "__main__":
    main()
