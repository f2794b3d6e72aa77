"""Privacy-split countermeasures: one torch network cut in two, the device half on the caller's
phone and the server half on the (edge) server; only :class:`~bench.countermeasures.feature_message.FeatureMessage`
bytes travel between them.

A plugin subclasses :class:`SplitTorchCMDetector` and its :meth:`build` returns a network with:

- ``device_half``: an ``nn.Module`` mapping a (B, N) batch of 16 kHz windows to (B, ...) features;
- ``server_half``: an ``nn.Module`` mapping those features to (B, K) logits;
- ``feature_rate``: the sample rate (Hz) of the audio the device half computes the features from;
- optionally ``window_scores(logits)`` -> (B,) scores, higher = fake (default: fake logit minus
  bona fide logit, class 1 = fake);
- ``forward(x) = server_half(device_half(x))`` for training.

Every score bench reports for such a model goes through the message: the device half's
features are serialised (``message_dtype``, float16 by default, halving the uplink), parsed
back and scored by the server half, exactly as two processes would. :meth:`device_messages`
and :meth:`server_score` are the two ends for a real deployment (and for the edge server).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.api.score_contract import InputSpec, windows
from bench.countermeasures.base import Scorer
from bench.countermeasures.feature_message import DTYPES, SCHEMA, FeatureMessage, MessageError, model_version
from bench.countermeasures.torch_model import TorchCMDetector
from bench.errors import BenchError
from bench.models.store import ModelEntry


def device_version(modules: list[Any]) -> str:
    """The feature messages' ``model_version``: a hash of every seed's device-half weights (what made the
    features). A model retrained with its device half frozen keeps it, so phones need no update and a
    server that hot-swaps to it keeps accepting their messages."""
    import hashlib

    h = hashlib.sha256()
    for net in modules:
        for name, t in sorted(net.device_half.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return model_version(h.hexdigest())


class SplitScorer(Scorer):
    """Scores through the feature message: device half -> bytes -> server half, per utterance."""

    def __init__(self, modules: list[Any], spec: InputSpec, seeds: list[int], device: Any, *, detector: str,
                 model: str, version: str, message_dtype: str, batch_size: int) -> None:
        super().__init__(spec, seeds)
        if message_dtype not in DTYPES:
            raise BenchError(f"message_dtype must be one of {', '.join(DTYPES)}, not {message_dtype!r}")
        self.modules, self.device = modules, device
        self.detector, self.model, self.version = detector, model, version
        self.message_dtype, self.batch_size = message_dtype, batch_size

    # ------------------------------------------------------------------ device end
    def device_messages(self, wave: np.ndarray, seq: int = 0) -> list[FeatureMessage]:
        """One message per seed holding the features of every window of ``wave`` (16 kHz float32)."""
        import torch

        wins = windows(wave, self.spec)
        out = []
        with torch.no_grad():
            for seed, net in zip(self.seeds, self.modules, strict=True):
                parts = [net.device_half(torch.from_numpy(np.ascontiguousarray(wins[i:i + self.batch_size]))
                                         .to(self.device)).float().cpu().numpy()
                         for i in range(0, len(wins), self.batch_size)]
                feats = np.concatenate(parts).astype(self.message_dtype)
                out.append(FeatureMessage(detector=self.detector, model=self.model, model_version=self.version,
                                          seed=seed, sample_rate=int(net.feature_rate), data=feats, seq=seq))
        return out

    def window_features(self, seed: int, batch: np.ndarray) -> np.ndarray:
        """Seed ``seed``'s device-half features of a (B, N) batch of 16 kHz windows, in the message dtype."""
        import torch

        net = self.modules[self.seeds.index(seed)]
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return net.device_half(x).float().cpu().numpy().astype(self.message_dtype)

    # ------------------------------------------------------------------ server end
    def check_message(self, msg: FeatureMessage) -> Any:
        """The seed's network for ``msg``; a message from another model or seed is a :class:`MessageError`."""
        if msg.detector != self.detector or msg.model_version != self.version:  # msg.model may be an older
            # version of the same name: what matters is that its device half made the features
            raise MessageError(f"feature message from {msg.detector} model {msg.model} (device-half weights "
                               f"{msg.model_version}); this server runs {self.detector} model {self.model} "
                               f"(device-half weights {self.version})")
        if msg.seed not in self.seeds:
            raise MessageError(f"feature message from seed {msg.seed}; model {self.model} has seeds {self.seeds}")
        net = self.modules[self.seeds.index(msg.seed)]
        if msg.sample_rate != int(net.feature_rate):
            raise MessageError(f"feature message computed at {msg.sample_rate} Hz; model {self.model} expects "
                               f"{int(net.feature_rate)} Hz")
        return net

    def feature_shape(self, seed: int) -> tuple[int, ...]:
        """The shape of one window's features from seed ``seed``'s device half (measured once, on silence)."""
        import torch

        cache = self.__dict__.setdefault("_feature_shapes", {})
        if seed not in cache:
            net = self.modules[self.seeds.index(seed)]
            n = self.spec.samples or self.spec.min_samples or 16_000
            with torch.no_grad():
                cache[seed] = tuple(net.device_half(torch.zeros((1, n), device=self.device)).shape[1:])
        return cache[seed]

    def feature_rate(self) -> int:
        """The ``sample_rate`` every feature message carries: the rate the device halves compute features at."""
        rates = {int(net.feature_rate) for net in self.modules}
        if len(rates) != 1:
            raise BenchError(f"model {self.model}: its seeds compute features at different rates {sorted(rates)}")
        return rates.pop()

    def device_input(self) -> dict[str, Any]:
        """What the device half takes: mono float32 audio at ``sample_rate``, cut into windows of
        ``window_samples`` as :func:`bench.api.score_contract.windows` does (docs/serve.md, "The device half")."""
        s = self.spec
        return {"sample_rate": s.sample_rate, "window_samples": s.samples, "shorter": s.shorter, "longer": s.longer,
                "min_samples": s.min_samples, "dtype": "float32"}

    def message_spec(self) -> dict[str, Any]:
        """What one chunk's feature messages must say: one message per seed (``seeds``), each with these header
        values and an array of ``shape[seed]`` ("windows" = the chunk's window count) in ``dtype``."""
        return {"schema": SCHEMA, "detector": self.detector, "model": self.model, "model_version": self.version,
                "seeds": list(self.seeds), "sample_rate": self.feature_rate(), "dtype": self.message_dtype,
                "shape": {str(s): ["windows", *self.feature_shape(s)] for s in self.seeds}}

    def check_shape(self, msg: FeatureMessage) -> None:
        """A :class:`MessageError` unless ``msg`` holds whole windows of this model's feature shape
        (what a server checks before batching it with other calls' messages)."""
        want = self.feature_shape(msg.seed)
        if len(msg.shape) != len(want) + 1 or tuple(msg.shape[1:]) != want or msg.shape[0] < 1:
            raise MessageError(f"feature message shape {list(msg.shape)} does not fit model {self.model}: it takes "
                               f"(windows, {', '.join(map(str, want))})")

    def server_window_scores(self, seed: int, feats: np.ndarray) -> np.ndarray:
        """Scores (higher = fake) of a (B, ...) batch of one seed's features, already checked."""
        import torch

        net = self.modules[self.seeds.index(seed)]
        feats = np.asarray(feats, dtype=np.float32)
        rows = []
        with torch.no_grad():
            for i in range(0, len(feats), self.batch_size):
                try:
                    logits = net.server_half(torch.from_numpy(feats[i:i + self.batch_size]).to(self.device)).float()
                except RuntimeError as exc:
                    raise MessageError(f"feature shape {list(feats.shape)} does not fit model {self.model} "
                                       f"({str(exc).splitlines()[0][:120]})") from None
                scorer = getattr(net, "window_scores", None)
                s = scorer(logits) if scorer is not None else logits[:, 1] - logits[:, 0]
                rows.append(s.cpu().numpy().astype(np.float64))
        return np.concatenate(rows) if rows else np.zeros(0)

    def window_scores(self, msg: FeatureMessage) -> np.ndarray:
        """Scores (higher = fake) of each window in one message."""
        self.check_message(msg)
        return self.server_window_scores(msg.seed, msg.data)

    def server_scores(self, messages: list[FeatureMessage | bytes]) -> np.ndarray:
        """(n_seeds,) scores of one chunk from one message per seed (each seed's window scores averaged)."""
        msgs = [m if isinstance(m, FeatureMessage) else FeatureMessage.from_bytes(m) for m in messages]
        seeds = sorted(m.seed for m in msgs)
        if seeds != sorted(self.seeds):
            raise MessageError(f"expected one feature message per seed {self.seeds}, got seeds {seeds}")
        out = np.zeros(len(self.seeds))
        for m in msgs:
            s = self.window_scores(m)
            if not len(s):
                raise MessageError("feature message holds no window")
            out[self.seeds.index(m.seed)] = s.mean()
        return out

    # ------------------------------------------------------------------ both, in one process
    def score_windows(self, batch: np.ndarray) -> np.ndarray:
        """(n_seeds, B) scores of a (B, N) batch of windows, each seed's features through its message bytes."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        rows = []
        with torch.no_grad():
            for seed, net in zip(self.seeds, self.modules, strict=True):
                feats = net.device_half(x).float().cpu().numpy().astype(self.message_dtype)
                msg = FeatureMessage(detector=self.detector, model=self.model, model_version=self.version, seed=seed,
                                     sample_rate=int(net.feature_rate), data=feats)
                rows.append(self.window_scores(FeatureMessage.from_bytes(msg.to_bytes())))
        return np.stack(rows)

    def scores(self, waves: list[np.ndarray], batch_size: int = 8) -> np.ndarray:
        """(n_seeds, len(waves)): every utterance through device half -> message bytes -> server half."""
        out = np.zeros((len(self.seeds), len(waves)))
        for i, w in enumerate(waves):
            wire = [m.to_bytes() for m in self.device_messages(w)]
            out[:, i] = self.server_scores(wire)
        return out


class SplitTorchCMDetector(TorchCMDetector):
    """A torch countermeasure whose network is split between the device and the server (see the module
    docstring). Adds the ``message_dtype`` training setting (float16 or float32), stored with the model."""

    split: ClassVar[dict[str, str]] = {}  # for docs and `bench plugins show`: what runs where

    def training_defaults(self) -> dict[str, Any]:
        return {**super().training_defaults(), "message_dtype": "float16"}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        out = super().resolve_settings(settings)
        if out["message_dtype"] not in DTYPES:
            raise BenchError(f"{self.meta.name}: message_dtype must be one of {', '.join(DTYPES)}")
        return out

    def network_params(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {**super().network_params(settings), "message_dtype": settings["message_dtype"]}

    def build_scorer(self, entry: ModelEntry) -> SplitScorer:
        modules, device = self.load_networks(entry)
        card = entry.card
        spec = InputSpec.from_dict(card.input) if card.input else self.input_spec
        return SplitScorer(modules, spec, card.seeds, device, detector=self.meta.name, model=card.ref,
                           version=device_version(modules),
                           message_dtype=str(card.params.get("message_dtype", "float16")), batch_size=self.batch_size)

    def split_scorer(self) -> SplitScorer:
        """The loaded model (cached on the detector)."""
        if getattr(self, "_split_scorer", None) is None:
            self._split_scorer = self.load_scorer()
        return self._split_scorer

    def device_messages(self, wave: np.ndarray, seq: int = 0) -> list[FeatureMessage]:
        """The device end: what the phone sends for ``wave`` (16 kHz float32), one message per seed."""
        return self.split_scorer().device_messages(np.asarray(wave, dtype=np.float32), seq)

    def server_score(self, messages: list[FeatureMessage | bytes]) -> dict[str, Any]:
        """The server end: the score (mean over seeds, higher = fake) of one chunk's messages, and each seed's."""
        sc = self.split_scorer()
        s = sc.server_scores(messages)
        return {"score": float(s.mean()), "seed_scores": [float(v) for v in s], "model": sc.model}


def load_split_detector(model: str) -> tuple[Any, SplitTorchCMDetector]:
    """(store entry, detector) of a split model ``model`` (NAME@VERSION, NAME or a model folder); a one-line
    :class:`BenchError` for a model that is not split (privacy mode needs devox or deepdetection)."""
    from bench.api.registry import DETECTORS
    from bench.models.store import resolve

    entry = resolve(model)
    det = DETECTORS.create(entry.card.detector, model=str(entry.folder), threads=1)
    if not isinstance(det, SplitTorchCMDetector):
        raise BenchError(f"model {entry.card.ref} is not a split model: privacy mode needs devox or deepdetection")
    return entry, det
