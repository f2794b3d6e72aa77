"""Corpus and fakes datasets: schema, building, atomic saving, opening and summaries.

A corpus directory is a Hugging Face ``datasets`` dataset saved with ``save_to_disk``
(so ``datasets.load_from_disk(DIR)`` reads it) plus ``bench.json``, a manifest that says
what the corpus is (simulated or recorded, how it was made, its content hash). Audio is
kept as ``Audio(decode=False)`` with the WAV bytes embedded, so the dataset is
self-contained and can be pushed to the Hub as it is; decode with :mod:`bench.audio`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
from datasets import Audio, Dataset, DatasetInfo, Features, Value

from bench.data.taxonomy_version import TAXONOMY_VERSION, check_version, recorded_version
from bench.errors import BenchError
from bench.fileio import read_json

datasets.disable_progress_bars()

MANIFEST = "bench.json"
#: shortest challenge-0 recording used as a conversion target or speaker-match reference
MIN_REFERENCE_S = 1.0
DEVICES = ("desktop", "mobile")

CORPUS_FEATURES = Features({
    "utterance_id": Value("string"),
    "subject": Value("string"),
    "challenge": Value("int32"),
    "sentence_id": Value("int32"),
    "script": Value("string"),
    "device": Value("string"),
    "audio": Audio(decode=False),
    "sample_rate": Value("int32"),
    "duration_s": Value("float32"),
})

FAKE_FEATURES = Features({
    **CORPUS_FEATURES,
    "target": Value("string"),
    "imposter": Value("string"),
    "source_id": Value("string"),
    "reference_id": Value("string"),
    "generator": Value("string"),
    "generator_config": Value("string"),
    "status": Value("string"),
    "error": Value("string"),
    "seconds": Value("float32"),
})


def build_dataset(rows: Iterable[dict[str, Any]], features: Features = CORPUS_FEATURES,
                  description: str = "") -> Dataset:
    """Build a dataset from row dicts without re-encoding audio (no torchcodec needed).

    ``row['audio']`` is ``{'bytes': WAV bytes or None, 'path': str or None}``.
    """
    rows = list(rows)
    columns = {}
    for name, feature in features.items():
        pa_type = feature() if isinstance(feature, Audio) else feature.pa_type
        columns[name] = pa.array([r.get(name) for r in rows], type=pa_type)
    table = pa.table(columns)
    return Dataset(table, info=DatasetInfo(features=features, description=description))


def content_hash(ds: Dataset) -> str:
    """A stable hash of a dataset's rows (ids, labels and audio bytes), order-independent."""
    digests = []
    for row in ds.select_columns([c for c in ds.column_names if c != "seconds"]):
        h = hashlib.sha256()
        for key in sorted(row):
            value = row[key]
            if key == "audio":
                value = value or {}
                value = hashlib.sha256(value.get("bytes") or (value.get("path") or "").encode()).hexdigest()
            h.update(f"{key}={value}\n".encode())
        digests.append(h.hexdigest())
    return hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()[:16]


def save(ds: Dataset, out_dir: str | os.PathLike, manifest: dict[str, Any]) -> dict[str, Any]:
    """Save ``ds`` into ``out_dir`` (other files there are kept) and write its manifest.

    The manifest records today's ``taxonomy_version`` unless it says otherwise (a pulled
    or migrated dataset carries its own).

    The dataset is first written to a temporary folder beside ``out_dir``, then its
    files replace the old ones; ``state.json`` and the manifest are moved last, so an
    interrupted save leaves the previous dataset readable.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"taxonomy_version": TAXONOMY_VERSION, **manifest, "rows": len(ds), "content_hash": content_hash(ds),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".saving-"))
    try:
        ds.save_to_disk(str(tmp / "ds"))
        old = {p.name for p in out.glob("data-*.arrow")}
        new = sorted((tmp / "ds").iterdir(), key=lambda p: p.name == "state.json")
        for path in new:
            os.replace(path, out / path.name)
        for name in old - {p.name for p in new}:
            (out / name).unlink(missing_ok=True)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp / MANIFEST, out / MANIFEST)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open a corpus or fakes directory written by bench (or any ``save_to_disk`` dataset).

    A folder bench wrote with an older challenge numbering is refused (``bench data migrate``);
    a dataset without ``bench.json`` is taken to use today's numbering.
    """
    p = Path(path)
    if not p.exists():
        raise BenchError(f"{p}: no such directory")
    if not (p / "state.json").is_file():
        raise BenchError(f"{p}: not a dataset directory (no state.json); "
                         "create one with `bench data simulate` or `bench data load`")
    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as exc:  # datasets raises many types for broken folders
        raise BenchError(f"{p}: cannot read dataset ({type(exc).__name__}: {exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds[next(iter(ds))]
    check_rows(ds, str(p))
    if (p / MANIFEST).is_file():  # bench wrote it: its ids must be today's numbering
        check_version(recorded_version(read_manifest(p)), str(p))
    return ds


def check_rows(ds: Dataset, where: str) -> None:
    """A corpus or fakes dataset has rows, the columns of its kind with their types, and unique ids."""
    features = FAKE_FEATURES if "generator" in ds.column_names else CORPUS_FEATURES
    missing = [c for c in features if c not in ds.column_names]
    if missing:
        raise BenchError(f"{where}: dataset lacks the {'fakes' if features is FAKE_FEATURES else 'corpus'} "
                         f"dataset columns {', '.join(missing)}")
    for name, feature in features.items():
        if ds.features[name] != feature:
            raise BenchError(f"{where}: column {name} has type {ds.features[name]}, expected {feature}")
    if len(ds) == 0:
        raise BenchError(f"{where}: the dataset has no rows")
    ids = ds["utterance_id"]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:3] if len(ids) < 10_000 else []
        raise BenchError(f"{where}: utterance_id is not unique{' (e.g. ' + ', '.join(dupes) + ')' if dupes else ''}")


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The ``bench.json`` manifest of a corpus directory ({} if absent; one-line error if corrupt)."""
    f = Path(path) / MANIFEST
    return read_json(f, "corpus manifest") if f.is_file() else {}


def known_hashes(manifest: dict[str, Any]) -> set[str]:
    """Content hashes a dataset is known by: its own and those it had before ``bench data migrate``."""
    return {h for h in [manifest.get("content_hash"), *manifest.get("migrated_from", [])] if h}


def summarize(ds: Dataset) -> dict[str, Any]:
    """Counts per subject / challenge / device, durations and sample rates."""
    cols = ds.select_columns([c for c in ds.column_names if c != "audio"]).to_dict()
    durations = cols["duration_s"]
    summary: dict[str, Any] = {
        "rows": len(ds),
        "subjects": len(set(cols["subject"])),
        "per_subject": dict(sorted(Counter(cols["subject"]).items())),
        "per_challenge": dict(sorted(Counter(cols["challenge"]).items())),
        "per_device": dict(sorted(Counter(cols["device"]).items())),
        "per_challenge_device": {
            f"{c}/{d}": n for (c, d), n in sorted(Counter(zip(cols["challenge"], cols["device"], strict=False)).items())
        },
        "sample_rates": dict(sorted(Counter(cols["sample_rate"]).items())),
        "duration_s": {
            "total": round(float(sum(durations)), 2),
            "mean": round(float(sum(durations) / max(len(durations), 1)), 3),
            "min": round(float(min(durations, default=0.0)), 3),
            "max": round(float(max(durations, default=0.0)), 3),
        },
    }
    if "status" in cols:
        summary["per_status"] = dict(sorted(Counter(cols["status"]).items()))
        summary["per_generator"] = dict(sorted(Counter(cols["generator"]).items()))
    return summary


def unusable_references(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Challenge-0 recordings that must never serve as a conversion target or speaker-match reference
    (undecodable, shorter than ``MIN_REFERENCE_S``, or silent): utterance id -> reason."""
    from bench import SAMPLE_RATE
    from bench.audio import audio_problem, load_entry

    bad: dict[str, str] = {}
    for r in rows:
        if r["challenge"] != 0:
            continue
        try:
            problem = audio_problem(load_entry(r["audio"] or {}), SAMPLE_RATE, MIN_REFERENCE_S)
        except (BenchError, KeyError, TypeError) as exc:
            problem = f"undecodable ({exc})"
        if problem:
            bad[r["utterance_id"]] = problem
    return bad
