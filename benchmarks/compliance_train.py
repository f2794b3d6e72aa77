"""Compliance classifiers (`bench train compliance`, default logmel-cnn backbone): CPU training time,
per-challenge metrics on a simulated corpus, and inference speed (RTFx, one torch thread).

Run: python benchmarks/compliance_train.py [--speakers 6] [--sentences 2] [--workers 2] [--corpus DIR]
Prints a Markdown section for BENCHMARKS.md. Metrics describe the simulated corpus, not Pitch's recordings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, table  # noqa: E402


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (decoding workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--speakers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="simulation and decoding processes")
    ap.add_argument("--epochs", type=int, default=None, help="maximum epochs per fold (default: the CLI's)")
    ap.add_argument("--corpus", type=Path, default=None, help="use this corpus instead of simulating one")
    args = ap.parse_args()

    import numpy as np
    import torch

    from bench.audio import load_entry
    from bench.data.corpus import open_dataset
    from bench.detectors.pitch.compliance import ComplianceModel, TrainConfig, train_compliance
    from bench.runs.simulate_corpus import simulate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "corpus"
            simulate_corpus(corpus, speakers=args.speakers, sentences=args.sentences, seed=0, workers=args.workers)
        ds = open_dataset(corpus)
        n_spk = len(set(ds["subject"]))

        cfg = TrainConfig(workers=args.workers, threads=1, epochs=args.epochs, seed=0)
        w0, c0 = time.perf_counter(), _cpu_s()
        doc = train_compliance(corpus, Path(tmp) / "ckpt", config=cfg)
        wall, cpu = time.perf_counter() - w0, _cpu_s() - c0
        resolved = cfg.resolved()
        rows = []
        for e in doc["challenges"].values():
            rows.append([f"#{e['challenge']} {e['name']}", _f(e["validation"]["accuracy"]),
                         _f(e["validation"]["auroc"]), _f(e["test"]["accuracy"]), _f(e["test"]["auroc"]),
                         e["train"]["n"], e["test"]["n"], f"{e['seconds']:.1f}"])
        val_auc = [e["validation"]["auroc"] for e in doc["challenges"].values() if e["validation"]["auroc"] is not None]
        test_auc = [e["test"]["auroc"] for e in doc["challenges"].values() if e["test"]["auroc"] is not None]
        test_acc = [e["test"]["accuracy"] for e in doc["challenges"].values() if e["test"]["accuracy"] is not None]
        rows.append(["**mean**", "", f"**{np.mean(val_auc):.3f}**", f"**{np.mean(test_acc):.3f}**",
                     f"**{np.mean(test_auc):.3f}**", "", "", f"**{wall:.1f}**"])

        # inference: every original clip through every classifier, one torch thread
        torch.set_num_threads(1)
        model = ComplianceModel.load(Path(tmp) / "ckpt")
        clips = [load_entry(a) for a in ds["audio"]]
        audio_s = sum(len(c) for c in clips) / 16000
        model.predict(clips[:4], model.challenges[0])  # warm-up
        for cid in model.challenges:  # load every classifier before timing
            model._module(cid)
        inf = []
        for bs in (1, 16):
            t0, p0 = time.perf_counter(), time.process_time()
            for cid in model.challenges:
                model.predict(clips, cid, batch_size=bs)
            inf_wall, inf_cpu = time.perf_counter() - t0, time.process_time() - p0
            n_calls = len(model.challenges) * len(clips)
            inf.append([bs, len(model.challenges), len(clips), f"{audio_s * len(model.challenges):.0f}",
                        f"{inf_cpu:.2f}", f"**{audio_s * len(model.challenges) / inf_cpu:.0f}**",
                        f"{1000 * inf_wall / n_calls:.1f}"])

    print(header("Compliance classifiers (`bench train compliance`, logmel-cnn, CPU)"))
    print(f"Simulated corpus: {n_spk} speakers x {len(set(ds['challenge']))} challenges x {args.sentences} "
          f"sentences = {len(ds)} clips ({audio_s:.0f} s of audio). Speakers: {len(doc['speakers']['train'])} "
          f"training in {len(doc['speakers']['folds'])} speaker-disjoint folds, {len(doc['speakers']['test'])} "
          f"held out for testing ({', '.join(doc['speakers']['test'])}). Max {resolved.epochs} epochs per fold, "
          f"early stopping (patience {resolved.patience}), AdamW lr {resolved.lr}, batch {resolved.batch_size}, "
          "1 torch thread.\n")
    print(f"Training all {len(doc['challenges'])} classifiers ({len(doc['speakers']['folds'])} folds + 1 final "
          f"model each, features cached once): **{wall:.1f} s wall, {cpu:.1f} CPU-s** (incl. decoding with "
          f"{args.workers} workers).\n")
    print(table(["challenge", "val acc", "val AUROC", "test acc", "test AUROC", "train n", "test n", "train s"],
                rows))
    print("\nInference (`ComplianceModel.predict`, 4 s centre crops, log-mel + CNN, 1 torch thread; RTFx = "
          "input audio-seconds per CPU-second):\n")
    print(table(["batch", "classifiers", "clips", "audio s", "CPU s", "RTFx", "wall ms / clip / classifier"],
                inf))


if __name__ == "__main__":
    main()
