"""The ASVspoof challenges' own EER and score file, for reproducing a published number exactly.

bench's :func:`~bench.evaluation.detection_metrics.eer` sweeps thresholds over distinct scores. The
ASVspoof organisers' evaluation code (``compute_det_curve`` / ``compute_eer``, carried by clovaai/aasist's
``evaluation.py`` and the ASVspoof 2021 eval package) sweeps every sorted score, takes the first point
where |FRR - FAR| is smallest and reports the mean of the two there. On tied scores the two can differ
in the last digits; a published checkpoint's number (AASIST: 0.83% EER and 0.0275 min t-DCF on ASVspoof
2019 LA eval) is reproduced with this one. Written here from the published procedure; its inputs are the
official scores, where higher means bona fide.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from bench.fileio import write_atomic


def _det_curve(target: np.ndarray, nontarget: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FRR, FAR, thresholds) at every sorted score (one below the lowest first), as the organisers' code."""
    scores = np.concatenate((target, nontarget))
    is_target = np.concatenate((np.ones(target.size), np.zeros(nontarget.size)))
    order = np.argsort(scores, kind="mergesort")  # stable, as the official code sorts
    is_target = is_target[order]
    targets_at_or_below = np.cumsum(is_target)
    nontargets_above = nontarget.size - (np.arange(1, scores.size + 1) - targets_at_or_below)
    frr = np.concatenate((np.atleast_1d(0), targets_at_or_below / target.size))
    far = np.concatenate((np.atleast_1d(1), nontargets_above / nontarget.size))
    thresholds = np.concatenate((np.atleast_1d(scores[order[0]] - 0.001), scores[order]))
    return frr, far, thresholds


def _vectors(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"the {what} needs scores of both classes")
    return a, b


def asvspoof_eer(bona_fide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) as the ASVspoof evaluation code computes them, from official scores (higher = bona
    fide): bona fide scores are the targets."""
    target, nontarget = _vectors(bona_fide, spoof, "ASVspoof EER")
    frr, far, thresholds = _det_curve(target, nontarget)
    i = int(np.argmin(np.abs(frr - far)))
    return float(np.mean((frr[i], far[i]))), float(thresholds[i])


#: the ASVspoof 2019 t-DCF cost model (evaluation plan; clovaai/aasist evaluation.py uses the same values)
TDCF_2019 = {"p_spoof": 0.05, "p_tar": (1 - 0.05) * 0.99, "p_non": (1 - 0.05) * 0.01, "c_miss_asv": 1.0,
             "c_fa_asv": 10.0, "c_miss_cm": 1.0, "c_fa_cm": 10.0}
ASV_KEYS = ("target", "nontarget", "spoof")


def min_tdcf_2019(bona_fide: np.ndarray, spoof: np.ndarray, asv_keys: list[str], asv_scores: np.ndarray) -> float:
    """ASVspoof 2019's minimum normalised t-DCF of a countermeasure (official scores, higher = bona fide) in
    tandem with the organisers' ASV system, whose scores and keys (target, nontarget, spoof) come with the
    data. The ASV threshold is its own EER point; the t-DCF curve is normalised by the smaller of its two
    weights, as the 2019 evaluation plan defines it."""
    bona, fake = _vectors(bona_fide, spoof, "t-DCF")
    keys, asv = np.asarray(asv_keys), np.asarray(asv_scores, dtype=np.float64)
    tar, non, asv_spoof = (asv[keys == k] for k in ASV_KEYS)
    if tar.size == 0 or non.size == 0 or asv_spoof.size == 0:
        raise ValueError("the t-DCF needs ASV scores of targets, nontargets and spoofs")
    if np.unique(np.concatenate((bona, fake))).size < 3:
        raise ValueError("the t-DCF needs soft countermeasure scores, not decisions")
    _, asv_threshold = asvspoof_eer(tar, non)
    p_fa_asv = np.sum(non >= asv_threshold) / non.size
    p_miss_asv = np.sum(tar < asv_threshold) / tar.size
    p_miss_spoof_asv = np.sum(asv_spoof < asv_threshold) / asv_spoof.size
    c = TDCF_2019
    c1 = c["p_tar"] * (c["c_miss_cm"] - c["c_miss_asv"] * p_miss_asv) - c["p_non"] * c["c_fa_asv"] * p_fa_asv
    c2 = c["c_fa_cm"] * c["p_spoof"] * (1 - p_miss_spoof_asv)
    if c1 < 0 or c2 < 0:
        raise ValueError("the ASV error rates give a negative t-DCF weight: the ASV scores are not usable")
    p_miss_cm, p_fa_cm, _ = _det_curve(bona, fake)
    return float(np.min((c1 * p_miss_cm + c2 * p_fa_cm) / np.minimum(c1, c2)))


def official_score_lines(rows: Iterable[tuple[str, str, str, float]]) -> list[str]:
    """The official score file's lines, ``UTTERANCE SOURCE KEY SCORE`` (clovaai/aasist ``main.py``'s
    ``produce_evaluation_file``: SOURCE the attack or ``-``, KEY ``bonafide``/``spoof``, SCORE Python's
    ``str`` of the float)."""
    return [f"{utt} {src} {key} {score}\n" for utt, src, key, score in rows]


def write_official_scores(path: str | os.PathLike, rows: Iterable[tuple[str, str, str, float]]) -> None:
    """Write the official score file atomically."""
    write_atomic(path, "".join(official_score_lines(rows)).encode())
