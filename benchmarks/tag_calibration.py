"""The packaged calibration `bench tag` uses for pitch-lite / pitch when none is given (issue #25).

From a pitch-lite result (bench evaluate's scores.parquet with the ``content``, ``realism.mos`` and
``compliance.p`` columns), fit two variants of (threshold, temperature) on all its calls:

- ``with_compliance``: the score as evaluated, D = mean((1 - C), WIL, (1 - R/5)) over the terms that apply;
- ``without_compliance``: D recomputed without the compliance term, as `bench tag` scores a call when no
  compliance classifiers are given (a fresh install);

the threshold is the EER threshold, the temperature the log-loss fit (bench.evaluation.calibration), and
``certain_cut`` the lowest confidence at which the machine's error rate on these calls (in-sample) is at
most 5 %. Writes the JSON (no machine path in it) and prints a Markdown note for BENCHMARKS.md.

Run: python benchmarks/tag_calibration.py --result RESULT_DIR [--out bench/references/pitch_lite_calibration.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import header  # noqa: E402

from bench.detectors.pitch.detector import degradation  # noqa: E402
from bench.evaluation.calibration import (  # noqa: E402
    confidence,
    expected_calibration_error,
    fit_temperature,
    probability_fake,  # noqa: E402
)
from bench.evaluation.detection_metrics import auroc, eer  # noqa: E402
from bench.evaluation.results import load_result, read_scores  # noqa: E402
from bench.evaluation.routing import cut_for_risk  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RISK = 0.05


def fit(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Threshold, temperature, and what they give on these calls."""
    t = float(eer(labels, scores)[1])
    temp = fit_temperature(labels, scores, t)
    p = probability_fake(scores, t, temp)
    return {"threshold": t, "temperature": temp, "auroc": auroc(labels, scores),
            "ece": expected_calibration_error(labels, p), "accuracy": float(((p >= 0.5) == labels).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--result", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "references" / "pitch_lite_calibration.json")
    args = ap.parse_args()
    result = load_result(args.result / "result.json")
    rows = pd.DataFrame(read_scores(args.result / "scores.parquet"))
    rows = rows[rows.score.notna()]
    if "in_scope" in rows:  # the detector's training speakers are out of the result's scope: out of the fit too
        rows = rows[rows.in_scope.fillna(True).astype(bool)]
    labels = rows.label.to_numpy().astype(int)
    with_c = rows.score.to_numpy(dtype=float)
    without_c = np.array([degradation(None, None if pd.isna(w) else float(w), None if pd.isna(m) else float(m))[0]
                          for w, m in zip(rows["content"], rows["realism.mos"], strict=True)])
    variants = {"with_compliance": fit(labels, with_c), "without_compliance": fit(labels, without_c)}
    v = variants["with_compliance"]
    conf = confidence(with_c, v["threshold"], v["temperature"])
    cut = cut_for_risk(labels, with_c >= v["threshold"], conf, RISK)
    doc = {"kind": "bench-calibration", "detector": result.detector.name,
           "variants": {k: {"threshold": x["threshold"], "temperature": x["temperature"]} for k, x in variants.items()},
           "certain_cut": cut, "certain_rule": f"in-sample machine error rate <= {RISK:.0%} at or above this "
                                               "confidence (with compliance)",
           "fitted_on": f"{len(rows)} calls ({int(labels.sum())} fakes of generator {result.generator.name}) of "
                        f"bench's simulated corpus {result.corpus.get('name')} (content hash "
                        f"{result.corpus.get('content_hash')}), pitch-lite {result.detector.version}: SIMULATED "
                        "speech; refit on your calls with `bench human report`",
           "simulated": bool(result.simulated), "made_by": "benchmarks/tag_calibration.py"}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(header("The packaged pitch-lite calibration for `bench tag` (issue #25)"))
    print(f"\n{doc['fitted_on']}; certain_cut {cut}.\n")
    print("| variant | threshold | temperature | AUROC % | ECE | accuracy % |\n|---|---|---|---|---|---|")
    for k, x in variants.items():
        print(f"| {k} | {x['threshold']:.4f} | {x['temperature']:.4f} | {100 * x['auroc']:.1f} | {x['ece']:.3f} | "
              f"{100 * x['accuracy']:.1f} |")


if __name__ == "__main__":
    main()
