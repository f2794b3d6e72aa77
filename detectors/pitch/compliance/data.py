"""Data for Pitch's compliance classifiers: the training plan (which corpus rows, challenges and
speaker-disjoint splits a run uses, checked before anything is written), decoding and cropping the
recordings, the cached model inputs in ``OUT/.cache``, and the per-challenge row selection."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import BenchError, save_torch, split_speakers
from bench.audio import entry_problem, load_entry
from bench.detectors.pitch.backbones import Backbone, CropFn, prepare_all
from bench.detectors.pitch.compliance.config import CACHE_DIR, FEATURE_CHUNK, TrainConfig


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
    from bench.data.corpus import content_hash, read_manifest

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

def _originals(corpus: str | os.PathLike):
    """Open a corpus of original recordings (not fakes); returns (dataset, metadata columns)."""
    from bench.data.corpus import open_dataset

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


def _load_crops(ds, indices: list[int], corpus: Path, crop: CropFn, workers: int) -> np.ndarray:
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

@dataclass
class Data:
    """Cached model inputs with each row's challenge and speaker."""

    inputs: Any
    challenge: np.ndarray
    subject: np.ndarray

    def rows(self, cid: int, speakers: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of #0 and #cid by ``speakers``, with labels (1 = challenge ``cid``)."""
        idx = np.flatnonzero(np.isin(self.challenge, [0, cid]) & np.isin(self.subject, speakers))
        return idx, (self.challenge[idx] == cid).astype(int)


def has_both(y: np.ndarray) -> bool:
    """Both labels (0 and 1) occur in ``y``."""
    return bool(len(y)) and 0 < int(y.sum()) < len(y)


def cached_inputs(out: Path, backbone: Backbone, ds, indices: list[int], corpus: Path, corpus_hash: str,
                   cfg: TrainConfig, meta: dict[str, list]):
    """Model inputs for the given rows, from ``OUT/.cache`` when an identical run made them."""
    import torch

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
        parts.append(prepare_all(backbone, crops))
    inputs = torch.cat(parts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob("inputs-*.pt"):
        old.unlink(missing_ok=True)
    save_torch(path, inputs)
    return inputs
