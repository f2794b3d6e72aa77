"""Train every detector of the zoo on a corpus + fakes, evaluate each beside Pitch, build one leaderboard.

Usage (after `make demo`, which makes the simulated corpus, the `world` fakes and the pitch-lite result):

    python benchmarks/zoo_leaderboard.py --corpus demo/corpus --fakes demo/fakes-world \
        --compliance demo/compliance --out zoo --threads 2

Each detector is trained with `bench.runs.train.train_detector` (what `bench train --detector` runs)
into OUT/models/<label>, stored in OUT/store (its own model store, never the user's), evaluated with
`bench.runs.evaluate.evaluate` (what `bench evaluate` runs) into OUT/results/<label>, on the speakers it did not
train on; the zero-shot row scores the published AASIST weights without training. Everything resumes: a
second run skips finished models and results. Prints a Markdown section for BENCHMARKS.md (training time,
held-out AUROC, seed spread, minDCF) and writes the leaderboard to OUT/leaderboard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402

#: (row label, detector, training settings, seeds); None settings = not trained here (pitch-lite uses the demo's
#: compliance classifiers, trained on the same speakers; the zero-shot row the published AASIST weights)
SPECS: list[tuple[str, str, dict | None, list[int]]] = [
    ("pitch-lite", "pitch-lite", None, []),
    ("lfcc-lcnn", "lfcc-lcnn", {}, [0, 1, 2]),
    ("specrnet", "specrnet", {}, [0, 1, 2]),
    ("svm", "svm", {}, [0, 1, 2]),
    ("xgboost", "xgboost", {}, [0, 1, 2]),
    ("rawnet2", "rawnet2", {}, [0, 1, 2]),
    ("aasist-l", "aasist", {"architecture": "aasist-l"}, [0, 1, 2]),
    ("aasist-zero-shot", "aasist", None, []),
    ("devox", "devox", {}, [0]),
    ("vgg16-small", "vgg16", {}, [0]),
    ("deepdetection", "deepdetection", {}, [0]),
    ("aasist-fine-tuned", "aasist", {"architecture": "aasist", "init": "aasist-asvspoof2019", "epochs": 3,
                                     "lr": 1e-4, "patience": 2}, [0]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="demo/corpus")
    ap.add_argument("--fakes", default="demo/fakes-world")
    ap.add_argument("--compliance", default="demo/compliance", help="pitch-lite's compliance classifiers (bench "
                    "demo trains them on the same training speakers)")
    ap.add_argument("--out", default="zoo")
    ap.add_argument("--test-speakers", type=int, default=3, help="held-out speakers (the demo holds out 3 of 6 "
                    "from its compliance classifiers: the same speakers, so every row is scored on pitch-lite's)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training")
    ap.add_argument("--workers", type=int, default=2, help="evaluation worker processes")
    ap.add_argument("--only", default="", help="comma-separated row labels (default: all)")
    ap.add_argument("--seeds", default="", help="override every trained row's seeds, e.g. 0")
    ap.add_argument("--train-only", action="store_true", help="train (and store) the models, evaluate nothing")
    ap.add_argument("--privacy", action="store_true", help="also run bench privacy on the split detectors' rows and "
                    "put its table on the leaderboard")
    ap.add_argument("--privacy-recordings", type=int, default=60, help="held-out recordings bench privacy "
                    "reconstructs")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    os.environ["BENCH_MODEL_STORE"] = str(out / "store")

    from bench.leaderboard.build import build

    state_path = out / "zoo.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    run_rows(SPECS, args, out, state, state_path, script="benchmarks/zoo_leaderboard.py")
    privacy = run_privacy(state, args, out, state_path) if args.privacy else []
    if args.train_only:
        return
    results = [out / "results" / label for label, *_ in SPECS if (out / "results" / label / "result.json").is_file()]
    build(results, out / "leaderboard", title="detector zoo beside pitch-lite (simulated demo corpus)",
          overwrite=True, privacy=privacy)
    print(report(state, args))
    print(per_challenge_section(out / "leaderboard" / "README.md"))


def _save(state: dict, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2))


def run_rows(specs: list[tuple[str, str, dict | None, list[int]]], args: argparse.Namespace, out: Path, state: dict,
             state_path: Path, script: str) -> None:
    """Train (``bench.runs.train``) and evaluate (``bench.runs.evaluate``, held-out speakers) each row of
    ``specs`` into ``out``, recording what was measured in ``state`` (saved to ``state_path`` after each
    step, so that a second run resumes). ``args``: corpus, fakes, compliance, test_speakers, threads,
    workers, only, seeds, train_only."""
    from bench.runs.evaluate import evaluate
    from bench.runs.train import train_detector

    only = {s for s in args.only.split(",") if s}
    for label, detector, settings, seeds in specs:
        if only and label not in only:
            continue
        row = state.setdefault(label, {"detector": detector})
        if settings is not None and "ref" not in row:
            seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else seeds
            print(f"== training {label} (seeds {seeds})", flush=True)
            t0 = time.perf_counter()
            entry = train_detector(detector, args.corpus, args.fakes, out / "models" / label, seeds=seeds,
                                   settings=settings, threads=args.threads, name=label,
                                   test_speakers=args.test_speakers, command=f"{script} ({label})",
                                   progress=lambda m: print("  " + m, flush=True))
            card = entry.card
            per_seed = card.training["per_seed"]
            row.update({"ref": card.ref, "seeds": card.seeds, "n_params": card.n_params,
                        "train_wall_s": time.perf_counter() - t0, "fit_s": card.training.get("seconds"),
                        "per_seed_fit_s": {k: v["fit"]["seconds"] for k, v in per_seed.items()},
                        "epochs": {k: v["fit"].get("epochs_run") for k, v in per_seed.items()},
                        "best_epoch": {k: v["fit"].get("best_epoch") for k, v in per_seed.items()},
                        "test": card.metrics.get("test_summary"), "counts": card.training.get("counts"),
                        "splits": card.training.get("splits")})
            if any("authentication" in v for v in per_seed.values()):
                row["authentication"] = {k: v["authentication"] for k, v in per_seed.items() if "authentication" in v}
            _save(state, state_path)
        ref = row.get("ref") or "aasist-asvspoof2019"
        config = {"compliance": str(Path(args.compliance).resolve())} if detector == "pitch-lite" else {"model": ref}
        if args.train_only or "auroc" in row:
            continue
        print(f"== evaluating {label} ({config})", flush=True)
        t0 = time.perf_counter()
        r = evaluate(detector, args.corpus, args.fakes, out / "results" / label, config=config,
                     workers=args.workers, held_out_only=True, command=f"{script} ({label})")
        o = r.overall
        row.update({"eval_wall_s": time.perf_counter() - t0, "auroc": o.auroc.model_dump(),
                    "eer": o.eer.value, "min_dcf": o.min_dcf.value if o.min_dcf else None,
                    "accuracy": o.accuracy.value if o.accuracy else None, "f1": o.f1.value if o.f1 else None,
                    "rtfx": r.timings.get("rtfx_cpu"), "n": [o.n_bona_fide, o.n_fake],
                    "seeds_auroc": r.seeds.auroc.model_dump() if r.seeds else None})
        if settings is None and detector != "pitch-lite":
            row["n_params"] = read_card_params(ref)
        _save(state, state_path)


def run_privacy(state: dict, args: argparse.Namespace, out: Path, state_path: Path) -> list[Path]:
    """``bench privacy`` (``bench.serve.privacy_report.privacy_report``) for every trained split-detector row, into
    OUT/privacy/<label>; resumes (a finished report is kept). Returns the privacy.json paths."""
    from bench.api.registry import DETECTORS
    from bench.countermeasures.split_model import SplitTorchCMDetector
    from bench.serve.privacy_report import privacy_report

    paths = []
    for label, row in state.items():
        det = row.get("detector")
        if "ref" not in row or det not in DETECTORS or not issubclass(DETECTORS.factory(det), SplitTorchCMDetector):
            continue
        path = out / "privacy" / label / "privacy.json"
        if not path.is_file():
            print(f"== privacy of {label} ({row['ref']})", flush=True)
            t0 = time.perf_counter()
            privacy_report(row["ref"], args.corpus, path.parent, max_recordings=args.privacy_recordings,
                           threads=args.threads, progress=lambda m: print("  " + m, flush=True))
            row["privacy_wall_s"] = time.perf_counter() - t0
            _save(state, state_path)
        paths.append(path)
    return paths


def read_card_params(ref: str) -> int | None:
    from bench.models.store import resolve

    return resolve(ref).card.n_params


def per_challenge_section(readme: Path) -> str:
    """The leaderboard's per-challenge grid (our rows beside the paper's quoted series)."""
    text = readme.read_text()
    start = text.index("## AUROC % per challenge")
    end = text.find("\n## ", start + 1)
    return "\n#" + text[start:end if end > 0 else None].rstrip()


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def report(state: dict, args: argparse.Namespace) -> str:
    """The BENCHMARKS.md section."""
    rows = []
    for label, *_ in SPECS:
        r = state.get(label)
        if not r or "auroc" not in r:
            continue
        per_seed = r.get("per_seed_fit_s") or {}
        fit = f"{sum(per_seed.values()) / len(per_seed):.0f}" if per_seed else "– (not trained)"
        spread = r.get("seeds_auroc")
        seeds = (f"{_pct(spread['mean'])} +- {_pct(spread['std'])}" if spread and spread.get("std") is not None
                 else "–")
        a = r["auroc"]
        rows.append([label, f"{r['n_params']:,}" if r.get("n_params") else "–",
                     ",".join(map(str, r.get("seeds") or [])) or "–", fit,
                     f"{r['train_wall_s']:.0f}" if r.get("train_wall_s") else "–",
                     f"{_pct(a['value'])} [{_pct(a['ci_low'])}, {_pct(a['ci_high'])}]", seeds, _pct(r["eer"]),
                     "–" if r.get("min_dcf") is None else f"{r['min_dcf']:.3f}", f"{r['eval_wall_s']:.0f}"])
    return "\n".join([
        header("Detector zoo trained on the demo corpus + world fakes, beside pitch-lite"),
        f"- command: `python benchmarks/zoo_leaderboard.py --corpus {args.corpus} --fakes {args.fakes} "
        f"--test-speakers {args.test_speakers} --threads {args.threads} --workers {args.workers}`",
        "- simulated corpus: these figures describe the simulation, not the Pitch recordings",
        "",
        table(["row", "parameters", "seeds", "training s per seed", "training wall s (all seeds, incl. loading)",
               "AUROC % [95% CI] (seed ensemble)", "AUROC % per seed, mean +- std", "EER %", "minDCF",
               "evaluate wall s"], rows),
    ])


if __name__ == "__main__":
    main()
