"""`world`: one-shot voice conversion with the WORLD vocoder (the offline default attacker).

Recipe (bench's own): the source's log-F0 is mapped to the target's log-F0 mean and
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

from bench.api import GENERATORS, SAMPLE_RATE, BenchError, Generator, PluginMeta
from bench.dsp import world

_FREQS = np.linspace(0, SAMPLE_RATE / 2, world.envelope_bins())  # the envelope's bin frequencies
_BAND = (_FREQS >= 80) & (_FREQS <= 7000)


@dataclass
class WorldTarget:
    """What the converter needs to know of a target: F0 statistics and long-term envelope."""

    logf0_mean: float
    logf0_std: float
    lt_envelope: np.ndarray  # mean log spectral envelope of voiced frames


def _lt_envelope(f0: np.ndarray, sp: np.ndarray) -> np.ndarray:
    log_sp = np.log(np.maximum(sp, 1e-16))
    energy = log_sp.mean(axis=1)
    frames = (f0 > 0) if np.count_nonzero(f0 > 0) >= 5 else (energy > np.percentile(energy, 50))
    return log_sp[frames].mean(axis=0)


def _smooth(v: np.ndarray, n_ceps: int) -> np.ndarray:
    """Keep the first ``n_ceps`` cepstral coefficients of a log spectrum (a smooth curve)."""
    ceps = np.fft.irfft(v)
    ceps[n_ceps:-n_ceps] = 0.0
    return np.fft.rfft(ceps).real


@GENERATORS.register(PluginMeta(
    name="world", version="1.0", license="Apache-2.0 (bench); WORLD: modified BSD",
    description="One-shot WORLD voice conversion: log-F0 mean/std matching, vocal-tract warp fitted to the "
                "target's long-term envelope, smoothed long-term equalisation.",
    reference="M. Morise, F. Yokomori, K. Ozawa, WORLD: a vocoder-based high-quality speech synthesis system for "
              "real-time applications, IEICE Trans. Inf. & Syst. E99-D(7), 2016 (github.com/mmorise/World)",
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
        f0, sp, _ = world.analyze(reference, with_ap=False)
        voiced = np.log(f0[f0 > 0])
        mean = float(voiced.mean()) if voiced.size >= 5 else float(np.log(150.0))
        std = float(voiced.std()) if voiced.size >= 5 else 0.15
        return WorldTarget(mean, std, _lt_envelope(f0, sp))

    def fit_warp(self, source_lt: np.ndarray, target: WorldTarget) -> float:
        """The warp factor whose warped source long-term envelope best matches the target's."""
        warped = np.stack([world.warp_log_envelope(source_lt, a) for a in self.alphas])[:, _BAND]
        warped -= warped.mean(axis=1, keepdims=True)
        tgt = target.lt_envelope[_BAND] - target.lt_envelope[_BAND].mean()
        return float(self.alphas[np.argmin(np.mean((warped - tgt) ** 2, axis=1))])

    def convert(self, source: np.ndarray, target: WorldTarget) -> np.ndarray:
        if len(source) < SAMPLE_RATE * 0.05:
            return np.zeros_like(source, dtype=np.float32)
        f0, sp, ap = world.analyze(source, ap_step=2)
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
        log_sp = world.warp_log_envelope(log_sp, alpha)
        diff = target.lt_envelope - _lt_envelope(f0, np.exp(log_sp))
        diff -= diff[_BAND].mean()
        eq = np.clip(_smooth(diff, self.eq_ceps), -self.eq_max, self.eq_max)
        log_sp += eq
        y = world.synthesize(out_f0, np.exp(log_sp), ap, dtype=np.float64)[: len(source)]
        y = np.pad(y, (0, len(source) - len(y)))
        # keep the source's level
        src_rms = np.sqrt(np.mean(source.astype(np.float64) ** 2)) + 1e-12
        y *= src_rms / (np.sqrt(np.mean(y**2)) + 1e-12)
        return y.astype(np.float32)
