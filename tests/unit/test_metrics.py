"""Metrics against independent computations on known cases."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench.evaluation.detection_metrics import (
    ASVSPOOF5_C_FA,
    ASVSPOOF5_C_MISS,
    ASVSPOOF5_P_SPOOF,
    DETECTION_METRICS,
    LLR_METRICS,
    _metrics_from_counts,
    accuracy,
    act_dcf,
    act_dcf_threshold,
    auroc,
    bootstrap_auroc_ci,
    bootstrap_ci,
    cllr,
    det_curve,
    detection_metrics,
    eer,
    f1,
    min_cllr,
    min_dcf,
    precision_recall_f1,
    roc_curve,
)


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


# ---------------------------------------------------------------- helpers for the new metrics

def _data(seed, n=300, sep=1.0, decimals=None, p_fake=0.5):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < p_fake).astype(int)
    scores = rng.normal(labels * sep, 1.0)
    return labels, (np.round(scores, decimals) if decimals is not None else scores)


def _dcf_brute(labels, scores, p=ASVSPOOF5_P_SPOOF, c_miss=ASVSPOOF5_C_MISS, c_fa=ASVSPOOF5_C_FA):
    """minDCF from its definition: try every threshold (score >= t is fake), plus 'nothing is fake'."""
    labels, scores = np.asarray(labels), np.asarray(scores, float)
    best = math.inf
    for t in list(np.unique(scores)) + [math.inf]:
        p_bona_rejected = np.mean(scores[labels == 0] >= t)
        p_fake_accepted = np.mean(scores[labels == 1] < t)
        best = min(best, c_miss * (1 - p) * p_bona_rejected + c_fa * p * p_fake_accepted)
    return best / min(c_miss * (1 - p), c_fa * p)


def _cllr_formula(labels, llrs):
    fake = [math.log2(1 + math.exp(-s)) for s, y in zip(llrs, labels, strict=True) if y == 1]
    bona = [math.log2(1 + math.exp(s)) for s, y in zip(llrs, labels, strict=True) if y == 0]
    return 0.5 * (sum(fake) / len(fake) + sum(bona) / len(bona))


def _min_cllr_sklearn(labels, scores):
    """Independent minCllr: scikit-learn's isotonic regression, then Cllr of (posterior log-odds - prior log-odds)."""
    from sklearn.isotonic import IsotonicRegression

    labels = np.asarray(labels)
    post = IsotonicRegression(increasing=True).fit_transform(np.asarray(scores, float), labels.astype(float))
    n1, n0 = labels.sum(), len(labels) - labels.sum()
    with np.errstate(divide="ignore"):
        llr = np.log(post) - np.log1p(-post) - np.log(n1 / n0)
    fake = np.where(post[labels == 1] > 0, np.logaddexp(0, -llr[labels == 1]), np.inf)
    bona = np.where(post[labels == 0] < 1, np.logaddexp(0, llr[labels == 0]), np.inf)
    return 0.5 * (fake.mean() + bona.mean()) / math.log(2)


# ---------------------------------------------------------------- precision / recall / F1

def test_precision_recall_f1_accuracy_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    labels, scores = _data(3, n=257, decimals=1)  # ties at the thresholds
    for t in [-10.0, -0.5, 0.0, 0.3, 0.5, 1.2, 10.0]:
        pred = (scores >= t).astype(int)
        got = precision_recall_f1(labels, scores, t)
        want = {"precision": precision_score(labels, pred, zero_division=np.nan),
                "recall": recall_score(labels, pred, zero_division=np.nan),
                "f1": f1_score(labels, pred, zero_division=np.nan)}
        for k in want:
            assert got[k] == pytest.approx(want[k], abs=1e-12, nan_ok=True), (t, k)
        assert f1(labels, scores, t) == got["f1"]
        assert accuracy(labels, scores, t) == pytest.approx(accuracy_score(labels, pred), abs=1e-12)
    # nothing called fake: precision 0/0 -> NaN, recall and F1 0
    none = precision_recall_f1(labels, scores, 99.0)
    assert np.isnan(none["precision"]) and none["recall"] == 0 and none["f1"] == 0
    assert precision_recall_f1([0, 1, 1], [0.1, 0.7, 0.9], 0.5) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert np.isnan(f1([0, 0], [0.1, 0.2], 0.5))  # no fake and none called fake


def test_roc_and_auroc_match_sklearn():
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc_curve

    labels, scores = _data(4, n=400, decimals=1)
    fpr, tpr, thr = roc_curve(labels, scores)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(labels, scores, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr) and np.allclose(thr[1:], sk_thr[1:])
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    # minDCF from scikit-learn's ROC points (fpr = bona fide called fake, 1 - tpr = fake passed)
    dcf = (0.95 * sk_fpr + 0.5 * (1 - sk_tpr)).min() / 0.5
    assert min_dcf(labels, scores) == pytest.approx(dcf, abs=1e-12)


# ---------------------------------------------------------------- DCF

def test_asvspoof5_parameters_and_bayes_threshold():
    assert (ASVSPOOF5_P_SPOOF, ASVSPOOF5_C_MISS, ASVSPOOF5_C_FA) == (0.05, 1.0, 10.0)
    # beta = C_miss (1 - pi) / (C_fa pi) = 0.95 / 0.5; fake-LLR threshold = log(beta)
    assert act_dcf_threshold() == pytest.approx(math.log(1.9), abs=1e-15)


@pytest.mark.parametrize("seed,decimals", [(5, None), (6, 1), (7, 0)])
def test_min_dcf_matches_brute_force(seed, decimals):
    labels, scores = _data(seed, n=200, decimals=decimals)
    assert min_dcf(labels, scores) == pytest.approx(_dcf_brute(labels, scores), abs=1e-12)
    kw = {"p_spoof": 0.3, "c_miss": 2.0, "c_fa": 1.0}
    assert min_dcf(labels, scores, **kw) == pytest.approx(_dcf_brute(labels, scores, 0.3, 2.0, 1.0), abs=1e-12)


def test_min_dcf_edge_cases():
    assert min_dcf([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 0.0  # perfect separation
    assert min_dcf([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == pytest.approx(1.0)  # inverted: best is a trivial system
    assert min_dcf([0, 1, 0, 1, 1], [0.5] * 5) == pytest.approx(1.0)  # uninformative
    labels, _ = _data(8, n=4000)
    noise = np.random.default_rng(9).normal(size=4000)
    assert 0.9 < min_dcf(labels, noise) <= 1.0
    assert np.isnan(min_dcf([1, 1, 1], [0.1, 0.2, 0.3])) and np.isnan(min_dcf([0, 0], [0.1, 0.2]))


def test_act_dcf_definition_and_bound():
    t = math.log(1.9)
    # bona fide LLRs: -1 (right), 1 (wrong: called fake); fakes: 2 (right), t exactly (not > t: passed as bona fide)
    labels, llrs = [0, 0, 1, 1], [-1.0, 1.0, 2.0, t]
    want = (1 * 0.95 * 0.5 + 10 * 0.05 * 0.5) / 0.5
    assert act_dcf(labels, llrs) == pytest.approx(want)
    assert act_dcf([0, 0, 1, 1], [-5.0, -4.0, 4.0, 5.0]) == 0.0
    for seed, decimals in [(10, None), (11, 1), (12, 0)]:
        labels, scores = _data(seed, n=300, sep=2.0, decimals=decimals)
        for a, b in [(1.0, 0.0), (3.0, -2.0), (0.2, 1.0)]:  # calibrated-ish, over-confident, under-confident
            llr = a * scores + b
            assert act_dcf(labels, llr) >= min_dcf(labels, llr) - 1e-12
    assert np.isnan(act_dcf([1, 1], [0.0, 1.0]))


# ---------------------------------------------------------------- Cllr / minCllr

def test_cllr_hand_worked_values():
    # one fake at LLR log 3, one bona fide at -log 3: each costs log2(1 + 1/3) = 2 - log2(3) bits
    assert cllr([1, 0], [math.log(3), -math.log(3)]) == pytest.approx(2 - math.log2(3), abs=1e-12)
    assert cllr([1, 0, 1], [0.0, 0.0, 0.0]) == pytest.approx(1.0)  # always LLR 0: 1 bit
    labels, llrs = [1, 1, 0, 0, 0], [1.0, -2.0, -1.0, 0.5, -3.0]
    assert cllr(labels, llrs) == pytest.approx(_cllr_formula(labels, llrs), abs=1e-12)
    assert cllr([1, 0], [800.0, -800.0]) == pytest.approx(0.0, abs=1e-12)  # no overflow
    assert cllr([1, 0], [-800.0, 800.0]) == pytest.approx(800 / math.log(2))
    assert np.isnan(cllr([0, 0], [0.1, 0.2]))


def test_min_cllr_properties_and_sklearn_isotonic():
    assert min_cllr([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 0.0  # separable
    assert min_cllr([0, 1, 0, 1, 1], [0.3] * 5) == pytest.approx(1.0)  # uninformative
    assert np.isnan(min_cllr([1, 1], [0.1, 0.2]))
    for seed, decimals in [(13, None), (14, 1), (15, 0)]:
        labels, scores = _data(seed, n=250, sep=1.5, decimals=decimals, p_fake=0.3)
        m = min_cllr(labels, scores)
        assert m == pytest.approx(_min_cllr_sklearn(labels, scores), abs=1e-10)
        assert min_cllr(labels, 3 * np.exp(scores) + 1) == pytest.approx(m, abs=1e-12)  # monotone-invariant
        for a, b in [(1.5, 0.0), (4.0, 1.0), (0.3, -1.0)]:
            assert m <= cllr(labels, a * scores + b) + 1e-12


def test_official_asvspoof5_code_agrees():
    """Compare with the organisers' evaluation package (github.com/asvspoof-challenge/asvspoof5).

    Set BENCH_ASVSPOOF5_DIR to a checkout of that repository (or to its evaluation-package folder).
    """
    root = os.environ.get("BENCH_ASVSPOOF5_DIR")
    if not root:
        pytest.skip("BENCH_ASVSPOOF5_DIR is not set (no copy of asvspoof-challenge/asvspoof5 to compare with)")
    cands = [Path(root) / "evaluation-package" / "calculate_modules.py", Path(root) / "calculate_modules.py"]
    path = next((c for c in cands if c.is_file()), None)
    if path is None:
        pytest.skip(f"no calculate_modules.py under BENCH_ASVSPOOF5_DIR={root}")
    spec = importlib.util.spec_from_file_location("asvspoof5_calculate_modules", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for seed, decimals in [(100, None), (101, None), (102, 1), (103, 0), (104, 0)]:  # with and without ties
        labels, scores = _data(seed, n=600, sep=2.0, p_fake=0.7)
        llr = np.round(1.3 * scores - 0.8, decimals) if decimals is not None else 1.3 * scores - 0.8
        # official code: bona fide is the positive class, higher = more bona fide -> negate our fake LLRs
        bona, spoof = -llr[labels == 0], -llr[labels == 1]
        rate, frr, far, thr, _ = mod.compute_eer(bona, spoof)
        off_min, _ = mod.compute_mindcf(frr, far, thr, 0.05, 1, 10)
        off_act, _ = mod.compute_actDCF(bona, spoof, 0.05, 1, 10)
        assert min_dcf(labels, llr) == pytest.approx(off_min, abs=1e-12)
        assert act_dcf(labels, llr) == pytest.approx(off_act, abs=1e-12)
        assert cllr(labels, llr) == pytest.approx(mod.calculate_CLLR(bona, spoof), abs=1e-12)
        if decimals is None:  # the official EER takes the closest sweep point, ours interpolates
            assert eer(labels, llr)[0] == pytest.approx(rate, abs=2 / min(len(bona), len(spoof)))


# ---------------------------------------------------------------- detection_metrics

def test_detection_metrics_values_equal_standalone_functions():
    labels, scores = _data(20, n=500, sep=1.5, decimals=2, p_fake=0.4)
    r = detection_metrics(labels, scores, llr=True, n_boot=200, seed=1)
    assert r["threshold_source"] == "eer" and r["threshold"] == r["eer_threshold"] == eer(labels, scores)[1]
    assert set(DETECTION_METRICS + LLR_METRICS) <= set(r)
    t = r["threshold"]
    want = {"auroc": auroc(labels, scores), "eer": eer(labels, scores)[0], "accuracy": accuracy(labels, scores, t),
            "min_dcf": min_dcf(labels, scores), "act_dcf": act_dcf(labels, scores), "cllr": cllr(labels, scores),
            "min_cllr": min_cllr(labels, scores)} | precision_recall_f1(labels, scores, t)
    for m, v in want.items():
        assert r[m]["value"] == pytest.approx(v, abs=1e-12), m
        assert r[m]["ci_low"] <= r[m]["ci_high"], m
    g = detection_metrics(labels, scores, threshold=0.7, n_boot=0)
    assert g["threshold_source"] == "given" and g["threshold"] == 0.7
    assert g["f1"]["value"] == pytest.approx(f1(labels, scores, 0.7)) and np.isnan(g["f1"]["ci_low"])
    assert not set(LLR_METRICS) & set(g)


def test_bootstrap_replicates_equal_standalone_functions_on_resampled_data():
    """The vectorised per-replicate path (score groups a resample misses have count 0) is exact."""
    labels, scores = _data(21, n=120, sep=1.0, decimals=1)
    uniq, group = np.unique(scores, return_inverse=True)
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    idx = [np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))] for _ in range(6)]
    nf = np.stack([np.bincount(group[i][labels[i] == 1], minlength=uniq.size) for i in idx])
    nb = np.stack([np.bincount(group[i][labels[i] == 0], minlength=uniq.size) for i in idx])
    t = 0.45
    out = _metrics_from_counts(nf, nb, uniq, t, True, (0.95, 0.5, 0.5), act_dcf_threshold())
    for b, i in enumerate(idx):
        y, s = labels[i], scores[i]
        want = {"auroc": auroc(y, s), "eer": eer(y, s)[0], "accuracy": accuracy(y, s, t), "min_dcf": min_dcf(y, s),
                "act_dcf": act_dcf(y, s), "cllr": cllr(y, s), "min_cllr": min_cllr(y, s)} | precision_recall_f1(y, s, t)
        for m, v in want.items():
            assert out[m][b] == pytest.approx(v, abs=1e-12), (b, m)


def test_detection_metrics_cis_agree_with_bootstrap_ci_and_are_reproducible():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(60), np.ones(60)]
    scores = np.r_[rng.normal(0, 1, 60), rng.normal(1, 1, 60)]
    r = detection_metrics(labels, scores, n_boot=2000, seed=0)
    for metric, tol in [(auroc, 0.02), (min_dcf, 0.05)]:
        lo, hi = bootstrap_ci(labels, scores, metric, n=2000, seed=0)
        got = r[metric.__name__]
        assert got["ci_low"] == pytest.approx(lo, abs=tol) and got["ci_high"] == pytest.approx(hi, abs=tol)
    for m in ("auroc", "accuracy", "f1", "precision", "recall"):
        assert r[m]["ci_low"] < r[m]["value"] < r[m]["ci_high"], m
    again = detection_metrics(labels, scores, n_boot=300, seed=5)
    assert again == detection_metrics(labels, scores, n_boot=300, seed=5)


def test_detection_metrics_with_one_class_absent():
    r = detection_metrics([1, 1, 1], [0.2, 0.5, 0.9], threshold=0.4, llr=True, n_boot=50)
    for m in ("auroc", "eer", "min_dcf", "act_dcf", "cllr", "min_cllr"):
        assert np.isnan(r[m]["value"]) and np.isnan(r[m]["ci_low"]) and np.isnan(r[m]["ci_high"]), m
    assert r["recall"]["value"] == pytest.approx(2 / 3) and r["accuracy"]["value"] == pytest.approx(2 / 3)
    r = detection_metrics([0, 0], [0.2, 0.5], n_boot=50)  # no threshold can be derived
    assert np.isnan(r["threshold"]) and r["threshold_source"] == "eer" and np.isnan(r["accuracy"]["value"])
