"""Metrics against independent computations on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import accuracy, auroc, bootstrap_auroc_ci, bootstrap_ci, det_curve, eer, roc_curve


def _auroc_pairs(labels, scores):
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg])


def test_auroc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # many ties
    assert auroc(labels, scores) == pytest.approx(_auroc_pairs(labels, scores), abs=1e-12)
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert np.isnan(auroc([1, 1], [0.1, 0.2]))


def test_eer_on_separable_and_symmetric_cases():
    assert eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])[0] == pytest.approx(0.0)
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(20000), np.ones(20000)]
    scores = np.r_[rng.normal(0, 1, 20000), rng.normal(2, 1, 20000)]
    rate, thr = eer(labels, scores)
    from scipy.stats import norm
    assert rate == pytest.approx(norm.cdf(-1.0), abs=0.01) and thr == pytest.approx(1.0, abs=0.05)
    far = np.mean(scores[labels == 0] >= thr)
    frr = np.mean(scores[labels == 1] < thr)
    assert far == pytest.approx(frr, abs=0.01)


def test_roc_det_and_accuracy():
    labels = np.array([0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.7])
    fpr, tpr, thr = roc_curve(labels, scores)
    assert fpr[0] == 0 and tpr[-1] == 1 and np.all(np.diff(thr[1:]) < 0)
    f, m = det_curve(labels, scores)
    assert np.allclose(m, 1 - tpr)
    assert accuracy(labels, scores, 0.4) == 1.0 and accuracy(labels, scores, 0.0) == 0.6


def test_bootstrap_cis_cover_the_estimate_and_agree():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(60), np.ones(60)]
    scores = np.r_[rng.normal(0, 1, 60), rng.normal(1, 1, 60)]
    a = auroc(labels, scores)
    lo, hi = bootstrap_auroc_ci(labels, scores, n=2000, seed=0)
    lo2, hi2 = bootstrap_ci(labels, scores, auroc, n=2000, seed=0)
    assert lo < a < hi and hi - lo < 0.3
    assert lo == pytest.approx(lo2, abs=0.02) and hi == pytest.approx(hi2, abs=0.02)
