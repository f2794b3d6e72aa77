"""A local copy of a streamed dataset's audio column, kept for repeated runs and resumes.

A Hub split is streamed, never downloaded whole before scoring starts; as its audio rows arrive they are
written here, :data:`ROWS_PER_FILE` rows to a parquet file (``rows-000000000.parquet``, named by the first
row), each file whole or absent (written through a rename). The next run over the same repo, revision, split
and audio column reads the files it finds, checks that each holds the rows the label pass expects (by
utterance id, in order), and streams only the rows after them: a second detector on the same split streams
nothing, and an interrupted first run streams again from the last whole file.

The folder is ``<cache root>/datasets/<owner>--<name>/<revision>/<split>/<column>/`` under bench's cache root
(``$BENCH_CACHE``, else ``~/.cache/bench``); recordings of people's voices are biometric data, so folders are
created 0700 and files 0600.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError
from bench.fileio import write_atomic

#: rows per cache file: the most a crash can make a rerun stream again
ROWS_PER_FILE = 256
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCHEMA = pa.schema([("utterance_id", pa.string()), ("bytes", pa.binary()), ("path", pa.string())])


def cache_folder(root: str | os.PathLike, repo_id: str, revision: str, split: str, column: str) -> Path:
    """Where one split's audio column is kept under ``root`` (each part made safe as one folder name)."""
    parts = [repo_id.replace("/", "--"), revision, split, column]
    safe = [_SAFE.sub("_", p).strip(".") or "_" for p in parts]
    return Path(root).expanduser() / "datasets" / Path(*safe)


def _make_private(folder: Path) -> None:
    """Create ``folder`` (and missing parents) owner-only; an existing folder is left as its owner set it."""
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise BenchError(f"cannot create the audio cache folder {folder}: {exc.strerror or exc}") from None


def _read_file(path: Path, keys: list[str]) -> list[dict[str, Any] | None] | None:
    """The audio entries of one cache file, or None when it is unreadable or does not hold exactly ``keys``."""
    try:
        table = pq.read_table(path, schema=_SCHEMA)
    except (OSError, pa.ArrowException):
        return None
    if table.column("utterance_id").to_pylist() != keys:
        return None
    return [{"bytes": b, "path": p} if b is not None else None
            for b, p in zip(table.column("bytes").to_pylist(), table.column("path").to_pylist(), strict=True)]


def _write_file(path: Path, keys: list[str], entries: list[dict[str, Any] | None]) -> None:
    table = pa.table({"utterance_id": keys,
                      "bytes": [e["bytes"] if e else None for e in entries],
                      "path": [e.get("path") if e else None for e in entries]}, schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none")  # the audio is already compressed (FLAC, MP3...)
    write_atomic(path, sink.getvalue().to_pybytes())


def cached_audio(open_stream: Callable[[int], Iterator[dict[str, Any] | None]], keys: list[str],
                 folder: Path) -> Iterator[dict[str, Any] | None]:
    """The audio entries of the rows ``keys`` names, in order: read from ``folder`` as far as whole cache files
    reach, then from ``open_stream(skip)`` (the source's stream with its first ``skip`` rows left out), writing
    each further :data:`ROWS_PER_FILE` rows to ``folder`` as they pass."""
    _make_private(folder)
    done = 0
    while done < len(keys):
        entries = _read_file(folder / f"rows-{done:09d}.parquet", keys[done:done + ROWS_PER_FILE])
        if entries is None:
            break
        yield from entries
        done += len(entries)
    if done == len(keys):
        return
    buffer: list[dict[str, Any] | None] = []
    for entry in open_stream(done):
        if done + len(buffer) >= len(keys):  # more rows than the label pass counted: the caller reports it
            yield entry
            return
        buffer.append(entry)
        if len(buffer) == ROWS_PER_FILE or done + len(buffer) == len(keys):
            _write_file(folder / f"rows-{done:09d}.parquet", keys[done:done + len(buffer)], buffer)
            yield from buffer
            done += len(buffer)
            buffer = []
    yield from buffer  # the stream ended before the labels did: the caller reports it
