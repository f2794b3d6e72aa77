"""Errors at a threshold carried over from elsewhere (a development split, a model card): what a deployed
detector does, which an EER measured on the evaluation data itself hides.

FPR is the share of bona fide called fake (score >= threshold), FNR the share of spoofs called bona fide,
HTER their mean. Their 95% intervals come from the stratified bootstrap bench uses everywhere: resampling
each class with replacement makes the count of errors in it binomial, so the replicates are drawn as
binomial counts directly (the same distribution, without touching the scores again), FPR and FNR
independently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.evaluation.detection_metrics import eer


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.percentile(draws, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def errors_at(labels: np.ndarray, scores: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> dict[str, Any]:
    """FPR, FNR and HTER at ``threshold`` with bootstrap intervals: ``{"fpr": {"value", "ci_low", "ci_high"},
    "fnr": ..., "hter": ..., "n_bona_fide", "n_fake"}``. A class that is absent leaves its rate (and HTER)
    None."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    bona, fake = scores[labels == 0], scores[labels == 1]
    n0, n1 = len(bona), len(fake)
    fpr = float(np.mean(bona >= threshold)) if n0 else None
    fnr = float(np.mean(fake < threshold)) if n1 else None
    out: dict[str, Any] = {"n_bona_fide": n0, "n_fake": n1, "threshold": float(threshold)}
    rng = np.random.default_rng(seed)
    draws = {}
    for name, rate, n in (("fpr", fpr, n0), ("fnr", fnr, n1)):
        if rate is None:
            out[name] = {"value": None, "ci_low": None, "ci_high": None}
            continue
        draws[name] = rng.binomial(n, rate, size=max(n_boot, 0)) / n
        lo, hi = _interval(draws[name], level) if n_boot > 0 else (None, None)
        out[name] = {"value": rate, "ci_low": lo, "ci_high": hi}
    if fpr is None or fnr is None:
        out["hter"] = {"value": None, "ci_low": None, "ci_high": None}
    else:
        lo, hi = _interval((draws["fpr"] + draws["fnr"]) / 2, level) if n_boot > 0 else (None, None)
        out["hter"] = {"value": (fpr + fnr) / 2, "ci_low": lo, "ci_high": hi}
    return out


def eer_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold at the EER point of a development set (score >= threshold = fake)."""
    return float(eer(np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64))[1])
