"""Detection metrics: AUROC, EER, accuracy, ROC/DET curves, stratified bootstrap CIs.

Conventions: label 1 = fake, 0 = bona fide; higher score = more likely fake.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError("labels and scores differ in length")
    return labels, scores


def auroc(labels, scores) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN if one class is absent."""
    labels, scores = _check(labels, scores)
    pos, neg = int(labels.sum()), int(len(labels) - labels.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, thresholds), thresholds descending."""
    labels, scores = _check(labels, scores)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    pos, neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    fpr = np.r_[0.0, fps / neg]
    tpr = np.r_[0.0, tps / pos]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def eer(labels, scores) -> tuple[float, float]:
    """Equal error rate and its threshold (linear interpolation on the ROC curve)."""
    labels, scores = _check(labels, scores)
    if labels.min() == labels.max():
        return float("nan"), float("nan")
    fpr, tpr, thr = roc_curve(labels, scores)
    fnr = 1 - tpr
    diff = fnr - fpr
    i = int(np.flatnonzero(diff <= 0)[0])  # first point where FNR <= FPR
    if i == 0:
        return 0.0, float(thr[1])
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1) if d0 != d1 else 0.0
    rate = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    t = thr[i] if not np.isfinite(thr[i - 1]) else thr[i - 1] + w * (thr[i] - thr[i - 1])
    return float(rate), float(t)


def accuracy(labels, scores, threshold: float) -> float:
    """Share of samples classified correctly when score >= threshold means fake."""
    labels, scores = _check(labels, scores)
    return float(np.mean((scores >= threshold).astype(int) == labels))


def det_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, false-negative rate) along descending thresholds."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr, 1 - tpr


def bootstrap_ci(labels, scores, metric: Callable[[np.ndarray, np.ndarray], float], n: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of ``metric`` under a bootstrap stratified by label (class sizes kept)."""
    labels, scores = _check(labels, scores)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(pos) == 0 or len(neg) == 0 or n <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n)
    for b in range(n):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        values[b] = metric(labels[idx], scores[idx])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_auroc_ci(labels, scores, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Fast stratified bootstrap CI for AUROC (vectorised over resamples)."""
    labels, scores = _check(labels, scores)
    pos_s, neg_s = scores[labels == 1], scores[labels == 0]
    if len(pos_s) == 0 or len(neg_s) == 0 or n <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    p = pos_s[rng.integers(0, len(pos_s), size=(n, len(pos_s)))]
    q = np.sort(neg_s[rng.integers(0, len(neg_s), size=(n, len(neg_s)))], axis=1)
    # for each resample: sum over positives of (#neg < p + 0.5 #neg == p)
    less = np.stack([np.searchsorted(q[b], p[b], side="left") for b in range(n)])
    leq = np.stack([np.searchsorted(q[b], p[b], side="right") for b in range(n)])
    values = (less + 0.5 * (leq - less)).sum(axis=1) / (len(pos_s) * len(neg_s))
    lo, hi = np.percentile(values, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)
