"""Signal effects used to render challenges: biquad filters, gain, mixing, synthetic sounds."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from bench import SAMPLE_RATE


def _biquad(b: list[float], a: list[float], x: np.ndarray) -> np.ndarray:
    return lfilter(np.array(b) / a[0], np.array(a) / a[0], x).astype(np.float32)


def peaking(x: np.ndarray, f0: float, gain_db: float, q: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """RBJ peaking EQ: boost (gain_db > 0) or cut a band around ``f0``."""
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp]
    a = [1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp]
    return _biquad(b, a, x)


def shelf(x: np.ndarray, f0: float, gain_db: float, high: bool, sr: int = SAMPLE_RATE) -> np.ndarray:
    """RBJ shelving filter (slope 1): high shelf if ``high`` else low shelf."""
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / 2 * np.sqrt(2)
    cos, sq = np.cos(w0), 2 * np.sqrt(amp) * alpha
    if high:
        b = [amp * ((amp + 1) + (amp - 1) * cos + sq), -2 * amp * ((amp - 1) + (amp + 1) * cos),
             amp * ((amp + 1) + (amp - 1) * cos - sq)]
        a = [(amp + 1) - (amp - 1) * cos + sq, 2 * ((amp - 1) - (amp + 1) * cos),
             (amp + 1) - (amp - 1) * cos - sq]
    else:
        b = [amp * ((amp + 1) - (amp - 1) * cos + sq), 2 * amp * ((amp - 1) - (amp + 1) * cos),
             amp * ((amp + 1) - (amp - 1) * cos - sq)]
        a = [(amp + 1) + (amp - 1) * cos + sq, -2 * ((amp - 1) + (amp + 1) * cos),
             (amp + 1) + (amp - 1) * cos - sq]
    return _biquad(b, a, x)


def lowpass(x: np.ndarray, fc: float, q: float = 0.707, sr: int = SAMPLE_RATE) -> np.ndarray:
    """RBJ second-order low-pass."""
    w0 = 2 * np.pi * fc / sr
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    return _biquad([(1 - cos) / 2, 1 - cos, (1 - cos) / 2], [1 + alpha, -2 * cos, 1 - alpha], x)


def highpass(x: np.ndarray, fc: float, q: float = 0.707, sr: int = SAMPLE_RATE) -> np.ndarray:
    """RBJ second-order high-pass."""
    w0 = 2 * np.pi * fc / sr
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    return _biquad([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2], [1 + alpha, -2 * cos, 1 - alpha], x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def set_active_level(x: np.ndarray, level_db: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Scale so the active frames (within 30 dB of the loudest) sit at ``level_db`` dBFS."""
    from bench.dsp.acoustics import active_level_db

    if not np.any(x):
        return x
    return (x * 10 ** ((level_db - active_level_db(x, sr)) / 20)).astype(np.float32)


def mix(base: np.ndarray, other: np.ndarray, offset: int, gain: float) -> np.ndarray:
    """Add ``other`` * gain into ``base`` starting at ``offset``, extending base if needed."""
    end = offset + len(other)
    out = np.zeros(max(len(base), end), dtype=np.float32)
    out[: len(base)] += base
    out[offset:end] += gain * other
    return out


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise with unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
    y = np.fft.irfft(spec, n)
    return (y / rms(y)).astype(np.float32)


def clap(rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """One hand clap: a few ms of band-passed noise bursts with a fast exponential decay."""
    n = int(0.08 * sr)
    t = np.arange(n) / sr
    env = np.exp(-t / 0.012)
    for lag in rng.uniform(0.002, 0.012, size=2):  # the short flams of a real clap
        k = int(lag * sr)
        env[k:] += 0.6 * np.exp(-(t[: n - k]) / 0.01)
    burst = rng.standard_normal(n) * env
    burst = highpass(lowpass(burst.astype(np.float32), 5000, sr=sr), 700, sr=sr)
    return (burst / np.max(np.abs(burst))).astype(np.float32)


def cough(rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A cough: an explosive noise burst through vowel-like resonances, then a decaying tail."""
    n = int(rng.uniform(0.28, 0.4) * sr)
    t = np.arange(n) / sr
    env = (1 - np.exp(-t / 0.004)) * np.exp(-t / rng.uniform(0.06, 0.1))
    y = rng.standard_normal(n).astype(np.float32) * env.astype(np.float32)
    for f, g in ((rng.uniform(500, 800), 12), (rng.uniform(1200, 1800), 8), (2600, 4)):
        y = peaking(y, f, g, 3.0, sr)
    y = highpass(y, 200, sr=sr)
    return (y / np.max(np.abs(y))).astype(np.float32)


def whistle(rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A short whistled tune: a few gliding notes of a near-sinusoid between 1 and 2.5 kHz."""
    notes = rng.choice([0, 2, 4, 5, 7, 9, 12], size=int(rng.integers(4, 7)))
    base = rng.uniform(1000, 1400)
    parts = []
    for semitone in notes:
        dur = rng.uniform(0.18, 0.35)
        n = int(dur * sr)
        t = np.arange(n) / sr
        f = base * 2 ** (semitone / 12) * (1 + 0.006 * np.sin(2 * np.pi * 6 * t))
        phase = 2 * np.pi * np.cumsum(f) / sr
        env = np.minimum(1, np.minimum(t / 0.03, (dur - t) / 0.04))
        tone = np.sin(phase) + 0.05 * rng.standard_normal(n)
        parts.append((tone * env).astype(np.float32))
        parts.append(np.zeros(int(0.04 * sr), dtype=np.float32))
    y = np.concatenate(parts)
    return (y / np.max(np.abs(y))).astype(np.float32)


def music(n: int, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Synthesised instrumental music: a chord progression, a bass line and a kick drum."""
    bpm = rng.uniform(90, 130)
    beat = int(60 / bpm * sr)
    key = rng.uniform(196, 294)  # G3..D4 root
    progression = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]  # I V vi IV
    y = np.zeros(n + 4 * beat, dtype=np.float64)
    for bar, start in enumerate(range(0, n, 4 * beat)):
        chord = progression[bar % len(progression)]
        t = np.arange(4 * beat) / sr
        env = np.exp(-t / 1.2)
        for semi in chord:
            f = key * 2 ** (semi / 12)
            for h, amp in ((1, 1.0), (2, 0.4), (3, 0.2), (4, 0.1)):
                y[start:start + 4 * beat] += 0.15 * amp * env * np.sin(2 * np.pi * f * h * t)
        fb = key / 2 * 2 ** (chord[0] / 12)
        y[start:start + 4 * beat] += 0.35 * np.exp(-t / 0.8) * np.sin(2 * np.pi * fb * t)
        for k in range(4):  # kick on every beat
            s = start + k * beat
            tk = np.arange(int(0.15 * sr)) / sr
            kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tk / 0.03)) * tk) * np.exp(-tk / 0.05)
            y[s:s + len(kick)] += 0.6 * kick
    y = y[:n]
    return (y / (np.max(np.abs(y)) + 1e-9)).astype(np.float32)
