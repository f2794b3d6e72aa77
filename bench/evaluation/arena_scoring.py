"""The Speech Anti-Spoofing Arena's score file and EER, so an exported result recomputes as the Arena does.

The Arena (lab260ru/speech_spoof_bench, the ``SpeechAntiSpoofingBenchmarks`` org on the Hub) verifies a
submission by re-reading its score file and recomputing the EER against the dataset's labels at a pinned
revision, within 1e-6. Its conventions, from its published code and schemas:

- score file: one ``UTTERANCE SCORE`` line per scored trial, the score with six decimals, **higher = more
  bona fide** (bench's scores are the opposite: the file holds minus bench's score);
- EER (metric ``eer_percent``): every distinct score a threshold, FAR(t) the share of spoofs scoring >= t,
  FRR(t) the share of bona fide scoring < t; at the first sign change of FAR - FRR it interpolates linearly
  between the two thresholds and reports the mean of the interpolated FAR and FRR, in percent (with no sign
  change, the mean at the least |FAR - FRR|). This differs from the ASVspoof organisers' procedure
  (:mod:`bench.evaluation.asvspoof_scoring`) in the last digits.
"""

from __future__ import annotations

import numpy as np


def arena_score_lines(rows: list[tuple[str, float]]) -> list[str]:
    """``UTTERANCE SCORE`` lines, the score (higher = bona fide) with six decimals as the Arena writes them."""
    return [f"{utt} {score:.6f}\n" for utt, score in rows]


def arena_eer_percent(bona_fide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """(EER in percent, threshold) by the Arena's procedure, on scores where higher = more bona fide."""
    bona = np.sort(np.asarray(bona_fide, dtype=np.float64).ravel())
    fake = np.sort(np.asarray(spoof, dtype=np.float64).ravel())
    if bona.size == 0 or fake.size == 0:
        raise ValueError("the Arena's EER needs bona fide and spoof scores")
    thresholds = np.unique(np.concatenate([bona, fake]))
    far = (fake.size - np.searchsorted(fake, thresholds, side="left")) / fake.size  # spoof >= t
    frr = np.searchsorted(bona, thresholds, side="left") / bona.size  # bona fide < t
    diff = far - frr
    crossings = np.flatnonzero(np.diff(np.sign(diff)) != 0)
    if crossings.size == 0:
        i = int(np.argmin(np.abs(diff)))
        return float((far[i] + frr[i]) / 2.0) * 100.0, float(thresholds[i])
    i = int(crossings[0])
    d0, d1 = diff[i], diff[i + 1]
    alpha = 0.0 if d1 == d0 else d0 / (d0 - d1)
    threshold = float(thresholds[i] + alpha * (thresholds[i + 1] - thresholds[i]))
    eer_far = float(far[i] + alpha * (far[i + 1] - far[i]))
    eer_frr = float(frr[i] + alpha * (frr[i + 1] - frr[i]))
    return (eer_far + eer_frr) / 2.0 * 100.0, threshold
