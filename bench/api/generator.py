"""The generator (voice-conversion attack) interface, owned by the core (plugins in `generators/` import it).

A generator is loaded once, analyses each target's reference once (:meth:`prepare_target`,
cached by the caller), then converts source utterances towards it. Audio is float32 mono
at 16 kHz in and out. Streaming conversion (:meth:`stream`) processes fixed-size chunks
as a real-time attacker would and reports per-chunk compute time and algorithmic delay.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import SAMPLE_RATE
from bench.api.registry import GENERATORS, PluginMeta  # noqa: F401  (re-exported for plugins)


@dataclass
class StreamStats:
    """Per-chunk timings of a streaming conversion."""

    chunk_ms: float
    algorithmic_delay_ms: float
    compute_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        c = np.asarray(self.compute_ms or [0.0])
        return {
            "chunk_ms": self.chunk_ms, "chunks": len(self.compute_ms),
            "algorithmic_delay_ms": self.algorithmic_delay_ms,
            "compute_ms_mean": float(c.mean()), "compute_ms_p95": float(np.percentile(c, 95)),
            "compute_ms_max": float(c.max()),
            "realtime_fraction": float(np.mean(c <= self.chunk_ms)),
            # what a listener waits for: buffering a chunk, the look-ahead, and the compute
            "latency_ms_p95": self.algorithmic_delay_ms + float(np.percentile(c, 95)),
        }


class Generator(ABC):
    """Base class of voice-conversion generators. Subclasses set ``meta`` and implement
    :meth:`prepare_target` and :meth:`convert`."""

    meta: PluginMeta
    #: audio (ms) a streaming converter needs after a chunk before it can emit it
    lookahead_ms: float = 0.0
    #: past audio (ms) fed with each chunk so the model has context
    context_ms: float = 400.0
    #: a streaming window starts on a multiple of this many samples (a model's frame grid)
    window_grid: int = 1

    def __init__(self, **config: Any) -> None:
        self.config = config

    def check(self) -> None:  # noqa: B027 - optional hook, generators without assets need no check
        """Cheap validation before any work (assets exist, device available): raise BenchError with one line.

        Called once in the parent process; :meth:`load` runs later in every worker, and an
        error there stops the whole run too (it would fail every item).
        """

    def load(self) -> None:  # noqa: B027 - optional hook, most generators need no loading
        """Load models (called once per process before the first conversion)."""

    @abstractmethod
    def prepare_target(self, reference: np.ndarray) -> Any:
        """Analyse a target speaker's reference utterance; the result is passed to convert."""

    @abstractmethod
    def convert(self, source: np.ndarray, target: Any) -> np.ndarray:
        """Convert ``source`` (16 kHz float32) to the target's voice; returns 16 kHz float32."""

    def convert_batch(self, sources: list[np.ndarray], target: Any) -> list[np.ndarray]:
        """Convert several sources toward one target (override where the model batches)."""
        return [self.convert(s, target) for s in sources]

    def describe(self) -> dict[str, Any]:
        """Name, version and configuration, as recorded with every fake."""
        return {"name": self.meta.name, "version": self.meta.version, **self.config}

    def stream(self, source: np.ndarray, target: Any, chunk_ms: float) -> tuple[np.ndarray, StreamStats]:
        """Convert chunk by chunk, as a real-time attacker would.

        Each chunk is converted together with ``context_ms`` of past input (and, where the
        model needs it, ``lookahead_ms`` of future input, which adds to the delay); only
        the chunk's own part of the output is emitted, in order, as a live stream would.
        """
        return self.chunked(source, chunk_ms, lambda window, start: self.convert_window(window, target, start))

    def convert_window(self, window: np.ndarray, target: Any, start: int) -> np.ndarray:
        """Convert one streaming window, which begins at sample ``start`` of the source (default: :meth:`convert`)."""
        return self.convert(window, target)

    def chunked(self, source: np.ndarray, chunk_ms: float,
                convert_window: Callable[[np.ndarray, int], np.ndarray]) -> tuple[np.ndarray, StreamStats]:
        """Emit ``chunk_ms`` at a time from windows of past context (starting on a multiple of ``window_grid``),
        the chunk and the look-ahead, each converted by ``convert_window(window, start)`` and timed."""
        chunk = max(1, int(SAMPLE_RATE * chunk_ms / 1000))
        context = int(SAMPLE_RATE * self.context_ms / 1000)
        ahead = int(SAMPLE_RATE * self.lookahead_ms / 1000)
        stats = StreamStats(chunk_ms=chunk_ms, algorithmic_delay_ms=chunk_ms + self.lookahead_ms)
        pieces = []
        for start in range(0, len(source), chunk):
            lo = max(0, start - context) // self.window_grid * self.window_grid
            hi = min(len(source), start + chunk + ahead)
            t0 = time.perf_counter()
            y = convert_window(source[lo:hi], lo)
            stats.compute_ms.append(1000 * (time.perf_counter() - t0))
            piece = y[start - lo: start - lo + min(chunk, len(source) - start)]
            pieces.append(np.pad(piece, (0, min(chunk, len(source) - start) - len(piece))))
        return np.concatenate(pieces).astype(np.float32), stats
