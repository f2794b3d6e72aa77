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
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from bench import SAMPLE_RATE, __version__
from bench.audio import entry_problem, load_entry
from bench.errors import BenchError, RunFailed, first_line
from bench.fileio import write_atomic
from bench.models import sha256_file
from bench.outdir import check_output, check_writable_dir, claim_output
from bench.taxonomy_version import TAXONOMY_VERSION, check_version, recorded_version
from bench.training import resolve_device, save_torch, split_speakers

META_FILE = "compliance.json"
METRICS_FILE = "metrics.json"
CACHE_DIR = ".cache"
FORMAT = "bench.compliance/1"
BACKBONES = ("logmel-cnn", "wav2vec2")
CNN_CHANNELS = (8, 16, 32, 64)
FEATURE_CHUNK = 512  # recordings decoded and featurised at a time

__all__ = ["BACKBONES", "ComplianceModel", "NoClassifierError", "TrainConfig", "auroc", "centre_crop",
           "metrics_table", "split_speakers", "train_compliance"]


class NoClassifierError(BenchError):
    """The checkpoint has no classifier for the requested challenge (e.g. #0, or one not trained)."""


# ----------------------------------------------------------------------------- configuration
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


# ----------------------------------------------------------------------------- small utilities
def centre_crop(x: np.ndarray, n: int) -> np.ndarray:
    """The centre ``n`` samples of ``x``; a shorter clip is repeated (tiled) to ``n`` samples."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if len(x) == 0:
        return np.zeros(n, np.float32)
    if len(x) >= n:
        start = (len(x) - n) // 2
        return x[start:start + n].copy()
    return np.tile(x, math.ceil(n / len(x)))[:n].copy()


class _CropFn:
    """Picklable crop function for worker processes (no torch objects inside)."""

    def __init__(self, n_samples: int, normalize: bool) -> None:
        self.n_samples = n_samples
        self.normalize = normalize

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = centre_crop(x, self.n_samples)
        if self.normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return x.astype(np.float32)


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """AUROC (:func:`bench.metrics.auroc`, ties count half), or None (JSON null) if a class is missing."""
    from bench.metrics import auroc as _auroc

    value = _auroc(np.asarray(labels, dtype=int), np.asarray(scores, dtype=float))
    return None if math.isnan(value) else value


def _binary_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    return {"accuracy": float(((probs >= 0.5).astype(int) == labels).mean()) if len(labels) else None,
            "auroc": auroc(labels, probs), "n": int(len(labels)), "n_pos": int(labels.sum())}


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def _torch():
    import torch

    return torch


# ----------------------------------------------------------------------------- backbones
class _Backbone(ABC):
    """Turns 16 kHz clips into cached model inputs and builds the trainable module.

    ``prepare(waves)`` maps a (B, N) float tensor of crops to the inputs the trainable
    module takes (log-mel features, pooled embeddings, or the waves themselves); training
    caches these inputs, and inference runs ``module(prepare(waves))`` - the same path.
    """

    name: str
    settings: dict[str, Any]

    n_samples: int
    crop: Callable[[np.ndarray], np.ndarray]  # a picklable ``_CropFn``

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


class _LogMelBackbone(_Backbone):
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
        self.crop = _CropFn(self.n_samples, False)
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


class _Wav2Vec2Backbone(_Backbone):
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
        self.crop = _CropFn(self.n_samples, self.normalize)

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


def _make_backbone(cfg: TrainConfig, device, settings: dict[str, Any] | None = None) -> _Backbone:
    """The backbone for ``cfg``; ``settings`` are a checkpoint's stored feature settings (inference)."""
    if cfg.backbone == "logmel-cnn":
        return _LogMelBackbone(cfg, device, settings)
    return _Wav2Vec2Backbone(cfg, device, settings)


def _prepare_all(backbone: _Backbone, crops: np.ndarray, batch_size: int = 32):
    torch = _torch()
    out = []
    for i in range(0, len(crops), batch_size):
        out.append(backbone.prepare(torch.from_numpy(crops[i:i + batch_size])).detach().cpu())
    return torch.cat(out) if out else torch.zeros(0)


# ----------------------------------------------------------------------------- training
@dataclass
class _Run:
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def _predict_inputs(module, inputs, batch_size: int, device) -> np.ndarray:
    torch = _torch()
    module.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            logits = module(inputs[i:i + batch_size].to(device))
            out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _recalibrate_batchnorm(module, inputs, batch_size: int, device) -> None:
    """Set BatchNorm running statistics to the exact averages over ``inputs`` under the current weights.

    With few optimiser steps (small corpora) the exponential running averages still lag the
    weights, which shifts eval-mode outputs and spoils calibration (accuracy at 0.5) even when
    the ranking (AUROC) is right; one extra no-grad pass fixes that.
    """
    torch = _torch()
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    module.eval()
    momenta = []
    for bn in bns:
        momenta.append(bn.momentum)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
        bn.train()
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            module(inputs[i:i + batch_size].to(device))
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m
    module.eval()


def _fit(backbone: _Backbone, cfg: TrainConfig, x_tr, y_tr: np.ndarray, x_val=None, y_val=None, *,
         epochs: int, seed: int, tick: Callable[[], None] | None = None) -> tuple[Any, _Run]:
    """Train one classifier; early-stops on the validation loss when validation data is given."""
    torch = _torch()
    F = torch.nn.functional  # noqa: N806
    device = backbone.device
    module = backbone.new_module(seed)
    backbone.fit_inputs(module, x_tr)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    y_t = torch.from_numpy(y_tr.astype(np.int64))
    counts = np.bincount(y_tr, minlength=2).astype(np.float64)
    weight = torch.tensor(len(y_tr) / (2 * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    gen = torch.Generator().manual_seed(seed)
    best_loss, best_epoch, best_state, bad = math.inf, 0, None, 0
    history = []
    for epoch in range(1, epochs + 1):
        module.train()
        order = torch.randperm(len(y_t), generator=gen)
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2 and len(order) > 1:  # a batch of one breaks BatchNorm statistics
                continue
            logits = module(x_tr[idx].to(device))
            loss = F.cross_entropy(logits, y_t[idx].to(device), weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        record = {"epoch": epoch, "train_loss": total / max(len(order), 1)}
        _recalibrate_batchnorm(module, x_tr, 64, device)
        if x_val is not None:
            probs = _predict_inputs(module, x_val, 64, device)
            p = np.clip(probs, 1e-7, 1 - 1e-7)
            val_loss = float(-np.mean(y_val * np.log(p) + (1 - y_val) * np.log(1 - p)))
            record["val_loss"] = val_loss
            if val_loss < best_loss - 1e-6:
                best_loss, best_epoch, bad = val_loss, epoch, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                bad += 1
        history.append(record)
        if tick is not None:
            tick()
        if x_val is not None and bad >= cfg.patience:
            break
    if x_val is None or best_state is None:
        best_epoch, best_state = epochs, copy.deepcopy(module.state_dict())
    module.load_state_dict(best_state)
    return module, _Run(best_epoch, history)


# ----------------------------------------------------------------------------- corpus reading
def _originals(corpus: str | os.PathLike):
    """Open a corpus of original recordings (not fakes); returns (dataset, metadata columns)."""
    from bench.corpus import open_dataset

    ds = open_dataset(corpus)
    if "generator" in ds.column_names:
        raise BenchError(f"{corpus}: this is a fakes dataset (it has a 'generator' column); compliance "
                         "classifiers are trained on original recordings: pass the corpus the fakes were made from")
    meta = ds.select_columns(["utterance_id", "subject", "challenge"]).to_dict()
    return ds, meta


def _select_challenges(requested: Sequence[int] | None, present: set[int]) -> list[int]:
    from bench.challenges.taxonomy import all_challenges, get

    classifier_ids = [c.id for c in all_challenges() if c.compliance == "classifier"]
    if requested is None:
        chosen = [c for c in classifier_ids if c in present]
        if not chosen:
            raise BenchError("the corpus has no recordings of any challenge with a compliance classifier "
                             f"(it holds challenges {sorted(present)})")
        return chosen
    chosen = []
    for c in requested:
        ch = get(c)
        if ch.compliance != "classifier":
            raise BenchError(f"challenge #{ch.id} ({ch.key}) has no compliance classifier "
                             f"(taxonomy compliance = {ch.compliance!r}); drop it from --challenges")
        if ch.id not in present:
            raise BenchError(f"the corpus has no recordings of challenge #{ch.id} ({ch.key}); "
                             f"it holds challenges {sorted(present)}")
        chosen.append(ch.id)
    return sorted(set(chosen))


def _decode_crop(item: tuple[int, dict], root: str, backbone_crop: Callable[[np.ndarray], np.ndarray]):
    idx, entry = item
    return idx, backbone_crop(load_entry(entry, root=root))


def _load_crops(ds, indices: list[int], corpus: Path, crop: _CropFn, workers: int) -> np.ndarray:
    import functools

    from bench.parallel import run_items

    out = np.zeros((len(indices), crop.n_samples), np.float32)
    pos = {idx: k for k, idx in enumerate(indices)}
    items = [(idx, ds[idx]["audio"]) for idx in indices]
    fn = functools.partial(_decode_crop, root=str(corpus), backbone_crop=crop)
    failures = []
    for outcome in run_items(fn, items, workers=workers, description="decoding"):
        if outcome.ok:
            idx, x = outcome.result
            out[pos[idx]] = x
        else:
            failures.append(f"row {outcome.item[0]}: {outcome.error}")
    if failures:
        raise BenchError(f"{corpus}: {len(failures)} recording(s) could not be decoded, first: {failures[0]}")
    return out


# ----------------------------------------------------------------------------- training driver
def _weights_name(cid: int) -> str:
    from bench.challenges.taxonomy import get

    return f"c{cid:02d}-{get(cid).key}.pt"


def _save_state(path: Path, state: dict[str, Any]) -> str:
    torch = _torch()
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buf)
    data = buf.getvalue()
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def _package_versions() -> dict[str, Any]:
    torch = _torch()
    versions = {"vc-challenge-bench": __version__, "torch": torch.__version__}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:
        pass
    return versions


@dataclass
class TrainingPlan:
    """What a training run will use, validated before anything is written."""

    ds: Any
    meta: dict[str, list]
    challenge: np.ndarray
    chosen: list[int]
    splits: dict[str, Any]
    corpus_hash: str
    manifest: dict[str, Any]


def plan_training(corpus: str | os.PathLike, challenges: Sequence[int] | None,
                  cfg: TrainConfig) -> TrainingPlan:
    """Check that ``corpus`` can train classifiers for ``challenges`` with ``cfg`` (one-line BenchError
    otherwise): original recordings, at least 2 speakers, #0 recordings, the challenges present, a valid
    speaker split."""
    from bench.challenges.taxonomy import check_ids
    from bench.corpus import content_hash, read_manifest

    ds, meta = _originals(corpus)
    subjects = meta["subject"]
    check_ids(meta["challenge"], str(corpus))
    chal = np.asarray(meta["challenge"], dtype=int)
    present = set(int(c) for c in chal)
    n_speakers = len(set(subjects))
    if n_speakers < 2:
        raise BenchError(f"{corpus}: compliance classifiers need recordings of at least 2 speakers "
                         f"(one held out for testing); the corpus has {n_speakers}")
    if 0 not in present:
        raise BenchError(f"{corpus}: the corpus has no no-challenge (#0) recordings, which every compliance "
                         "classifier uses as its negative class")
    chosen = _select_challenges(challenges, present)
    manifest = read_manifest(corpus)
    splits = split_speakers(subjects, cfg.test_speakers, cfg.folds, cfg.seed)
    needed = np.flatnonzero(np.isin(chal, [0, *chosen])).tolist()
    for i, entry in zip(needed, ds.select(needed)["audio"], strict=True):
        problem = entry_problem(entry, root=corpus)
        if problem:
            raise BenchError(f"{corpus}: recording {meta['utterance_id'][i]} cannot be decoded ({problem}); "
                             "repair or re-import the corpus")
    return TrainingPlan(ds, meta, chal, chosen, splits, manifest.get("content_hash") or content_hash(ds), manifest)


def train_compliance(corpus: str | os.PathLike, out: str | os.PathLike, challenges: Sequence[int] | None = None,
                     config: TrainConfig | None = None, overwrite: bool = False,
                     log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or resume training) the compliance classifiers; returns the ``compliance.json`` document.

    ``challenges``: challenge ids to train (default: every classifier challenge the corpus
    holds). Challenges whose weights and metrics are already in ``out`` are skipped.
    """
    from bench.challenges.taxonomy import get
    from bench.parallel import make_progress

    torch = _torch()
    cfg = (config or TrainConfig()).resolved()
    log = log or (lambda _msg: None)
    corpus = Path(corpus)
    out = Path(out)
    check_writable_dir(out, "--out")
    device = resolve_device(cfg.device)
    plan = plan_training(corpus, challenges, cfg)
    ds, meta, chal, chosen, splits = plan.ds, plan.meta, plan.challenge, plan.chosen, plan.splits
    subjects_all, corpus_hash, manifest = meta["subject"], plan.corpus_hash, plan.manifest

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        backbone = _make_backbone(cfg, device)
        doc = {
            "format": FORMAT,
            "taxonomy_version": TAXONOMY_VERSION,
            "backbone": cfg.backbone,
            "config": cfg.model_settings(),
            "features": backbone.settings,
            "corpus": {"path": str(corpus.resolve()), "content_hash": corpus_hash, "name": manifest.get("name"),
                       "simulated": manifest.get("simulated")},
            "seed": cfg.seed,
            "speakers": splits,
            "labels": {"1": "recording of challenge c (complied)", "0": "no-challenge (#0) recording"},
        }
        settings = {"backbone": cfg.backbone, "config": cfg.model_settings(), "features": backbone.settings,
                    "seed": cfg.seed, "corpus_hash": corpus_hash, "speakers": splits}
        inputs = [corpus, cfg.model if cfg.model and Path(cfg.model).exists() else None]
        check_output(out, "train compliance", settings, inputs=inputs, overwrite=overwrite)
        old = _read_meta(out) if (out / META_FILE).is_file() and not overwrite else None  # corrupt: an error now
        claim_output(out, "train compliance", settings, inputs=inputs, overwrite=overwrite)
        out.mkdir(parents=True, exist_ok=True)
        doc["package"] = _package_versions()
        doc["created_at"] = (old or {}).get("created_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc["challenges"] = {}
        doc["failures"] = {}
        for key, entry in ((old or {}).get("challenges") or {}).items():
            if (out / entry["weights"]).is_file() and entry.get("test") is not None:
                doc["challenges"][key] = entry

        todo = [c for c in chosen if str(c) not in doc["challenges"]]
        skipped = [c for c in chosen if str(c) in doc["challenges"]]
        if skipped:
            log(f"already trained, skipped: {', '.join(f'#{c}' for c in skipped)}")
        doc["skipped"] = skipped
        if not todo:
            _write_meta(out, doc)
            return doc

        # decode + crop + featurise every needed recording once (cached on disk)
        needed = np.flatnonzero(np.isin(chal, [0, *todo]))
        inputs = _cached_inputs(out, backbone, ds, needed.tolist(), corpus, corpus_hash, cfg, meta)
        data = _Data(inputs, chal[needed], np.asarray(subjects_all)[needed])
        with make_progress() as progress:
            task = progress.add_task("training", total=len(todo) * (len(splits["folds"]) + 1) * cfg.epochs)

            def report(description: str | None = None, advance: int = 0) -> None:
                progress.update(task, description=description, advance=advance)

            for cid in todo:
                entry = _train_challenge(cid, backbone, cfg, data, splits, report)
                if "error" in entry:
                    doc["failures"][str(cid)] = entry["error"]
                    log(f"#{cid} {get(cid).key}: not trained: {entry['error']}")
                    continue
                entry["sha256"] = _save_state(out / entry["weights"], entry.pop("state"))
                doc["challenges"][str(cid)] = entry
                _write_meta(out, doc)  # after each challenge: an interrupted run keeps what is done
                log(_format_row(entry))
        _write_meta(out, doc)
        if not doc["challenges"]:
            first = next(iter(doc["failures"].values()), "unknown error")
            raise RunFailed(f"no classifier could be trained ({len(doc['failures'])} failed; first: {first}); "
                            f"{out / META_FILE} records why")
        return doc
    finally:
        torch.set_num_threads(prev_threads)


@dataclass
class _Data:
    """Cached model inputs with each row's challenge and speaker."""

    inputs: Any
    challenge: np.ndarray
    subject: np.ndarray

    def rows(self, cid: int, speakers: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of #0 and #cid by ``speakers``, with labels (1 = challenge ``cid``)."""
        idx = np.flatnonzero(np.isin(self.challenge, [0, cid]) & np.isin(self.subject, speakers))
        return idx, (self.challenge[idx] == cid).astype(int)


def _has_both(y: np.ndarray) -> bool:
    return bool(len(y)) and 0 < int(y.sum()) < len(y)


def _train_challenge(cid: int, backbone: _Backbone, cfg: TrainConfig, data: _Data, splits: dict[str, Any],
                     report: Callable[..., None]) -> dict[str, Any]:
    """Cross-validate, then train the final model on all training speakers and test it once."""
    from bench.challenges.taxonomy import get

    t0 = time.perf_counter()
    key = get(cid).key
    x = data.inputs
    per_run = cfg.epochs
    tr_idx, tr_y = data.rows(cid, splits["train"])
    if not _has_both(tr_y):
        report(advance=(len(splits["folds"]) + 1) * per_run)
        return {"error": f"the training speakers {splits['train']} lack #{cid} or #0 recordings"}

    folds, best_epochs = [], []
    for f, val_speakers in enumerate(splits["folds"]):
        report(f"#{cid} {key}: fold {f + 1}/{len(splits['folds'])}")
        fit_idx, fit_y = data.rows(cid, [s for s in splits["train"] if s not in val_speakers])
        val_idx, val_y = data.rows(cid, val_speakers)
        if not _has_both(fit_y) or len(val_y) == 0:
            folds.append({"fold": f + 1, "val_speakers": val_speakers, "skipped": "a class is missing"})
            report(advance=per_run)
            continue
        ticks = _Ticks(report)
        module, run = _fit(backbone, cfg, x[fit_idx], fit_y, x[val_idx], val_y, epochs=cfg.epochs,
                           seed=cfg.seed * 1000 + cid * 10 + f, tick=ticks)
        report(advance=per_run - ticks.n)
        probs = _predict_inputs(module, x[val_idx], 64, backbone.device)
        folds.append({"fold": f + 1, "val_speakers": val_speakers, "best_epoch": run.best_epoch,
                      "epochs_run": len(run.history), **_binary_metrics(val_y, probs)})
        best_epochs.append(run.best_epoch)

    # the final model: all training speakers, for the folds' median best epoch count
    final_epochs = max(1, int(round(float(np.median(best_epochs))))) if best_epochs else cfg.epochs
    report(f"#{cid} {key}: final model ({final_epochs} epochs)")
    ticks = _Ticks(report)
    module, _ = _fit(backbone, cfg, x[tr_idx], tr_y, epochs=final_epochs, seed=cfg.seed * 1000 + cid * 10 + 9,
                     tick=ticks)
    report(advance=per_run - ticks.n)
    te_idx, te_y = data.rows(cid, splits["test"])
    test = _binary_metrics(te_y, _predict_inputs(module, x[te_idx], 64, backbone.device))
    scored = [r for r in folds if "accuracy" in r]
    return {
        "challenge": cid, "key": key, "name": get(cid).name, "weights": _weights_name(cid),
        "validation": {"accuracy": _mean([r["accuracy"] for r in scored]),
                       "auroc": _mean([r["auroc"] for r in scored]), "folds": folds},
        "test": test,
        "train": {"n": int(len(tr_y)), "n_pos": int(tr_y.sum()), "epochs": final_epochs,
                  "speakers": len(splits["train"])},
        "seconds": round(time.perf_counter() - t0, 2),
        "state": module.state_dict(),
    }


class _Ticks:
    """Counts finished epochs and advances the progress bar by one each."""

    def __init__(self, report: Callable[..., None]) -> None:
        self.report = report
        self.n = 0

    def __call__(self) -> None:
        self.n += 1
        self.report(advance=1)


def _cached_inputs(out: Path, backbone: _Backbone, ds, indices: list[int], corpus: Path, corpus_hash: str,
                   cfg: TrainConfig, meta: dict[str, list]):
    """Model inputs for the given rows, from ``OUT/.cache`` when an identical run made them."""
    torch = _torch()
    ids = [meta["utterance_id"][i] for i in indices]
    key = hashlib.sha256(json.dumps({"corpus": corpus_hash, "features": backbone.cache_key(), "ids": ids},
                                    sort_keys=True, default=str).encode()).hexdigest()[:16]
    cache_dir = out / CACHE_DIR
    path = cache_dir / f"inputs-{key}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # a damaged cache is rebuilt
            path.unlink(missing_ok=True)
    parts = []
    for start in range(0, len(indices), FEATURE_CHUNK):  # bounded memory: decode, crop, featurise a chunk
        crops = _load_crops(ds, indices[start:start + FEATURE_CHUNK], corpus, backbone.crop, cfg.workers)
        parts.append(_prepare_all(backbone, crops))
    inputs = torch.cat(parts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob("inputs-*.pt"):
        old.unlink(missing_ok=True)
    save_torch(path, inputs)
    return inputs


def _read_meta(out: Path) -> dict[str, Any]:
    try:
        doc = json.loads((out / META_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"{out / META_FILE}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BenchError(f"{out / META_FILE}: not a bench compliance checkpoint (format {FORMAT!r} expected)")
    check_version(recorded_version(doc), str(out))
    return doc


def _write_meta(out: Path, doc: dict[str, Any]) -> None:
    doc["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc["challenges"] = {k: doc["challenges"][k] for k in sorted(doc["challenges"], key=int)}
    _json_atomic(out / METRICS_FILE, {"format": FORMAT + "/metrics", "backbone": doc["backbone"],
                                      "corpus": doc["corpus"], "speakers": doc["speakers"],
                                      "rows": metrics_table(doc)})
    _json_atomic(out / META_FILE, doc)


def metrics_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Table-A.2-like rows: challenge, validation acc/AUROC (mean over folds), test acc/AUROC, and the
    paper's Table A.2 figures for the challenge (quoted; fractions)."""
    from bench.challenges.reference import row

    def frac(x: float | None) -> float | None:
        return None if x is None else x / 100

    rows = []
    for key in sorted(doc.get("challenges", {}), key=int):
        e = doc["challenges"][key]
        paper = row("tableA2", e["challenge"]) or {}
        rows.append({"challenge": e["challenge"], "key": e["key"], "name": e["name"],
                     "val_accuracy": e["validation"]["accuracy"], "val_auroc": e["validation"]["auroc"],
                     "test_accuracy": e["test"]["accuracy"], "test_auroc": e["test"]["auroc"],
                     "n_train": e["train"]["n"], "n_test": e["test"]["n"],
                     "folds": len([f for f in e["validation"]["folds"] if "accuracy" in f]),
                     "paper_val_accuracy": frac(paper.get("val_acc")),
                     "paper_test_accuracy": frac(paper.get("test_acc")), "paper_auroc": frac(paper.get("auc")),
                     "paper_human_baseline": frac(paper.get("human_baseline"))})
    return rows


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _format_row(e: dict[str, Any]) -> str:
    return (f"#{e['challenge']} {e['key']}: val acc {_fmt(e['validation']['accuracy'])} "
            f"AUROC {_fmt(e['validation']['auroc'])}; test acc {_fmt(e['test']['accuracy'])} "
            f"AUROC {_fmt(e['test']['auroc'])} ({e['seconds']:.1f} s)")


# ----------------------------------------------------------------------------- inference
class ComplianceModel:
    """Trained compliance classifiers loaded from a checkpoint directory, for inference."""

    def __init__(self, directory: Path, doc: dict[str, Any], device) -> None:
        self.directory = directory
        self.meta = doc
        self.device = device
        cfg_fields = {f.name for f in fields(TrainConfig)}
        self.config = TrainConfig(**{k: v for k, v in doc["config"].items() if k in cfg_fields},
                                  device=str(device))
        self._backbone: _Backbone | None = None
        self._modules: dict[int, Any] = {}

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str = "cpu", model: str | None = None) -> ComplianceModel:
        """Open a checkpoint directory. ``model``: where the wav2vec2 backbone is now, if it moved
        (its weights must hash the same as at training time)."""
        d = Path(directory)
        if not (d / META_FILE).is_file():
            raise BenchError(f"{d}: no {META_FILE}; train classifiers with `bench train compliance --out {d}`")
        doc = _read_meta(d)
        if model is not None:
            doc = {**doc, "config": {**doc["config"], "model": model}}
        return cls(d, doc, resolve_device(device))

    def verify(self) -> None:
        """Every classifier's weights file is there with the checksum recorded at training (BenchError
        otherwise), so a damaged checkpoint is found before an evaluation scores anything."""
        for key, entry in sorted(self.meta.get("challenges", {}).items()):
            path = self.directory / str(entry.get("weights", ""))
            if not path.is_file():
                raise BenchError(f"{path}: classifier weights for #{key} are missing; retrain with `bench train "
                                 f"compliance --out {self.directory}` or restore the file")
            if entry.get("sha256") and sha256_file(path) != entry["sha256"]:
                raise BenchError(f"{path}: classifier weights for #{key} changed since training (checksum); "
                                 "retrain or restore the file")

    @property
    def challenges(self) -> list[int]:
        """Challenge ids that have a classifier here."""
        return sorted(int(k) for k in self.meta.get("challenges", {}))

    def has(self, challenge: int) -> bool:
        return str(int(challenge)) in self.meta.get("challenges", {})

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return metrics_table(self.meta)

    def _get_backbone(self) -> _Backbone:
        if self._backbone is None:
            self._backbone = _make_backbone(self.config, self.device, self.meta["features"])
        return self._backbone

    def _module(self, challenge: int):
        if challenge not in self._modules:
            torch = _torch()
            entry = self.meta["challenges"][str(challenge)]
            path = self.directory / entry["weights"]
            if not path.is_file():
                raise BenchError(f"{path}: weights file missing; rerun `bench train compliance` to retrain")
            data = path.read_bytes()
            if entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise BenchError(f"{path}: weights do not match the checksum in {META_FILE} (damaged file?)")
            module = self._get_backbone().new_module(0)
            module.load_state_dict(torch.load(io.BytesIO(data), weights_only=True, map_location="cpu"))
            self._modules[challenge] = module.to(self.device).eval()
        return self._modules[challenge]

    def predict(self, clips: list[np.ndarray], challenge: int, batch_size: int = 16) -> np.ndarray:
        """P(clip complies with ``challenge``) in [0, 1] for 16 kHz mono float clips, one per clip.

        Raises :class:`NoClassifierError` for a challenge without a classifier here
        (#0 never has one).
        """
        from bench.challenges.taxonomy import get

        cid = get(challenge).id
        if not self.has(cid):
            ch = get(cid)
            why = "its taxonomy entry has no compliance classifier" if ch.compliance != "classifier" \
                else f"it was not trained in {self.directory}"
            raise NoClassifierError(f"no compliance classifier for challenge #{cid} ({ch.key}): {why}")
        if len(clips) == 0:
            return np.zeros(0, dtype=np.float64)
        torch = _torch()
        backbone = self._get_backbone()
        module = self._module(cid)
        probs = []
        with torch.no_grad():
            for i in range(0, len(clips), batch_size):
                waves = np.stack([backbone.crop(np.asarray(c, np.float32)) for c in clips[i:i + batch_size]])
                inputs = backbone.prepare(torch.from_numpy(waves))
                logits = module(inputs)
                probs.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy())
        return np.concatenate(probs).astype(np.float64)
