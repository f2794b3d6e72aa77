"""The classical countermeasures' front end (:mod:`bench.countermeasures.feature_model`): MFCC and LFCC
summarised over an utterance.

Features (:func:`utterance_features`): for each front end, 20 cepstral coefficients per
frame with their delta and delta-delta (60 values per frame), summarised over the whole
utterance by their mean and standard deviation (120 values per front end; 240 with both):

- **LFCC**: 20 ms Hamming frames every 10 ms (centred, zero padding), pre-emphasis 0.97,
  512-point FFT, 20 linear triangular filters over the full band (0-8 kHz), ``log10``,
  orthonormal DCT-II, coefficient 0 replaced by the frame's log energy. The framing, window,
  pre-emphasis, filter shape, log, energy and delta conventions are those of bench's LFCC-LCNN
  front end (``detectors/lfcc_lcnn/network.py``, the ASVspoof 2021 LA baseline's); the values
  are copied here, not imported (the core imports no plugin). FFT size and band differ: that
  front end uses a 1024-point FFT and keeps 0-4 kHz; these are 512 points over the full band.
- **MFCC**: the same frames and power spectrum, 40 mel filters (librosa's Slaney mel filter
  bank, 0-8 kHz), ``10 log10`` (librosa's ``power_to_db`` without clipping), orthonormal DCT-II,
  the first 20 coefficients.
- **Deltas**: ``x[t+1] - x[t-1]`` with the edge frames repeated (the LFCC-LCNN convention), for
  both front ends.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from bench import SAMPLE_RATE
from bench.errors import BenchError

# --- front end (values copied from detectors/lfcc_lcnn/network.py: frame length/shift, pre-emphasis, float32
#     eps in the log; the FFT size and band are this module's: 512 points, full band)
FRAME_LENGTH = 320  # 20 ms
FRAME_SHIFT = 160  # 10 ms
N_FFT = 512
N_BINS = N_FFT // 2 + 1  # 257: 0..8 kHz in 31.25 Hz steps
N_LFCC_FILTERS = 20  # triangular filters == cepstral coefficients
N_MEL_FILTERS = 40
N_CEPS = 20
PRE_EMPHASIS = 0.97
LOG_EPS = float(np.finfo(np.float32).eps)  # LFCC: log10(. + eps), as LFCC-LCNN
DB_AMIN = 1e-10  # MFCC: 10 log10(max(., amin)), librosa.power_to_db's default floor
FEATURE_SETS = {"mfcc": ("mfcc",), "lfcc": ("lfcc",), "both": ("mfcc", "lfcc")}
PER_FRONT_END = 2 * 3 * N_CEPS  # (mean, std) x (static, delta, delta-delta) x 20
CHUNK_FRAMES = 4096  # frames per FFT block (41 s of audio)

FRONT_END = {"frame_length": FRAME_LENGTH, "frame_shift": FRAME_SHIFT, "n_fft": N_FFT, "window": "hamming",
             "pre_emphasis": PRE_EMPHASIS, "lfcc_filters": N_LFCC_FILTERS, "mel_filters": N_MEL_FILTERS,
             "n_ceps": N_CEPS, "band_hz": [0, SAMPLE_RATE // 2], "deltas": "x[t+1] - x[t-1], edges repeated",
             "statistics": "mean, std over all frames",
             "layout": "per front end (mfcc, then lfcc): mean of [20 static, 20 delta, 20 delta-delta], then "
                       "std of the same; LFCC c0 is the frame log energy"}


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """Periodic Hamming window of FRAME_LENGTH, centred in N_FFT (what torch.stft and librosa do)."""
    n = np.arange(FRAME_LENGTH)
    w = 0.54 - 0.46 * np.cos(2 * np.pi * n / FRAME_LENGTH)
    left = (N_FFT - FRAME_LENGTH) // 2
    return np.pad(w, (left, N_FFT - FRAME_LENGTH - left))


def power_spectrum(x: np.ndarray) -> np.ndarray:
    """(frames, 257) power spectrum of the pre-emphasised waveform, ``frames = 1 + len(x) // 160``."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) == 0:
        x = np.zeros(1)
    x = np.concatenate([x[:1], x[1:] - PRE_EMPHASIS * x[:-1]])
    padded = np.pad(x, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::FRAME_SHIFT]
    out = np.empty((len(frames), N_BINS))
    for i in range(0, len(frames), CHUNK_FRAMES):  # in chunks: an hour of audio never needs GBs at once
        spec = np.fft.rfft(frames[i:i + CHUNK_FRAMES] * _window(), axis=1)
        out[i:i + CHUNK_FRAMES] = spec.real ** 2 + spec.imag ** 2
    return out


def _triangle(x: np.ndarray, left: float, centre: float, right: float) -> np.ndarray:
    """Matlab-style ``trimf`` with strict inequalities (0 at the end points, 1 at the centre)."""
    y = np.zeros_like(x)
    up = (x > left) & (x < centre)
    y[up] = (x[up] - left) / (centre - left)
    down = (x > centre) & (x < right)
    y[down] = (right - x[down]) / (right - centre)
    y[x == centre] = 1.0
    return y


@lru_cache(maxsize=1)
def lfcc_filterbank() -> np.ndarray:
    """(257, 20) linear triangular filters, edges equally spaced over 0-8 kHz."""
    freqs = (SAMPLE_RATE / 2) * np.linspace(0.0, 1.0, N_BINS)
    edges = np.linspace(0.0, SAMPLE_RATE / 2, N_LFCC_FILTERS + 2)
    return np.stack([_triangle(freqs, edges[i], edges[i + 1], edges[i + 2]) for i in range(N_LFCC_FILTERS)],
                    axis=1)


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """(257, 40) Slaney mel filters over 0-8 kHz (librosa.filters.mel's defaults)."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MEL_FILTERS, fmin=0.0,
                               fmax=SAMPLE_RATE / 2, dtype=np.float64).T


def _dct(x: np.ndarray) -> np.ndarray:
    import scipy.fft

    return scipy.fft.dct(x, type=2, norm="ortho", axis=-1)


def lfcc(power: np.ndarray) -> np.ndarray:
    """(frames, 20) LFCC of a power spectrum; coefficient 0 is the frame's log10 energy."""
    ceps = _dct(np.log10(power @ lfcc_filterbank() + LOG_EPS))
    ceps[:, 0] = np.log10(power.sum(axis=1) / N_FFT + LOG_EPS)
    return ceps


def mfcc(power: np.ndarray) -> np.ndarray:
    """(frames, 20) MFCC of a power spectrum (dB mel energies, orthonormal DCT-II)."""
    db = 10.0 * np.log10(np.maximum(power @ mel_filterbank(), DB_AMIN))
    return _dct(db)[:, :N_CEPS]


def delta(c: np.ndarray) -> np.ndarray:
    """``c[t+1] - c[t-1]`` along frames (axis 0), the edge frames repeated."""
    padded = np.concatenate([c[:1], c, c[-1:]])
    return padded[2:] - padded[:-2]


def frame_features(x: np.ndarray, front_end: str, power: np.ndarray | None = None) -> np.ndarray:
    """(frames, 60): a front end's 20 coefficients, their delta and delta-delta (``power``: the waveform's
    :func:`power_spectrum`, if already computed)."""
    c = {"mfcc": mfcc, "lfcc": lfcc}[front_end](power_spectrum(x) if power is None else power)
    d1 = delta(c)
    return np.concatenate([c, d1, delta(d1)], axis=1)


def utterance_features(x: np.ndarray, features: str = "both") -> np.ndarray:
    """The utterance's feature vector: per front end, the mean then the std over frames of its 60 values."""
    check_features(features)
    power = power_spectrum(x)
    parts = []
    for fe in FEATURE_SETS[features]:
        f = frame_features(x, fe, power)
        parts += [f.mean(axis=0), f.std(axis=0)]
    return np.concatenate(parts)


def feature_matrix(waves: list[np.ndarray], features: str = "both") -> np.ndarray:
    """(n, d) features of ``waves`` (d = 120 per front end)."""
    if not waves:
        return np.zeros((0, n_features(features)))
    return np.stack([utterance_features(w, features) for w in waves])


def crops(wave: np.ndarray, n: int) -> list[np.ndarray]:
    """Every consecutive ``n``-sample crop of ``wave`` (a shorter tail is left out; a wave shorter than ``n`` is its
    own one crop)."""
    if len(wave) < n:
        return [wave]
    return [wave[i:i + n] for i in range(0, len(wave) - n + 1, n)]


def n_features(features: str) -> int:
    return PER_FRONT_END * len(FEATURE_SETS[check_features(features)])


def feature_names(features: str = "both") -> list[str]:
    """Names of the vector's entries, e.g. ``mfcc_mean_c3``, ``lfcc_std_dd0`` (c: static, d: delta, dd: delta-delta)."""
    names = []
    for fe in FEATURE_SETS[check_features(features)]:
        for stat in ("mean", "std"):
            names += [f"{fe}_{stat}_{kind}{k}" for kind in ("c", "d", "dd") for k in range(N_CEPS)]
    return names


def check_features(features: Any) -> str:
    if not isinstance(features, str) or features not in FEATURE_SETS:
        raise BenchError(f"features must be one of {', '.join(FEATURE_SETS)}, not {features!r}")
    return features
