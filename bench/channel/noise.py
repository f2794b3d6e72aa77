"""Noise at a given signal-to-noise ratio: generated (white, pink) or babble made from other recordings.
SNR is the ratio of the signal's mean power to the noise's over the whole recording, in dB."""

from __future__ import annotations

import math

import numpy as np

from bench.errors import BenchError

NOISES = ("white", "pink", "babble")


def check_snr(snr_db: object) -> float:
    """``snr_db`` as a finite float, or a one-line BenchError."""
    if not isinstance(snr_db, int | float) or isinstance(snr_db, bool) or not math.isfinite(snr_db):
        raise BenchError(f"SNR must be a number of dB, got {snr_db!r}")
    return float(snr_db)


def generated(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white or pink (1/f power) noise, unit variance."""
    if kind == "white":
        z = rng.standard_normal(n)
    elif kind == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        z = np.fft.irfft(spec / np.sqrt(f), n)
    else:
        raise BenchError(f"noise must be one of {', '.join(NOISES)}, got {kind!r}")
    return (z / (np.std(z) + 1e-12)).astype(np.float32)


def babble(others: list[np.ndarray], n: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """``n`` samples of babble: ``talkers`` other recordings, each at a random offset and looped, summed."""
    if not others:
        raise BenchError("babble noise needs other recordings of the corpus")
    mix = np.zeros(n, np.float64)
    for k in rng.choice(len(others), size=min(talkers, len(others)), replace=False):
        x = np.asarray(others[k], np.float64)
        if len(x) == 0:
            continue
        x = np.tile(x, int(np.ceil((n + len(x)) / len(x))))
        start = int(rng.integers(0, len(x) - n + 1))
        seg = x[start:start + n]
        mix += seg / (np.std(seg) + 1e-12)
    return (mix / (np.std(mix) + 1e-12)).astype(np.float32)


def add_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``x`` plus ``noise`` scaled so that power(x) / power(noise) is ``snr_db``; silence stays silence."""
    snr_db = check_snr(snr_db)
    px, pn = float(np.mean(np.square(x, dtype=np.float64))), float(np.mean(np.square(noise, dtype=np.float64)))
    if px == 0 or pn == 0:
        return x.astype(np.float32, copy=True)
    gain = math.sqrt(px / (pn * 10 ** (snr_db / 10)))
    return (x + gain * noise[:len(x)]).astype(np.float32)
