"""`bench generate`: pair imposters with targets, convert in parallel, resume, save fakes.

Pairing follows Pitch: every subject is a target, every other subject an imposter; each
challenge recording of an imposter is converted towards a target using a one-sentence
reference of the target (challenge #0, a different sentence from the source's).

Resumability: each conversion writes ``RUN/audio/<id>.wav`` and then a journal record
``RUN/journal/<id>.json`` (both atomically). A record means the item is finished (ok or
failed); a rerun skips items that finished ok and retries the failed ones, so an interrupt
or ``kill -9`` loses at most the items in flight, and the final dataset, built from the
journal in plan order, is the same as an uninterrupted run's.

The generator is created and checked (settings, assets, device) in the parent before any
work; a generator that then fails to load in a worker stops the run with that one error
(it would fail every pair), and a run in which every pair failed raises
:class:`~bench.errors.RunFailed` after saving what it has.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import SAMPLE_RATE, __version__
from bench.api.registry import GENERATORS
from bench.audio import load_entry, write_wav
from bench.challenges.taxonomy import check_ids
from bench.data.corpus import FAKE_FEATURES, build_dataset, open_dataset, read_manifest, save, unusable_references
from bench.errors import BenchError, FatalError, RunFailed, first_line
from bench.fileio import write_atomic
from bench.outdir import claim_output
from bench.parallel import run_items

JOURNAL = "journal"


@dataclass(frozen=True)
class Pair:
    """One conversion: a source recording of an imposter towards a target's reference."""

    fake_id: str
    source_id: str
    reference_id: str
    imposter: str
    target: str


@dataclass
class Unit:
    """A batch of pairs sharing one target reference (the reference is analysed once)."""

    reference_id: str
    reference_audio: dict
    pairs: list[Pair]
    sources: dict[str, dict] = field(default_factory=dict)  # source_id -> audio entry
    #: further challenge-0 recordings of the target (``--reference-seconds``): id -> audio entry, in order
    extra_references: dict[str, dict] = field(default_factory=dict)


def make_pairs(rows: list[dict[str, Any]], generator: str, max_targets: int | None = None,
               pairs_per_source: int | None = 1, seed: int = 0, challenges: list[int] | None = None,
               bad_references: dict[str, str] | None = None) -> tuple[list[Pair], list[dict[str, Any]]]:
    """Pitch pairing. Returns (pairs, unpaired) where unpaired lists sources with no reference.

    ``pairs_per_source=None`` converts every source towards every eligible target;
    ``challenges`` restricts the sources (references are always challenge-0 recordings);
    ``bad_references`` (utterance id -> reason) are never used as references.
    """
    rng = np.random.default_rng([seed, 4049])
    subjects = sorted({r["subject"] for r in rows})
    targets = subjects
    if max_targets is not None and max_targets < len(subjects):
        targets = sorted(rng.choice(subjects, size=max_targets, replace=False).tolist())
    refs: dict[str, list[dict]] = {t: [] for t in targets}
    for r in rows:
        if r["challenge"] == 0 and r["subject"] in refs and r["utterance_id"] not in (bad_references or {}):
            refs[r["subject"]].append(r)
    pairs, unpaired = [], []
    for src in sorted(rows, key=lambda r: r["utterance_id"]):
        if challenges is not None and src["challenge"] not in challenges:
            continue
        options = []
        for t in targets:
            if t == src["subject"]:
                continue
            cands = [r for r in refs[t] if r["sentence_id"] != src["sentence_id"] or r["sentence_id"] < 0]
            same_device = [r for r in cands if r["device"] == src["device"]]
            cands = sorted(same_device or cands, key=lambda r: r["utterance_id"])
            if cands:
                options.append((t, cands[int(rng.integers(len(cands)))]))
        if not options:
            unpaired.append({"source_id": src["utterance_id"],
                             "error": "no target has a challenge-0 reference with a different sentence"})
            continue
        if pairs_per_source is not None and pairs_per_source < len(options):
            pick = sorted(rng.choice(len(options), size=pairs_per_source, replace=False).tolist())
            options = [options[i] for i in pick]
        for t, ref in options:
            pairs.append(Pair(f"{generator}-{src['utterance_id']}-to-{t}", src["utterance_id"],
                              ref["utterance_id"], src["subject"], t))
    return pairs, unpaired


_GEN_CACHE: dict[str, Any] = {}
_TARGETS: dict[str, Any] = {}  # reference audio hash -> prepared target, per worker process
_MAX_TARGETS = 64


REFERENCE_GAP_S = 0.1  #: silence between the recordings of a reference made of several (``--reference-seconds``)


def _prepared_target(gen, unit: Unit) -> Any:
    """Analyse a target reference once per process (units of one target often land on one worker)."""
    entries = [unit.reference_audio, *unit.extra_references.values()]
    key = hashlib.sha1(b"".join(hashlib.sha1(e.get("bytes") or (e.get("path") or "").encode()).digest()
                                for e in entries)).hexdigest()  # the audio itself
    if key not in _TARGETS:
        if len(_TARGETS) >= _MAX_TARGETS:
            _TARGETS.pop(next(iter(_TARGETS)))
        gap = np.zeros(int(REFERENCE_GAP_S * SAMPLE_RATE), dtype=np.float32)
        audio = [piece for e in entries for piece in (load_entry(e), gap)][:-1]
        _TARGETS[key] = gen.prepare_target(np.concatenate(audio))
    return _TARGETS[key]


def _generator(name: str, config: dict[str, Any]):
    key = json.dumps([name, config], sort_keys=True)
    if key not in _GEN_CACHE:
        try:
            gen = GENERATORS.create(name, **config)
            gen.load()
        except Exception as exc:  # every unit would fail the same way: stop the run
            raise FatalError(f"generator {name} could not load: {first_line(exc, 400)}") from None
        _GEN_CACHE.clear()
        _TARGETS.clear()  # prepared targets belong to the generator that made them
        _GEN_CACHE[key] = gen
    return _GEN_CACHE[key]


def _run_unit(unit: Unit, out: str, name: str, config: dict[str, Any], streaming: bool,
              chunk_ms: float) -> int:
    """Convert one unit's pairs; every finished pair leaves a wav (if ok) and a journal record."""
    out_dir = Path(out)
    gen = _generator(name, config)
    todo = [p for p in unit.pairs if not (out_dir / JOURNAL / f"{p.fake_id}.json").exists()]
    if not todo:
        return 0
    try:
        t0 = time.perf_counter()
        target = _prepared_target(gen, unit)
        ref_seconds = time.perf_counter() - t0
        ref_error = None
    except Exception as exc:  # the whole unit fails with the reference's error
        target, ref_seconds, ref_error = None, 0.0, f"reference {unit.reference_id}: {type(exc).__name__}: {exc}"
    records = {p.fake_id: {"pair": asdict(p), "status": "ok", "error": "", "seconds": 0.0,
                           "reference_seconds": ref_seconds, "extra_reference_ids": list(unit.extra_references)}
               for p in todo}
    audio_in: dict[str, np.ndarray] = {}
    for pair in todo:
        try:
            if ref_error:
                raise RuntimeError(ref_error)
            audio_in[pair.fake_id] = load_entry(unit.sources[pair.source_id])
        except Exception as exc:
            records[pair.fake_id].update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    outputs = _convert_all(gen, target, [p for p in todo if p.fake_id in audio_in], audio_in, records,
                           streaming, chunk_ms)
    for pair in todo:
        record = records[pair.fake_id]
        if record["status"] == "ok":
            try:
                audio = outputs[pair.fake_id]
                if not np.all(np.isfinite(audio)) or len(audio) == 0:
                    raise ValueError("generator returned empty or non-finite audio")
                record["duration_s"] = len(audio) / SAMPLE_RATE
                write_wav(out_dir / "audio" / f"{pair.fake_id}.wav", audio)
            except Exception as exc:
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        write_atomic(out_dir / JOURNAL / f"{pair.fake_id}.json", json.dumps(record).encode())
    return len(todo)


def _convert_all(gen, target, pairs: list[Pair], audio_in: dict[str, np.ndarray], records: dict[str, dict],
                 streaming: bool, chunk_ms: float) -> dict[str, np.ndarray]:
    """Convert every pair: streamed one by one, or in one ``convert_batch`` call (the batch's time is
    shared out by duration); if the batch fails, item by item so the failure is pinned to its item."""
    outputs: dict[str, np.ndarray] = {}
    if not streaming and len(pairs) > 1:
        try:
            t0 = time.perf_counter()
            converted = gen.convert_batch([audio_in[p.fake_id] for p in pairs], target)
            elapsed = time.perf_counter() - t0
            total = sum(len(audio_in[p.fake_id]) for p in pairs) or 1
            for p, y in zip(pairs, converted, strict=True):
                outputs[p.fake_id] = y
                records[p.fake_id]["seconds"] = elapsed * len(audio_in[p.fake_id]) / total
            return outputs
        except Exception:
            outputs.clear()  # fall through: find the culprit item by item
    for p in pairs:
        try:
            t0 = time.perf_counter()
            if streaming:
                outputs[p.fake_id], stats = gen.stream(audio_in[p.fake_id], target, chunk_ms)
                records[p.fake_id]["stream"] = stats.summary()
            else:
                outputs[p.fake_id] = gen.convert(audio_in[p.fake_id], target)
            records[p.fake_id]["seconds"] = time.perf_counter() - t0
        except Exception as exc:
            records[p.fake_id].update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    return outputs


def _units(pairs: list[Pair], by_id: dict[str, dict], max_per_unit: int = 8, reference_s: float | None = None,
           bad_references: dict[str, str] | None = None) -> list[Unit]:
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.reference_id, []).append(p)
    units = []
    for ref_id, group in groups.items():
        for i in range(0, len(group), max_per_unit):
            chunk = group[i:i + max_per_unit]
            extra = extra_references(chunk, by_id, reference_s, bad_references) if reference_s else {}
            units.append(Unit(ref_id, by_id[ref_id]["audio"], chunk,
                              {p.source_id: by_id[p.source_id]["audio"] for p in chunk}, extra))
    return units


def extra_references(pairs: list[Pair], by_id: dict[str, dict], reference_s: float,
                     bad_references: dict[str, str] | None = None) -> dict[str, dict]:
    """Further challenge-0 recordings of the pairs' target, in id order, added to their reference until the whole
    lasts ``reference_s`` seconds: never one of a sentence a source of these pairs says (the target's reading of
    the source's text would hand the converter its content), never an unusable one."""
    reference = by_id[pairs[0].reference_id]
    said = {by_id[p.source_id]["sentence_id"] for p in pairs}
    total = float(reference["duration_s"])
    extra: dict[str, dict] = {}
    for r in sorted(by_id.values(), key=lambda r: r["utterance_id"]):
        if total >= reference_s:
            break
        usable = r["utterance_id"] != reference["utterance_id"] and r["utterance_id"] not in (bad_references or {})
        if r["subject"] == reference["subject"] and r["challenge"] == 0 and r["sentence_id"] not in said and usable:
            extra[r["utterance_id"]] = r["audio"]
            total += REFERENCE_GAP_S + float(r["duration_s"])
    return extra


def _clean_partial(out: Path) -> None:
    for sub in ("audio", JOURNAL):
        for tmp in (out / sub).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _read_record(path: Path) -> dict[str, Any] | None:
    """A journal record, or None when it is unreadable (then the pair is simply done again)."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(rec, dict) and rec.get("status") in ("ok", "failed") and isinstance(rec.get("seconds"), int | float)
    return rec if ok else None


def _forget_unfinished(out: Path, pairs: list[Pair]) -> int:
    """Delete journal records of failed or unreadable pairs (and their audio) so this run retries them."""
    retried = 0
    for p in pairs:
        rec_path = out / JOURNAL / f"{p.fake_id}.json"
        if not rec_path.exists():
            continue
        rec = _read_record(rec_path)
        if rec is None or rec["status"] != "ok" or not (out / "audio" / f"{p.fake_id}.wav").is_file():
            (out / "audio" / f"{p.fake_id}.wav").unlink(missing_ok=True)
            rec_path.unlink()
            retried += 1
    return retried


def generate(corpus: str | Path, out: str | Path, generator: str = "world",
             config: dict[str, Any] | None = None, max_targets: int | None = None,
             pairs_per_source: int | None = 1, seed: int = 0, workers: int = 1, streaming: bool = False,
             chunk_ms: float = 500.0, challenges: list[int] | None = None, overwrite: bool = False,
             reference_seconds: float | None = None) -> dict[str, Any]:
    """Generate fakes of ``corpus`` into ``out``; returns the manifest.

    ``reference_seconds``: give the converter more of the target than Pitch's one sentence, adding the target's
    other challenge-0 recordings (:func:`extra_references`) until the reference lasts that long.

    Raises BenchError before any work for bad settings or assets, FatalError when the
    generator cannot load in a worker, RunFailed when every planned pair failed.
    """
    config = config or {}
    meta = GENERATORS.meta(generator)  # fails early on an unknown generator
    if streaming and chunk_ms <= 0:
        raise BenchError("--chunk-ms must be positive")
    if max_targets is not None and max_targets < 1:
        raise BenchError("--max-targets must be at least 1")
    if pairs_per_source is not None and pairs_per_source < 1:
        raise BenchError("--pairs-per-source must be at least 1 (or 'all')")
    if seed < 0:
        raise BenchError("--seed must be >= 0")
    if reference_seconds is not None and not (0 < reference_seconds <= 3600):
        raise BenchError(f"--reference-seconds must be in (0, 3600], not {reference_seconds}")
    if config.get("device") is not None:
        meta.check_device(config["device"])
        if meta.devices == ["cpu"]:
            config = {k: v for k, v in config.items() if k != "device"}  # cpu-only: nothing to choose
    GENERATORS.create(generator, **config).check()  # settings, assets, device: once, before any work
    ds = open_dataset(corpus)
    if "generator" in ds.column_names:
        raise BenchError(f"{corpus} is a fakes dataset; --corpus needs original recordings")
    check_ids(ds["challenge"], str(corpus))
    corpus_manifest = read_manifest(corpus)
    out = Path(out)
    params = {"corpus_hash": corpus_manifest.get("content_hash"), "generator": generator, "config": config,
              "max_targets": max_targets, "pairs_per_source": pairs_per_source, "seed": seed,
              "streaming": streaming, "chunk_ms": chunk_ms if streaming else None, "challenges": challenges,
              **({"reference_seconds": reference_seconds} if reference_seconds else {})}

    rows = ds.to_list()
    by_id = {r["utterance_id"]: r for r in rows}
    bad_refs = unusable_references(rows)
    pairs, unpaired = make_pairs(rows, generator, max_targets, pairs_per_source, seed, challenges, bad_refs)
    if not pairs:
        why = f"; {len(bad_refs)} reference(s) unusable, e.g. {next(iter(bad_refs.values()))}" if bad_refs else ""
        raise BenchError(f"{corpus}: no pairs to convert (need at least two subjects with usable challenge-0 "
                         f"recordings of different sentences{why})")
    paths = [v for v in config.values() if isinstance(v, str) and v and Path(v).exists()]  # checkouts, weights
    claim_output(out, "generate", params, inputs=[corpus, *paths], overwrite=overwrite)
    _clean_partial(out)
    _forget_unfinished(out, pairs)
    fn = functools.partial(_run_unit, out=str(out), name=generator, config=config, streaming=streaming,
                           chunk_ms=chunk_ms)
    for outcome in run_items(fn, _units(pairs, by_id, reference_s=reference_seconds, bad_references=bad_refs),
                             workers=workers, description=f"generating ({generator})"):
        if not outcome.ok:  # a unit-level crash is recorded per pair (and retried by the next run)
            for p in outcome.item.pairs:
                rec = out / JOURNAL / f"{p.fake_id}.json"
                if not rec.exists():
                    write_atomic(rec, json.dumps({"pair": asdict(p), "status": "failed", "error": outcome.error,
                                                  "seconds": 0.0}).encode())
    manifest = _finish(out, pairs, by_id, unpaired, params, meta.model_dump(), corpus_manifest, bad_refs)
    if manifest["finished"] and manifest["failed"] == manifest["finished"]:
        first = manifest["failures"][0]["error"]
        raise RunFailed(f"all {manifest['failed']} conversions failed (first: {first}); the journal in {out} "
                        "keeps them: fix the cause and rerun to retry")
    return manifest


def _finish(out: Path, pairs: list[Pair], by_id: dict[str, dict], unpaired: list[dict], params: dict,
            meta: dict, corpus_manifest: dict, bad_refs: dict[str, str]) -> dict[str, Any]:
    records, failures, streams, extras = [], [], [], {}
    gen_config = json.dumps({"name": params["generator"], **params["config"], "streaming": params["streaming"],
                             "chunk_ms": params["chunk_ms"]}, sort_keys=True)
    for p in pairs:
        rec_path = out / JOURNAL / f"{p.fake_id}.json"
        if not rec_path.exists():
            continue  # interrupted before this item finished: a rerun completes it
        rec = _read_record(rec_path)
        if rec is None:
            continue  # unreadable: the next run does it again
        src = by_id[p.source_id]
        ok = rec["status"] == "ok"
        wav = out / "audio" / f"{p.fake_id}.wav"
        if ok and not wav.exists():
            rec.update(status="failed", error="audio file missing")
            ok = False
        if not ok:
            failures.append({"utterance_id": p.fake_id, "error": rec["error"]})
        if "stream" in rec:
            streams.append(rec["stream"])
        if rec.get("extra_reference_ids"):
            extras[p.fake_id] = rec["extra_reference_ids"]
        records.append({
            "utterance_id": p.fake_id, "subject": p.target, "challenge": src["challenge"],
            "sentence_id": src["sentence_id"], "script": src["script"], "device": src["device"],
            "audio": {"bytes": wav.read_bytes(), "path": f"audio/{wav.name}"} if ok else None,
            "sample_rate": SAMPLE_RATE, "duration_s": rec.get("duration_s", 0.0) if ok else 0.0,
            "target": p.target, "imposter": p.imposter, "source_id": p.source_id,
            "reference_id": p.reference_id, "generator": params["generator"], "generator_config": gen_config,
            "status": rec["status"], "error": rec["error"], "seconds": rec["seconds"],
        })
    done = len(records)
    manifest = {
        "kind": "fakes", "name": f"{params['generator']}-fakes", "version": __version__,
        "simulated": bool(corpus_manifest.get("simulated")),
        "corpus": {"name": corpus_manifest.get("name"), "content_hash": corpus_manifest.get("content_hash")},
        "generator": meta, "params": params, "planned": len(pairs), "finished": done,
        "complete": done == len(pairs), "failed": len(failures), "failures": failures[:200],
        "unpaired": unpaired, "unusable_references": bad_refs,
        "streaming": _stream_summary(streams) if streams else None,
        "compute_seconds": float(sum(r["seconds"] for r in records)),
        "audio_seconds": float(sum(r["duration_s"] for r in records)),
        **({"extra_references": extras} if params.get("reference_seconds") else {}),
    }
    return save(build_dataset(records, FAKE_FEATURES), out, manifest)


def _stream_summary(streams: list[dict[str, float]]) -> dict[str, float]:
    keys = ("compute_ms_mean", "compute_ms_p95", "compute_ms_max", "realtime_fraction", "latency_ms_p95")
    out = {k: float(np.mean([s[k] for s in streams])) for k in keys}
    out["compute_ms_p95"] = float(np.max([s["compute_ms_p95"] for s in streams]))
    out.update(chunk_ms=streams[0]["chunk_ms"], algorithmic_delay_ms=streams[0]["algorithmic_delay_ms"],
               chunks=int(sum(s["chunks"] for s in streams)))
    return out
