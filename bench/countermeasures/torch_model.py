"""Neural countermeasures: a torch network on the waveform, trained with the shared epoch loop.

A plugin subclasses :class:`TorchCMDetector`, names its architectures (presets of the
network's constructor arguments, e.g. ``aasist`` and ``aasist-l``) and implements
:meth:`TorchCMDetector.build`, which returns an ``nn.Module`` mapping a (B, N) float
waveform batch at 16 kHz to (B, 2) logits. bench trains it (:func:`bench.countermeasures.training.fit_torch`:
class-weighted cross-entropy, class 1 = fake, early stopping on the validation loss,
checkpoints every epoch), stores its ``state_dict`` and loads it back strictly.

Scores are the fake logit minus the bona fide logit (bench's protocol); a model whose card declares
another protocol (e.g. the official evaluation of a published checkpoint: the bona fide logit
alone, negated so that higher = more likely fake) is scored with its rules when it is chosen.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.api.score_contract import BENCH_PROTOCOL, SCORE_RULES, InputSpec, ScoreProtocol, training_crop
from bench.channel.augment import augment_profiles, through_channels
from bench.countermeasures.base import CMDetector, Scorer, TrainingData
from bench.countermeasures.training import Checkpoint, FitConfig, fit_torch, resolve_device, save_torch, seed_everything
from bench.errors import BenchError
from bench.models.store import ModelEntry, resolve

WEIGHTS = "weights.pt"


class TorchScorer(Scorer):
    """Scores = fake logit - bona fide logit (``rule="logit-difference"``), or minus the bona fide logit
    (``"negated-bona-fide-logit"``), one row per seed's network."""

    def __init__(self, modules: list[Any], spec: InputSpec, seeds: list[int], fake_index: int, device: Any,
                 rule: str = "logit-difference", protocol: str = BENCH_PROTOCOL) -> None:
        super().__init__(spec, seeds)
        if rule not in SCORE_RULES:
            raise ValueError(f"unknown score rule {rule!r}")
        self.modules, self.fake_index, self.device = modules, fake_index, device
        self.rule, self.protocol = rule, protocol

    def score_windows(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        rows = []
        with torch.no_grad():
            for m in self.modules:
                logits = m(x).float()
                bona_fide = logits[:, 1 - self.fake_index]
                score = -bona_fide if self.rule == "negated-bona-fide-logit" else logits[:, self.fake_index] - bona_fide
                rows.append(score.cpu().numpy())
        return np.stack(rows).astype(np.float64)


def n_parameters(module: Any) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def load_state(path: Path) -> dict[str, Any]:
    """A ``state_dict`` read with ``weights_only=True`` (never unpickles code); one-line error otherwise."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchError(f"{path}: cannot be read as model weights ({type(exc).__name__})") from None


def check_state(state: Any, shapes: dict[str, tuple[int, ...]], what: str, architecture: str = "declared"
                ) -> dict[str, Any]:
    """``state`` if it is a state dict with exactly the tensor names and ``shapes`` expected and only finite
    numbers; one-line BenchError otherwise (checked before any network is allocated)."""
    import torch

    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BenchError(f"{what} is not a state dict of tensors")
    missing, extra = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if missing or extra:
        raise BenchError(f"{what} does not fit the {architecture} architecture its card declares "
                         f"({len(missing)} tensor(s) missing, {len(extra)} unexpected, e.g. {(missing or extra)[0]!r})")
    for k, v in state.items():
        if tuple(v.shape) != shapes[k]:
            raise BenchError(f"{what} does not fit the {architecture} architecture its card declares (tensor "
                             f"{k!r} has shape {tuple(v.shape)}, the architecture needs {shapes[k]})")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise BenchError(f"{what}: tensor {k!r} holds NaN or infinite values; the weights are corrupt")
    return state


class TorchCMDetector(CMDetector):
    """A network on the waveform. Subclasses set ``architectures``, ``default_architecture``, ``fit_defaults``
    (a :class:`FitConfig` or a dict of its fields) and implement :meth:`build`."""

    architectures: ClassVar[dict[str, dict[str, Any]]] = {}
    default_architecture: ClassVar[str] = ""
    fit_defaults: ClassVar[FitConfig] = FitConfig()
    train_seconds: ClassVar[float | None] = None  # training crop length (default: the input window, else 4 s)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("fit_defaults"), dict):  # {"epochs": 10, ...}: FitConfig's fields
            cls.fit_defaults = FitConfig(**cls.__dict__["fit_defaults"])
        if not cls.default_architecture and len(cls.architectures) == 1:
            cls.default_architecture = next(iter(cls.architectures))

    @abstractmethod
    def build(self, params: dict[str, Any]) -> Any:
        """A freshly initialised network for the architecture parameters ``params``. A network with an
        ``auxiliary_loss()`` method has its value added to the training loss after every forward pass."""

    # ------------------------------------------------------------------ scoring
    def build_scorer(self, entry: ModelEntry) -> TorchScorer:
        """The networks of ``entry`` with the chosen protocol's input rule, score rule and network settings."""
        protocol: ScoreProtocol = self.score_protocol(entry)
        modules, device = self.load_networks(entry, protocol.network)
        card = entry.card
        return TorchScorer(modules, protocol.input, card.seeds, card.fake_index, device, rule=protocol.score,
                           protocol=protocol.name)

    def load_networks(self, entry: ModelEntry, settings: dict[str, Any] | None = None) -> tuple[list[Any], Any]:
        """Each seed's network of model ``entry`` (its card's ``params`` overlaid with ``settings``, a
        protocol's network settings), loaded strictly, in eval mode on ``self.device``.

        Nothing is allocated from what the card declares before it is checked: the architecture is first
        built on torch's ``meta`` device (no memory), and every seed's weights (read with
        ``weights_only=True``, so no bigger than their files) must have exactly its tensor names and shapes
        and hold only finite numbers."""
        device = resolve_device(self.device)
        card = entry.card
        params = {**card.params, **(settings or {})}
        shapes = self.declared_shapes(card, params)
        states = []
        for seed in card.seeds:
            name = weights_name(seed, card)
            state = check_state(load_state(entry.path(name)), shapes, f"model {card.ref}: {name}",
                                card.architecture or "declared")
            states.append((name, state))
        modules = []
        for name, state in states:
            net = self.build(params)
            try:
                net.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise BenchError(f"model {card.ref}: {name} does not fit the {card.architecture or 'declared'} "
                                 f"architecture ({str(exc).splitlines()[0]})") from None
            modules.append(net.to(device).eval())
        return modules, device

    def declared_shapes(self, card: Any, params: dict[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
        """The tensor names and shapes of the network the card's ``params`` (or ``params``) declare, built on the
        ``meta`` device (allocates nothing, however large the declared sizes); one-line BenchError if they build
        none."""
        import torch

        try:
            with torch.device("meta"):
                probe = self.build(card.params if params is None else params)
            return {k: tuple(v.shape) for k, v in probe.state_dict().items()}
        except BenchError:
            raise
        except Exception as exc:  # hostile or foreign params: wrong types, unknown keys, impossible sizes
            raise BenchError(f"model {card.ref}: its card's params do not describe a {self.meta.name} network "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None

    # ------------------------------------------------------------------ training
    def training_defaults(self) -> dict[str, Any]:
        f = self.fit_defaults
        crop = self.train_seconds or (self.input_spec.samples / 16_000 if self.input_spec.samples else 4.0)
        return {"architecture": self.default_architecture, "epochs": f.epochs, "batch_size": f.batch_size,
                "lr": f.lr, "weight_decay": f.weight_decay, "patience": f.patience, "crop_seconds": round(crop, 4),
                "init": "", "augment": ""}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The base rules, and a known architecture, a sane crop and a valid epoch loop."""
        out = super().resolve_settings(settings)
        if out["architecture"] not in self.architectures:
            raise BenchError(f"{self.meta.name}: unknown architecture {out['architecture']!r}; choose one of "
                             f"{', '.join(self.architectures)}")
        if not 0.1 <= float(out["crop_seconds"]) <= 30:
            raise BenchError(f"{self.meta.name}: crop_seconds must be between 0.1 and 30")
        FitConfig(**{k: out[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "patience")}).check()
        augment_profiles(out.get("augment", ""))
        return out

    def trained_input(self, settings: dict[str, Any]) -> InputSpec:
        """The input rule of a model trained with ``settings``: its window is the training crop."""
        n = int(round(float(settings["crop_seconds"]) * 16_000))
        spec = self.input_spec
        return InputSpec(samples=n, sample_rate=spec.sample_rate, shorter=spec.shorter, longer="windows",
                         min_samples=spec.min_samples)

    def train(self, data: TrainingData, out: Path, seed: int, settings: dict[str, Any],
              tick: Any = None) -> dict[str, Any]:
        import torch

        s = self.resolve_settings(settings)
        spec = self.trained_input(s)
        params = self.network_params(s)
        cfg = FitConfig(epochs=int(s["epochs"]), batch_size=int(s["batch_size"]), lr=float(s["lr"]),
                        weight_decay=float(s["weight_decay"]), patience=int(s["patience"]), seed=seed).check()
        device = resolve_device(self.device)
        torch.set_num_threads(self.threads)
        seed_everything(seed)
        rng = np.random.default_rng([seed, 7])

        def crops(split: str, random: bool) -> Any:
            rows = [training_crop(w, spec, spec.samples, rng if random else None) for w in data.waves[split]]
            return torch.from_numpy(np.stack(rows)) if rows else None

        x_tr, x_val = crops("train", True), crops("val", False)
        if x_tr is None or len(set(data.labels["train"].tolist())) < 2:
            raise BenchError("the training speakers need both original recordings and fakes")
        y_tr = data.labels["train"]
        profiles = augment_profiles(s.get("augment", ""))
        if profiles:  # channel-matched training: every crop once clean and once through a drawn profile
            copies = through_channels(x_tr.numpy(), profiles, np.random.default_rng([seed, 23]))
            x_tr, y_tr = torch.cat([x_tr, torch.from_numpy(copies)]), np.concatenate([y_tr, y_tr])
        net = self.build(params)
        init = self.initialise(net, str(s.get("init") or ""), s["architecture"])
        pretrained = self.load_pretrained(net, s)
        t0 = time.perf_counter()
        net, outcome = fit_torch(net, x_tr, y_tr, x_val, data.labels.get("val"), cfg=cfg,
                                 device=device, checkpoint=Checkpoint(out / "checkpoint.pt"),
                                 settings={"settings": s, "seed": seed, "params": params}, tick=tick,
                                 extra_loss=getattr(net, "auxiliary_loss", None))
        save_torch(out / WEIGHTS, {k: v.detach().cpu() for k, v in net.state_dict().items()})
        Checkpoint(out / "checkpoint.pt").remove()
        return {"files": [WEIGHTS], "architecture": s["architecture"], "params": params, "n_params": n_parameters(net),
                "input": spec.to_dict(), "settings": s, **({"init": init} if init else {}),
                **({"pretrained": pretrained} if pretrained else {}),
                "fit": {"best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run,
                        "stopped_early": outcome.stopped_early, "resumed_from_epoch": outcome.resumed_from,
                        "history": outcome.history, "seconds": time.perf_counter() - t0}}

    def network_params(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The constructor arguments :meth:`build` gets (stored in the card): the architecture's preset."""
        return dict(self.architectures[settings["architecture"]])

    def load_pretrained(self, net: Any, settings: dict[str, Any]) -> dict[str, Any] | None:
        """Load weights from outside bench's model store into ``net`` before training (a detector with a
        ``pretrained`` setting overrides this); returns what was loaded, for the model card."""
        return None

    def initialise(self, net: Any, ref: str, architecture: str) -> dict[str, Any] | None:
        """Fine-tuning (``--set init=NAME@VERSION``): load seed 0 of model ``ref`` (same detector and
        architecture) into ``net`` strictly; a model whose class 0 is "fake" has its output layer's rows swapped
        so that class 1 = fake, as bench trains. Returns what was loaded (for the model card)."""
        if not ref:
            return None
        entry = resolve(ref)
        card = entry.card
        if card.detector != self.meta.name or (card.architecture or architecture) != architecture:
            raise BenchError(f"init={ref}: a {card.detector} {card.architecture or ''} model cannot initialise "
                             f"{self.meta.name} {architecture} (give --set architecture={card.architecture})")
        entry.verify()
        name = weights_name(card.seeds[0], card)
        state = load_state(entry.path(name))
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BenchError(f"init={ref}: {name} does not fit ({str(exc).splitlines()[0]})") from None
        if card.fake_index == 0:
            swap_output_classes(net)
        return {"model": card.ref, "file": name, "sha256": card.files.get(name), "trained_on": card.trained_on}


def swap_output_classes(net: Any) -> None:
    """Swap the rows of the network's one two-output linear layer (class 0 <-> class 1)."""
    import torch
    from torch import nn

    heads = [m for m in net.modules() if isinstance(m, nn.Linear) and m.out_features == 2]
    if len(heads) != 1:
        raise BenchError(f"cannot re-orient the output: the network has {len(heads)} two-output linear layers, not 1")
    layer = heads[0]
    with torch.no_grad():
        layer.weight.copy_(layer.weight.flip(0))
        if layer.bias is not None:
            layer.bias.copy_(layer.bias.flip(0))


def two_class(net: Any, output: str) -> Any:
    """Wrap a network whose output is not bench's (B, 2) logits with class 1 = fake:
    ``output="bona-fide-logit"``: one logit, positive = bona fide (LFCC-LCNN, SpecRNet), becomes
    ``[logit / 2, -logit / 2]`` (so cross-entropy on it is the official binary cross-entropy, and the
    score fake - bona fide is minus the official logit); ``"bona-fide-index-1"``: (B, 2) with class 1 =
    bona fide (RawNet2, AASIST), has its columns swapped."""
    import torch
    from torch import nn

    if output not in ("bona-fide-logit", "bona-fide-index-1"):
        raise ValueError(f"unknown output convention {output!r}")

    class TwoClass(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            if output == "bona-fide-logit":
                return torch.stack([out / 2, -out / 2], dim=1)
            return out.flip(1)

    return TwoClass()


def weights_name(seed: int, card: Any) -> str:
    """The weights file of one seed in a model folder (``seed-<N>/weights.pt``; a single-file model: its file)."""
    candidates = [f for f in card.files if f.endswith(".pt") or f.endswith(".pth")]
    if len(card.seeds) == 1 and len(candidates) == 1:
        return candidates[0]
    return f"seed-{seed}/{WEIGHTS}"
