"""Packet loss and jitter on codec frames: which packets never reach the decoder.

Loss follows a two-state Gilbert-Elliott model (a good state that loses nothing, a bad state that loses
every packet): from a mean loss rate and a mean burst length (packets), P(good -> bad) = rate / (burst *
(1 - rate)) and P(bad -> good) = 1 / burst, so bursts last ``burst`` packets on average and the long-run
loss rate is ``rate``. Jitter: each packet's network delay is drawn (exponential, mean ``jitter_ms``), and a
playout buffer of ``buffer_ms`` drops the packets that arrive later than it can wait."""

from __future__ import annotations

import math

import numpy as np

from bench.errors import BenchError


def check_rate(rate: float, what: str = "loss rate") -> float:
    """``rate`` as a float in [0, 1), or a one-line BenchError."""
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not math.isfinite(rate) or not 0 <= rate < 1:
        raise BenchError(f"{what} must be a number in [0, 1), got {rate!r}")
    return float(rate)


def check_burst(burst: object) -> float:
    """``burst`` (mean loss-burst length in packets) as a float >= 1, or a one-line BenchError."""
    if not (isinstance(burst, int | float) and not isinstance(burst, bool) and math.isfinite(burst) and burst >= 1):
        raise BenchError(f"burst length must be a number of packets >= 1, got {burst!r}")
    return float(burst)


def gilbert_elliott(n: int, rate: float, burst: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of ``n`` packets, True where lost, at mean loss ``rate`` in bursts of mean length ``burst``."""
    rate, burst = check_rate(rate), check_burst(burst)
    lost = np.zeros(n, bool)
    if rate == 0 or n == 0:
        return lost
    to_good = 1.0 / burst
    to_bad = min(1.0, rate * to_good / (1.0 - rate))
    u = rng.random(n)
    bad = rng.random() < rate  # start in the stationary distribution
    for i in range(n):
        lost[i] = bad
        bad = (u[i] >= to_good) if bad else (u[i] < to_bad)
    return lost


def jitter_drops(n: int, jitter_ms: float, buffer_ms: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of ``n`` packets, True where the packet arrived after the playout buffer gave up on it."""
    for name, v in (("jitter", jitter_ms), ("jitter buffer", buffer_ms)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            raise BenchError(f"{name} must be a number of milliseconds >= 0, got {v!r}")
    if jitter_ms == 0:
        return np.zeros(n, bool)
    return rng.exponential(jitter_ms, n) > buffer_ms


def bursts(lost: np.ndarray) -> list[int]:
    """Lengths of the runs of consecutive lost packets."""
    runs, k = [], 0
    for x in lost:
        if x:
            k += 1
        elif k:
            runs.append(k)
            k = 0
    return runs + ([k] if k else [])
