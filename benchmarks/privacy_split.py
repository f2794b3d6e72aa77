"""Issue #11's figures in one run: DevoX Fig. 5 re-run, DeepDetection's authentication table, the privacy table.

Usage (a simulated corpus with bench's own scripts, where tiny.en transcribes the originals well enough for
the content measure to have headroom, and more training speakers than the demo's):

    bench data simulate --out c12/corpus --speakers 12 --sentences 2 --scripts bench
    bench generate -c c12/corpus -o c12/fakes-world -g world
    python benchmarks/privacy_split.py --corpus c12/corpus --fakes c12/fakes-world --out priv12

Trains devox, vgg16-small (its default learning rate and 1e-4), deepdetection, xgboost and svm on the same
speaker split (`--test-speakers`, default 4: 6 training, 2 validation, 4 held-out of 12), evaluates each on the
held-out speakers, runs `bench privacy` on the split detectors, builds a leaderboard with the privacy table
(OUT/leaderboard) and prints the BENCHMARKS.md section. Resumes like `zoo_leaderboard.py` (OUT/zoo.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402
from zoo_leaderboard import _pct, run_privacy, run_rows  # noqa: E402

SPECS: list[tuple[str, str, dict | None, list[int]]] = [
    ("devox", "devox", {}, [0]),
    ("vgg16-small", "vgg16", {}, [0]),
    ("vgg16-small-lr1e-4", "vgg16", {"lr": 1e-4}, [0]),
    ("deepdetection", "deepdetection", {}, [0]),
    ("xgboost", "xgboost", {}, [0, 1, 2]),
    ("svm", "svm", {}, [0, 1, 2]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--fakes", required=True)
    ap.add_argument("--out", default="privacy-split")
    ap.add_argument("--test-speakers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--privacy-recordings", type=int, default=60)
    args = ap.parse_args()
    args.seeds, args.train_only, args.compliance = "", False, ""
    out = Path(args.out).resolve()
    os.environ["BENCH_MODEL_STORE"] = str(out / "store")

    from bench.leaderboard.build import build

    state_path = out / "zoo.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    run_rows(SPECS, args, out, state, state_path, script="benchmarks/privacy_split.py")
    privacy = run_privacy(state, args, out, state_path)
    results = [out / "results" / label for label, *_ in SPECS if (out / "results" / label / "result.json").is_file()]
    build(results, out / "leaderboard", title=f"privacy-split detectors beside the feature baselines "
          f"({Path(args.corpus).name}, simulated)", overwrite=True, privacy=privacy)
    print(report(state, privacy, args))


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def fig5_table(state: dict) -> str:
    rows = [["DevoX (quoted, Fig. 5 / Sec. IV.A; its own corpus)", "–", "–", "–", "–", "–", "92", "–"]]
    for label, *_ in SPECS:
        r = state.get(label)
        if not r or "auroc" not in r:
            continue
        a = r["auroc"]
        fit = r.get("per_seed_fit_s") or {}
        epochs = ", ".join(f"{r['epochs'][k]} (best {r.get('best_epoch', {}).get(k, '?')})" for k in r["epochs"]
                           if r["epochs"][k] is not None) or "– (not an epoch loop)"
        rows.append([label, f"{r['n_params']:,}" if r.get("n_params") else "–",
                     ",".join(map(str, r.get("seeds") or [])),
                     f"{sum(fit.values()) / max(len(fit), 1):.0f}", epochs,
                     f"{_pct(a['value'])} [{_pct(a['ci_low'])}, {_pct(a['ci_high'])}]", _pct(r.get("accuracy")),
                     _pct(r.get("eer"))])
    return table(["system", "parameters", "seeds", "training s per seed", "epochs run (best)",
                  "AUROC % [95% CI]", "accuracy % at the EER threshold", "EER %"], rows)


def auth_table(state: dict) -> str:
    r = state.get("deepdetection") or {}
    rows = []
    for seed, rep in (r.get("authentication") or {}).items():
        for level in ("slice", "utterance"):
            lv = rep[level]
            f1 = lv["user_identification_f1"]
            eers = " / ".join(_f(u["eer"]) for u in lv["per_user_eer"].values())
            rows.append([f"seed {seed}, {level}", f"{_f(f1['closed_set'])} / {_f(f1['open_set'])}",
                         f"{_f(lv['deep_voice_f1'])} / {_f(lv['deep_voice_f1_argmax'])}",
                         f"{eers} ({_f(lv['mean_user_eer'])})", str(lv["n"])])
        users = ", ".join(rep["users"])
    if not rows:
        return "(deepdetection not trained)"
    rows.append(["quoted, DeepDetection Sec. 4.3 (ASVspoof 2019, 20 users, slices)", "0.9905 (test)", "1.00 (test)",
                 "average 0.15", "–"])
    return (f"Enrolled users: {users}.\n\n"
            + table(["level", "user-ID F1 closed / open set", "deep-voice F1 (P >= 0.5 / arg-max)",
                     "per-user EER (mean)", "trials"], rows))


def privacy_table(paths: list[Path]) -> str:
    from bench.leaderboard.build import load_privacy

    rows = []
    for p in load_privacy(paths):
        rows.append([f"{p['detector']} ({p['model']})", str(p["bytes_per_second"]), _f(p["wil_original"]),
                     _f(p["wil_band_limited"]), _f(p["wil_reconstructed"]), _f(p["wil_decoder_with_indices"]),
                     _pct(p["speaker_accuracy_features"]), _pct(p["speaker_accuracy_raw"]), _pct(p["chance"]),
                     str(p["n_recordings"])])
    return table(["system", "message bytes per audio second (16-bit PCM 8 kHz: 16,000)", "WIL original",
                  "WIL band-limited 8 kHz", "WIL reconstructed from the features",
                  "WIL own decoder + pooling indices (upper bound)", "speaker probe on features %",
                  "same probe on raw audio %", "chance %", "recordings"], rows)


def report(state: dict, privacy: list[Path], args: argparse.Namespace) -> str:
    return "\n".join([
        header("Privacy-split detectors on a 12-speaker simulated corpus"),
        f"- command: `python benchmarks/privacy_split.py --corpus {args.corpus} --fakes {args.fakes} "
        f"--test-speakers {args.test_speakers} --threads {args.threads}`",
        "- simulated corpus: these figures describe the simulation, not the papers' data", "",
        "#### DevoX Fig. 5 re-run (held-out speakers)", "", fig5_table(state), "",
        "#### DeepDetection's authentication (held-out recordings, never trained on)", "", auth_table(state), "",
        "#### What the features leak (`bench privacy`)", "", privacy_table(privacy), "",
    ])


if __name__ == "__main__":
    main()
