"""The ASVspoof challenges' own EER and score file, for reproducing a published number exactly.

bench's :func:`~bench.evaluation.detection_metrics.eer` sweeps thresholds over distinct scores. The
ASVspoof organisers' evaluation code (``compute_det_curve`` / ``compute_eer``, carried by clovaai/aasist's
``evaluation.py`` and the ASVspoof 2021 eval package) sweeps every sorted score, takes the first point
where |FRR - FAR| is smallest and reports the mean of the two there. On tied scores the two can differ
in the last digits; a published checkpoint's number (AASIST: 0.83% on ASVspoof 2019 LA eval) is
reproduced with this one. Written here from the published procedure; its inputs are the official
scores, where higher means bona fide.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from bench.fileio import write_atomic


def asvspoof_eer(bona_fide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) as the ASVspoof evaluation code computes them, from official scores (higher = bona
    fide): bona fide scores are the targets."""
    target = np.asarray(bona_fide, dtype=np.float64).ravel()
    nontarget = np.asarray(spoof, dtype=np.float64).ravel()
    if target.size == 0 or nontarget.size == 0:
        raise ValueError("the ASVspoof EER needs bona fide and spoof scores")
    scores = np.concatenate((target, nontarget))
    is_target = np.concatenate((np.ones(target.size), np.zeros(nontarget.size)))
    order = np.argsort(scores, kind="mergesort")  # stable, as the official code sorts
    is_target = is_target[order]
    targets_at_or_below = np.cumsum(is_target)
    nontargets_above = nontarget.size - (np.arange(1, scores.size + 1) - targets_at_or_below)
    frr = np.concatenate((np.atleast_1d(0), targets_at_or_below / target.size))
    far = np.concatenate((np.atleast_1d(1), nontargets_above / nontarget.size))
    thresholds = np.concatenate((np.atleast_1d(scores[order[0]] - 0.001), scores[order]))
    i = int(np.argmin(np.abs(frr - far)))
    return float(np.mean((frr[i], far[i]))), float(thresholds[i])


def official_score_lines(rows: Iterable[tuple[str, str, str, float]]) -> list[str]:
    """The official score file's lines, ``UTTERANCE SOURCE KEY SCORE`` (clovaai/aasist ``main.py``'s
    ``produce_evaluation_file``: SOURCE the attack or ``-``, KEY ``bonafide``/``spoof``, SCORE Python's
    ``str`` of the float)."""
    return [f"{utt} {src} {key} {score}\n" for utt, src, key, score in rows]


def write_official_scores(path: str | os.PathLike, rows: Iterable[tuple[str, str, str, float]]) -> None:
    """Write the official score file atomically."""
    write_atomic(path, "".join(official_score_lines(rows)).encode())
