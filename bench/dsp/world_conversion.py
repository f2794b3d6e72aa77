"""One-shot voice conversion in the WORLD domain: the recipe the `world` and `world-hifigan`
generators share (they differ only in how the converted parameters become a waveform).

The source's log-F0 is mapped to the target's log-F0 mean and standard deviation; its
spectral envelope is frequency-warped by the factor that best matches the target's
long-term envelope (a vocal-tract-length change); a smoothed long-term equalisation then
moves the remaining spectral balance toward the target. What is fitted to one source
utterance (its F0 statistics, the warp, the equalisation) is a :class:`ConversionPlan`, so a
caller can fit it once and apply it to pieces of the utterance (streaming).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import SAMPLE_RATE
from bench.dsp import world

_FREQS = np.linspace(0, SAMPLE_RATE / 2, world.envelope_bins())  # the envelope's bin frequencies
BAND = (_FREQS >= 80) & (_FREQS <= 7000)  #: envelope bins the warp and equalisation are fitted on


@dataclass
class WorldTarget:
    """What the converter needs to know of a target: F0 statistics and long-term envelope."""

    logf0_mean: float
    logf0_std: float
    lt_envelope: np.ndarray  # mean log spectral envelope of voiced frames


@dataclass
class ConversionPlan:
    """What is fitted to one source utterance: its log-F0 statistics, the warp and the equalisation."""

    logf0_mean: float | None  #: None: too few voiced frames, F0 is left as it is
    logf0_std: float
    alpha: float
    eq: np.ndarray  #: added to the warped log envelope


def lt_envelope(f0: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Mean log spectral envelope of the voiced frames (the louder half when too few are voiced)."""
    log_sp = np.log(np.maximum(sp, 1e-16))
    energy = log_sp.mean(axis=1)
    frames = (f0 > 0) if np.count_nonzero(f0 > 0) >= 5 else (energy > np.percentile(energy, 50))
    return log_sp[frames].mean(axis=0)


def smooth_log_spectrum(v: np.ndarray, n_ceps: int) -> np.ndarray:
    """Keep the first ``n_ceps`` cepstral coefficients of a log spectrum (a smooth curve)."""
    ceps = np.fft.irfft(v)
    ceps[n_ceps:-n_ceps] = 0.0
    return np.fft.rfft(ceps).real


def prepare_target(reference: np.ndarray) -> WorldTarget:
    """Analyse a target's reference utterance (16 kHz float32)."""
    f0, sp, _ = world.analyze(reference, with_ap=False)
    voiced = np.log(f0[f0 > 0])
    mean = float(voiced.mean()) if voiced.size >= 5 else float(np.log(150.0))
    std = float(voiced.std()) if voiced.size >= 5 else 0.15
    return WorldTarget(mean, std, lt_envelope(f0, sp))


class WorldConverter:
    """The recipe with its settings: warp search range and equalisation smoothness and limit."""

    def __init__(self, warp_min: float = 0.75, warp_max: float = 1.35, warp_steps: int = 61,
                 eq_ceps: int = 40, eq_max_db: float = 18.0) -> None:
        self.alphas = np.geomspace(warp_min, warp_max, warp_steps)
        self.eq_ceps = eq_ceps
        self.eq_max = eq_max_db / 10 * np.log(10)  # dB -> natural log of the power envelope

    def fit_warp(self, source_lt: np.ndarray, target: WorldTarget) -> float:
        """The warp factor whose warped source long-term envelope best matches the target's."""
        warped = np.stack([world.warp_log_envelope(source_lt, a) for a in self.alphas])[:, BAND]
        warped -= warped.mean(axis=1, keepdims=True)
        tgt = target.lt_envelope[BAND] - target.lt_envelope[BAND].mean()
        return float(self.alphas[np.argmin(np.mean((warped - tgt) ** 2, axis=1))])

    def fit(self, f0: np.ndarray, sp: np.ndarray, target: WorldTarget) -> ConversionPlan:
        """Fit the F0 map, the warp and the equalisation to a source's WORLD analysis."""
        v = f0 > 0
        mean, std = None, 0.0
        if np.count_nonzero(v) >= 5:
            lf = np.log(f0[v])
            mean, std = float(lf.mean()), float(lf.std())
        alpha = self.fit_warp(lt_envelope(f0, sp), target)
        warped = np.exp(world.warp_log_envelope(np.log(np.maximum(sp, 1e-16)), alpha))
        diff = target.lt_envelope - lt_envelope(f0, warped)
        diff -= diff[BAND].mean()
        eq = np.clip(smooth_log_spectrum(diff, self.eq_ceps), -self.eq_max, self.eq_max)
        return ConversionPlan(mean, std, alpha, eq)

    @staticmethod
    def apply(f0: np.ndarray, sp: np.ndarray, plan: ConversionPlan,
              target: WorldTarget) -> tuple[np.ndarray, np.ndarray]:
        """The converted F0 and spectral envelope of a source analysis under ``plan``."""
        out_f0 = f0.copy()
        v = f0 > 0
        if plan.logf0_mean is not None and np.any(v):
            lf = np.log(f0[v])
            z = (lf - plan.logf0_mean) / plan.logf0_std if plan.logf0_std > 1e-6 else lf * 0
            out_f0[v] = np.exp(target.logf0_mean + z * target.logf0_std)
        log_sp = world.warp_log_envelope(np.log(np.maximum(sp, 1e-16)), plan.alpha) + plan.eq
        return out_f0, np.exp(log_sp)


def match_level(y: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``y`` scaled to the RMS level of ``source``, as float32."""
    src_rms = np.sqrt(np.mean(source.astype(np.float64) ** 2)) + 1e-12
    return (y * (src_rms / (np.sqrt(np.mean(np.asarray(y, np.float64) ** 2)) + 1e-12))).astype(np.float32)
