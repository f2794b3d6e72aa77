"""Machine confidence and its calibration (issue #25; Pitch §5.3).

Pitch routes each call by the machine's confidence: "the normalized distance from the decision
boundary", scaled by a temperature that "calibrates confidence scaling"; confident calls are
decided by the machine, the rest go to a person with the machine's tag. The two formulas were
lost in the paper's text extraction. bench's reconstruction, documented as one:

    p(fake) = sigmoid((s - t) / T)              s: score, t: the decision threshold, T > 0
    c       = |2 p(fake) - 1| = tanh(|s - t| / 2T)   in [0, 1): 0 on the boundary

``c`` is a distance from the boundary, normalised to [0, 1) and scaled by T, as the prose says;
``p(fake)`` is the probability behind it, which is what calibration measures need. T is *fitted*
(:func:`fit_temperature`: the log loss of ``p(fake)`` on a held-out split, never on the scores
being reported), so (s - t) / T is the detector's log-likelihood ratio under balanced priors and
actDCF can be read at a declared operating point.

Calibration measures use scikit-learn where it has them (``calibration_curve``,
``brier_score_loss``). ECE is over the predicted probability of *fake*, in ``n_bins`` equal-width
bins on [0, 1] (the reliability diagram's bins), each bin weighted by its share of the samples.
Convention as ``detection_metrics``: label 1 = fake, higher score = more fake.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from bench.errors import BenchError
from bench.evaluation.detection_metrics import ASVSPOOF5_C_FA, ASVSPOOF5_C_MISS, ASVSPOOF5_P_SPOOF, act_dcf

ECE_BINS = 10
# fitted temperatures are searched over this range, relative to the spread of |score - threshold|
_LOG_RANGE = (-12.0, 12.0)


def probability_fake(scores, threshold: float, temperature: float) -> np.ndarray:
    """``sigmoid((s - t) / T)``: the calibrated probability that each call is fake."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive (got {temperature})")
    return expit((np.asarray(scores, dtype=np.float64) - threshold) / temperature)


def confidence(scores, threshold: float, temperature: float) -> np.ndarray:
    """Pitch's machine confidence as reconstructed here: ``tanh(|s - t| / 2T)`` in [0, 1)."""
    return np.abs(2 * probability_fake(scores, threshold, temperature) - 1)


def fit_temperature(labels, scores, threshold: float) -> float:
    """The T that minimises the log loss of ``probability_fake`` on (held-out) ``labels``/``scores``.

    Searched in log space around the scores' own scale; a perfectly separated split has no finite
    optimum, so the search stops at the range's small end (a sharp but finite temperature)."""
    labels = np.asarray(labels).astype(int)
    dist = np.asarray(scores, dtype=np.float64) - threshold
    if labels.size == 0 or labels.min() == labels.max():
        raise ValueError("fitting a temperature needs both bona fide and fake calls")
    scale = float(np.median(np.abs(dist))) or float(np.max(np.abs(dist))) or 1.0

    def loss(log_t: float) -> float:
        return log_loss(labels, np.clip(expit(dist / (scale * np.exp(log_t))), 1e-12, 1 - 1e-12), labels=[0, 1])

    best = minimize_scalar(loss, bounds=_LOG_RANGE, method="bounded", options={"xatol": 1e-4})
    return float(scale * np.exp(best.x))


def expected_calibration_error(labels, p_fake, n_bins: int = ECE_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins of p(fake): sum over bins of (share of samples) x |fakes' share -
    mean p(fake)|. The bins are scikit-learn's ``calibration_curve(strategy="uniform")`` bins."""
    labels, p = np.asarray(labels).astype(int), np.asarray(p_fake, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], p)  # as calibration_curve assigns bins
    total = 0.0
    for b in np.unique(ids):
        inside = ids == b
        total += inside.mean() * abs(labels[inside].mean() - p[inside].mean())
    return float(total)


def calibration_report(labels, scores, threshold: float, temperature: float, n_bins: int = ECE_BINS,
                       p_spoof: float = ASVSPOOF5_P_SPOOF, c_miss: float = ASVSPOOF5_C_MISS,
                       c_fa: float = ASVSPOOF5_C_FA) -> dict[str, Any]:
    """Reliability diagram, ECE, Brier score and actDCF of ``probability_fake`` at the declared operating point
    (ASVspoof 5 parameters by default; the LLR is (s - t) / T), with the binning and the point stated."""
    labels = np.asarray(labels).astype(int)
    p = probability_fake(scores, threshold, temperature)
    prob_true, prob_pred = calibration_curve(labels, p, n_bins=n_bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p), minlength=n_bins)
    llr = (np.asarray(scores, dtype=np.float64) - threshold) / temperature
    return {
        "threshold": float(threshold), "temperature": float(temperature), "n": int(labels.size),
        "ece": expected_calibration_error(labels, p, n_bins),
        "ece_binning": f"{n_bins} equal-width bins of p(fake) on [0, 1], weighted by their share of the calls",
        "brier": float(brier_score_loss(labels, p, pos_label=1)),
        "act_dcf": act_dcf(labels, llr, p_spoof, c_miss, c_fa),
        "operating_point": {"p_spoof": p_spoof, "c_miss": c_miss, "c_fa": c_fa},
        "reliability": {"mean_p_fake": prob_pred.tolist(), "fake_share": prob_true.tolist(),
                        "count": [int(c) for c in counts if c > 0]},
    }


TAGS = ("Deepfake-Certainly", "Deepfake-Likely")  # Pitch A.3's two categories


def tag_for(score: float, threshold: float, temperature: float, certain_cut: float | None) -> dict[str, Any]:
    """Pitch A.3's tag of one score: Deepfake-Certainly when p(fake) >= 0.5 and the confidence reaches
    ``certain_cut``, Deepfake-Likely when p(fake) >= 0.5 below it, None when the machine says bona fide."""
    p = float(probability_fake([score], threshold, temperature)[0])
    c = abs(2 * p - 1)
    tag = None if p < 0.5 else (TAGS[0] if certain_cut is not None and c >= certain_cut else TAGS[1])
    return {"tag": tag, "p_fake": p, "confidence": c}


def parse_calibration(text: str, where: str) -> dict[str, Any]:
    """A calibration document (``kind: bench-calibration``: ``variants`` of threshold and positive temperature,
    optional ``certain_cut`` and ``detector``), validated; one clear line when it is not one."""
    try:
        doc = json.loads(text)
        variants = doc["variants"] if doc.get("kind") == "bench-calibration" else None
        ok = isinstance(variants, dict) and bool(variants) and all(
            isinstance(v, dict) and float(v["temperature"]) > 0 and np.isfinite(float(v["threshold"]))
            for v in variants.values())
        cut = doc.get("certain_cut")
        ok = ok and (cut is None or 0 <= float(cut) <= 1)
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise BenchError(f"{where}: not a bench calibration (kind bench-calibration with variants of a finite "
                         "threshold and a positive temperature, certain_cut in [0, 1])")
    return doc
