"""`bench train --detector NAME`: train a waveform detector on a corpus + fakes, store it as a model.

The run, for every seed: speaker-disjoint splits (:func:`bench.countermeasures.training.train_val_test`,
the test speakers Pitch's compliance classifiers hold out with the same seed), the
detector's own training (early stopping on the validation speakers, a checkpoint after
every epoch), then the held-out test speakers scored once for the card's metrics. The
folder ``--out`` is the model (``model.json`` + one weights file per seed) and resumes: a
finished seed is kept, an interrupted one continues from its last epoch. The finished
model is added to the local model store as ``NAME@VERSION``.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.api.registry import DETECTORS
from bench.audio import entry_problem, load_entry
from bench.countermeasures.base import CMDetector, TrainingData, card_for
from bench.countermeasures.torch_model import TorchCMDetector
from bench.countermeasures.training import train_val_test
from bench.data.corpus import unusable_references
from bench.errors import BenchError
from bench.evaluation.detection_metrics import eer
from bench.evaluation.estimates import estimates
from bench.evaluation.results import now, run_info
from bench.fileio import read_json, write_json
from bench.models.store import ModelEntry, add, hash_files, parse_ref, resolve, write_card
from bench.outdir import check_output, claim_output
from bench.runlock import folder_lock
from bench.runs.evaluate import build_samples, open_inputs

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


MAX_SEED = 2**32 - 1  # what NumPy's legacy seeding and torch's generators accept alike


def check_seeds(seeds: Sequence[int], flag: str = "--seeds") -> list[int]:
    """The distinct seeds, each in 0..2**32-1; a one-line BenchError otherwise."""
    out = list(dict.fromkeys(int(s) for s in seeds))
    if not out or min(out) < 0 or max(out) > MAX_SEED:
        raise BenchError(f"{flag} must be one or more integers from 0 to {MAX_SEED}, e.g. 0,1,2")
    return out


def _typed(detector: str, key: str, value: Any, default: Any) -> Any:
    """``value`` (a ``--set`` text, or a typed value from Python) as the type of the setting's default."""
    where = f"{detector}: --set {key}={value}"
    if isinstance(default, bool):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, bool):
            return value
        raise BenchError(f"{where}: must be true or false")
    if isinstance(default, int):
        if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,18}", value.strip()):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise BenchError(f"{where}: must be an integer")
    if isinstance(default, float):
        try:
            number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise BenchError(f"{where}: must be a finite number")
        return number
    if isinstance(default, str) and not isinstance(value, str):
        raise BenchError(f"{where}: must be text")
    return value


def check_settings(det: CMDetector, settings: dict[str, Any]) -> dict[str, Any]:
    """The detector's training settings with ``settings`` overlaid, every value parsed as the type its default
    declares and checked by the detector; a one-line BenchError for any bad key or value."""
    defaults = det.training_defaults()
    typed = {k: _typed(det.meta.name, k, v, defaults[k]) if k in defaults else v for k, v in settings.items()}
    try:
        return det.resolve_settings(typed)  # unknown keys, ranges, architectures
    except (TypeError, ValueError) as exc:
        raise BenchError(f"{det.meta.name}: bad training setting ({str(exc).splitlines()[0][:160]})") from None


def check_model_name(name: str) -> str:
    """``name`` if the model store can hold a model under it (its NAME rule, no @VERSION)."""
    try:
        version = parse_ref(name)[1]
    except BenchError:
        version = ""
    if version is not None:
        raise BenchError(f"--name {name!r}: a model name is lowercase letters, digits, '.', '_' and '-', starting "
                         "with a letter or digit, without @VERSION")
    return name


def referenced_inputs(det: CMDetector, settings: dict[str, Any]) -> list[Path]:
    """The models and folders the settings name (``init=NAME@VERSION``, ``pretrained=FOLDER``), resolved,
    verified and loaded into a fresh network now, before anything is written; their folders are inputs."""
    init, pretrained = str(settings.get("init") or ""), str(settings.get("pretrained") or "")
    if not (init or pretrained) or not isinstance(det, TorchCMDetector):
        return []
    net = det.build(det.network_params(settings))
    paths = []
    if init:
        det.initialise(net, init, settings["architecture"])
        paths.append(resolve(init).folder)
    if pretrained:
        det.load_pretrained(net, settings)
        paths.append(Path(pretrained))
    return paths


def _trainable(detector_name: str, device: str, threads: int) -> CMDetector:
    factory = DETECTORS.factory(detector_name)
    if not (isinstance(factory, type) and issubclass(factory, CMDetector)):
        raise BenchError(f"detector {detector_name} is not trained with bench train --detector (Pitch's "
                         "compliance classifiers: bench train compliance)")
    det: CMDetector = DETECTORS.create(detector_name, device=device, threads=threads)
    det.meta.check_device(device)
    return det


def _read_record(path: Path, what: str) -> dict[str, Any]:
    try:
        return read_json(path, what)
    except BenchError as exc:
        raise BenchError(f"{exc}; rerun with --overwrite to train again") from None


def finished_seeds(out: Path, seeds: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The records (``seed-N/done.json``) of the seeds already trained in ``out``, checked: a record that is not
    a finished seed's, or names files outside its seed's folder, is a one-line BenchError."""
    done = {}
    for seed in seeds:
        path = out / f"seed-{seed}" / DONE
        if not os.path.lexists(path):
            continue
        rec = _read_record(path, "finished-seed record")
        files, fit = rec.get("files"), rec.get("fit")
        folder = (out / f"seed-{seed}").resolve()
        if not (isinstance(files, list) and files and isinstance(fit, dict)
                and isinstance(fit.get("seconds"), int | float)
                and all(isinstance(f, str) and f.startswith(f"seed-{seed}/") and (out / f).is_file()
                        and not (out / f).is_symlink() and folder in (out / f).resolve().parents for f in files)):
            raise BenchError(f"{path}: not the record of a finished seed (files, fit); rerun with --overwrite to "
                             "train again")
        done[seed] = rec
    return done


def stored_version(out: Path) -> ModelEntry | None:
    """The store's copy of the model ``out`` holds, when ``out/done.json`` records one that is still there with
    the same files; None otherwise (never registered, removed since, or another store)."""
    path = out / DONE
    if not os.path.lexists(path):
        return None
    rec = _read_record(path, "training record")
    ref, files = rec.get("stored_as"), rec.get("files")
    if not (ref is None or isinstance(ref, str)) or not isinstance(files, dict):
        raise BenchError(f"{path}: not a training record (stored_as, files); rerun with --overwrite to train again")
    if not ref:
        return None
    try:
        entry = resolve(ref)
    except BenchError:  # removed from the store, or another BENCH_MODEL_STORE
        return None
    return entry if entry.card.files == files else None


def train_detector(detector_name: str, corpus: str | os.PathLike,
                   fakes: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike,
                   *, seeds: Sequence[int] = (0,), settings: dict[str, Any] | None = None, device: str = "cpu",
                   threads: int = 1, test_speakers: int | None = None, split_seed: int = 0,
                   name: str | None = None, register: bool = True, overwrite: bool = False,
                   command: str | None = None, progress: Callable[[str], None] | None = None) -> ModelEntry:
    """Train ``detector_name`` for each of ``seeds``; write the model to ``out`` and (``register``) the store.

    Every input is checked before the first write (flags, settings, the models they name, the
    corpus, the output folder and what an earlier run left there); the run then holds a lock on
    ``out``. A rerun of a finished, registered training reports the stored version instead of
    adding another. ``fakes``: one fakes folder, or several made from the corpus by different generators
    (trained on together: the cross-generator matrix's "mixed" row).
    """
    say = progress or (lambda _msg: None)
    seeds = check_seeds(seeds)
    check_seeds([split_seed], "--split-seed")
    det = _trainable(detector_name, device, threads)
    resolved = check_settings(det, settings or {})
    arch = str(resolved.get("architecture", detector_name))
    model_name = check_model_name(name or (arch if arch.startswith(detector_name) else f"{detector_name}-{arch}"))
    fakes_list = _fakes_list(fakes)
    inputs = [corpus, *fakes_list, *referenced_inputs(det, resolved)]
    corpus_ds, cm, fake_rows, fms = _open_training_inputs(corpus, fakes_list)
    rows = corpus_ds.to_list()
    samples = build_samples(rows, fake_rows, unusable_references(rows))
    splits = train_val_test(sorted({r["subject"] for r in rows}), test_speakers, split_seed)
    if not splits["val"]:
        raise BenchError(f"{corpus}: too few speakers for train, validation and test speakers "
                         f"({len({r['subject'] for r in rows})}; need at least 3)")
    out = Path(out)
    params = {"detector": detector_name, "settings": resolved, "seeds": seeds, "corpus_hash": cm.get("content_hash"),
              "fakes_hash": fms[0].get("content_hash") if len(fms) == 1 else [m.get("content_hash") for m in fms],
              "test_speakers": test_speakers, "split_seed": split_seed,
              "name": model_name}
    check_output(out, "train --detector", params, inputs=inputs, overwrite=overwrite)
    if not overwrite:  # what an earlier run left is read before anything is written (--overwrite empties it)
        finished_seeds(out, seeds)
        if stored_version(out) is not None and register:  # finished and stored: no audio to load
            with folder_lock(out, "bench train"):
                if (stored := _report_stored(out, say)) is not None:
                    return stored
    data = load_splits(samples, splits, say)
    if len(set(data.labels["train"].tolist())) < 2:
        raise BenchError(f"the training speakers {splits['train']} need both originals and fakes made between them "
                         "(generate fakes with imposters and targets among them)")
    with folder_lock(out, "bench train"):
        claim_output(out, "train --detector", params, inputs=inputs, overwrite=overwrite)
        if register and (stored := _report_stored(out, say)) is not None:  # a run that finished meanwhile
            return stored
        entry = _train_seeds(det, data, out, seeds, resolved, say, model_name=model_name, corpus=corpus,
                             fakes=fakes_list, cm=cm, fms=fms, device=device, threads=threads,
                             split_seed=split_seed, command=command)
        if register:
            entry = add(out, entry.card)
            say(f"stored as {entry.card.ref} in {entry.folder.parent.parent}")
        if register or not os.path.lexists(out / DONE):  # --no-register keeps the record of an earlier registration
            write_json(out / DONE, {"stored_as": entry.card.ref if register else None, "files": entry.card.files})
    return entry


def _fakes_list(fakes: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """One fakes folder or several, as paths; the same folder twice is an error."""
    paths = [Path(fakes)] if isinstance(fakes, str | os.PathLike) else [Path(f) for f in fakes]
    if not paths:
        raise BenchError("give at least one --fakes folder")
    seen: dict[Path, Path] = {}
    for p in paths:
        if p.resolve() in seen:
            raise BenchError(f"--fakes {p} is given twice (as {seen[p.resolve()]}); give each fakes folder once")
        seen[p.resolve()] = p
    return paths


def _open_training_inputs(corpus: str | os.PathLike, fakes: list[Path]
                          ) -> tuple[Any, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus dataset, its manifest, every fakes folder's rows together, their manifests), each fakes folder
    checked against the corpus; fakes folders that share a fake id (the same generator twice) are refused."""
    fake_rows: list[dict[str, Any]] = []
    manifests, owner = [], {}
    for f in fakes:
        corpus_ds, fakes_ds, cm, fm = open_inputs(corpus, f)
        for r in fakes_ds.to_list():
            if r["utterance_id"] in owner:
                raise BenchError(f"{f} and {owner[r['utterance_id']]} hold the same fake {r['utterance_id']!r} (one "
                                 "generator's fakes twice?); give fakes of different generators")
            owner[r["utterance_id"]] = f
            fake_rows.append(r)
        manifests.append(fm)
    return corpus_ds, cm, fake_rows, manifests


def _report_stored(out: Path, say: Callable[[str], None]) -> ModelEntry | None:
    stored = stored_version(out)
    if stored is not None:
        say(f"already trained and stored as {stored.card.ref} (kept; --overwrite trains again)")
    return stored


def _train_seeds(det: CMDetector, data: TrainingData, out: Path, seeds: list[int], resolved: dict[str, Any],
                 say: Callable[[str], None], *, model_name: str, corpus: str | os.PathLike,
                 fakes: list[Path], cm: dict[str, Any], fms: list[dict[str, Any]], device: str, threads: int,
                 split_seed: int, command: str | None) -> ModelEntry:
    """Train the seeds not finished yet, then write ``out``'s model card with its held-out metrics."""
    splits = data.splits
    per_seed: dict[str, Any] = {str(k): v for k, v in finished_seeds(out, seeds).items()}
    files: list[str] = []
    t_all = time.perf_counter()
    for seed in seeds:
        if str(seed) in per_seed:
            say(f"seed {seed}: already trained (kept)")
        else:
            say(f"seed {seed}: training")
            folder = out / f"seed-{seed}"
            info = det.train(data, folder, seed, resolved, tick=lambda rec, s=seed: say(
                f"seed {s} {rec['stage'] + ' ' if rec.get('stage') else ''}epoch {rec['epoch']}: "
                f"train loss {rec['train_loss']:.4f}"
                + (f", val loss {rec['val_loss']:.4f}" if "val_loss" in rec else "")))
            info["files"] = [f"seed-{seed}/{f}" for f in info["files"]]
            write_json(folder / DONE, info)
            per_seed[str(seed)] = info
        files += per_seed[str(seed)]["files"]
    first = per_seed[str(seeds[0])]
    described = [{"path": str(f), "content_hash": m.get("content_hash"),
                  "generator": (m.get("generator") or {}).get("name")} for f, m in zip(fakes, fms, strict=True)]
    card = card_for(det, model_name, architecture=first.get("architecture", ""), params=first.get("params", {}),
                    n_params=first.get("n_params"), seeds=seeds, input=first.get("input") or det.input_spec.to_dict(),
                    trained_on=(f"{first['init']['trained_on']} ({first['init']['model']}), fine-tuned on "
                                if first.get("init") else "")
                    + f"{cm.get('name') or Path(corpus).name} + "
                    + " + ".join(m.get("name") or f.name for m, f in zip(fms, fakes, strict=True)) + " "
                               f"({'simulated' if cm.get('simulated') else 'recorded'} corpus), speakers "
                               f"{', '.join(splits['train'] + splits['val'])}",
                    files=hash_files(out, files), created=now(), bench_version=__version__,
                    training={"corpus": {"path": str(corpus), "content_hash": cm.get("content_hash"),
                                         "name": cm.get("name"), "simulated": bool(cm.get("simulated"))},
                              "fakes": described[0] if len(described) == 1 else described,
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

