"""Metrics of scored samples as a results document holds them: every measure with its bootstrap CI, and
the spread over training seeds of a multi-seed model."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from bench.evaluation.detection_metrics import (
    ASVSPOOF5_C_FA,
    ASVSPOOF5_C_MISS,
    ASVSPOOF5_P_SPOOF,
    ASVSPOOF5_SOURCE,
    auroc,
    bootstrap_auroc_ci,
    bootstrap_ci,
    detection_metrics,
    eer,
)
from bench.evaluation.results import Estimate, Metrics, SeedSpread, Spread


def estimates(labels: np.ndarray, scores: np.ndarray, n_boot: int, seed: int) -> tuple[Estimate, Estimate]:
    """(AUROC, EER) with bootstrap 95% CIs; undefined (None) unless both labels are present."""
    if labels.min(initial=1) == labels.max(initial=0) or len(labels) == 0:
        return Estimate(value=None), Estimate(value=None)
    a = auroc(labels, scores)
    lo, hi = bootstrap_auroc_ci(labels, scores, n=n_boot, seed=seed)
    e, _ = eer(labels, scores)
    elo, ehi = bootstrap_ci(labels, scores, lambda y, s: eer(y, s)[0], n=min(n_boot, 300), seed=seed)
    return Estimate(value=a, ci_low=lo, ci_high=hi), Estimate(value=e, ci_low=elo, ci_high=ehi)


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def metrics_for(labels: np.ndarray, scores: np.ndarray, threshold: float | None, n_boot: int,
                seed: int, llr: bool = False) -> Metrics:
    """Every measure of :class:`bench.evaluation.results.Metrics` with its stratified bootstrap 95% CI (one set of
    replicates for all of them); threshold measures at ``threshold`` (none without one); actDCF and Cllr only
    for ``llr`` scores."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    n0, n1 = int((labels == 0).sum()), int((labels == 1).sum())
    base = {"n_bona_fide": n0, "n_fake": n1, "threshold": threshold,
            "mean_score_bona_fide": float(scores[labels == 0].mean()) if n0 else None,
            "mean_score_fake": float(scores[labels == 1].mean()) if n1 else None}
    if not len(labels):
        return Metrics(auroc=Estimate(value=None), eer=Estimate(value=None), **base)
    m = detection_metrics(labels, scores, threshold=threshold, llr=llr, n_boot=n_boot, seed=seed)

    def est(name: str) -> Estimate | None:
        if name not in m:
            return None
        v = m[name]
        return Estimate(value=_finite(v["value"]), ci_low=_finite(v["ci_low"]), ci_high=_finite(v["ci_high"]))

    at_threshold = {k: est(k) for k in ("accuracy", "f1", "precision", "recall")} if threshold is not None else {}
    return Metrics(auroc=est("auroc"), eer=est("eer"), min_dcf=est("min_dcf"), act_dcf=est("act_dcf"),
                   cllr=est("cllr"), min_cllr=est("min_cllr"), **at_threshold, **base)


def metric_settings(n_boot: int, seed: int, llr: bool) -> dict[str, Any]:
    """How the metrics were computed, for ``Result.metric_settings``."""
    return {"bootstrap": {"replicates": n_boot, "seed": seed, "level": 0.95, "stratified_by_label": True},
            "dcf": {"p_spoof": ASVSPOOF5_P_SPOOF, "c_miss": ASVSPOOF5_C_MISS, "c_fa": ASVSPOOF5_C_FA,
                    "normalised": True, "source": ASVSPOOF5_SOURCE},
            "scores_are_llrs": llr,
            "llr_note": "actDCF and Cllr are given only for detectors whose scores are log-likelihood ratios" if not
            llr else "scores read as log-likelihood ratios of fake vs bona fide (natural log)"}


def seed_columns(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Seed -> the scores column of that seed's model (``<component>.score_seed<N>``, multi-seed models only)."""
    cols = {}
    for key in rows[0] if rows else {}:
        m = re.fullmatch(r"[\w-]+\.score_seed(\d+)", key)
        if m:
            cols[int(m.group(1))] = key
    return dict(sorted(cols.items()))


def _spread(values: list[float | None]) -> Spread:
    v = np.array([x for x in values if x is not None], dtype=float)
    return Spread(mean=float(v.mean()) if v.size else None, std=float(v.std(ddof=1)) if v.size > 1 else None,
                  values=values)


def seed_spread(rows: list[dict[str, Any]]) -> SeedSpread | None:
    """Each seed's AUROC and EER (overall and per challenge) when its model is scored alone; None for one seed."""
    cols = seed_columns(rows)
    if len(cols) < 2:
        return None
    labels = np.array([r["label"] for r in rows])
    challenge = np.array([r["challenge"] for r in rows])
    per_seed = {s: np.array([r[c] for r in rows], dtype=np.float64) for s, c in cols.items()}

    def both(pick: np.ndarray) -> bool:
        return len(set(labels[pick].tolist())) == 2

    everything = np.ones(len(rows), bool)
    per_challenge = {}
    for cid in sorted(set(challenge.tolist())):
        pick = challenge == cid
        if both(pick):
            per_challenge[int(cid)] = _spread([auroc(labels[pick], v[pick]) for v in per_seed.values()])
    ok = both(everything)
    return SeedSpread(seeds=list(cols), auroc=_spread([auroc(labels, v) if ok else None for v in per_seed.values()]),
                      eer=_spread([eer(labels, v)[0] if ok else None for v in per_seed.values()]),
                      per_challenge_auroc=per_challenge)
