"""Backbones of Pitch's compliance classifiers: how a 16 kHz recording becomes model inputs,
and the trainable module that turns those inputs into (N, 2) logits.

- :func:`centre_crop` / :class:`CropFn`: the fixed-length centre crop (shorter clips repeated).
- ``logmel-cnn``: log-mel features (torch STFT + a librosa mel filterbank), per-band
  standardisation fitted on the training speakers, four conv blocks, global pooling, a linear
  layer. Features keep absolute level (no per-clip normalisation), which "loud"/"soft" need.
- ``wav2vec2``: a ``transformers`` ``Wav2Vec2Model``, frozen (mean-pooled hidden states are the
  inputs; only the head trains) or fine-tuned (the CNN feature encoder stays frozen), with
  Pitch's head ``H-256-LayerNorm-ReLU-dropout-2``.

:func:`make_backbone` picks one for a :class:`TrainConfig`.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import SAMPLE_RATE, BenchError, first_line
from bench.detectors.pitch.compliance.config import CNN_CHANNELS, TrainConfig
from bench.models.assets import sha256_file


def centre_crop(x: np.ndarray, n: int) -> np.ndarray:
    """The centre ``n`` samples of ``x``; a shorter clip is repeated (tiled) to ``n`` samples."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if len(x) == 0:
        return np.zeros(n, np.float32)
    if len(x) >= n:
        start = (len(x) - n) // 2
        return x[start:start + n].copy()
    return np.tile(x, math.ceil(n / len(x)))[:n].copy()


class CropFn:
    """Picklable crop function for worker processes (no torch objects inside)."""

    def __init__(self, n_samples: int, normalize: bool) -> None:
        self.n_samples = n_samples
        self.normalize = normalize

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = centre_crop(x, self.n_samples)
        if self.normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return x.astype(np.float32)


def _torch():
    import torch

    return torch


class Backbone(ABC):
    """Turns 16 kHz clips into cached model inputs and builds the trainable module.

    ``prepare(waves)`` maps a (B, N) float tensor of crops to the inputs the trainable
    module takes (log-mel features, pooled embeddings, or the waves themselves); training
    caches these inputs, and inference runs ``module(prepare(waves))`` - the same path.
    """

    name: str
    settings: dict[str, Any]

    n_samples: int
    crop: Callable[[np.ndarray], np.ndarray]  # a picklable ``CropFn``

    @abstractmethod
    def prepare(self, waves):
        """Model inputs for a (B, N) tensor of crops."""

    @abstractmethod
    def new_module(self, seed: int):
        """A freshly initialised trainable module."""

    def fit_inputs(self, module, inputs) -> None:  # noqa: B027 - optional hook
        """Fit input statistics (standardisation) on the training inputs (default: none)."""

    def cache_key(self) -> dict[str, Any]:
        return self.settings


class _LogMelBackbone(Backbone):
    name = "logmel-cnn"

    def __init__(self, cfg: TrainConfig, device, settings: dict[str, Any] | None = None) -> None:
        import librosa

        torch = _torch()
        self.cfg = cfg
        self.device = device
        # a loaded checkpoint brings its own feature settings, so later changes of the defaults keep it valid
        self.settings = dict(settings) if settings else {
            "sample_rate": SAMPLE_RATE, "clip_seconds": cfg.clip_seconds, "crop": "centre", "pad": "repeat",
            "n_fft": 512, "win_length": 400, "hop_length": 320, "n_mels": 64, "fmin": 20.0, "fmax": 8000.0,
            "log": "ln(mel power + 1e-8)", "cnn_channels": list(CNN_CHANNELS),
            "normalisation": "per mel band mean/std over the training speakers (absolute level kept)"}
        s = self.settings
        self.n_samples = int(round(s["clip_seconds"] * SAMPLE_RATE))
        self.normalize = False
        self.crop = CropFn(self.n_samples, False)
        fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=s["n_fft"], n_mels=s["n_mels"], fmin=s["fmin"],
                                 fmax=s["fmax"])
        self._fb = torch.from_numpy(fb.astype(np.float32)).to(device)
        self._window = torch.hann_window(s["win_length"]).to(device)

    def prepare(self, waves):
        torch = _torch()
        s = self.settings
        spec = torch.stft(waves.to(self.device), n_fft=s["n_fft"], hop_length=s["hop_length"],
                          win_length=s["win_length"], window=self._window, center=True, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        return torch.log(torch.matmul(self._fb, power) + 1e-8)  # (B, n_mels, T)

    def new_module(self, seed: int):
        _torch().manual_seed(seed)
        s = self.settings
        return _LogMelCNN(s["n_mels"], s["cnn_channels"], self.cfg.dropout).to(self.device)

    def fit_inputs(self, module, inputs) -> None:  # noqa: B027 - optional hook
        torch = _torch()
        with torch.no_grad():
            mean = inputs.mean(dim=(0, 2))
            std = inputs.std(dim=(0, 2)).clamp_min(1e-3)
            module.mean.copy_(mean.to(module.mean.device))
            module.std.copy_(std.to(module.std.device))


def _nn():
    from torch import nn

    return nn


def _LogMelCNN(n_mels: int, channels: Sequence[int], dropout: float):  # noqa: N802 - a factory that builds an nn.Module
    torch = _torch()
    nn = _nn()

    class LogMelCNN(nn.Module):
        """Standardised log-mel -> 4 x (conv3x3-BN-ReLU-maxpool2) -> mean over freq -> mean+max over time."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_mels))
            self.register_buffer("std", torch.ones(n_mels))
            chans = [1, *channels]
            blocks = []
            for a, b in zip(chans[:-1], chans[1:], strict=True):
                blocks += [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2)]
            self.body = nn.Sequential(*blocks)
            self.dropout = nn.Dropout(dropout)
            self.out = nn.Linear(2 * chans[-1], 2)

        def forward(self, feats):
            x = (feats - self.mean[None, :, None]) / self.std[None, :, None]
            x = self.body(x.unsqueeze(1)).mean(dim=2)  # (B, C, T')
            x = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
            return self.out(self.dropout(x))

    return LogMelCNN()


def _import_transformers():
    try:
        import transformers  # noqa: F401
        from transformers import Wav2Vec2Model
    except ImportError as exc:
        raise BenchError(f"the wav2vec2 backbone needs the `transformers` package ({exc}); "
                         "install it with `pip install vc-challenge-bench[wav2vec2]`") from None
    return Wav2Vec2Model


def _load_wav2vec2(model: str):
    Wav2Vec2Model = _import_transformers()  # noqa: N806
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    return _from_pretrained(Wav2Vec2Model, model)


def _check_model_path(model: str) -> None:
    if model.startswith(("/", ".", "~")) and not Path(model).expanduser().is_dir():
        raise BenchError(f"{model}: no such model directory (give a folder written by save_pretrained, "
                         "or a Hub id such as facebook/wav2vec2-base)")


def _load_wav2vec2_config(model: str):
    _check_model_path(model)
    _import_transformers()
    from transformers import Wav2Vec2Config

    return _from_pretrained(Wav2Vec2Config, model)


def _from_pretrained(cls, model: str):
    """``cls.from_pretrained(model)`` with a one-line error naming the model."""
    try:
        return cls.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot load wav2vec2 model {model!r}: {first_line(exc)} (give a local directory written "
                         "by save_pretrained, or a Hub id that is in the local cache)") from None


def _model_identity(model: str) -> dict[str, Any]:
    """What identifies the backbone weights: a hash of local weight files, else the Hub id."""
    p = Path(model)
    if p.is_dir():
        weights = sorted(list(p.glob("*.safetensors")) + list(p.glob("*.bin")))
        h = hashlib.sha256()
        for w in weights:
            h.update(w.name.encode())
            h.update(sha256_file(w).encode())
        return {"model": str(p.resolve()), "weights_sha256": h.hexdigest()[:16]}
    return {"model": model, "weights_sha256": None}


class _Wav2Vec2Backbone(Backbone):
    name = "wav2vec2"

    def __init__(self, cfg: TrainConfig, device, settings: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.device = device
        self._frozen = None
        self.hidden_size = int(_load_wav2vec2_config(cfg.model).hidden_size)
        if settings:  # a loaded checkpoint: its own settings, checked against the model found now
            if settings.get("hidden_size") != self.hidden_size:
                raise BenchError(f"{cfg.model}: hidden size {self.hidden_size} differs from the "
                                 f"{settings.get('hidden_size')} the classifiers were trained with")
            now = _model_identity(cfg.model)
            if settings.get("weights_sha256") and now["weights_sha256"] != settings["weights_sha256"]:
                raise BenchError(f"{cfg.model}: wav2vec2 weights differ from those the classifiers were "
                                 "trained on (weights hash mismatch)")
            self.settings = dict(settings)
        else:
            pre = Path(cfg.model) / "preprocessor_config.json"
            normalize = bool(json.loads(pre.read_text()).get("do_normalize", True)) if pre.is_file() else True
            self.settings = {"sample_rate": SAMPLE_RATE, "clip_seconds": cfg.clip_seconds, "crop": "centre",
                             "pad": "repeat", "normalize": normalize, "pooling": "mean over frames",
                             "hidden_size": self.hidden_size, "finetune": cfg.finetune,
                             **_model_identity(cfg.model)}
        self.n_samples = int(round(self.settings["clip_seconds"] * SAMPLE_RATE))
        self.normalize = bool(self.settings["normalize"])
        self.crop = CropFn(self.n_samples, self.normalize)

    def prepare(self, waves):
        torch = _torch()
        waves = waves.to(self.device)
        if self.cfg.finetune:
            return waves
        if self._frozen is None:
            self._frozen = _load_wav2vec2(self.cfg.model).to(self.device).eval()
            for p in self._frozen.parameters():
                p.requires_grad_(False)
        with torch.no_grad():
            return self._frozen(waves).last_hidden_state.mean(dim=1)

    def new_module(self, seed: int):
        _torch().manual_seed(seed)
        head = _PitchHead(self.hidden_size, self.cfg.dropout)
        if not self.cfg.finetune:
            return head.to(self.device)
        backbone = _load_wav2vec2(self.cfg.model)
        backbone.freeze_feature_encoder()
        return _FineTuned(backbone, head).to(self.device)


def _PitchHead(hidden: int, dropout: float):  # noqa: N802 - builds an nn.Module
    nn = _nn()
    return nn.Sequential(nn.Linear(hidden, 256), nn.LayerNorm(256), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(256, 2))


def _FineTuned(backbone, head):  # noqa: N802 - builds an nn.Module
    nn = _nn()

    class FineTuned(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = head

        def forward(self, waves):
            return self.head(self.backbone(waves).last_hidden_state.mean(dim=1))

    return FineTuned()


def make_backbone(cfg: TrainConfig, device, settings: dict[str, Any] | None = None) -> Backbone:
    """The backbone for ``cfg``; ``settings`` are a checkpoint's stored feature settings (inference)."""
    if cfg.backbone == "logmel-cnn":
        return _LogMelBackbone(cfg, device, settings)
    return _Wav2Vec2Backbone(cfg, device, settings)


def prepare_all(backbone: Backbone, crops: np.ndarray, batch_size: int = 32):
    """``backbone.prepare`` over an (N, samples) array of crops, in batches; a CPU tensor."""
    torch = _torch()
    out = []
    for i in range(0, len(crops), batch_size):
        out.append(backbone.prepare(torch.from_numpy(crops[i:i + batch_size])).detach().cpu())
    return torch.cat(out) if out else torch.zeros(0)
