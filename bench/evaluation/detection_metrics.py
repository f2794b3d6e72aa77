"""Detection metrics: AUROC, EER, accuracy, precision/recall/F1, ROC/DET curves, the ASVspoof 5
countermeasure measures (minDCF, actDCF, Cllr, minCllr) and stratified bootstrap CIs.

Conventions: label 1 = fake, 0 = bona fide; higher score = more likely fake; at a threshold,
score >= threshold means "fake" (fake is the positive class), except where a docstring says otherwise.
"""

from __future__ import annotations

import math
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


# --------------------------------------------------------------------------------------------
# Precision, recall, F1 at a fixed threshold
# --------------------------------------------------------------------------------------------

def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def precision_recall_f1(labels, scores, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of the fake class when score >= threshold means fake.

    Returns ``{"precision", "recall", "f1"}``. A 0/0 ratio is NaN (precision with no sample
    called fake, recall with no fake sample, F1 with neither), as scikit-learn's ``zero_division=nan``.
    """
    labels, scores = _check(labels, scores)
    pred = scores >= threshold
    tp = int(np.sum(pred & (labels == 1)))
    fp = int(np.sum(pred & (labels == 0)))
    fn = int(np.sum(~pred & (labels == 1)))
    return {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn)}


def f1(labels, scores, threshold: float) -> float:
    """F1 of the fake class when score >= threshold means fake (NaN if there is no fake and none is called fake)."""
    return precision_recall_f1(labels, scores, threshold)["f1"]


# --------------------------------------------------------------------------------------------
# ASVspoof 5 countermeasure (Track 1) measures
# --------------------------------------------------------------------------------------------

#: Prior probability of a spoofed/fake trial, ASVspoof 5 Track 1 (stand-alone CM).
ASVSPOOF5_P_SPOOF = 0.05
#: Cost of a "miss" in ASVspoof terms = a bona fide trial rejected as spoof (ours: a false positive).
ASVSPOOF5_C_MISS = 1.0
#: Cost of a "false alarm" in ASVspoof terms = a spoof accepted as bona fide (ours: a false negative).
ASVSPOOF5_C_FA = 10.0
ASVSPOOF5_SOURCE = (
    "Values and definitions read from the official ASVspoof 5 evaluation code, "
    "github.com/asvspoof-challenge/asvspoof5 @ fe23d3053a0889b305d98c9e4cadf418c213d972 (2024-09-15): "
    "evaluation-package/calculate_metrics.py, calculate_minDCF_EER_CLLR_actDCF (Track 1: Pspoof = 0.05, "
    "Cmiss = 1, Cfa = 10), and evaluation-package/calculate_modules.py (compute_mindcf: DCF normalised by "
    "min(Cmiss (1 - Pspoof), Cfa Pspoof); compute_actDCF: threshold -log(beta), beta = Cmiss (1 - Pspoof) / "
    "(Cfa Pspoof), 'the beta in evaluation plan (eq.(3))'; calculate_CLLR: Cllr in bits). The normative text is "
    "the ASVspoof 5 evaluation plan (Phase 2, asvspoof.org), which that code implements; its PDF was not read here."
)
"""Where the ASVspoof 5 constants and definitions above come from.

Sign convention: the ASVspoof code takes *bona fide* as the positive class (higher score = more bona fide),
so its "miss" is a rejected bona fide and its "false alarm" an accepted spoof. Here fake is the positive
class (higher score = more fake), so with our rates FPR (bona fide called fake) and FNR (fake called bona fide)

    DCF(t) = C_miss (1 - pi_spoof) FPR(t) + C_fa pi_spoof FNR(t),

which is the official DCF of the negated scores. An ASVspoof bona fide LLR ``l`` is our fake LLR ``-l``.
"""


def _dcf_weights(p_spoof: float, c_miss: float, c_fa: float) -> tuple[float, float, float]:
    """(weight of FPR, weight of FNR, normaliser = cost of the better of the two trivial systems)."""
    if not 0 < p_spoof < 1 or c_miss <= 0 or c_fa <= 0:
        raise ValueError("need 0 < p_spoof < 1 and positive costs")
    w_fp, w_fn = c_miss * (1 - p_spoof), c_fa * p_spoof
    return w_fp, w_fn, min(w_fp, w_fn)


def act_dcf_threshold(p_spoof: float = ASVSPOOF5_P_SPOOF, c_miss: float = ASVSPOOF5_C_MISS,
                      c_fa: float = ASVSPOOF5_C_FA) -> float:
    """Bayes decision threshold on a *fake-vs-bona-fide* LLR: log(beta), beta = C_miss (1-pi) / (C_fa pi).

    The ASVspoof code thresholds bona fide LLRs at -log(beta); negating the scores gives +log(beta)
    (about 0.642 nats for the ASVspoof 5 parameters).
    """
    w_fp, w_fn, _ = _dcf_weights(p_spoof, c_miss, c_fa)
    return math.log(w_fp / w_fn)


def min_dcf(labels, scores, p_spoof: float = ASVSPOOF5_P_SPOOF, c_miss: float = ASVSPOOF5_C_MISS,
            c_fa: float = ASVSPOOF5_C_FA) -> float:
    """Normalised minimum DCF over all thresholds (ASVspoof 5 Track 1 primary metric by default).

    ``min_t [C_miss (1-pi) FPR(t) + C_fa pi FNR(t)] / min(C_miss (1-pi), C_fa pi)``; the trivial
    thresholds are included, so the value is <= 1 (1 = no better than always answering the cheaper
    class). Any score scale; see ``ASVSPOOF5_SOURCE`` for the parameters and the sign convention.
    Thresholds run over distinct scores, so tied scores are never split; the official per-sample sweep
    does split ties but, its stable sort putting bona fide first, only at points that cost no less, so
    the minimum is the same. NaN if one class is absent.
    """
    labels, scores = _check(labels, scores)
    if labels.size == 0 or labels.min() == labels.max():
        return float("nan")
    w_fp, w_fn, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.min(w_fp * fpr + w_fn * (1 - tpr)) / norm)


def act_dcf(labels, llr_scores, p_spoof: float = ASVSPOOF5_P_SPOOF, c_miss: float = ASVSPOOF5_C_MISS,
            c_fa: float = ASVSPOOF5_C_FA) -> float:
    """Normalised actual DCF: the DCF at the Bayes threshold ``act_dcf_threshold()`` (ASVspoof 5 Track 1).

    Only meaningful when the scores are calibrated log-likelihood ratios log p(x|fake)/p(x|bona fide)
    in nats (higher = fake); for other score scales the fixed threshold is arbitrary, so the caller
    decides whether to use it. A trial is called fake when its LLR is strictly above the threshold,
    matching the official code (bona fide accepted when its LLR >= -log beta) on negated scores.
    NaN if one class is absent.
    """
    labels, llr = _check(labels, llr_scores)
    if labels.size == 0 or labels.min() == labels.max():
        return float("nan")
    w_fp, w_fn, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    t = act_dcf_threshold(p_spoof, c_miss, c_fa)
    fpr = np.mean(llr[labels == 0] > t)
    fnr = np.mean(llr[labels == 1] <= t)
    return float((w_fp * fpr + w_fn * fnr) / norm)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow."""
    return np.logaddexp(0.0, x)


def cllr(labels, llr_scores) -> float:
    """Log-likelihood-ratio cost in bits (ASVspoof 5 Track 1 secondary metric).

    ``Cllr = [mean_fake log2(1 + e^-s) + mean_bona log2(1 + e^s)] / 2`` for s = log p(x|fake)/p(x|bona fide)
    in nats: the official formula with the classes swapped to our sign (it is symmetric under negating the
    scores and swapping the classes). Only meaningful for LLR-like scores; 0 = perfect, 1 = an uninformative
    system that always outputs 0. NaN if one class is absent.
    """
    labels, llr = _check(labels, llr_scores)
    if labels.size == 0 or labels.min() == labels.max():
        return float("nan")
    return float((np.mean(_softplus(-llr[labels == 1])) + np.mean(_softplus(llr[labels == 0]))) / (2 * math.log(2)))


def _pav_blocks(rep: np.ndarray, f: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool-adjacent-violators on many sequences at once.

    ``rep``: sequence id of each element (sequences contiguous, elements in ascending score order),
    ``f``: fake count, ``w``: total count (> 0) of each element. Returns (rep, f, w) of the blocks of
    the non-decreasing weighted least-squares fit of f / w. Each pass pools every maximal run of
    non-increasing block means within a sequence (all members of such a run are equal in the isotonic
    solution), so passes are vectorised; a handful suffice on real score data.
    """
    while rep.size > 1:
        viol = (rep[:-1] == rep[1:]) & (f[:-1] * w[1:] >= f[1:] * w[:-1])
        if not viol.any():
            break
        starts = np.flatnonzero(np.r_[True, ~viol])
        rep, f, w = rep[starts], np.add.reduceat(f, starts), np.add.reduceat(w, starts)
    return rep, f, w


def _masked_product(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """counts * values with 0 * inf taken as 0."""
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, counts * values, 0.0)


def _min_cllr_counts(n_fake: np.ndarray, n_bona: np.ndarray) -> np.ndarray:
    """min Cllr for each row of per-score-group counts (columns in ascending score order)."""
    b, g = n_fake.shape
    keep = (n_fake + n_bona) > 0
    rep = np.broadcast_to(np.arange(b)[:, None], (b, g))[keep]
    rep, f, w = _pav_blocks(rep, n_fake[keep].astype(np.float64), (n_fake + n_bona)[keep].astype(np.float64))
    n_pos, n_neg = n_fake.sum(axis=1).astype(np.float64), n_bona.sum(axis=1).astype(np.float64)
    p = f / w
    with np.errstate(divide="ignore"):
        llr = np.log(p) - np.log1p(-p) - np.log(n_pos / n_neg)[rep]  # posterior log-odds minus prior log-odds
    fake_cost = np.bincount(rep, _masked_product(f, _softplus(-llr)), minlength=b)
    bona_cost = np.bincount(rep, _masked_product(w - f, _softplus(llr)), minlength=b)
    return (fake_cost / n_pos + bona_cost / n_neg) / (2 * math.log(2))


def min_cllr(labels, scores) -> float:
    """Minimum Cllr in bits: Cllr after the optimal monotone calibration of the scores.

    The scores are mapped to LLRs by pool-adjacent-violators (isotonic regression of the label on the
    score; tied scores share one value) minus the empirical prior log-odds, as in Brümmer & du Preez (2006)
    and BOSARIS ``opt_loglr``. Any score scale (invariant to increasing transforms); 0 for perfectly
    separable scores, 1 for uninformative ones, and <= cllr(labels, scores) when the scores are LLRs.
    Not computed by the official ASVspoof 5 code. NaN if one class is absent.
    """
    labels, scores = _check(labels, scores)
    if labels.size == 0 or labels.min() == labels.max():
        return float("nan")
    uniq, group = np.unique(scores, return_inverse=True)
    n_fake = np.bincount(group[labels == 1], minlength=uniq.size)
    n_bona = np.bincount(group[labels == 0], minlength=uniq.size)
    return float(_min_cllr_counts(n_fake[None, :], n_bona[None, :])[0])


# --------------------------------------------------------------------------------------------
# Everything at once, with bootstrap CIs
# --------------------------------------------------------------------------------------------

#: Metric keys of ``detection_metrics`` (each a dict value / ci_low / ci_high).
DETECTION_METRICS = ("auroc", "eer", "accuracy", "f1", "precision", "recall", "min_dcf")
#: Added when ``llr=True``.
LLR_METRICS = ("act_dcf", "cllr", "min_cllr")


def _metrics_from_counts(n_fake: np.ndarray, n_bona: np.ndarray, uniq: np.ndarray, threshold: float, llr: bool,
                         dcf: tuple[float, float, float], act_t: float) -> dict[str, np.ndarray]:
    """All metrics for each row of per-score-group counts (columns = ``uniq``, ascending).

    Rows are resamples of one data set: a score group a resample misses has count 0 and only repeats a
    ROC point, so every value equals the standalone function on the resampled data.
    """
    b = n_fake.shape[0]
    pos, neg = n_fake.sum(axis=1).astype(np.float64), n_bona.sum(axis=1).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    below = np.cumsum(n_bona, axis=1) - n_bona
    out["auroc"] = (n_fake * (below + 0.5 * n_bona)).sum(axis=1) / (pos * neg)
    # ROC along descending thresholds, starting at the "nothing is fake" point, as roc_curve()
    zero = np.zeros((b, 1))
    tpr = np.hstack([zero, np.cumsum(n_fake[:, ::-1], axis=1) / pos[:, None]])
    fpr = np.hstack([zero, np.cumsum(n_bona[:, ::-1], axis=1) / neg[:, None]])
    diff = (1 - tpr) - fpr  # starts at 1, ends at -1
    i = np.argmax(diff <= 0, axis=1)
    r = np.arange(b)
    d0, d1 = diff[r, i - 1], diff[r, i]
    out["eer"] = fpr[r, i - 1] + d0 / (d0 - d1) * (fpr[r, i] - fpr[r, i - 1])
    w_fp, w_fn, norm = dcf
    out["min_dcf"] = np.min(w_fp * fpr + w_fn * (1 - tpr), axis=1) / norm
    k = int(np.searchsorted(uniq, threshold, side="left"))  # score >= threshold: fake
    tp, fp = n_fake[:, k:].sum(axis=1), n_bona[:, k:].sum(axis=1)
    fn, tn = pos - tp, neg - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        out["precision"] = tp / (tp + fp)
        out["recall"] = tp / pos
        out["f1"] = 2 * tp / (2 * tp + fp + fn)
    out["accuracy"] = (tp + tn) / (pos + neg)
    if llr:
        k = int(np.searchsorted(uniq, act_t, side="right"))  # LLR > threshold: fake
        out["act_dcf"] = (w_fp * n_bona[:, k:].sum(axis=1) / neg + w_fn * n_fake[:, :k].sum(axis=1) / pos) / norm
        fake_cost = _masked_product(n_fake, _softplus(-uniq)[None, :]).sum(axis=1)
        bona_cost = _masked_product(n_bona, _softplus(uniq)[None, :]).sum(axis=1)
        out["cllr"] = (fake_cost / pos + bona_cost / neg) / (2 * math.log(2))
        out["min_cllr"] = _min_cllr_counts(n_fake, n_bona)
    return out


def detection_metrics(labels, scores, threshold: float | None = None, llr: bool = False, n_boot: int = 1000,
                      seed: int = 0, level: float = 0.95, p_spoof: float = ASVSPOOF5_P_SPOOF,
                      c_miss: float = ASVSPOOF5_C_MISS, c_fa: float = ASVSPOOF5_C_FA) -> dict:
    """All detection metrics of one score set with percentile bootstrap CIs, in one pass.

    Each of ``DETECTION_METRICS`` (plus ``LLR_METRICS`` when ``llr=True``, i.e. the caller declares the
    scores to be fake-vs-bona-fide LLRs in nats) maps to ``{"value", "ci_low", "ci_high"}``. The
    bootstrap resamples indices once per replicate, stratified by label as ``bootstrap_ci`` does, and
    evaluates every metric on the same replicates (the data are sorted once; replicates are count
    vectors over the distinct scores). Replicates where a metric is undefined (e.g. precision with no
    sample called fake) are left out of its CI.

    Threshold metrics (accuracy, precision, recall, F1) use ``threshold`` (score >= threshold = fake);
    with ``threshold=None`` they use the EER threshold of the full set (``threshold_source`` says which),
    held fixed over the replicates, so their CIs leave out the uncertainty of choosing it. Minimum-type
    measures (EER, minDCF, minCllr: an optimum over thresholds or calibrations on each replicate) are
    optimistic on resamples with duplicated samples, so their percentile CIs sit a little low. Also returned:
    ``threshold``, ``threshold_source`` ("given" or "eer"), ``eer_threshold``, ``n``, ``n_fake``,
    ``n_bona``, ``n_boot``, ``level``, ``seed``, ``llr``, ``dcf_params``, and with ``llr=True``
    ``act_dcf_threshold``. A class absent: NaN values and CIs where the metric needs both classes.
    """
    labels, scores = _check(labels, scores)
    if threshold is not None and np.isnan(threshold):
        raise ValueError("threshold is NaN")
    dcf = _dcf_weights(p_spoof, c_miss, c_fa)
    act_t = act_dcf_threshold(p_spoof, c_miss, c_fa)
    eer_t = eer(labels, scores)[1] if labels.size else float("nan")
    thr = float(eer_t) if threshold is None else float(threshold)
    res: dict = {"threshold": thr, "threshold_source": "eer" if threshold is None else "given",
                 "eer_threshold": eer_t, "n": int(labels.size), "n_fake": int(np.sum(labels == 1)),
                 "n_bona": int(np.sum(labels == 0)), "n_boot": int(n_boot), "level": level, "seed": seed,
                 "llr": bool(llr), "dcf_params": {"p_spoof": p_spoof, "c_miss": c_miss, "c_fa": c_fa}}
    if llr:
        res["act_dcf_threshold"] = act_t
    names = DETECTION_METRICS + (LLR_METRICS if llr else ())
    nan = float("nan")
    if res["n_fake"] == 0 or res["n_bona"] == 0:
        prf = precision_recall_f1(labels, scores, thr) if labels.size else {}
        point = {"auroc": nan, "eer": nan, "min_dcf": nan, "act_dcf": nan, "cllr": nan, "min_cllr": nan,
                 "accuracy": accuracy(labels, scores, thr) if labels.size and not np.isnan(thr) else nan,
                 "precision": prf.get("precision", nan), "recall": prf.get("recall", nan), "f1": prf.get("f1", nan)}
        return res | {m: {"value": point[m], "ci_low": nan, "ci_high": nan} for m in names}

    uniq, group = np.unique(scores, return_inverse=True)
    g_fake, g_bona = group[labels == 1], group[labels == 0]
    n_u = uniq.size
    full = _metrics_from_counts(np.bincount(g_fake, minlength=n_u)[None, :],
                                np.bincount(g_bona, minlength=n_u)[None, :], uniq, thr, llr, dcf, act_t)
    boot = {m: [] for m in names}
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, 1_000_000 // n_u))  # bounds memory (~80 MB peak): a few (chunk x n_u) arrays
    for start in range(0, max(n_boot, 0), chunk):
        nb = min(chunk, n_boot - start)
        offset = (np.arange(nb) * n_u)[:, None]
        counts = []
        for g in (g_fake, g_bona):
            draw = g[rng.integers(0, g.size, size=(nb, g.size))] + offset
            counts.append(np.bincount(draw.ravel(), minlength=nb * n_u).reshape(nb, n_u))
        vals = _metrics_from_counts(counts[0], counts[1], uniq, thr, llr, dcf, act_t)
        for m in names:
            boot[m].append(vals[m])
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    for m in names:
        v = np.concatenate(boot[m]) if boot[m] else np.empty(0)
        v = v[np.isfinite(v)]
        lo, hi = (float(x) for x in np.percentile(v, q)) if v.size else (nan, nan)
        res[m] = {"value": float(full[m][0]), "ci_low": lo, "ci_high": hi}
    return res
