"""`bench evaluate`: score originals and fakes with a detector, cache components, compute metrics.

Output directory: ``result.json`` (the validated results document), ``scores.parquet``
(one row per sample: label, challenge, every component value, the score) and
``cache/<component>-<config hash>/part-*.parquet`` (resumable component caches; point
``--cache`` at a shared folder to reuse them across results).

Every cached value keeps the CPU time spent computing it, so the throughput in
``result.json`` counts the compute behind every value used, whether this run computed it
or an interrupted earlier run (or another result sharing the cache) did: a resumed run
reports the same throughput as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.api.detector import Component, Detector, Sample
from bench.api.registry import DETECTORS
from bench.api.score_contract import check_finite_scores
from bench.audio import SAMPLE_RATE, entry_problem
from bench.challenges.taxonomy import all_challenges, check_ids
from bench.challenges.taxonomy import get as get_challenge
from bench.data.corpus import known_hashes, open_dataset, read_manifest, unusable_references
from bench.errors import BenchError, RunFailed, first_line
from bench.evaluation.detection_metrics import eer
from bench.evaluation.estimates import estimates, metric_settings, metrics_for, seed_spread
from bench.evaluation.paper_comparison import paper_comparison, rank_challenges, summary
from bench.evaluation.results import ChallengeResult, Estimate, Result, RunPart, now, run_info, write_scores
from bench.fileio import write_atomic
from bench.outdir import check_output, claim_output
from bench.parallel import process_memo, run_items
from bench.references.pitch import top10

UNIT_SIZE = 16


def build_samples(corpus_rows: list[dict], fake_rows: list[dict],
                  bad_references: dict[str, str] | None = None) -> list[Sample]:
    """Originals (label 0) and successful fakes (label 1), each with a speaker-match reference
    (never one of ``bad_references``)."""
    zero_by_subject: dict[str, list[dict]] = defaultdict(list)
    for r in corpus_rows:
        if r["challenge"] == 0 and r["utterance_id"] not in (bad_references or {}):
            zero_by_subject[r["subject"]].append(r)
    for v in zero_by_subject.values():
        v.sort(key=lambda r: r["utterance_id"])

    def match_for(subject: str, avoid: set[str], sentence: int) -> dict | None:
        cands = [r for r in zero_by_subject.get(subject, []) if r["utterance_id"] not in avoid]
        other_sentence = [r for r in cands if r["sentence_id"] != sentence]
        pick = (other_sentence or cands or [None])[0]
        return pick["audio"] if pick else None

    samples = []
    for r in corpus_rows:
        samples.append(Sample(r["utterance_id"], 0, r["challenge"], r["subject"], r["subject"], r["script"],
                              r["device"], r["audio"], match_for(r["subject"], {r["utterance_id"]}, r["sentence_id"]),
                              r["duration_s"]))
    for r in fake_rows:
        if r["status"] != "ok" or r["audio"] is None:
            continue
        samples.append(Sample(r["utterance_id"], 1, r["challenge"], r["target"], r["imposter"], r["script"],
                              r["device"], r["audio"], match_for(r["target"], {r["reference_id"]}, r["sentence_id"]),
                              r["duration_s"]))
    return samples


# ---------------------------------------------------------------- component cache
def sample_key(s: Sample) -> str:
    """What a component value depends on besides the component's settings: the audio, the speaker-match
    reference and the challenge. Cached values are reused only for the same key, so two corpora that
    share utterance ids never share values through a common ``--cache``."""
    h = hashlib.sha1(f"{s.challenge}|".encode())
    for entry in (s.audio, s.match_audio):
        entry = entry or {}
        h.update(entry.get("bytes") or (entry.get("path") or "").encode())
        h.update(b"|")
    return h.hexdigest()


def _read_cache(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, float], dict[str, str]]:
    """(values, CPU seconds, sample key) per utterance id from a component's cache parts.

    A torn part (a crash while writing) is deleted and recomputed; a part in another format
    (an older bench, another tool) is left alone and not used.
    """
    values: dict[str, dict[str, Any]] = {}
    cpu: dict[str, float] = {}
    keys: dict[str, str] = {}
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            rows = pq.read_table(part).to_pylist()
        except (pa.ArrowInvalid, OSError):
            part.unlink(missing_ok=True)
            continue
        try:
            parsed = [(r["utterance_id"], json.loads(r["values"]), r["cpu_s"], r["sample_key"]) for r in rows]
        except (KeyError, TypeError, ValueError):
            continue
        for uid, v, c, k in parsed:
            values[uid], cpu[uid], keys[uid] = v, c, k
    return values, cpu, keys


def _write_part(folder: Path, values: dict[str, dict[str, Any]], cpu: dict[str, float],
                keys: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"utterance_id": list(values), "values": [json.dumps(v) for v in values.values()],
                      "cpu_s": [float(cpu[u]) for u in values], "sample_key": [keys[u] for u in values]})
    tmp = folder / f".part-{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp)
    tmp.rename(folder / f"part-{uuid.uuid4().hex}.parquet")


def _compute_unit(unit: tuple[Component, list[Sample]]) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Values per sample and the unit's CPU time shared out by duration (equally when durations are 0)."""
    component, samples = unit
    # once per process (a worker gets a fresh copy of the component with every unit): loading is not part of the
    # per-sample cost
    component = process_memo(f"component {component.cache_key()} {sorted(component.config.items(), key=str)!r}",
                             lambda: _loaded(component))
    c0 = time.process_time()
    values = component.compute(samples)
    cpu = time.process_time() - c0
    total = sum(s.duration_s for s in samples)
    share = {s.utterance_id: cpu * (s.duration_s / total if total > 0 else 1 / len(samples)) for s in samples}
    return {s.utterance_id: v for s, v in zip(samples, values, strict=True)}, share


def _loaded(component: Component) -> Component:
    component.load()
    return component


def compute_components(components: list[Component], samples: list[Sample], cache_root: Path,
                       workers: int) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Fill every component's cache for ``samples``; returns (values per component, timings).

    Timings per component add up the CPU time recorded with every value used (cached or
    computed now). Values cached for another audio (same utterance id, other corpus) are
    recomputed.
    """
    values: dict[str, dict[str, dict[str, Any]]] = {}
    cpu_of: dict[str, dict[str, float]] = {}
    keys = {s.utterance_id: sample_key(s) for s in samples}
    units = []
    for comp in components:
        folder = cache_root / comp.cache_key()
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "component.json", json.dumps(comp.describe(), indent=2, default=str).encode())
        cached, cpu, cached_keys = _read_cache(folder)
        fresh = {u for u in cached if cached_keys.get(u) == keys.get(u)}
        values[comp.name] = {u: cached[u] for u in fresh}
        cpu_of[comp.name] = {u: cpu[u] for u in fresh}
        groups: dict[Any, list[Sample]] = defaultdict(list)
        for s in samples:
            if s.utterance_id not in fresh:
                groups[comp.group_key(s)].append(s)
        for group in groups.values():
            for i in range(0, len(group), UNIT_SIZE):
                units.append((comp, group[i:i + UNIT_SIZE]))
    by_name = {c.name: c for c in components}
    errors = []
    for outcome in run_items(_compute_unit, units, workers=workers, description="scoring"):
        comp, batch = outcome.item
        if not outcome.ok:
            errors.append(f"{comp.name} on {batch[0].utterance_id}...: {outcome.error}")
            continue
        got, cpu = outcome.result
        _write_part(cache_root / by_name[comp.name].cache_key(), got, cpu, keys)
        values[comp.name].update(got)
        cpu_of[comp.name].update(cpu)
    if errors:  # metrics on a subset would be silently biased: the run fails, keeping what it scored
        raise RunFailed(f"{len(errors)} scoring batch(es) failed; first: {errors[0]} "
                        "(finished batches are cached: fix the cause and rerun)")
    return values, {c.name: _component_timing(cpu_of[c.name], samples) for c in components}


def _component_timing(cpu: dict[str, float], samples: list[Sample]) -> dict[str, Any]:
    cpu_s = float(sum(cpu[s.utterance_id] for s in samples))
    audio_s = float(sum(s.duration_s for s in samples))
    return {"cpu_s": cpu_s, "audio_s": audio_s, "rtfx": audio_s / cpu_s if cpu_s > 0 else None}


def open_inputs(corpus: str | Path, fakes: str | Path) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """(corpus dataset, fakes dataset, their manifests), checked: the right kinds, known challenge ids, and
    fakes made from this corpus."""
    corpus_ds, fakes_ds = open_dataset(corpus), open_dataset(fakes)
    if "generator" not in fakes_ds.column_names:
        raise BenchError(f"{fakes}: not a fakes dataset (run `bench generate` first)")
    if "generator" in corpus_ds.column_names:
        raise BenchError(f"{corpus}: is a fakes dataset; --corpus needs the original recordings")
    for path, ds in ((corpus, corpus_ds), (fakes, fakes_ds)):
        check_ids(ds["challenge"], str(path))
    cm, fm = read_manifest(corpus), read_manifest(fakes)
    if _channel_key(cm) != _channel_key(fm):
        raise BenchError(f"{corpus} and {fakes} went through different telephone channels ({_channel(cm)} and "
                         f"{_channel(fm)}): pass both through one `bench data channel CORPUS OUT --fakes FAKES` run")
    want = (fm.get("corpus") or {}).get("content_hash")
    if want and cm.get("content_hash") and want not in known_hashes(cm):
        raise BenchError(f"{fakes} was generated from another corpus (hash {want}, {corpus} has "
                         f"{cm['content_hash']})")
    return corpus_ds, fakes_ds, cm, fm


def _channel_key(manifest: dict[str, Any]) -> tuple[Any, ...] | None:
    """What makes two datasets' channels the same: the profile, the chain and the seed."""
    ch = manifest.get("channel")
    return None if not ch else (ch.get("profile"), ch.get("chain"), ch.get("seed"))


def _upsampled(channel: dict[str, Any]) -> dict[str, Any]:
    """What the result says when a channel stored its audio below the 16 kHz bench hands every detector: it was
    upsampled when read."""
    rate = (channel.get("chain") or {}).get("rate", SAMPLE_RATE)
    if rate == SAMPLE_RATE:
        return {}
    return {"resampled": {"stored_hz": rate, "read_at_hz": SAMPLE_RATE,
                          "how": "polyphase upsampling when read (bench.audio.load_entry); the band above "
                                 f"{rate // 2} Hz stays empty"}}


def _channel(manifest: dict[str, Any]) -> str:
    ch = manifest.get("channel")
    return "none" if not ch else str(ch.get("profile") or ch.get("chain"))


def check_model_loads(detector: Detector) -> None:
    """Load a trained-model detector's model once now, before anything is written: a model that exists and
    matches its checksums but cannot be loaded (weights that do not fit, a file torch refuses) is one line and
    exit 2 here, not a failed batch in every worker after the output folder was claimed."""
    from bench.countermeasures.base import CMDetector

    if not isinstance(detector, CMDetector):
        return
    try:
        detector.load_scorer()
    except BenchError as exc:  # whatever its kind (a worker's FatalError...), here it is bad input
        raise BenchError(str(exc)) from None
    except Exception as exc:  # a model file the detector's own loader does not guard
        raise BenchError(f"model {detector.model_ref}: cannot be loaded ({type(exc).__name__}: "
                         f"{first_line(exc)})") from None


def evaluate(detector_name: str, corpus: str | Path, fakes: str | Path, out: str | Path,
             config: dict[str, Any] | None = None, workers: int = 1, cache: str | Path | None = None,
             threshold: float | None = None, n_boot: int = 1000, seed: int = 0, top_threshold: float = 0.70,
             top_n: int = 10, command: str | None = None, overwrite: bool = False,
             held_out_only: bool = False) -> Result:
    """Run ``detector_name`` on originals of ``corpus`` and the fakes in ``fakes``; write results to ``out``.

    ``out`` belongs to one (detector, settings, corpus, fakes) run: rerunning it resumes
    from the component caches (metric settings such as ``threshold`` may change);
    anything else there is refused unless ``overwrite``. ``held_out_only``: do not score the
    samples of speakers the detector trained on (they never count in the metrics; scoring
    them only serves `bench data subset`), which halves the work of a typical run.
    """
    t_start = time.perf_counter()
    if n_boot < 0:
        raise BenchError("--bootstrap must be >= 0")
    if seed < 0:
        raise BenchError("--seed must be >= 0")
    if threshold is not None and not np.isfinite(threshold):
        raise BenchError("--threshold must be a finite number")
    corpus_ds, fakes_ds, cm, fm = open_inputs(corpus, fakes)
    out = Path(out)
    detector: Detector = DETECTORS.create(detector_name, **(config or {}))
    detector.check(str(corpus))
    check_model_loads(detector)
    corpus_rows, fake_rows = corpus_ds.to_list(), fakes_ds.to_list()
    samples = build_samples(corpus_rows, fake_rows, unusable_references(corpus_rows))
    skipped = [{"utterance_id": s.utterance_id, "error": problem} for s in samples
               if (problem := entry_problem(s.audio))]
    if skipped:  # corrupt rows are reported and left out, as `bench data load` does, never scored as silence
        bad = {x["utterance_id"] for x in skipped}
        samples = [s for s in samples if s.utterance_id not in bad]
    for label, what in ((1, f"{fakes}: no successful fakes to score"), (0, f"{corpus}: no originals to score")):
        if not any(s.label == label for s in samples):
            raise BenchError(what + (f" ({len(skipped)} undecodable)" if skipped else ""))
    # every path among the settings is an input (a model folder inside --out must survive --overwrite)
    inputs = [corpus, fakes, *(v for v in (config or {}).values() if isinstance(v, str) and v and Path(v).exists())]
    settings = {"detector": detector_name, "config": config or {}, "corpus_hash": cm.get("content_hash"),
                "fakes_hash": fm.get("content_hash")}
    cache_root = Path(cache) if cache else out / "cache"
    if cache and (cache_root.resolve() == out.resolve() or cache_root.resolve() in out.resolve().parents):
        raise BenchError(f"--cache {cache} is --out or contains it; give the cache its own folder (or omit "
                         "--cache: the default is OUT/cache)")
    # any evaluate may share a cache (entries are keyed by component settings and audio), nothing else writes there
    check_output(out, "evaluate", settings, inputs=inputs, overwrite=overwrite)
    check_output(cache_root, "evaluate --cache", {}, inputs=inputs, flag="--cache",
                 overwrite=overwrite and not cache)
    claim_output(out, "evaluate", settings, inputs=inputs, overwrite=overwrite)
    claim_output(cache_root, "evaluate --cache", {}, inputs=inputs, flag="--cache")
    detector.prepare(str(corpus), str(out))
    trained_on = detector.scope_speakers() or set()
    if held_out_only and trained_on and len({s.label for s in samples if s.source_subject not in trained_on}) == 2:
        samples = [s for s in samples if s.source_subject not in trained_on]
    components = detector.components()
    values, timings = compute_components(components, samples, cache_root, workers)

    rows = []
    for s in samples:
        comp_values = {c.name: values[c.name][s.utterance_id] for c in components}
        derived = detector.combine(comp_values, s)
        check_finite_scores(derived["score"], f"the {detector.meta.name} score of {s.utterance_id}")
        flat = {f"{c}.{k}": v for c, d in comp_values.items() for k, v in d.items()}
        rows.append({"utterance_id": s.utterance_id, "label": s.label, "challenge": s.challenge,
                     "subject": s.subject, "source_subject": s.source_subject, "device": s.device,
                     "duration_s": s.duration_s, **{k: v for k, v in flat.items() if not isinstance(v, list | dict)},
                     **derived})
    excluded = detector.scope_speakers() or set()
    held_out = [r for r in rows if r["source_subject"] not in excluded]
    notes = []
    if excluded and len({r["label"] for r in held_out}) == 2:
        scope = {"excluded_speakers": sorted(excluded), "reason": "the detector trained on these speakers' "
                 "original recordings; their originals and the fakes made from them are not scored",
                 "training_speakers_scored": not held_out_only}
        for r in rows:
            r["in_scope"] = r["source_subject"] not in excluded
    else:
        if excluded:
            notes.append("metrics include speakers the detector was trained on (no held-out speakers left)")
        scope = {"excluded_speakers": [], "in_sample": bool(excluded)}
        for r in rows:
            r["in_scope"] = True
    if skipped:
        scope["skipped_samples"] = skipped
        notes.append(f"{len(skipped)} sample(s) could not be decoded and were left out (evaluation_scope)")
    caveats = detector.score_caveats()
    if caveats:
        scope["score_caveats"] = caveats
    learnt = detector.training_data()
    if learnt is not None:  # the cross-generator view: which generators' fakes the model trained on
        scope["training_data"] = learnt
    in_scope = [r for r in rows if r["in_scope"]]
    write_scores(out / "scores.parquet", rows)

    labels = np.array([r["label"] for r in in_scope])
    scores = np.array([r["score"] for r in in_scope], dtype=np.float64)
    if threshold is None and len(set(labels.tolist())) == 2:
        threshold = eer(labels, scores)[1]
    llr = detector.scores_are_llrs()
    overall = metrics_for(labels, scores, threshold, n_boot, seed, llr)
    per_challenge = []
    comparison = paper_comparison(detector.meta.paper_name, _generator_info(fm)["name"])
    for ch in all_challenges():
        idx = np.array([r["challenge"] == ch.id for r in in_scope])
        if not idx.any():
            continue
        m = metrics_for(labels[idx], scores[idx], threshold, n_boot, seed, llr)
        paper_auroc = comparison.per_challenge.get(ch.id) if comparison else None
        per_challenge.append(ChallengeResult(challenge=ch.id, key=ch.key, name=ch.name, paper_auroc=paper_auroc,
                                             **m.model_dump()))
    ranking = rank_challenges(per_challenge)
    ranked = sorted((c for c in per_challenge if c.challenge in ranking.ranked and c.challenge != 0
                     and c.auroc.value >= top_threshold), key=lambda c: -c.auroc.value)[:top_n]
    top = [c.challenge for c in ranked]
    challenge_of = np.array([r["challenge"] for r in in_scope])

    def pooled(ids: list[int]) -> Estimate | None:
        pick = np.isin(challenge_of, ids)
        return estimates(labels[pick], scores[pick], n_boot, seed)[0] if pick.any() else None

    top_est = pooled(top)
    paper_top10 = [c for c in top10() if c in set(challenge_of.tolist())]
    top10_est = pooled(paper_top10)

    total_audio = float(sum(s.duration_s for s in samples))
    cpu_total = float(sum(t["cpu_s"] for t in timings.values()))
    result = Result(
        created=now(), detector=RunPart(name=detector.meta.name, version=detector.meta.version,
                                          config=detector.describe()),
        profile=getattr(detector, "profile", None),
        components={c.name: RunPart(name=c.describe().get("backend", c.name), config=c.describe())
                    for c in components},
        generator=RunPart(**_generator_info(fm)),
        corpus={"name": cm.get("name"), "content_hash": cm.get("content_hash"), "path": str(corpus),
                "revision": cm.get("revision") or cm.get("snapshot"), "source": cm.get("source"),
                **({"channel": cm["channel"], **_upsampled(cm["channel"])} if cm.get("channel") else {})},
        fakes={"name": fm.get("name"), "content_hash": fm.get("content_hash"), "path": str(fakes),
               **({"generation": gen} if (gen := _generation(fm)) else {})},
        simulated=bool(cm.get("simulated")), overall=overall, per_challenge=per_challenge, top_challenges=top,
        top_threshold=top_threshold, top_n_auroc=top_est, ranking=ranking,
        paper=summary(comparison) if comparison else None, paper_top10_auroc=top10_est,
        paper_top10_present=paper_top10, evaluation_scope=scope, seeds=seed_spread(in_scope),
        metric_settings=metric_settings(n_boot, seed, llr),
        timings={"components": timings, "wall_s": time.perf_counter() - t_start, "audio_s": total_audio,
                 "samples": len(samples), "component_cpu_s": cpu_total,
                 "rtfx_cpu": total_audio / cpu_total if cpu_total else None,
                 "note": "component_cpu_s adds the CPU time recorded with every component value used, also "
                         "those computed by an interrupted earlier run or read from a shared cache; wall_s is "
                         "this invocation only"},
        run=run_info(command), notes=notes + getattr(detector, "notes", []),
    )
    if result.simulated:
        result.notes.append("simulated corpus: these numbers describe the simulation, not the Pitch recordings")
    result.save(out / "result.json")
    return result


def _generation(fm: dict) -> dict[str, Any] | None:
    """How fast the fakes were made, as ``bench generate`` recorded it: audio seconds over the conversions' summed
    wall seconds in their worker processes (x real time per worker), and the streaming figures if streamed."""
    audio, compute = fm.get("audio_seconds"), fm.get("compute_seconds")
    if not audio or not compute:
        return None
    return {"audio_s": audio, "compute_s": compute, "x_real_time_per_worker": audio / compute,
            "streaming": fm.get("streaming")}


def _generator_info(fm: dict) -> dict[str, Any]:
    g = fm.get("generator") or {}
    return {"name": g.get("name", "unknown"), "version": g.get("version", ""),
            "config": (fm.get("params") or {}).get("config", {})}


def challenge_name(cid: int) -> str:
    return get_challenge(cid).name


def score_one(component: Component, samples: list[Sample]) -> list[dict[str, Any]]:
    """Compute one component in-process (used by benchmarks and tests)."""
    return component.compute(samples)


