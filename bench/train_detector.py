"""`bench train --detector NAME`: train a waveform detector on a corpus + fakes, store it as a model.

The run, for every seed: speaker-disjoint splits (:func:`bench.training.train_val_test`,
the test speakers Pitch's compliance classifiers hold out with the same seed), the
detector's own training (early stopping on the validation speakers, a checkpoint after
every epoch), then the held-out test speakers scored once for the card's metrics. The
folder ``--out`` is the model (``model.json`` + one weights file per seed) and resumes: a
finished seed is kept, an interrupted one continues from its last epoch. The finished
model is added to the local model store as ``NAME@VERSION``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.audio import entry_problem, load_entry
from bench.corpus import unusable_references
from bench.countermeasure import CMDetector, TrainingData, card_for
from bench.errors import BenchError
from bench.evaluate import build_samples, open_inputs
from bench.fileio import write_json
from bench.metrics import eer
from bench.modelstore import ModelEntry, add, hash_files, write_card
from bench.outdir import check_output, claim_output
from bench.registry import DETECTORS
from bench.result_metrics import estimates
from bench.results import now, run_info
from bench.training import train_val_test

DONE = "done.json"


def split_samples(samples: list, splits: dict[str, list[str]]) -> dict[str, list]:
    """Originals go with their speaker's split, fakes with their imposter's (who spoke them), as
    ``bench evaluate`` scopes them; a training or validation fake whose target is a test speaker is
    used by none, so no test speaker's voice reaches training."""
    where = {s: k for k, v in splits.items() for s in v}
    test = set(splits.get("test", []))
    out: dict[str, list] = {k: [] for k in splits}
    for s in samples:
        split = where.get(s.source_subject)
        if split is None or (split != "test" and s.subject in test):
            continue
        out[split].append(s)
    return out


def _load(samples: list, data: TrainingData, split: str) -> None:
    """Read ``split``'s usable recordings into ``data`` (waveforms, labels, ids, subjects, who spoke them)."""
    waves, labels, ids, speakers, sources = [], [], [], [], []
    for s in samples:
        if entry_problem(s.audio):
            continue
        waves.append(load_entry(s.audio))
        labels.append(s.label)
        ids.append(s.utterance_id)
        speakers.append(s.subject)
        sources.append(s.source_subject)
    data.waves[split], data.labels[split], data.ids[split] = waves, np.asarray(labels, dtype=np.int64), ids
    data.speakers[split], data.sources[split] = speakers, sources


def load_splits(samples: list, splits: dict[str, list[str]], say: Callable[[str], None] | None = None,
                names: Sequence[str] = ("train", "val", "test")) -> TrainingData:
    """The recordings of each split in ``names`` (speaker-disjoint ``splits``) read into a TrainingData."""
    by_split = split_samples(samples, splits)
    data = TrainingData({}, {}, {}, splits)
    for split in names:
        if say is not None:
            say(f"loading {split} audio ({len(by_split[split])} recordings)")
        _load(by_split[split], data, split)
    return data


def _metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    if len(set(labels.tolist())) < 2:
        return {"n": int(len(labels))}
    au, er = estimates(labels, scores, 200, 0)
    pred = scores >= threshold
    return {"n_bona_fide": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()), "auroc": au.value,
            "auroc_ci": [au.ci_low, au.ci_high], "eer": er.value, "eer_threshold": eer(labels, scores)[1],
            "accuracy_at_threshold": float((pred == labels.astype(bool)).mean()), "threshold": threshold}


def train_detector(detector_name: str, corpus: str | os.PathLike, fakes: str | os.PathLike, out: str | os.PathLike,
                   *, seeds: Sequence[int] = (0,), settings: dict[str, Any] | None = None, device: str = "cpu",
                   threads: int = 1, test_speakers: int | None = None, split_seed: int = 0,
                   name: str | None = None, register: bool = True, overwrite: bool = False,
                   command: str | None = None, progress: Callable[[str], None] | None = None) -> ModelEntry:
    """Train ``detector_name`` for each of ``seeds``; write the model to ``out`` and (``register``) the store."""
    say = progress or (lambda _msg: None)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not seeds or min(seeds) < 0:
        raise BenchError("--seeds must be one or more integers >= 0, e.g. 0,1,2")
    factory = DETECTORS.factory(detector_name)
    if not (isinstance(factory, type) and issubclass(factory, CMDetector)):
        raise BenchError(f"detector {detector_name} is not trained with bench train --detector (Pitch's "
                         "compliance classifiers: bench train compliance)")
    det: CMDetector = DETECTORS.create(detector_name, device=device, threads=threads)
    det.meta.check_device(device)
    resolved = det.resolve_settings(settings or {})
    corpus_ds, fakes_ds, cm, fm = open_inputs(corpus, fakes)
    rows = corpus_ds.to_list()
    samples = build_samples(rows, fakes_ds.to_list(), unusable_references(rows))
    splits = train_val_test(sorted({r["subject"] for r in rows}), test_speakers, split_seed)
    if not splits["val"]:
        raise BenchError(f"{corpus}: too few speakers for train, validation and test speakers "
                         f"({len({r['subject'] for r in rows})}; need at least 3)")
    arch = str(resolved.get("architecture", detector_name))
    model_name = name or (arch if arch.startswith(detector_name) else f"{detector_name}-{arch}")
    out = Path(out)
    params = {"detector": detector_name, "settings": resolved, "seeds": seeds, "corpus_hash": cm.get("content_hash"),
              "fakes_hash": fm.get("content_hash"), "test_speakers": test_speakers, "split_seed": split_seed,
              "name": model_name}
    check_output(out, "train --detector", params, inputs=[corpus, fakes], overwrite=overwrite)
    claim_output(out, "train --detector", params, inputs=[corpus, fakes], overwrite=overwrite)
    data = load_splits(samples, splits, say)
    if len(set(data.labels["train"].tolist())) < 2:
        raise BenchError(f"the training speakers {splits['train']} need both originals and fakes made between them "
                         "(generate fakes with imposters and targets among them)")

    per_seed: dict[str, Any] = {}
    files: list[str] = []
    t_all = time.perf_counter()
    for seed in seeds:
        folder = out / f"seed-{seed}"
        done = folder / DONE
        if done.is_file():
            say(f"seed {seed}: already trained (kept)")
            per_seed[str(seed)] = json.loads(done.read_text())
        else:
            say(f"seed {seed}: training")
            info = det.train(data, folder, seed, resolved, tick=lambda rec, s=seed: say(
                f"seed {s} {rec['stage'] + ' ' if rec.get('stage') else ''}epoch {rec['epoch']}: "
                f"train loss {rec['train_loss']:.4f}"
                + (f", val loss {rec['val_loss']:.4f}" if "val_loss" in rec else "")))
            info["files"] = [f"seed-{seed}/{f}" for f in info["files"]]
            write_json(done, info)
            per_seed[str(seed)] = info
        files += per_seed[str(seed)]["files"]
    first = per_seed[str(seeds[0])]
    card = card_for(det, model_name, architecture=first.get("architecture", ""), params=first.get("params", {}),
                    n_params=first.get("n_params"), seeds=seeds, input=first.get("input") or det.input_spec.to_dict(),
                    trained_on=(f"{first['init']['trained_on']} ({first['init']['model']}), fine-tuned on "
                                if first.get("init") else "")
                    + f"{cm.get('name') or Path(corpus).name} + {fm.get('name') or Path(fakes).name} "
                               f"({'simulated' if cm.get('simulated') else 'recorded'} corpus), speakers "
                               f"{', '.join(splits['train'] + splits['val'])}",
                    files=hash_files(out, files), created=now(), bench_version=__version__,
                    training={"corpus": {"path": str(corpus), "content_hash": cm.get("content_hash"),
                                         "name": cm.get("name"), "simulated": bool(cm.get("simulated"))},
                              "fakes": {"path": str(fakes), "content_hash": fm.get("content_hash"),
                                        "generator": (fm.get("generator") or {}).get("name")},
                              "splits": splits, "split_seed": split_seed, "counts": data.counts(),
                              "settings": resolved, "device": device, "threads": threads,
                              "per_seed": {k: {kk: vv for kk, vv in v.items() if kk != "files"}
                                           for k, v in per_seed.items()},
                              "seconds": sum(v["fit"]["seconds"] for v in per_seed.values()),
                              "wall_s_this_run": time.perf_counter() - t_all,
                              "run": run_info(command).model_dump()})
    write_card(out, card)
    entry = ModelEntry(out, card)
    card.metrics = _held_out_metrics(det, entry, data, say)
    write_card(out, card)
    if register:
        entry = add(out, card)
        say(f"stored as {entry.card.ref} in {entry.folder.parent.parent}")
    return entry


def _held_out_metrics(det: CMDetector, entry: ModelEntry, data: TrainingData, say: Callable[[str], None]
                      ) -> dict[str, Any]:
    """Validation and test metrics per seed and their mean +- std (threshold: the card's)."""
    det._entry = entry
    scorer = det.load_scorer()
    threshold = float(entry.card.semantics.get("threshold", 0.0))
    out: dict[str, Any] = {}
    for split in ("val", "test"):
        if not len(data.labels[split]):
            continue
        say(f"scoring the {split} speakers ({len(data.labels[split])} recordings)")
        scores = scorer.scores(data.waves[split], det.batch_size)
        per = {str(s): _metrics(data.labels[split], scores[k], threshold) for k, s in enumerate(scorer.seeds)}
        out[split] = per
        aurocs = [m["auroc"] for m in per.values() if m.get("auroc") is not None]
        eers = [m["eer"] for m in per.values() if m.get("eer") is not None]
        if aurocs:
            std = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else None)  # noqa: E731 - sample std over seeds
            out[f"{split}_summary"] = {"auroc_mean": float(np.mean(aurocs)), "auroc_std": std(aurocs),
                                       "eer_mean": float(np.mean(eers)), "eer_std": std(eers),
                                       "seeds": len(aurocs), "std": "sample standard deviation over seeds (ddof 1)"}
    return out

