"""Countermeasure (CM) detectors: one trained model scores the waveform (the ASVspoof kind).

:class:`CMDetector` adapts such a model to the evaluation engine (one cached component,
``cm``), to ``bench score`` (:meth:`CMDetector.score_files`) and to ``bench train``
(:meth:`CMDetector.train`). A plugin subclasses :class:`TorchCMDetector` (a network on the
waveform or on features it computes itself) or :class:`FeatureCMDetector` (a classical
classifier on utterance-level features), declares its metadata, and is done.

A model may hold several seeds (``bench train --seeds 0,1,2``): every seed scores every
sample, the reported score is their mean, and each seed's own score is kept
(``cm.score_seed<N>``) so the metrics can be given as mean +- std over seeds.

A model is scored with bench's protocol (its card's input rule, fake logit minus bona fide
logit) unless ``protocol`` names another one its card declares (:class:`bench.api.score_contract.ScoreProtocol`,
e.g. ``official`` for a published checkpoint: the official evaluation's input and score rules).
"""

from __future__ import annotations

import os
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench import SAMPLE_RATE
from bench.api.detector import Component, Detector, Sample
from bench.api.score_contract import (
    BENCH_PROTOCOL,
    LOG_ODDS,
    POLARITY,
    InputSpec,
    ScoreProtocol,
    ScoreSemantics,
    check_finite_scores,
    windows,
)
from bench.errors import BenchError
from bench.models.store import ModelCard, ModelEntry, resolve


class Scorer:
    """A loaded model: waveforms (16 kHz float32) -> scores, one row per seed."""

    protocol: str = BENCH_PROTOCOL  # the protocol it applies (:class:`bench.api.score_contract.ScoreProtocol`)

    def __init__(self, spec: InputSpec, seeds: list[int]) -> None:
        self.spec = spec
        self.seeds = seeds

    @abstractmethod
    def score_windows(self, batch: np.ndarray) -> np.ndarray:
        """(n_seeds, B) scores for a (B, N) batch of windows."""

    def scores(self, waves: list[np.ndarray], batch_size: int = 8, check: bool = True) -> np.ndarray:
        """(n_seeds, len(waves)) utterance scores: window scores averaged per utterance. A non-finite score is
        a :class:`NonFiniteScore` error unless ``check`` is False (the edge server, which batches
        several calls' chunks, checks each chunk's score itself so one chunk cannot fail the others)."""
        wins = [windows(w, self.spec) for w in waves]
        owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(wins)]) if wins else np.zeros(0, int)
        out = np.zeros((len(self.seeds), len(waves)))
        if not wins:
            return out
        flat = [row for w in wins for row in w]
        per_window = np.concatenate([self.score_windows(b) for b in _batches(flat, batch_size)], axis=1)
        if check:
            check_finite_scores(per_window, "a window score of this model")
        for i in range(len(waves)):
            out[:, i] = per_window[:, owner == i].mean(axis=1)
        return out


def _batches(rows: list[np.ndarray], size: int):
    """Batches of equal-length rows (any-length models get one utterance per batch when lengths differ)."""
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and j - i < size and len(rows[j]) == len(rows[i]):
            j += 1
        yield np.stack(rows[i:j])
        i = j


class CMScore(Component):
    """The ``cm`` component: the model's score for each sample (mean over seeds, and each seed's)."""

    name = "cm"

    def __init__(self, detector: CMDetector, ref: str, fingerprint: str) -> None:
        protocol = detector.protocol
        super().__init__(detector=detector.meta.name, model=ref, fingerprint=fingerprint,
                         **({"protocol": protocol} if protocol != BENCH_PROTOCOL else {}),  # bench's keeps its key
                         device=detector.device, batch_size=detector.batch_size)
        self.detector = detector
        self._scorer: Scorer | None = None

    def describe(self) -> dict[str, Any]:
        d = {"component": self.name, **self.config}
        d.pop("device")  # the device and batch size do not change a score
        d.pop("batch_size")
        return d

    def load(self) -> None:
        if self._scorer is None:
            self._scorer = self.detector.protocol_scorer()

    def compute(self, samples: list[Sample]) -> list[dict[str, Any]]:
        from bench.audio import load_entry

        self.load()
        waves = [load_entry(s.audio) for s in samples]
        scores = self._scorer.scores(waves, self.detector.batch_size)
        out = []
        for i in range(len(samples)):
            row = {"score": float(scores[:, i].mean())}
            if len(self._scorer.seeds) > 1:
                row.update({f"score_seed{s}": float(scores[k, i]) for k, s in enumerate(self._scorer.seeds)})
            out.append(row)
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_scorer"] = None  # workers load their own copy
        return state


class CMDetector(Detector):
    """A detector whose score is one trained model's output on the waveform.

    Settings: ``model`` (``NAME@VERSION``, ``NAME``, a model folder, or a packaged model's
    name; default: the detector's :attr:`default_model`), ``device`` (cpu, cuda, cuda:N),
    ``batch_size``, ``threads`` (compute threads per worker: torch's, or the classifier library's),
    ``protocol`` (``bench``, or a protocol the model's card declares, e.g. ``official``).
    """

    input_spec: ClassVar[InputSpec] = InputSpec()
    semantics: ClassVar[ScoreSemantics] = LOG_ODDS
    default_model: ClassVar[str | None] = None

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 8, threads: int = 1,
                 protocol: str = BENCH_PROTOCOL) -> None:
        super().__init__(model=model, device=device, batch_size=batch_size, threads=threads, protocol=protocol)
        if batch_size < 1 or threads < 1:
            raise BenchError(f"{self.meta.name}: batch_size and threads must be at least 1")
        self.model_ref = model or self.default_model
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self.protocol = protocol
        self._entry: ModelEntry | None = None

    # ------------------------------------------------------------------ model
    def entry(self) -> ModelEntry:
        """The resolved model (checked: it is a model of this detector and its files match their hashes)."""
        if self._entry is None:
            if not self.model_ref:
                raise BenchError(f"detector {self.meta.name} needs a trained model: give --model NAME@VERSION (train "
                                 f"one with `bench train --detector {self.meta.name} --corpus C --fakes F --out M`)")
            entry = resolve(self.model_ref)
            if entry.card.detector != self.meta.name:
                raise BenchError(f"model {entry.card.ref} is a {entry.card.detector} model, not {self.meta.name}")
            entry.verify()
            self._entry = entry
        return self._entry

    def check(self, corpus_dir: str) -> None:
        self.meta.check_device(self.device)
        self.entry()
        self.score_protocol()

    def score_protocol(self, entry: ModelEntry | None = None) -> ScoreProtocol:
        """The chosen protocol of model ``entry`` (default: the chosen model): ``bench`` (its card's input rule
        and semantics, the score rule ``logit-difference``) or one its card declares; one-line BenchError for any
        other name."""
        card = (entry or self.entry()).card
        if self.protocol == BENCH_PROTOCOL:
            return ScoreProtocol(
                name=BENCH_PROTOCOL, input=InputSpec.from_dict(card.input) if card.input else self.input_spec,
                semantics=ScoreSemantics.from_dict(card.semantics) if card.semantics else self.semantics,
                description="bench's convention for every model")
        if self.protocol not in card.protocols:
            raise BenchError(f"model {card.ref} declares no protocol {self.protocol!r}; its protocols: "
                             f"{', '.join([BENCH_PROTOCOL, *card.protocols])}")
        return ScoreProtocol.checked(self.protocol, card.protocols[self.protocol])

    @classmethod
    def training_report(cls, training: dict[str, Any]) -> list[str]:
        """Lines ``bench train`` and ``bench models show`` print about a model card's ``training`` record
        beyond the common ones (a detector with its own report, e.g. DeepDetection's authentication,
        overrides this); none by default."""
        return []

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if self.model_ref:
            e = self.entry()
            d["model"] = e.card.ref
            d["model_files"] = e.card.files
            d["protocol_rule"] = self.score_protocol().summary()
        return d

    def components(self) -> list[Component]:
        e = self.entry()
        return [CMScore(self, e.card.ref, e.fingerprint())]

    def combine(self, values: dict[str, Any], sample: Sample) -> dict[str, Any]:
        return {"score": values["cm"]["score"]}

    def scope_speakers(self) -> set[str] | None:
        return self.entry().card.training_speakers() or None

    def training_data(self) -> dict[str, Any] | None:
        card = self.entry().card
        return {"generators": card.training_generators(), "summary": card.trained_on or "unknown"}

    def score_semantics(self) -> ScoreSemantics:
        """What the scores of the chosen model under the chosen protocol mean (its card's, else the
        detector's)."""
        return self.score_protocol().semantics

    def scores_are_llrs(self) -> bool:
        return self.score_semantics().llr

    @property
    def notes(self) -> list[str]:
        card = self.entry().card
        notes = [f"model {card.ref}: trained on {card.trained_on or 'unknown data'}"]
        if self.protocol != BENCH_PROTOCOL:
            notes.append(f"model {card.ref} scored with its {self.score_protocol().summary()}")
        return notes

    def load_scorer(self) -> Scorer:
        """Load the model for scoring, in this process (one torch thread per worker by default)."""
        if self.threads:
            try:
                import torch

                torch.set_num_threads(self.threads)
            except ImportError:
                pass
        return self.build_scorer(self.entry())

    def protocol_scorer(self) -> Scorer:
        """:meth:`load_scorer`, checked to apply the chosen protocol (a detector whose scorer knows only bench's
        rules refuses another protocol its model's card declares, in one line, rather than mislabel scores)."""
        scorer = self.load_scorer()
        protocol = self.score_protocol()
        if scorer.protocol != protocol.name:
            raise BenchError(f"detector {self.meta.name} cannot score with protocol {protocol.name!r} (model "
                             f"{self.entry().card.ref}); use protocol {BENCH_PROTOCOL}")
        return scorer

    @abstractmethod
    def build_scorer(self, entry: ModelEntry) -> Scorer:
        """A :class:`Scorer` for the model ``entry`` on ``self.device``."""

    # ------------------------------------------------------------------ single files
    def score_files(self, paths: list[str]) -> list[dict[str, Any]]:
        """``bench score``: score each audio file (any format soundfile reads, any sample rate); a file shorter
        than the model's minimum input (``min_samples`` of its input rule) is refused, not scored."""
        from bench.audio import audio_problem, decode, resample

        scorer = self.protocol_scorer()
        card = self.entry().card
        protocol = self.score_protocol()
        sem = protocol.semantics
        out = []
        for p in paths:
            t0 = time.perf_counter()
            x, sr = decode(p)
            x = resample(x, sr)
            problem = too_short(x, protocol.input) or audio_problem(x)
            if problem:
                raise BenchError(f"{p}: {problem}")
            s = scorer.scores([x], self.batch_size)
            score = float(s.mean())
            out.append({"file": os.fspath(p), "score": score, "threshold": sem.threshold,
                        "verdict": sem.verdict(score), "polarity": POLARITY, "meaning": sem.scale,
                        "threshold_source": sem.threshold_source, "detector": self.meta.name, "model": card.ref,
                        "seconds": round(len(x) / SAMPLE_RATE, 3), "sample_rate_in": sr,
                        "protocol": protocol.name, "score_rule": protocol.score,
                        "input": protocol.input.describe(),
                        **({"seed_scores": [float(v) for v in s[:, 0]]} if s.shape[0] > 1 else {}),
                        "time_s": round(time.perf_counter() - t0, 3)})
        return out

    # ------------------------------------------------------------------ training
    trainable: ClassVar[bool] = True

    def train(self, data: TrainingData, out: Path, seed: int, settings: dict[str, Any],
              tick: Any = None) -> dict[str, Any]:
        """Train one seed on ``data`` into folder ``out``; returns ``{"files": [...], "params": {...},
        "n_params": int, "fit": {...}}``. Detectors that only load published weights keep the default."""
        raise BenchError(f"detector {self.meta.name} cannot be trained by bench")

    def training_defaults(self) -> dict[str, Any]:
        """Training settings a user may override with ``bench train --set KEY=VALUE``."""
        return {}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """:meth:`training_defaults` overlaid with ``settings``; an unknown key is a one-line error."""
        out = self.training_defaults()
        unknown = sorted(set(settings) - set(out))
        if unknown:
            raise BenchError(f"{self.meta.name}: unknown training setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(out) or 'none'}")
        return {**out, **settings}


def too_short(x: np.ndarray, spec: InputSpec) -> str | None:
    """Why ``x`` (16 kHz) is too short for a model with input rule ``spec``, or None."""
    if len(x) >= spec.min_samples:
        return None
    return (f"too short for this model: {len(x)} sample(s) ({len(x) / SAMPLE_RATE:.3f} s) at {SAMPLE_RATE} Hz, "
            f"it needs at least {spec.min_samples} ({spec.min_samples / SAMPLE_RATE:.3f} s); no score is given")


class TrainingData:
    """Speaker-disjoint training material handed to :meth:`CMDetector.train`: waveforms and labels per split."""

    def __init__(self, waves: dict[str, list[np.ndarray]], labels: dict[str, np.ndarray],
                 ids: dict[str, list[str]], splits: dict[str, list[str]],
                 speakers: dict[str, list[str]] | None = None, sources: dict[str, list[str]] | None = None) -> None:
        self.waves, self.labels, self.ids, self.splits = waves, labels, ids, splits
        #: per split, each recording's subject: an original's speaker, a fake's target (whose voice it imitates)
        self.speakers = speakers or {}
        #: per split, who spoke each recording: the speaker of an original, the imposter of a fake
        self.sources = sources or {}

    def counts(self) -> dict[str, dict[str, int]]:
        return {k: {"bona_fide": int((v == 0).sum()), "fake": int((v == 1).sum())} for k, v in self.labels.items()}


def card_for(detector: CMDetector, name: str, **fields: Any) -> ModelCard:
    """A model card with the detector's metadata filled in."""
    meta = detector.meta
    base = {"detector": meta.name, "detector_version": meta.version, "license": meta.license,
            "reference": meta.reference, "input": detector.input_spec.to_dict(),
            "semantics": detector.semantics.to_dict()}
    return ModelCard(name=name, **{**base, **fields})
