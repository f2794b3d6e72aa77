"""`bench evaluate --dataset`: a waveform detector on one split of a labelled field dataset.

Output directory: ``result.json`` (a :class:`~bench.evaluation.dataset_results.DatasetResult`),
``scores.parquet`` (one row per item: split, label, attack, speaker, conditions, score) and ``cache/`` (the
component cache :mod:`bench.runs.evaluate` keeps: an interrupted run resumes from its last finished batch).
For an ASVspoof layout it also writes ``scores.official.txt`` in the official evaluation's format
(``UTTERANCE ATTACK KEY SCORE``, score on the official scale: higher = bona fide, minus bench's score) and
reports the organisers' EER on it beside bench's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.api.detector import Detector, Sample
from bench.api.registry import DETECTORS
from bench.api.score_contract import check_finite_scores
from bench.countermeasures.base import CMDetector
from bench.data.labelled import LabelledItem, LabelledSet, open_labelled
from bench.errors import BenchError, RunFailed, first_line
from bench.evaluation.asvspoof_scoring import asvspoof_eer, min_tdcf_2019, write_official_scores
from bench.evaluation.dataset_results import DatasetResult, Deployment, GroupMetrics, OfficialScoring
from bench.evaluation.deployment import eer_threshold, errors_at
from bench.evaluation.estimates import metric_settings, metrics_for
from bench.evaluation.results import Estimate, RunPart, now, run_info, write_scores
from bench.models.assets import cache_root as cache_root_dir
from bench.outdir import check_output, claim_output
from bench.references.field import quoted_for
from bench.runs.evaluate import check_model_loads, compute_components

THRESHOLD_SOURCES = ("card", "dev")
OFFICIAL_SCORES = "scores.official.txt"


def waveform_detector(name: str, config: dict[str, Any]) -> CMDetector:
    """The detector, refused in one line unless it scores a waveform with one model (a field dataset has no
    challenge, script or reference recording)."""
    detector: Detector = DETECTORS.create(name, **config)
    if not isinstance(detector, CMDetector):
        raise BenchError(f"detector {name} scores challenge calls (it needs the challenge, script and a reference "
                         "recording); a field dataset has only audio and labels: use a waveform detector (aasist, "
                         "lfcc-lcnn, specrnet, rawnet2, svm, xgboost...)")
    return detector


def _duration(entry: dict[str, Any] | None) -> float | str:
    """Seconds of audio from the file's header (no decoding), or why it cannot be read."""
    if entry is None:
        return "no embedded audio bytes in this row (only audio stored in the parquet file is read)"
    try:
        if entry.get("bytes"):
            import io

            info = sf.info(io.BytesIO(entry["bytes"]))
        else:
            info = sf.info(entry["path"])
    except Exception as exc:  # soundfile raises its own LibsndfileError and RuntimeError
        return f"unreadable audio ({first_line(exc)})"
    return float(info.frames) / info.samplerate if info.samplerate else "unreadable audio (no sample rate)"


def to_samples(items: list[LabelledItem]) -> tuple[list[Sample], list[dict[str, str]]]:
    """Samples for the scoring engine (challenge 0, no script or reference) and the items whose audio header
    cannot be read (left out and reported, never scored as silence)."""
    samples, skipped = [], []
    for it in items:
        d = _duration(it.audio)
        if isinstance(d, str):
            skipped.append({"utterance_id": it.utterance_id, "split": it.split, "error": d})
            continue
        samples.append(Sample(f"{it.split}/{it.utterance_id}", it.label, 0, it.speaker, it.speaker, "",
                              "unknown", it.audio, None, d))
    return samples, skipped


#: items whose audio is held in memory at once (a streamed source's bytes, a chunk's samples)
CHUNK = 2048


def _chunks(data: LabelledSet) -> Iterator[list[LabelledItem]]:
    """The set's items in chunks of :data:`CHUNK`, each with its audio (a streamed source's bytes filled in
    from the second pass), so a split's audio is never all in memory."""
    stream = data.audio_stream() if data.audio_stream else None
    end = object()
    for start in range(0, len(data.items), CHUNK):
        chunk = data.items[start:start + CHUNK]
        if stream is not None:
            audio = [next(stream, end) for _ in chunk]
            if any(a is end for a in audio):
                raise RunFailed(f"{data.source}: the audio column ended before the labels did (the source changed "
                                "while it was read?); scored batches are kept")
            chunk = [replace(it, audio=a) for it, a in zip(chunk, audio, strict=True)]
        yield chunk
    if stream is not None and next(stream, end) is not end:  # read through: the stream's reader is closed
        raise RunFailed(f"{data.source}: more audio rows than labels (the source changed while it was read?)")


def audio_seconds(data: LabelledSet) -> list[float]:
    """Every readable item's duration from its header (a streamed source is read through chunk by chunk)."""
    out = []
    for chunk in _chunks(data):
        out += [d for it in chunk if not isinstance(d := _duration(it.audio), str)]
    return out


def score_sets(detector: CMDetector, sets: list[LabelledSet], cache_root: Path, workers: int
               ) -> tuple[dict[str, dict[str, Any]], dict[str, float], list[dict[str, str]], dict[str, Any]]:
    """Score every item of ``sets`` chunk by chunk through the component cache (resumable): the cm values and
    the audio seconds per ``split/utterance`` key, the items left out, and the timings summed over chunks."""
    components = detector.components()
    values: dict[str, dict[str, Any]] = {}
    durations: dict[str, float] = {}
    skipped: list[dict[str, str]] = []
    cpu = audio = 0.0
    for data in sets:
        for chunk in _chunks(data):
            samples, left_out = to_samples(chunk)
            skipped += left_out
            if not samples:
                continue
            got, timings = compute_components(components, samples, cache_root, workers)
            for s in samples:
                values[s.utterance_id] = {c.name: got[c.name][s.utterance_id] for c in components}
                durations[s.utterance_id] = s.duration_s
            cpu += sum(t["cpu_s"] for t in timings.values())
            audio += sum(s.duration_s for s in samples)
    return values, durations, skipped, {"component_cpu_s": cpu, "audio_s": audio,
                                         "rtfx_cpu": audio / cpu if cpu else None}


def score_rows(detector: CMDetector, items: list[LabelledItem], values: dict[str, dict[str, Any]],
               durations: dict[str, float]) -> list[dict[str, Any]]:
    """One scores.parquet row per scored item (split, label, attack, speaker, conditions, component values and
    the detector's score, checked finite); items left out have no row."""
    rows = []
    for it in items:
        key = f"{it.split}/{it.utterance_id}"
        if key not in values:
            continue  # left out (skipped): reported in evaluation_scope
        sample = Sample(key, it.label, 0, it.speaker, it.speaker, "", "unknown", {}, None, durations[key])
        derived = detector.combine(values[key], sample)
        check_finite_scores(derived["score"], f"the {detector.meta.name} score of {key}")
        rows.append({"utterance_id": it.utterance_id, "split": it.split, "label": it.label, "attack": it.attack,
                     "speaker": it.speaker, "duration_s": durations[key], **it.conditions,
                     **{f"cm.{k}": v for k, v in values[key]["cm"].items()}, **derived})
    return rows


def _breakdown(field: str, items: list[LabelledItem], labels: np.ndarray, scores: np.ndarray, n_boot: int,
               seed: int, llr: bool) -> list[GroupMetrics]:
    """Per value of ``field``. The attack, and any condition whose values bona fide items never share with
    spoofs (2021 DF's vocoder family), set each value's spoofs against every bona fide item, as the ASVspoof
    breakdowns do; any other condition (a codec both classes went through) compares the items with that
    value, both classes."""
    value_of = [it.attack if field == "attack" else it.conditions.get(field, "") for it in items]
    bona_values = {v for v, it in zip(value_of, items, strict=True) if it.label == 0}
    spoof_values = sorted({v for v, it in zip(value_of, items, strict=True) if it.label == 1})
    values = np.array(value_of, dtype=object)
    groups = []
    if field == "attack" or not bona_values & set(spoof_values):
        for v in spoof_values:
            pick = (labels == 0) | ((labels == 1) & (values == v))
            groups.append(GroupMetrics(value=v or "(none)", metrics=metrics_for(labels[pick], scores[pick], None,
                                                                                n_boot, seed, llr),
                                       compared_with="all bona fide"))
        return groups
    for v in sorted(bona_values | set(spoof_values)):
        pick = values == v
        groups.append(GroupMetrics(value=v or "(none)", metrics=metrics_for(labels[pick], scores[pick], None, n_boot,
                                                                           seed, llr),
                                   compared_with="bona fide with the same value"))
    return groups


def _estimate(d: dict[str, Any]) -> Estimate:
    return Estimate(value=d["value"], ci_low=d["ci_low"], ci_high=d["ci_high"])


def _deployments(detector: CMDetector, sources: list[str], given: float | None, dev_scores: dict[str, np.ndarray],
                 dev_name: str | None, labels: np.ndarray, scores: np.ndarray, n_boot: int,
                 seed: int) -> list[Deployment]:
    """Errors on the evaluation split at each carried-over threshold: given, the card's, the dev split's EER."""
    thresholds: list[tuple[float, str, str]] = []
    if given is not None:
        thresholds.append((given, "given", "--threshold"))
    if "card" in sources:
        sem = detector.score_semantics()
        thresholds.append((sem.threshold, f"model card ({detector.protocol} protocol)", sem.threshold_source))
    if "dev" in sources and dev_scores:
        thresholds.append((eer_threshold(dev_scores["labels"], dev_scores["scores"]), f"EER point of {dev_name}",
                           f"the EER threshold measured on split {dev_name}, carried over unchanged"))
    out = []
    for t, source, detail in thresholds:
        e = errors_at(labels, scores, t, n_boot, seed)
        out.append(Deployment(threshold=t, source=source, detail=detail, fpr=_estimate(e["fpr"]),
                              fnr=_estimate(e["fnr"]), hter=_estimate(e["hter"]), n_bona_fide=e["n_bona_fide"],
                              n_fake=e["n_fake"]))
    return out


def _official(out: Path, data: LabelledSet, rows: list[dict[str, Any]], protocol: str) -> OfficialScoring:
    """The official score file (protocol order) and the organisers' EER, overall and per attack."""
    official = [(r["utterance_id"], r["attack"], "spoof" if r["label"] else "bonafide", -r["score"])
                for r in rows if r["split"] == data.split]
    write_official_scores(out / OFFICIAL_SCORES, official)
    bona = np.array([s for _, _, k, s in official if k == "bonafide"])
    eer, thr = asvspoof_eer(bona, np.array([s for _, _, k, s in official if k == "spoof"]))
    per_attack = {a: asvspoof_eer(bona, np.array([s for _, att, k, s in official if k == "spoof" and att == a]))[0]
                  for a in sorted({att for _, att, k, _ in official if k == "spoof"})}
    spoof = np.array([s for _, _, k, s in official if k == "spoof"])
    tdcf = min_tdcf_2019(bona, spoof, *data.asv_scores) if data.asv_scores else None
    return OfficialScoring(protocol=protocol, eer=eer, threshold=thr, per_attack_eer=per_attack, min_tdcf=tdcf,
                           score_file=OFFICIAL_SCORES)


def evaluate_dataset(detector_name: str, dataset: str, out: str | Path, config: dict[str, Any] | None = None,
                     split: str | None = None, dev_split: str | None = None, threshold: float | None = None,
                     threshold_from: list[str] | None = None, revision: str | None = None,
                     columns: dict[str, str] | None = None, workers: int = 1, cache: str | Path | None = None,
                     n_boot: int = 1000, seed: int = 0, command: str | None = None,
                     overwrite: bool = False, audio_cache: str | Path | None | bool = True) -> DatasetResult:
    """Score one split of a labelled dataset (and ``dev_split``, for a carried-over threshold); write the
    result to ``out``. Everything is read and checked before ``out`` is claimed. A Hub split's streamed audio
    is kept under ``audio_cache`` (True: bench's cache root; False or None: not kept)."""
    t_start = time.perf_counter()
    if n_boot < 0 or seed < 0:
        raise BenchError("--bootstrap and --seed must be >= 0")
    if threshold is not None and not np.isfinite(threshold):
        raise BenchError("--threshold must be a finite number")
    sources = list(threshold_from) if threshold_from is not None else (["card", "dev"] if dev_split else ["card"])
    for s in sources:
        if s not in THRESHOLD_SOURCES:
            raise BenchError(f"--threshold-from {s!r}: use {' or '.join(THRESHOLD_SOURCES)}")
    if "dev" in sources and not dev_split:
        raise BenchError("--threshold-from dev needs --dev-split (the split whose EER threshold is carried over)")
    detector = waveform_detector(detector_name, config or {})
    detector.check("")
    keep = cache_root_dir() if audio_cache is True else (audio_cache or None)
    data = open_labelled(dataset, split, revision=revision, columns=columns, audio_cache=keep)
    dev = None
    if dev_split:
        if dev_split == data.split:
            raise BenchError(f"--dev-split {dev_split} is the split being evaluated; a threshold fixed on the same "
                             "data is not carried over")
        dev = open_labelled(dataset, dev_split, revision=revision, columns=columns, audio_cache=keep)
    check_model_loads(detector)
    items = data.items + (dev.items if dev else [])
    for label, what in ((0, "bona fide"), (1, "spoof")):
        if not any(it.label == label for it in data.items):
            raise BenchError(f"{dataset}: split {data.split} has no {what} item to score")
        if dev and "dev" in sources and not any(it.label == label for it in dev.items):
            raise BenchError(f"{dataset}: split {dev_split} has no {what} item: no EER threshold to carry over")
    out = Path(out)
    cache_root = Path(cache) if cache else out / "cache"
    settings = {"detector": detector_name, "config": config or {}, "dataset": data.name, "split": data.split,
                "dev_split": dev_split, "revision": data.revision}
    inputs = [dataset, *(v for v in (config or {}).values() if isinstance(v, str) and v and Path(v).exists())]
    check_output(out, "evaluate --dataset", settings, inputs=inputs, overwrite=overwrite)
    check_output(cache_root, "evaluate --cache", {}, inputs=inputs, flag="--cache", overwrite=overwrite and not cache)
    claim_output(out, "evaluate --dataset", settings, inputs=inputs, overwrite=overwrite)
    claim_output(cache_root, "evaluate --cache", {}, inputs=inputs, flag="--cache")
    values, durations, skipped, totals = score_sets(detector, [data, *([dev] if dev else [])], cache_root, workers)

    rows = score_rows(detector, items, values, durations)
    for label, what in ((0, "bona fide"), (1, "spoof")):
        if not any(r["label"] == label and r["split"] == data.split for r in rows):
            raise RunFailed(f"{dataset}: no {what} item of split {data.split} could be read "
                            f"({len(skipped)} left out: evaluation_scope)")
    write_scores(out / "scores.parquet", rows)

    by_key = {f"{it.split}/{it.utterance_id}": it for it in items}
    ev = [r for r in rows if r["split"] == data.split]
    ev_items = [by_key[f"{r['split']}/{r['utterance_id']}"] for r in ev]
    labels = np.array([r["label"] for r in ev])
    scores = np.array([r["score"] for r in ev], dtype=np.float64)
    llr = detector.scores_are_llrs()
    overall = metrics_for(labels, scores, None, n_boot, seed, llr)
    breakdowns = {f: _breakdown(f, ev_items, labels, scores, n_boot, seed, llr) for f in data.breakdowns()}
    dev_rows = [r for r in rows if dev and r["split"] == dev.split]
    dev_scores = {"labels": np.array([r["label"] for r in dev_rows]),
                  "scores": np.array([r["score"] for r in dev_rows], dtype=np.float64)} if dev_rows else {}
    if "dev" in sources and len(set(dev_scores.get("labels", np.array([])).tolist())) < 2:
        raise BenchError(f"split {dev_split} has not both bona fide and spoof items: no EER threshold to carry over")
    deployment = _deployments(detector, sources, threshold, dev_scores, dev_split, labels, scores, n_boot, seed)
    official = _official(out, data, rows, detector.protocol) if data.layout.startswith("asvspoof") else None
    card = detector.entry().card
    scope: dict[str, Any] = {"scored_splits": [data.split] + ([dev_split] if dev_split else []),
                             "metrics_split": data.split}
    if skipped:
        scope["skipped_samples"] = skipped
    notes = list(detector.notes) + data.notes
    if skipped:
        notes.append(f"{len(skipped)} item(s) whose audio header could not be read were left out (evaluation_scope)")
    result = DatasetResult(
        created=now(), detector=RunPart(name=detector.meta.name, version=detector.meta.version,
                                        config=detector.describe()),
        dataset=data.describe() | ({"dev_split": dev.describe()} if dev else {}), overall=overall,
        breakdowns=breakdowns, deployment=deployment, official=official,
        quoted=quoted_for(card.name, data.name, data.split), evaluation_scope=scope,
        metric_settings=metric_settings(n_boot, seed, llr),
        timings={**totals, "wall_s": time.perf_counter() - t_start, "samples": len(rows)},
        run=run_info(command), notes=notes)
    result.save(out / "result.json")
    return result
