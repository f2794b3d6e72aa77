"""Settings of Pitch's compliance classifiers: :class:`TrainConfig`, the checkpoint folder's file
names and format tag, and :class:`NoClassifierError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.api import BenchError

META_FILE = "compliance.json"
METRICS_FILE = "metrics.json"
CACHE_DIR = ".cache"
FORMAT = "bench.compliance/1"
BACKBONES = ("logmel-cnn", "wav2vec2")
CNN_CHANNELS = (8, 16, 32, 64)
FEATURE_CHUNK = 512  # recordings decoded and featurised at a time


class NoClassifierError(BenchError):
    """The checkpoint has no classifier for the requested challenge (e.g. #0, or one not trained)."""


@dataclass
class TrainConfig:
    """Training settings. ``None`` fields take the backbone's default (see :meth:`resolved`)."""

    backbone: str = "logmel-cnn"
    model: str | None = None            # wav2vec2: local directory or Hub id
    finetune: bool = False              # wav2vec2: fine-tune the transformer (else frozen)
    folds: int = 5                      # speaker-disjoint CV folds (capped at the training speakers)
    test_speakers: int | None = None    # held-out speakers (default: round(20%), at least 1)
    epochs: int | None = None           # maximum epochs per fold (logmel-cnn 30, wav2vec2 30 frozen / 10 fine-tuned)
    patience: int = 5                   # early stopping: epochs without a better validation loss
    batch_size: int = 16
    lr: float | None = None             # logmel-cnn 1e-3, wav2vec2 5e-5 (Pitch)
    weight_decay: float = 0.01
    dropout: float | None = None        # logmel-cnn 0.3, wav2vec2 head 0.1
    clip_seconds: float = 4.0
    seed: int = 0
    workers: int = 1                    # decoding processes (not part of the model)
    threads: int = 1                    # torch threads; the small CNN is fastest on 1 (not part of the model)
    device: str = "cpu"                 # cpu, cuda or auto (not part of the model)

    def resolved(self) -> TrainConfig:
        if self.backbone not in BACKBONES:
            raise BenchError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
        w2v = self.backbone == "wav2vec2"
        if w2v and not self.model:
            raise BenchError("the wav2vec2 backbone needs --model (a local model directory or a Hub id, "
                             "e.g. facebook/wav2vec2-base)")
        for name, lo in (("folds", 2), ("patience", 1), ("batch_size", 1), ("workers", 1), ("threads", 1),
                         ("seed", 0)):
            if getattr(self, name) < lo:
                raise BenchError(f"--{name.replace('_', '-')} must be at least {lo}")
        if self.epochs is not None and self.epochs < 1:
            raise BenchError("--epochs must be at least 1")
        if self.test_speakers is not None and self.test_speakers < 1:
            raise BenchError("--test-speakers must be at least 1")
        if not 0.5 <= self.clip_seconds <= 30:
            raise BenchError("clip_seconds must be between 0.5 and 30")
        if self.lr is not None and not self.lr > 0:
            raise BenchError("--lr must be positive")
        return TrainConfig(**{
            **asdict(self),
            "model": self.model if w2v else None,
            "finetune": self.finetune if w2v else False,
            "epochs": self.epochs or (10 if w2v and self.finetune else 30),
            "lr": self.lr or (5e-5 if w2v else 1e-3),
            "dropout": self.dropout if self.dropout is not None else (0.1 if w2v else 0.3),
        })

    def model_settings(self) -> dict[str, Any]:
        """The settings that define the trained models (resume must match them)."""
        return {k: v for k, v in asdict(self).items() if k not in ("workers", "threads", "device")}
