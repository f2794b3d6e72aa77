"""Labelled datasets stored as parquet with audio and label columns: a local folder or a Hub repo.

The Speech Anti-Spoofing Arena's arena-ready sets (``SpeechAntiSpoofingBenchmarks/<Name>`` on the Hub) are
the model: ``data/<split>-*.parquet`` with exactly the columns ``path`` (the original file name), ``audio``
(16 kHz FLAC bytes), ``label`` (a ClassLabel, ``bonafide`` = 0, ``spoof`` = 1) and ``notes`` (a JSON object
whose ``utterance_id`` is the scoring key, with ``speaker_id``, ``attack_id``, ``codec``... as the source
has them), beside a small ``data/labels.parquet``. Other Hub copies name their columns differently:
``columns`` maps bench's fields to theirs, by name, and a source whose columns match neither is refused in
one line that lists them (nothing is guessed).

A local folder is read with pyarrow; a repo id goes through ``datasets`` streaming (nothing is downloaded
before the rows arrive), pinned to ``revision`` when given and recorded by its commit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.data.labelled import BONA_FIDE_ATTACK, LabelledItem, LabelledSet, check_unique, parse_label
from bench.errors import BenchError, NetworkError, first_line

FIELDS = ("audio", "label", "utterance_id", "speaker", "attack")
PARQUET_WORDS = {"bonafide": 0, "bona-fide": 0, "spoof": 1}
#: keys of an arena-ready ``notes`` object read as bench fields, and as conditions the metrics break down by
NOTE_FIELDS = {"utterance_id": ("utterance_id",), "speaker": ("speaker_id", "speaker"), "attack": ("attack_id",)}
NOTE_CONDITIONS = ("codec", "transmission", "compression", "source", "vocoder", "trim", "subset", "phase")
LABELS_FILE = "labels.parquet"
_SPLIT_FILE = re.compile(r"^(?P<split>[A-Za-z0-9_.]+?)-\d{5}-of-\d{5}\.parquet$|^(?P<plain>[A-Za-z0-9_.]+)\.parquet$")
ARENA_REFERENCE = ("Speech Anti-Spoofing Arena arena-ready parquet (lab260ru/speech_spoof_bench): path, audio, label "
                   "(ClassLabel bonafide/spoof), notes (JSON with utterance_id)")


def _splits_of(root: Path) -> dict[str, list[Path]]:
    """Parquet files by split, from Hub-style names (``data/test-00000-of-00001.parquet``, ``test.parquet``)."""
    out: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*.parquet")):
        if p.name == LABELS_FILE or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        m = _SPLIT_FILE.match(p.name)
        split = (m["split"] or m["plain"]) if m else p.parent.name
        out.setdefault(split, []).append(p)
    return out


def _footer_digest(paths: list[Path]) -> str:
    """sha256 over each file's name, size and parquet footer (schema, row groups, statistics): cheap on files of
    gigabytes and different for any other content a writer would produce."""
    h = hashlib.sha256()
    for p in paths:
        size = p.stat().st_size
        h.update(f"{p.name}\0{size}\0".encode())
        with p.open("rb") as fh:
            fh.seek(max(0, size - (1 << 16)))
            h.update(fh.read())
    return h.hexdigest()


class _Mapper:
    """Turns a row (a dict of column values) into a :class:`LabelledItem`, by the column mapping."""

    def __init__(self, columns: list[str], label_names: list[str] | None, mapping: dict[str, str] | None,
                 where: str) -> None:
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(FIELDS))
        if unknown:
            raise BenchError(f"--column {unknown[0]}=...: not a bench field (fields: {', '.join(FIELDS)})")
        for f, col in mapping.items():
            if col not in columns:
                raise BenchError(f"{where}: --column {f}={col}: no such column (columns: {', '.join(columns)})")
        self.audio = mapping.get("audio", "audio")
        self.label = mapping.get("label", "label")
        missing = [c for c in (self.audio, self.label) if c not in columns]
        if missing:
            raise BenchError(f"{where}: no column {missing[0]!r} (columns: {', '.join(columns)}); map bench's fields "
                             "to this source's columns with --column audio=COL --column label=COL")
        self.mapping = mapping
        self.notes = "notes" if "notes" in columns else None
        self.path = "path" if "path" in columns else None
        self.label_names = label_names
        self.where = where

    def label_of(self, value: Any, n: int) -> int:
        where = f"{self.where} row {n}"
        if isinstance(value, bool) or value is None:
            raise BenchError(f"{where}: label {value!r} is not a class")
        if isinstance(value, int):
            if not self.label_names:
                raise BenchError(f"{where}: label column {self.label!r} holds integers with no class names "
                                 "(a ClassLabel); bench does not guess which number means spoof")
            if not 0 <= value < len(self.label_names):
                raise BenchError(f"{where}: label {value} is outside the class names {self.label_names}")
            value = self.label_names[value]
        return parse_label(str(value), PARQUET_WORDS, where)

    def item(self, row: dict[str, Any], n: int, split: str) -> LabelledItem:
        where = f"{self.where} row {n}"
        notes: dict[str, Any] = {}
        if self.notes and row.get(self.notes):
            try:
                notes = json.loads(row[self.notes])
            except (TypeError, ValueError):
                raise BenchError(f"{where}: notes is not a JSON object") from None
            if not isinstance(notes, dict):
                raise BenchError(f"{where}: notes is not a JSON object")
        label = self.label_of(row[self.label], n)
        audio = row[self.audio]
        if not isinstance(audio, dict) or not audio.get("bytes"):
            raise BenchError(f"{where}: the audio column holds no embedded bytes (only audio stored in the parquet "
                             "file is read; paths would lead out of the dataset)")

        def field(name: str, default: str) -> str:
            if name in self.mapping:
                return str(row[self.mapping[name]])
            for key in NOTE_FIELDS.get(name, ()):
                if notes.get(key) not in (None, ""):
                    return str(notes[key])
            return default

        path_name = str(row[self.path]) if self.path and row.get(self.path) else ""
        utt = field("utterance_id", Path(path_name).stem if path_name else f"row{n}")
        attack = field("attack", "unknown") if label else BONA_FIDE_ATTACK
        conditions = {k: str(notes[k]) for k in NOTE_CONDITIONS if notes.get(k) not in (None, "")}
        return LabelledItem(utt, label, attack, field("speaker", "-"), split,
                            {"bytes": audio["bytes"], "path": path_name or None}, conditions)


def _label_names(schema_metadata: dict[bytes, bytes] | None, column: str) -> list[str] | None:
    """The ClassLabel names of ``column`` from the ``huggingface`` features a datasets writer keeps in the
    parquet schema."""
    try:
        features = json.loads((schema_metadata or {})[b"huggingface"])["info"]["features"]
        feature = features[column]
    except (KeyError, TypeError, ValueError):
        return None
    names = feature.get("names") if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None
    return [str(n) for n in names] if isinstance(names, list) else None


def _rows(paths: list[Path], columns: list[str]) -> Iterator[dict[str, Any]]:
    for p in paths:
        f = pq.ParquetFile(p)
        for batch in f.iter_batches(batch_size=256, columns=columns):
            yield from batch.to_pylist()


def read_local_parquet(root: Path, split: str | None, columns: dict[str, str] | None) -> LabelledSet:
    """One split of a folder of parquet files (a Hub dataset repo's layout, or files side by side)."""
    splits = _splits_of(root)
    if not splits:
        raise BenchError(f"{root}: no parquet files")
    split = split or ("test" if "test" in splits else "eval" if "eval" in splits else next(iter(splits)))
    if split not in splits:
        raise BenchError(f"{root}: no split {split!r} (this dataset has {', '.join(splits)})")
    paths = splits[split]
    schema = pq.read_schema(paths[0])
    names = list(schema.names)
    for p in paths[1:]:
        if list(pq.read_schema(p).names) != names:
            raise BenchError(f"{p}: its columns differ from {paths[0].name}'s")
    mapper = _Mapper(names, None, columns, str(paths[0].parent))
    mapper.label_names = _label_names(schema.metadata, mapper.label)
    wanted = sorted({mapper.audio, mapper.label, *(mapper.mapping.values()),
                     *([mapper.notes] if mapper.notes else []), *([mapper.path] if mapper.path else [])})
    items = [mapper.item(row, n, split) for n, row in enumerate(_rows(paths, wanted))]
    check_unique(items, str(root))
    return LabelledSet(name=root.name.lower(), layout="parquet", source=str(root), split=split, items=items,
                       splits=list(splits), revision=_footer_digest(paths), label_words=PARQUET_WORDS,
                       reference=ARENA_REFERENCE)


def read_hub(repo_id: str, split: str | None, revision: str | None, columns: dict[str, str] | None) -> LabelledSet:
    """One split of a Hub dataset repo, streamed with ``datasets`` (audio kept as bytes, never decoded by
    torchcodec), pinned to ``revision`` and recorded by its commit."""
    import datasets
    from huggingface_hub import HfApi

    try:
        info = HfApi().dataset_info(repo_id, revision=revision)
        builder = datasets.load_dataset_builder(repo_id, revision=info.sha)
        splits = list((builder.info.splits or {}).keys())
        split = split or ("test" if "test" in splits or not splits else splits[0])
        if splits and split not in splits:
            raise BenchError(f"{repo_id}: no split {split!r} (this dataset has {', '.join(splits)})")
        stream = datasets.load_dataset(repo_id, split=split, revision=info.sha, streaming=True)
    except BenchError:
        raise
    except Exception as exc:  # huggingface_hub / datasets raise many kinds: not found, gated, offline...
        kind = type(exc).__name__
        if kind in ("RepositoryNotFoundError", "DatasetNotFoundError", "RevisionNotFoundError",
                    "GatedRepoError", "FileNotFoundError"):
            raise BenchError(f"{repo_id}: no such folder here, and as a Hub repo id: {first_line(exc)} (check the "
                             "path, or the repo id, --revision and your access)") from None
        if "split" in str(exc).lower():
            raise BenchError(f"{repo_id}: {first_line(exc)}") from None
        raise NetworkError(f"{repo_id}: no such folder here, and the Hub could not be read for it as a repo id "
                           f"({kind}: {first_line(exc)}); a local copy of the repo's files works offline: --dataset "
                           "FOLDER") from None
    features = stream.features or {}
    names = list(features.keys())
    mapper = _Mapper(names, None, columns, f"{repo_id}@{info.sha[:12]}")
    label_feature = features.get(mapper.label)
    mapper.label_names = list(getattr(label_feature, "names", None) or []) or None
    stream = stream.cast_column(mapper.audio, datasets.Audio(decode=False))
    items = [mapper.item(row, n, split) for n, row in enumerate(_iter(stream))]
    check_unique(items, repo_id)
    return LabelledSet(name=repo_id.split("/")[-1].lower(), layout="parquet", source=repo_id, split=split,
                       items=items, splits=splits or [split], revision=info.sha, label_words=PARQUET_WORDS,
                       reference=ARENA_REFERENCE)


def _iter(stream: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield from stream
    except Exception as exc:  # a connection lost mid-stream
        raise NetworkError(f"the Hub stream broke off ({type(exc).__name__}: {first_line(exc)}); rerun to resume "
                           "(scored items are cached)") from None


def read_parquet_source(source: str, split: str | None, *, revision: str | None = None,
                        columns: dict[str, str] | None = None) -> LabelledSet:
    """A local folder of parquet files, or a Hub repo id."""
    path = Path(source)
    if path.is_dir():
        if revision:
            raise BenchError(f"--revision applies to Hub repos; {source} is a local folder")
        return read_local_parquet(path, split, columns)
    return read_hub(source, split, revision, columns)
