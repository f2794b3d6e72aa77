"""Shared training machinery for every trainable detector.

What a trainer needs and must not re-invent per detector:

- :func:`split_speakers`: speaker-disjoint splits (a subject is never in two of train,
  validation and test), seeded, the same algorithm and seed stream for every detector, so
  that detectors trained on one corpus hold out the same test speakers and are compared on
  the same calls.
- :func:`resolve_device`: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``auto``, checked with
  one-line errors.
- :func:`seed_everything`: Python, NumPy and torch seeds, deterministic kernels where torch
  has them.
- :class:`Checkpoint`: an atomic, resumable training checkpoint (model, optimiser, epoch,
  best state, history, RNG states).
- :func:`fit_torch`: the epoch loop used by the neural detectors: class-weighted
  cross-entropy, validation after each epoch, early stopping on the validation loss, the
  best epoch's weights kept, a checkpoint after every epoch and resume from it, and a
  progress callback; optional hooks for a step after each epoch, another validation loss and
  the validation batch size (Pitch's compliance classifiers use all three).
"""

from __future__ import annotations

import copy
import io
import math
import os
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.fileio import write_atomic

SPLIT_STREAM = 20250  # the RNG stream of split_speakers (unchanged since bench 0.1: same splits as before)


def split_speakers(subjects: Sequence[str], n_test: int | None, folds: int, seed: int) -> dict[str, Any]:
    """Speaker-disjoint splits: ``{"test": [...], "train": [...], "folds": [[...], ...]}``.

    ``n_test`` defaults to round(20%) of the speakers (at least 1); the folds partition the
    training speakers into ``min(folds, len(train))`` groups (none if only one training
    speaker is left, in which case there is no validation).
    """
    subjects = sorted(set(subjects))
    if len(subjects) < 2:
        raise BenchError(f"need at least 2 speakers for a speaker-disjoint split, found {len(subjects)}")
    if n_test is None:
        n_test = max(1, round(0.2 * len(subjects)))
    if not 1 <= n_test <= len(subjects) - 1:
        raise BenchError(f"--test-speakers must be between 1 and {len(subjects) - 1} "
                         f"(the corpus has {len(subjects)} speakers)")
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    order = [subjects[i] for i in rng.permutation(len(subjects))]
    test, train = sorted(order[:n_test]), order[n_test:]
    k = min(folds, len(train)) if len(train) >= 2 else 0
    fold_lists = [sorted(train[i::k]) for i in range(k)] if k else []
    return {"test": test, "train": sorted(train), "folds": fold_lists}


def train_val_test(subjects: Sequence[str], n_test: int | None = None, seed: int = 0,
                   folds: int = 5) -> dict[str, list[str]]:
    """Train / validation / test speakers: the test speakers of :func:`split_speakers` (the ones Pitch's
    compliance classifiers hold out with the same seed), and its first fold as validation."""
    s = split_speakers(subjects, n_test, folds, seed)
    val = s["folds"][0] if s["folds"] else []
    return {"train": [x for x in s["train"] if x not in val], "val": val, "test": s["test"]}


def resolve_device(name: str):
    """A ``torch.device`` for ``cpu``, ``cuda``, ``cuda:N`` or ``auto``; one-line errors otherwise."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:[0-9]+)?", str(name)):
        raise BenchError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchError(f"device {name!r} asked for, but this torch build sees no CUDA GPU; use --device cpu")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise BenchError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); ask cuDNN for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@dataclass
class FitConfig:
    """The epoch loop's settings (a detector's defaults fill what the user leaves out)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without a better validation loss before stopping
    seed: int = 0

    def check(self) -> FitConfig:
        for name, lo in (("epochs", 1), ("batch_size", 1), ("patience", 1), ("seed", 0)):
            if getattr(self, name) < lo:
                raise BenchError(f"--{name.replace('_', '-')} must be at least {lo}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise BenchError("--lr must be a positive number")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise BenchError("--weight-decay must be >= 0")
        return self


@dataclass
class FitOutcome:
    """What :func:`fit_torch` returns besides the trained module."""

    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0
    stopped_early: bool = False


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` to ``path`` atomically (temporary file + rename), creating its folder."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buf.getvalue())


def plain_state(obj: Any) -> Any:
    """``obj`` with only what ``torch.load(weights_only=True)`` reads back: tensors, dicts, lists, tuples,
    sets, str, bytes, numbers, bools and None (NumPy values become Python ones or lists, paths strings).
    Anything else is a TypeError here, at save time, never a checkpoint that cannot be resumed."""
    import torch

    if isinstance(obj, np.generic | np.ndarray):  # first: np.float64 is also a float
        return obj.tolist()
    if isinstance(obj, torch.Tensor | str | bytes | bool | int | float | torch.dtype | torch.device) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, dict):
        items = ((plain_state(k), plain_state(v)) for k, v in obj.items())
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)  # state_dicts stay ordered
    if isinstance(obj, tuple):
        return tuple(plain_state(v) for v in obj)
    if isinstance(obj, set | frozenset):
        return {plain_state(v) for v in obj}
    if isinstance(obj, list):
        return [plain_state(v) for v in obj]
    raise TypeError(f"a training checkpoint cannot hold a {type(obj).__name__}")


class Checkpoint:
    """A resumable training checkpoint, written atomically (temporary file + rename).

    It holds only plain data (:func:`plain_state`) and is read with ``weights_only=True``:
    a checkpoint never runs code, whoever wrote the file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def save(self, state: dict[str, Any]) -> None:
        save_torch(self.path, plain_state(state))

    def load(self) -> dict[str, Any] | None:
        import torch

        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torn, foreign, an older bench's, or crafted to run code: refused, never run
            raise self.refused(type(exc).__name__) from None
        if not isinstance(state, dict):
            raise self.refused(type(state).__name__)
        return state

    def refused(self, why: str) -> BenchError:
        """The one-line error for a checkpoint that cannot be resumed (``why``: what was wrong, briefly)."""
        return BenchError(f"{self.path}: not a training checkpoint this bench can resume ({why}); delete it to "
                          "start this training again")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _class_weights(y: np.ndarray, device, n_classes: int = 2) -> Any:
    import torch

    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return torch.tensor(len(y) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32, device=device)


def predict_logits(module, x, batch_size: int, device) -> np.ndarray:
    """Eval-mode logits (N, 2) of ``module`` on a CPU tensor ``x``, in batches."""
    import torch

    module.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(module(x[i:i + batch_size].to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)


def fit_torch(module, x_train, y_train: np.ndarray, x_val=None, y_val: np.ndarray | None = None, *,
              cfg: FitConfig, device, checkpoint: Checkpoint | None = None,
              settings: dict[str, Any] | None = None,
              augment: Callable[[Any, Any], Any] | None = None,
              tick: Callable[[dict[str, float]], None] | None = None,
              after_epoch: Callable[[Any], None] | None = None,
              val_loss: Callable[[np.ndarray, np.ndarray], float] | None = None,
              val_batch_size: int | None = None,
              extra_loss: Callable[[], Any] | None = None,
              n_classes: int = 2) -> tuple[Any, FitOutcome]:
    """Train ``module`` (inputs -> (N, 2) logits, class 1 = fake) with AdamW and class-weighted
    cross-entropy; keep the weights of the epoch with the lowest validation loss.

    ``x_*`` are CPU tensors (waveform crops or features), ``y_*`` 0/1 labels. With a
    ``checkpoint`` the loop saves its whole state after every epoch and, when a checkpoint
    with the same ``settings`` exists, resumes from it (a different one is an error, never
    silently mixed). ``augment(batch, generator)`` may transform training batches.
    ``tick(record)`` is called after every epoch with that epoch's losses.

    Optional, for trainers that need them (the defaults are the behaviour described above):
    ``after_epoch(module)`` runs after each epoch's optimiser steps, before validation and the
    checkpoint (e.g. to recompute BatchNorm statistics); ``val_loss(logits, labels)`` (NumPy
    (N, 2) float32 logits and 0/1 labels -> float) replaces the class-weighted cross-entropy as
    the validation loss that early stopping and the best epoch follow; ``val_batch_size`` is the
    batch size of the validation forward passes (default: twice ``cfg.batch_size``);
    ``extra_loss()`` is called after each training forward pass and its tensor (if not None) is added
    to the loss (an auxiliary objective the network computed in that pass); ``n_classes`` > 2 trains
    a multi-class network (labels 0..n_classes-1, class-weighted the same way).
    """
    import torch

    F = torch.nn.functional  # noqa: N806
    module.to(device)
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    y_t = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    weight = _class_weights(np.asarray(y_train, dtype=np.int64), device, n_classes)
    gen = torch.Generator().manual_seed(cfg.seed)
    best_loss, best_epoch, best_state, bad = math.inf, 0, None, 0
    history: list[dict[str, float]] = []
    start = 1
    state = checkpoint.load() if checkpoint else None
    if state is not None:
        if state.get("settings") != plain_state(settings or {}):
            raise BenchError(f"{checkpoint.path}: a checkpoint of another training (different settings) is "
                             "there; use another --out or --overwrite")
        try:
            module.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            best_loss, best_epoch, best_state, bad = state["best_loss"], state["best_epoch"], state["best_state"], \
                state["bad"]
            history, start = list(state["history"]), int(state["epoch"]) + 1
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # plain data, but not this loop's state
            raise checkpoint.refused(f"{type(exc).__name__}: {exc}"[:120]) from None
    resumed_from = start - 1
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    stopped = bool(has_val and bad >= cfg.patience)
    for epoch in range(start, cfg.epochs + 1):
        if stopped:
            break
        module.train()
        order = torch.randperm(len(y_t), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2 and len(order) > 1:  # a batch of one breaks BatchNorm statistics
                continue
            xb = x_train[idx]
            if augment is not None:
                xb = augment(xb, gen)
            loss = F.cross_entropy(module(xb.to(device)), y_t[idx].to(device), weight=weight)
            extra = extra_loss() if extra_loss is not None else None
            if extra is not None:
                loss = loss + extra
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        if after_epoch is not None:
            after_epoch(module)
        record: dict[str, float] = {"epoch": epoch, "train_loss": total / max(seen, 1)}
        if has_val:
            val_logits = predict_logits(module, x_val, val_batch_size or cfg.batch_size * 2, device)
            if val_loss is None:
                epoch_loss = float(F.cross_entropy(torch.from_numpy(val_logits),
                                                   torch.from_numpy(np.asarray(y_val, dtype=np.int64)),
                                                   weight=weight.cpu()))
            else:
                epoch_loss = float(val_loss(val_logits, np.asarray(y_val)))
            record["val_loss"] = epoch_loss
            if epoch_loss < best_loss - 1e-6:
                best_loss, best_epoch, bad = epoch_loss, epoch, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                bad += 1
            stopped = bad >= cfg.patience
        history.append(record)
        if checkpoint is not None:
            checkpoint.save({"settings": settings or {}, "epoch": epoch, "model": module.state_dict(),
                             "optimizer": opt.state_dict(), "generator": gen.get_state(),
                             "torch_rng": torch.get_rng_state(), "best_loss": best_loss, "best_epoch": best_epoch,
                             "best_state": best_state, "bad": bad, "history": history})
        if tick is not None:
            tick(record)
    if not has_val or best_state is None:
        best_epoch, best_state = (history[-1]["epoch"] if history else 0), copy.deepcopy(module.state_dict())
    module.load_state_dict(best_state)
    module.eval()
    return module, FitOutcome(best_epoch=int(best_epoch), epochs_run=len(history), history=history,
                              resumed_from=resumed_from, stopped_early=stopped and len(history) < cfg.epochs)
