"""A trained compliance checkpoint folder: reading and writing its ``compliance.json`` and
``metrics.json`` documents, and :class:`ComplianceModel`, which loads the classifiers for inference."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import BenchError, resolve_device
from bench.data.taxonomy_version import check_version, recorded_version
from bench.detectors.pitch.backbones import Backbone, make_backbone
from bench.detectors.pitch.compliance.config import FORMAT, META_FILE, METRICS_FILE, NoClassifierError, TrainConfig
from bench.detectors.pitch.compliance.metrics import metrics_table
from bench.fileio import write_atomic
from bench.models.assets import sha256_file


def _json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def read_meta(out: Path) -> dict[str, Any]:
    """The ``compliance.json`` of checkpoint folder ``out``, checked (format, taxonomy version)."""
    try:
        doc = json.loads((out / META_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"{out / META_FILE}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BenchError(f"{out / META_FILE}: not a bench compliance checkpoint (format {FORMAT!r} expected)")
    check_version(recorded_version(doc), str(out))
    return doc


def write_meta(out: Path, doc: dict[str, Any]) -> None:
    """Write ``metrics.json`` and ``compliance.json`` (atomically), challenges in id order."""
    doc["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc["challenges"] = {k: doc["challenges"][k] for k in sorted(doc["challenges"], key=int)}
    _json_atomic(out / METRICS_FILE, {"format": FORMAT + "/metrics", "backbone": doc["backbone"],
                                      "corpus": doc["corpus"], "speakers": doc["speakers"],
                                      "rows": metrics_table(doc)})
    _json_atomic(out / META_FILE, doc)


class ComplianceModel:
    """Trained compliance classifiers loaded from a checkpoint directory, for inference."""

    def __init__(self, directory: Path, doc: dict[str, Any], device) -> None:
        self.directory = directory
        self.meta = doc
        self.device = device
        cfg_fields = {f.name for f in fields(TrainConfig)}
        self.config = TrainConfig(**{k: v for k, v in doc["config"].items() if k in cfg_fields},
                                  device=str(device))
        self._backbone: Backbone | None = None
        self._modules: dict[int, Any] = {}

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str = "cpu", model: str | None = None) -> ComplianceModel:
        """Open a checkpoint directory. ``model``: where the wav2vec2 backbone is now, if it moved
        (its weights must hash the same as at training time)."""
        d = Path(directory)
        if not (d / META_FILE).is_file():
            raise BenchError(f"{d}: no {META_FILE}; train classifiers with `bench train compliance --out {d}`")
        doc = read_meta(d)
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

    def _get_backbone(self) -> Backbone:
        if self._backbone is None:
            self._backbone = make_backbone(self.config, self.device, self.meta["features"])
        return self._backbone

    def _module(self, challenge: int):
        if challenge not in self._modules:
            import torch

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
        import torch

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
