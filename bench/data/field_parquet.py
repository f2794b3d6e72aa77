"""Labelled datasets stored as parquet with audio and label columns: a local folder or a Hub repo.

The Speech Anti-Spoofing Arena's arena-ready sets (``SpeechAntiSpoofingBenchmarks/<Name>`` on the Hub) are
the model: ``data/<split>-*.parquet`` with exactly the columns ``path`` (the original file name), ``audio``
(16 kHz FLAC bytes), ``label`` (a ClassLabel, ``bonafide`` = 0, ``spoof`` = 1) and ``notes`` (a JSON object
whose ``utterance_id`` is the scoring key, with ``speaker_id``, ``attack_id``, ``codec``... as the source
has them), beside a small ``data/labels.parquet``. Other Hub copies name their columns differently:
``columns`` maps bench's fields to theirs, by name, and a source whose columns match neither is refused in
one line that lists them (nothing is guessed).

A local folder is read with pyarrow; a repo id goes through ``datasets`` streaming (nothing is downloaded
before the rows arrive), pinned to ``revision`` when given and recorded by its commit, its audio rows kept in
a local cache as they arrive (:mod:`bench.data.audio_cache`) so that a repeated run streams only what is not
there yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.data.audio_cache import cache_folder, cached_audio
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
    """Turns a row's label and metadata columns into a :class:`LabelledItem` (its audio comes later), by the
    column mapping."""

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

    def metadata_columns(self) -> list[str]:
        """The columns the first pass reads: everything bench uses but the audio."""
        cols = {self.label, *self.mapping.values(), *([self.notes] if self.notes else []),
                *([self.path] if self.path else [])}
        cols.discard(self.audio)
        return sorted(cols)

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
        return LabelledItem(utt, label, attack, field("speaker", "-"), split, None, conditions)


def _audio_entries(rows: Iterable[dict[str, Any]], column: str) -> Iterator[dict[str, Any] | None]:
    """The audio entries of the second pass; None for a row without embedded bytes (only audio stored in the
    parquet file is read: a path would lead out of the dataset), which the run reports and leaves out."""
    for row in rows:
        audio = row[column]
        yield ({"bytes": audio["bytes"], "path": audio.get("path")}
               if isinstance(audio, dict) and audio.get("bytes") else None)


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


def _read_two_passes(load: Callable[[list[str]], Any], names: list[str], label_names: list[str] | None,
                     columns: dict[str, str] | None, where: str, split: str
                     ) -> tuple[list[LabelledItem], Callable[[int], Iterator[dict[str, Any] | None]], str]:
    """First pass: every row's label and metadata, checked (no audio read). Returns the items, a function that
    streams the audio column in the same order from a given row on (the second pass, run while scoring), and
    the audio column's name."""
    import datasets

    mapper = _Mapper(names, label_names, columns, where)
    items = [mapper.item(row, n, split) for n, row in enumerate(_iter(load(mapper.metadata_columns())))]

    def audio_stream(skip: int = 0) -> Iterator[dict[str, Any] | None]:
        stream = load([mapper.audio]).cast_column(mapper.audio, datasets.Audio(decode=False))
        return _audio_entries(_iter(stream.skip(skip) if skip else stream), mapper.audio)

    return items, audio_stream, mapper.audio


def read_local_parquet(root: Path, split: str | None, columns: dict[str, str] | None) -> LabelledSet:
    """One split of a folder of parquet files (a Hub dataset repo's layout, or files side by side), streamed
    with ``datasets`` exactly as a Hub repo is."""
    import datasets

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
    files = [str(p) for p in paths]

    def load(cols: list[str]) -> Any:
        return datasets.load_dataset("parquet", data_files={split: files}, split=split, streaming=True, columns=cols)

    label_col = (columns or {}).get("label", "label")
    items, stream, _ = _read_two_passes(load, names, _label_names(schema.metadata, label_col), columns,
                                        str(paths[0].parent), split)
    check_unique(items, str(root))
    return LabelledSet(name=root.name.lower(), layout="parquet", source=str(root), split=split, items=items,
                       splits=list(splits), revision=_footer_digest(paths), label_words=PARQUET_WORDS,
                       reference=ARENA_REFERENCE, audio_stream=stream)


def read_hub(repo_id: str, split: str | None, revision: str | None, columns: dict[str, str] | None,
             audio_cache: str | os.PathLike | None = None) -> LabelledSet:
    """One split of a Hub dataset repo, streamed with ``datasets`` in two passes (labels first, then the audio
    while scoring; audio kept as bytes, never decoded by torchcodec), pinned to ``revision`` and recorded by
    its commit. With ``audio_cache`` (a cache root), the audio rows are kept there as they stream, and a later
    run reads them back (:mod:`bench.data.audio_cache`)."""
    import datasets
    from huggingface_hub import HfApi

    try:
        info = HfApi().dataset_info(repo_id, revision=revision)
        builder = datasets.load_dataset_builder(repo_id, revision=info.sha)
        splits = list((builder.info.splits or {}).keys())
        split = split or ("test" if "test" in splits or not splits else splits[0])
        if splits and split not in splits:
            raise BenchError(f"{repo_id}: no split {split!r} (this dataset has {', '.join(splits)})")
        features = datasets.load_dataset(repo_id, split=split, revision=info.sha, streaming=True).features or {}
    except BenchError:
        raise
    except Exception as exc:  # huggingface_hub / datasets raise many kinds: not found, gated, offline...
        raise _hub_error(repo_id, exc) from None
    names = list(features.keys())

    def load(cols: list[str]) -> Any:
        return datasets.load_dataset(repo_id, split=split, revision=info.sha, streaming=True, columns=cols)

    label_col = (columns or {}).get("label", "label")
    label_names = list(getattr(features.get(label_col), "names", None) or []) or None
    items, stream, audio_col = _read_two_passes(load, names, label_names, columns, f"{repo_id}@{info.sha[:12]}",
                                                split)
    check_unique(items, repo_id)
    if audio_cache is not None:
        folder = cache_folder(audio_cache, repo_id, info.sha, split, audio_col)
        keys = [it.utterance_id for it in items]
        stream = partial(cached_audio, stream, keys, folder)
    return LabelledSet(name=repo_id.split("/")[-1].lower(), layout="parquet", source=repo_id, split=split,
                       items=items, splits=splits or [split], revision=info.sha, label_words=PARQUET_WORDS,
                       reference=ARENA_REFERENCE, audio_stream=stream)


def _hub_error(repo_id: str, exc: Exception) -> BenchError:
    kind = type(exc).__name__
    if kind in ("RepositoryNotFoundError", "DatasetNotFoundError", "RevisionNotFoundError", "GatedRepoError",
                "FileNotFoundError"):
        return BenchError(f"{repo_id}: no such folder here, and as a Hub repo id: {first_line(exc)} (check the "
                          "path, or the repo id, --revision and your access)")
    if "split" in str(exc).lower():
        return BenchError(f"{repo_id}: {first_line(exc)}")
    return NetworkError(f"{repo_id}: no such folder here, and the Hub could not be read for it as a repo id "
                        f"({kind}: {first_line(exc)}); a local copy of the repo's files works offline: --dataset "
                        "FOLDER")


def _iter(stream: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield from stream
    except BenchError:
        raise
    except Exception as exc:  # a connection lost mid-stream, a file that is not parquet
        raise NetworkError(f"the dataset stream broke off ({type(exc).__name__}: {first_line(exc)}); rerun to "
                           "resume (scored items are cached)") from None


def read_parquet_source(source: str, split: str | None, *, revision: str | None = None,
                        columns: dict[str, str] | None = None, audio_cache: str | os.PathLike | None = None
                        ) -> LabelledSet:
    """A local folder of parquet files, or a Hub repo id (its audio kept under ``audio_cache`` when given)."""
    path = Path(source)
    if path.is_dir():
        if revision:
            raise BenchError(f"--revision applies to Hub repos; {source} is a local folder")
        return read_local_parquet(path, split, columns)
    return read_hub(source, split, revision, columns, audio_cache)
