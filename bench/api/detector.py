"""The detector interface: per-sample components (cached, computed in workers) and a combiner.

A detector declares its components; each component is a picklable object whose
``compute`` runs in worker processes on batches of :class:`Sample` and returns one dict
of values per sample. The evaluation engine caches every component's values on disk,
keyed by the component's configuration, so changing one component (another realism
model, say) does not recompute the others. ``combine`` turns a sample's component values
into the final score (higher = more likely fake).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from bench.api.registry import DETECTORS, PluginMeta  # noqa: F401  (re-exported for plugins)


@dataclass
class Sample:
    """One thing to score: an original (label 0) or a fake (label 1)."""

    utterance_id: str
    label: int
    challenge: int
    subject: str  # claimed identity (the target, for fakes)
    source_subject: str  # who actually spoke (the imposter, for fakes)
    script: str
    device: str
    audio: dict
    match_audio: dict | None = None  # another recording of the claimed identity, for speaker match
    duration_s: float = 0.0


class Component(ABC):
    """A per-sample measurement with a stable cache key."""

    name: str

    def __init__(self, **config: Any) -> None:
        self.config = config

    def describe(self) -> dict[str, Any]:
        return {"component": self.name, **self.config}

    def cache_key(self) -> str:
        """Component name + hash of its settings; a ``path`` setting is left out when a ``fingerprint`` of
        the files it points at is given (so moving a model folder does not invalidate the cache)."""
        settings = self.describe()
        if "fingerprint" in settings:
            settings.pop("path", None)
        blob = json.dumps(settings, sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load models (once per process, before the first batch; not counted in the component's CPU time)."""

    def group_key(self, sample: Sample) -> Any:
        """Samples are batched only with others of the same group key (e.g. the challenge)."""
        return None

    @abstractmethod
    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """Values for each sample (runs in a worker; load models lazily and keep them)."""


class Detector(ABC):
    """A detector: components plus a combiner."""

    meta: PluginMeta

    def __init__(self, **config: Any) -> None:
        self.config = config

    def describe(self) -> dict[str, Any]:
        return {"name": self.meta.name, "version": self.meta.version, **self.config}

    def check(self, corpus_dir: str) -> None:  # noqa: B027 - optional hook
        """Cheap validation before anything is written (settings, asset paths, whether what
        :meth:`prepare` would train can be trained on ``corpus_dir``): one-line BenchError."""

    def prepare(self, corpus_dir: str, workdir: str) -> None:  # noqa: B027 - optional hook
        """Parent-side setup before scoring (train what is missing), after the output folder is claimed."""

    @abstractmethod
    def components(self) -> list[Component]:
        """The components to compute for every sample."""

    @abstractmethod
    def combine(self, values: dict[str, Any], sample: Sample) -> dict[str, Any]:
        """Derived per-sample values; must include ``score`` (higher = more likely fake)."""

    def scope_speakers(self) -> set[str] | None:
        """Speakers whose recordings the detector trained on (excluded from the metrics), if any."""
        return None

    def call_components(self) -> list[Component]:
        """The components that score one call with no corpus at hand (``bench tag``): by default the same as
        :meth:`components`; a detector whose :meth:`prepare` trains something may leave that part out (and its
        :meth:`combine` must then do without it)."""
        return self.components()

    def rationale(self, values: dict[str, Any], combined: dict[str, Any], sample: Sample) -> list[dict[str, Any]]:
        """The evidence behind one call's score, for a person: items ``{"reason", "value", "flagged",
        "detail"}`` (``value`` a number, ``flagged`` whether it points to a fake). Empty by default: a detector
        that exposes only a score gives no rationale beyond it."""
        return []

    def training_data(self) -> dict[str, Any] | None:
        """What the detector's model learnt from, for the cross-generator view: ``{"generators": [names of bench
        generators whose fakes it trained on], "summary": one line}``; None for a detector that trains on
        nothing (a rule, or fixed published components)."""
        return None

    def score_caveats(self) -> list[str]:
        """What a reader must know about this detector's scores before comparing them with others' (e.g. a
        closed-set authenticator's); ``bench evaluate`` records them and the leaderboard shows them as caveats."""
        return []

    def scores_are_llrs(self) -> bool:
        """Whether the scores can be read as log-likelihood ratios (fake vs bona fide), as ASVspoof 5's actDCF
        and Cllr assume; only then does ``bench evaluate`` report those two (minDCF needs no calibration)."""
        return False
