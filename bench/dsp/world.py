"""WORLD vocoder helpers (analysis, synthesis, spectral-envelope frequency warping)."""

from __future__ import annotations

import numpy as np
import pyworld

from bench import SAMPLE_RATE

FRAME_MS = 5.0


def analyze(x: np.ndarray, sr: int = SAMPLE_RATE, f0_floor: float = 60.0,
            f0_ceil: float = 600.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F0 (DIO + StoneMask), spectral envelope (CheapTrick) and aperiodicity (D4C)."""
    xd = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pyworld.dio(xd, sr, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(xd, f0, t, sr)
    sp = pyworld.cheaptrick(xd, f0, t, sr)
    ap = pyworld.d4c(xd, f0, t, sr)
    return f0, sp, ap


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """WORLD synthesis back to float32 samples."""
    y = pyworld.synthesize(np.ascontiguousarray(f0, dtype=np.float64),
                           np.ascontiguousarray(sp, dtype=np.float64),
                           np.ascontiguousarray(ap, dtype=np.float64), sr, FRAME_MS)
    return y.astype(np.float32)


def warp_envelope(sp: np.ndarray, alpha: float) -> np.ndarray:
    """Scale the frequency axis of a spectral envelope: alpha > 1 moves formants up."""
    if abs(alpha - 1.0) < 1e-6:
        return sp
    bins = sp.shape[1]
    src = np.minimum(np.arange(bins) / alpha, bins - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    log_sp = np.log(np.maximum(sp, 1e-16))
    return np.exp(log_sp[:, lo] * (1 - frac) + log_sp[:, hi] * frac)


def f0_track(x: np.ndarray, sr: int = SAMPLE_RATE, f0_floor: float = 60.0,
             f0_ceil: float = 600.0) -> np.ndarray:
    """F0 per 5 ms frame (0 where unvoiced), DIO refined by StoneMask."""
    xd = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pyworld.dio(xd, sr, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_MS)
    return pyworld.stonemask(xd, f0, t, sr)
