"""Throughput of `bench evaluate --dataset` from 1 to 2 workers, local engine and Ray, side by side in one run.

A simulated corpus's recordings are laid out as an In-the-Wild folder (meta.csv + WAV files; the fakes of
the `world` generator are the spoofs), then the published AASIST scores them (official protocol) four times:
local engine with 1 and 2 workers, Ray (a local instance) with 1 and 2 actors. Each run starts from an empty
cache. Reported: the command's wall seconds (interpreter and imports included), the evaluation's own wall
seconds (result.json timings.wall_s: reading the dataset, a local Ray instance's start-up and the scoring),
items per second and the 2-worker/1-worker ratio of the latter per engine, and the CPU seconds per item.
Scores must be identical across the four runs (checked). Simulated speech: the throughput describes this
machine, not the audio.

Run: python benchmarks/ray_scaling.py [--speakers 4] [--sentences 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402


def _lay_out(corpus: Path, fakes: Path, folder: Path) -> int:
    """An In-the-Wild-style folder from a corpus (bona fide) and its fakes (spoof); returns the item count."""
    import soundfile as sf

    from bench.audio import load_entry
    from bench.data.corpus import open_dataset

    folder.mkdir(parents=True)
    rows = ["file,speaker,label"]
    for ds, label in ((open_dataset(corpus), "bona-fide"), (open_dataset(fakes), "spoof")):
        for r in ds.to_list():
            if r.get("status", "ok") != "ok" or r["audio"] is None:
                continue
            name = f"{len(rows) - 1}.wav"
            sf.write(folder / name, load_entry(r["audio"]), 16_000, subtype="PCM_16")
            rows.append(f"{name},{r['subject']},{label}")
    (folder / "meta.csv").write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def _run(folder: Path, out: Path, workers: int, engine: str) -> tuple[float, float, float, list[float]]:
    """(wall seconds of the command, seconds of its scoring stage, CPU seconds of the scoring, the scores)."""
    env = {**os.environ, "BENCH_ENGINE": engine, "RAY_ADDRESS": ""}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "bench", "evaluate", "-d", "aasist", "--param",
                          "model=aasist-asvspoof2019", "--param", "protocol=official", "--dataset", str(folder),
                          "--out", str(out), "--workers", str(workers), "--bootstrap", "0"],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(res.stderr[-2000:])
    result = json.loads((out / "result.json").read_text())
    import pyarrow.parquet as pq

    scores = [r["score"] for r in pq.read_table(out / "scores.parquet").to_pylist()]
    return wall, float(result["timings"]["wall_s"]), float(result["timings"]["component_cpu_s"]), scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=2)
    args = ap.parse_args()
    from bench.runs.generate import generate
    from bench.runs.simulate_corpus import simulate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        simulate_corpus(tmp / "corpus", speakers=args.speakers, sentences=args.sentences, challenges=list(range(6)),
                        seed=0, workers=2)
        generate(tmp / "corpus", tmp / "fakes", generator="world", challenges=list(range(6)), max_targets=1, workers=2)
        n = _lay_out(tmp / "corpus", tmp / "fakes", tmp / "itw")
        runs, reference = {}, None
        for engine in ("local", "ray"):
            for workers in (1, 2):
                wall, stage, cpu, scores = _run(tmp / "itw", tmp / f"out-{engine}-{workers}", workers, engine)
                reference = reference or scores
                if scores != reference:
                    sys.exit(f"{engine} with {workers} worker(s) gave other scores than the first run")
                runs[engine, workers] = (wall, stage, cpu)
        rows = []
        for (engine, workers), (wall, stage, cpu) in runs.items():
            base_stage = runs[engine, 1][1]
            rows.append([engine, workers, n, f"{wall:.1f}", f"{stage:.1f}", f"{n / stage:.2f}",
                         f"{base_stage / stage:.2f}x" if workers == 2 else "1.00x", f"{cpu / n:.3f}"])
        print(header("bench evaluate --dataset: 1 vs 2 workers, local engine and Ray"))
        print(f"- {n} items ({args.speakers} simulated speakers x {args.sentences} sentences, challenges #0-#5, "
              "and their world fakes), official AASIST checkpoint, official protocol; scores identical across the "
              "four runs\n")
        print(table(["engine", "workers", "items", "command wall s", "evaluate wall s (timings.wall_s)",
                     "items/s", "speed-up over 1 worker", "CPU s per item (scoring)"], rows))


if __name__ == "__main__":
    main()
