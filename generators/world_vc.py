"""`world`: one-shot voice conversion with the WORLD vocoder (the offline default attacker).

Recipe (DESIGN.md): the source's log-F0 is mapped to the target's log-F0 mean and
standard deviation; its spectral envelope is frequency-warped by the factor that best
matches the target's long-term envelope (a vocal-tract-length change); a smoothed
long-term equalisation then moves the remaining spectral balance toward the target.

Speed: DIO + StoneMask F0, CheapTrick envelope at 5 ms, D4C aperiodicity computed on a
10 ms grid and interpolated (it dominates the cost and is smooth in time), all warps and
the equalisation vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyworld

from bench.api import GENERATORS, SAMPLE_RATE, BenchError, Generator, PluginMeta

FRAME_MS = 5.0
_FFT = pyworld.get_cheaptrick_fft_size(SAMPLE_RATE)
_FREQS = np.arange(_FFT // 2 + 1) * SAMPLE_RATE / _FFT
_BAND = (_FREQS >= 80) & (_FREQS <= 7000)


@dataclass
class WorldTarget:
    """What the converter needs to know of a target: F0 statistics and long-term envelope."""

    logf0_mean: float
    logf0_std: float
    lt_envelope: np.ndarray  # mean log spectral envelope of voiced frames


def _analyze(x: np.ndarray, with_ap: bool = True):
    xd = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pyworld.dio(xd, SAMPLE_RATE, f0_floor=60.0, f0_ceil=600.0, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(xd, f0, t, SAMPLE_RATE)
    sp = pyworld.cheaptrick(xd, f0, t, SAMPLE_RATE)
    if not with_ap:
        return f0, sp, None
    # D4C on every other frame, linearly interpolated back to the 5 ms grid
    ap_coarse = pyworld.d4c(xd, f0[::2].copy(), t[::2].copy(), SAMPLE_RATE)
    idx = np.arange(len(f0)) / 2.0
    lo = np.minimum(np.floor(idx).astype(int), len(ap_coarse) - 1)
    hi = np.minimum(lo + 1, len(ap_coarse) - 1)
    frac = (idx - lo)[:, None]
    ap = ap_coarse[lo] * (1 - frac) + ap_coarse[hi] * frac
    return f0, sp, ap


def _lt_envelope(f0: np.ndarray, sp: np.ndarray) -> np.ndarray:
    log_sp = np.log(np.maximum(sp, 1e-16))
    energy = log_sp.mean(axis=1)
    frames = (f0 > 0) if np.count_nonzero(f0 > 0) >= 5 else (energy > np.percentile(energy, 50))
    return log_sp[frames].mean(axis=0)


def _warp_matrix_indices(alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bins = _FFT // 2 + 1
    src = np.minimum(np.arange(bins) / alpha, bins - 1)
    lo = np.floor(src).astype(int)
    return lo, np.minimum(lo + 1, bins - 1), src - lo


def _warp(log_sp: np.ndarray, alpha: float) -> np.ndarray:
    lo, hi, frac = _warp_matrix_indices(alpha)
    return log_sp[..., lo] * (1 - frac) + log_sp[..., hi] * frac


def _smooth(v: np.ndarray, n_ceps: int) -> np.ndarray:
    """Keep the first ``n_ceps`` cepstral coefficients of a log spectrum (a smooth curve)."""
    ceps = np.fft.irfft(v)
    ceps[n_ceps:-n_ceps] = 0.0
    return np.fft.rfft(ceps).real


@GENERATORS.register(PluginMeta(
    name="world", version="1.0", license="Apache-2.0 (bench); WORLD: modified BSD",
    description="One-shot WORLD voice conversion: log-F0 mean/std matching, vocal-tract warp fitted to the "
                "target's long-term envelope, smoothed long-term equalisation.",
    reference="DESIGN.md; Morise et al., WORLD (2016)",
    parameters={"warp_min": 0.75, "warp_max": 1.35, "warp_steps": 61, "eq_ceps": 40, "eq_max_db": 18.0},
    sample_rate=SAMPLE_RATE, devices=["cpu"], assets=[], offline=True,
))
class WorldVC(Generator):
    """WORLD-based one-shot voice conversion."""

    context_ms = 300.0

    def __init__(self, warp_min: float = 0.75, warp_max: float = 1.35, warp_steps: int = 61,
                 eq_ceps: int = 40, eq_max_db: float = 18.0) -> None:
        if not (0.3 <= warp_min <= warp_max <= 3.0 and 1 <= warp_steps <= 1001 and 1 <= eq_ceps <= 512
                and 0 <= eq_max_db <= 60):
            raise BenchError("world: need 0.3 <= warp_min <= warp_max <= 3, 1 <= warp_steps <= 1001, "
                             "1 <= eq_ceps <= 512 and 0 <= eq_max_db <= 60 (got "
                             f"{warp_min}, {warp_max}, {warp_steps}, {eq_ceps}, {eq_max_db})")
        super().__init__(warp_min=warp_min, warp_max=warp_max, warp_steps=warp_steps, eq_ceps=eq_ceps,
                         eq_max_db=eq_max_db)
        self.alphas = np.geomspace(warp_min, warp_max, warp_steps)
        self.eq_ceps = eq_ceps
        self.eq_max = eq_max_db / 10 * np.log(10)  # dB -> natural log of the power envelope

    def prepare_target(self, reference: np.ndarray) -> WorldTarget:
        f0, sp, _ = _analyze(reference, with_ap=False)
        voiced = np.log(f0[f0 > 0])
        mean = float(voiced.mean()) if voiced.size >= 5 else float(np.log(150.0))
        std = float(voiced.std()) if voiced.size >= 5 else 0.15
        return WorldTarget(mean, std, _lt_envelope(f0, sp))

    def fit_warp(self, source_lt: np.ndarray, target: WorldTarget) -> float:
        """The warp factor whose warped source long-term envelope best matches the target's."""
        warped = np.stack([_warp(source_lt, a) for a in self.alphas])[:, _BAND]
        warped -= warped.mean(axis=1, keepdims=True)
        tgt = target.lt_envelope[_BAND] - target.lt_envelope[_BAND].mean()
        return float(self.alphas[np.argmin(np.mean((warped - tgt) ** 2, axis=1))])

    def convert(self, source: np.ndarray, target: WorldTarget) -> np.ndarray:
        if len(source) < SAMPLE_RATE * 0.05:
            return np.zeros_like(source, dtype=np.float32)
        f0, sp, ap = _analyze(source)
        # F0: match log mean and std of the target
        out_f0 = f0.copy()
        v = f0 > 0
        if np.count_nonzero(v) >= 5:
            lf = np.log(f0[v])
            std = lf.std()
            z = (lf - lf.mean()) / std if std > 1e-6 else lf * 0
            out_f0[v] = np.exp(target.logf0_mean + z * target.logf0_std)
        # envelope: vocal-tract warp, then long-term equalisation toward the target
        log_sp = np.log(np.maximum(sp, 1e-16))
        alpha = self.fit_warp(_lt_envelope(f0, sp), target)
        log_sp = _warp(log_sp, alpha)
        diff = target.lt_envelope - _lt_envelope(f0, np.exp(log_sp))
        diff -= diff[_BAND].mean()
        eq = np.clip(_smooth(diff, self.eq_ceps), -self.eq_max, self.eq_max)
        log_sp += eq
        y = pyworld.synthesize(out_f0, np.ascontiguousarray(np.exp(log_sp)), np.ascontiguousarray(ap), SAMPLE_RATE,
                               FRAME_MS)[: len(source)]
        y = np.pad(y, (0, len(source) - len(y)))
        # keep the source's level
        src_rms = np.sqrt(np.mean(source.astype(np.float64) ** 2)) + 1e-12
        y *= src_rms / (np.sqrt(np.mean(y**2)) + 1e-12)
        return y.astype(np.float32)
