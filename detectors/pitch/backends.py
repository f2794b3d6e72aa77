"""Backend interfaces and registries for the Pitch detector's components.

Each component is swappable: an ASR backend (content compliance), a realism backend
(MOS), a speaker backend (target match). Backends take lists of 16 kHz float32 mono clips
and return one result per clip; they are loaded once per process (``load``) and must be
deterministic for the same input. Register new ones with the registries below or with
the entry-point groups ``bench.asr``, ``bench.realism`` and ``bench.speaker``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.api import PluginMeta, Registry


@dataclass
class Transcript:
    """An ASR result for one clip."""

    text: str
    words: list[dict[str, Any]] = field(default_factory=list)  # {"word", "start", "end", "probability"}
    language: str | None = None


class Backend(ABC):
    """Common base: settings recorded in results, a load hook."""

    meta: PluginMeta

    def __init__(self, **config: Any) -> None:
        self.config = config

    def check(self) -> None:  # noqa: B027 - optional hook
        """Cheap checks before any work (asset files present); raise BenchError with one line."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load models (once per process)."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.meta.name, "version": self.meta.version, **self.config}


class ASRBackend(Backend):
    @abstractmethod
    def transcribe(self, clips: list[np.ndarray], languages: list[str | None] | None = None) -> list[Transcript]:
        """Transcribe each clip; ``languages`` gives a language hint per clip (None = the model's default)."""


class RealismBackend(Backend):
    @abstractmethod
    def score(self, clips: list[np.ndarray]) -> list[float]:
        """Predicted MOS (1-5) per clip."""


class SpeakerBackend(Backend):
    @abstractmethod
    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """L2-normalised speaker embeddings, shape (len(clips), dim)."""


ASR: Registry[ASRBackend] = Registry("ASR backend", "bench.asr", modules=("bench.detectors.pitch.asr",
                                                                        "bench.detectors.pitch.whisperx_asr"))
REALISM: Registry[RealismBackend] = Registry("realism backend", "bench.realism",
                                               modules=("bench.detectors.pitch.realism",))
SPEAKER: Registry[SpeakerBackend] = Registry("speaker backend", "bench.speaker",
                                               modules=("bench.detectors.pitch.speaker",))
