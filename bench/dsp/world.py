"""The WORLD vocoder (pyworld), the one place bench calls it: analysis, synthesis, F0 tracks and the
frequency warp of a spectral envelope. The simulator (``bench.challenges.simulate``), the ``world``
generator and the acoustic checks all use these."""

from __future__ import annotations

import numpy as np
import pyworld

from bench import SAMPLE_RATE

FRAME_MS = 5.0
F0_FLOOR, F0_CEIL = 60.0, 600.0


def analyze(x: np.ndarray, sr: int = SAMPLE_RATE, f0_floor: float = F0_FLOOR, f0_ceil: float = F0_CEIL, *,
            with_ap: bool = True, ap_step: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """F0 (DIO + StoneMask), spectral envelope (CheapTrick) and aperiodicity (D4C) on a 5 ms grid.

    ``ap_step`` > 1 computes D4C on every ``ap_step``-th frame and interpolates linearly back to the grid (D4C
    dominates the cost and is smooth in time); ``with_ap=False`` skips it (None)."""
    xd = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = _f0_and_times(xd, sr, f0_floor, f0_ceil)
    sp = pyworld.cheaptrick(xd, f0, t, sr)
    if not with_ap:
        return f0, sp, None
    if ap_step == 1:
        return f0, sp, pyworld.d4c(xd, f0, t, sr)
    coarse = pyworld.d4c(xd, f0[::ap_step].copy(), t[::ap_step].copy(), sr)
    idx = np.arange(len(f0)) / float(ap_step)
    lo = np.minimum(np.floor(idx).astype(int), len(coarse) - 1)
    hi = np.minimum(lo + 1, len(coarse) - 1)
    frac = (idx - lo)[:, None]
    return f0, sp, coarse[lo] * (1 - frac) + coarse[hi] * frac


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sr: int = SAMPLE_RATE,
               dtype: type = np.float32) -> np.ndarray:
    """WORLD synthesis back to samples of ``dtype`` (float64 keeps WORLD's own precision)."""
    y = pyworld.synthesize(np.ascontiguousarray(f0, dtype=np.float64), np.ascontiguousarray(sp, dtype=np.float64),
                           np.ascontiguousarray(ap, dtype=np.float64), sr, FRAME_MS)
    return y.astype(dtype, copy=False)


def warp_log_envelope(log_sp: np.ndarray, alpha: float) -> np.ndarray:
    """Scale the frequency axis of log spectral envelopes (last axis: bins): alpha > 1 moves formants up."""
    bins = log_sp.shape[-1]
    src = np.minimum(np.arange(bins) / alpha, bins - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    return log_sp[..., lo] * (1 - frac) + log_sp[..., hi] * frac


def warp_envelope(sp: np.ndarray, alpha: float) -> np.ndarray:
    """:func:`warp_log_envelope` of a (power) spectral envelope; alpha 1 returns ``sp`` itself."""
    if abs(alpha - 1.0) < 1e-6:
        return sp
    return np.exp(warp_log_envelope(np.log(np.maximum(sp, 1e-16)), alpha))


def envelope_bins(sr: int = SAMPLE_RATE) -> int:
    """Frequency bins of a CheapTrick spectral envelope at ``sr`` (its FFT size / 2 + 1)."""
    return pyworld.get_cheaptrick_fft_size(sr) // 2 + 1


def f0_track(x: np.ndarray, sr: int = SAMPLE_RATE, f0_floor: float = F0_FLOOR,
             f0_ceil: float = F0_CEIL) -> np.ndarray:
    """F0 per 5 ms frame (0 where unvoiced), DIO refined by StoneMask."""
    return _f0_and_times(np.ascontiguousarray(x, dtype=np.float64), sr, f0_floor, f0_ceil)[0]


def _f0_and_times(xd: np.ndarray, sr: int, f0_floor: float, f0_ceil: float) -> tuple[np.ndarray, np.ndarray]:
    f0, t = pyworld.dio(xd, sr, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_MS)
    return pyworld.stonemask(xd, f0, t, sr), t
