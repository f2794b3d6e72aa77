"""Pitch's challenge-compliance classifiers: one binary classifier per challenge.

For every challenge *c* whose taxonomy entry says ``compliance == "classifier"``, a
classifier learns to tell challenge-*c* recordings (label 1, "complied") from no-challenge
(#0) recordings (label 0) of **original** speech only (never fakes). Its output
P(complied with c) is the compliance term C of Pitch's degradation score
``D = ((1 - C) + WIL + (1 - R/5)) / 3``.

Protocol (after Pitch, appendix A.2): a held-out set of test speakers (Pitch: 10
identities; here by default ~20% of the speakers, at least one), speaker-disjoint k-fold
cross-validation on the remaining speakers (Pitch: 5 folds; here ``min(folds, train
speakers)``) with early stopping on each fold's validation speakers, then one final model
per challenge trained on all training speakers for the median of the folds' best epoch
counts, evaluated once on the test speakers. Inputs are 4 s centre crops at 16 kHz;
shorter clips are repeated to 4 s (the ASVspoof convention).

Backbones:

- ``logmel-cnn`` (default): log-mel features (torch STFT + a librosa mel filterbank,
  computed once and cached), per-band standardisation fitted on the training speakers, four
  conv blocks, global pooling, a linear layer. Trains on CPU in minutes for a small corpus.
  Features keep absolute level (no per-clip normalisation), which "loud"/"soft" need.
- ``wav2vec2``: a ``transformers`` ``Wav2Vec2Model`` (local directory or Hub id, config
  ``model``), frozen (mean-pooled hidden states are computed once and cached; only the head
  trains) or fine-tuned (the CNN feature encoder stays frozen, as in the HF recipe), with
  Pitch's head ``H-256-LayerNorm-ReLU-dropout-2`` (H = the model's hidden size, 768 for base
  models) and AdamW at lr 5e-5.

A checkpoint directory holds ``compliance.json`` (backbone, config, feature settings,
corpus content hash, speakers per split, per-challenge metrics, seed, versions),
``metrics.json`` (the Table-A.2-like table) and one ``cNN-<key>.pt`` state dict per
challenge, all written atomically; a rerun skips challenges already trained.
:class:`ComplianceModel` loads it for inference.

This package's ``__init__`` is the public face (the names below, loaded on first use); the work is
done in:

- :mod:`.config`: :class:`TrainConfig`, file names, :class:`NoClassifierError`;
- :mod:`bench.detectors.pitch.backbones`: crops, the log-mel CNN and wav2vec2 backbones;
- :mod:`.data`: the training plan, decoding and the cached model inputs;
- :mod:`.train`: cross-validation, final models and :func:`train_compliance`
  (the epoch loop is :func:`bench.countermeasures.training.fit_torch`);
- :mod:`.metrics`: AUROC/accuracy and the Table-A.2-like metrics table;
- :mod:`.model`: the checkpoint folder's documents and :class:`ComplianceModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.api.lazy import lazy_exports

# name -> home, loaded on first use: ``backbones`` imports ``.config``, so importing it eagerly here would make
# ``import bench.detectors.pitch.backbones`` circular whenever it comes first (a spawned worker unpickling a crop)
_HOMES: dict[str, tuple[str, ...]] = {
    "bench.api": ("split_speakers",),
    "bench.detectors.pitch.backbones": ("centre_crop",),
    "bench.detectors.pitch.compliance.config": ("BACKBONES", "CACHE_DIR", "CNN_CHANNELS", "FEATURE_CHUNK", "FORMAT",
                                                "META_FILE", "METRICS_FILE", "NoClassifierError", "TrainConfig"),
    "bench.detectors.pitch.compliance.data": ("TrainingPlan", "plan_training"),
    "bench.detectors.pitch.compliance.metrics": ("auroc", "metrics_table"),
    "bench.detectors.pitch.compliance.model": ("ComplianceModel",),
    "bench.detectors.pitch.compliance.train": ("train_compliance",),
}
__all__, __getattr__, __dir__ = lazy_exports(globals(), _HOMES)


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from bench.api import split_speakers  # noqa: F401
    from bench.detectors.pitch.backbones import centre_crop  # noqa: F401
    from bench.detectors.pitch.compliance.config import (  # noqa: F401
        BACKBONES,
        CACHE_DIR,
        CNN_CHANNELS,
        FEATURE_CHUNK,
        FORMAT,
        META_FILE,
        METRICS_FILE,
        NoClassifierError,
        TrainConfig,
    )
    from bench.detectors.pitch.compliance.data import TrainingPlan, plan_training  # noqa: F401
    from bench.detectors.pitch.compliance.metrics import auroc, metrics_table  # noqa: F401
    from bench.detectors.pitch.compliance.model import ComplianceModel  # noqa: F401
    from bench.detectors.pitch.compliance.train import train_compliance  # noqa: F401
