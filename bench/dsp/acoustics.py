"""Simple acoustic measurements used to check corpora and by lightweight detectors."""

from __future__ import annotations

import numpy as np

from bench import SAMPLE_RATE
from bench.dsp.world import f0_track


def frame_rms_db(x: np.ndarray, sr: int = SAMPLE_RATE, frame_ms: float = 20.0) -> np.ndarray:
    """RMS level in dBFS per non-overlapping frame."""
    hop = max(1, int(sr * frame_ms / 1000))
    n = len(x) // hop
    frames = x[: n * hop].reshape(n, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def active_level_db(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Level of the active part: mean power of frames within 30 dB of the loudest frame."""
    db = frame_rms_db(x, sr)
    active = db[db > db.max() - 30]
    return float(10 * np.log10(np.mean(10 ** (active / 10))))


def voiced_fraction(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Share of active frames (within 35 dB of the peak) that carry an F0."""
    f0 = f0_track(x, sr)
    db = frame_rms_db(x, sr, frame_ms=5.0)
    n = min(len(f0), len(db))
    active = db[:n] > db.max() - 35
    return float(np.mean(f0[:n][active] > 0)) if active.any() else 0.0


def median_f0(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Median F0 of voiced frames in Hz (0.0 if none)."""
    f0 = f0_track(x, sr)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else 0.0


def spectral_centroid(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Power-weighted mean frequency of the whole clip in Hz."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float(np.sum(freqs * spec) / (np.sum(spec) + 1e-20))


def band_energy_ratio(x: np.ndarray, lo: float, hi: float, sr: int = SAMPLE_RATE) -> float:
    """Share of the clip's power between ``lo`` and ``hi`` Hz."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    band = (freqs >= lo) & (freqs < hi)
    return float(spec[band].sum() / (spec.sum() + 1e-20))
