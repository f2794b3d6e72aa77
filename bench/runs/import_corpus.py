"""Import a recorded corpus from a local folder into the bench corpus format.

Two layouts are understood:

* ``metadata.csv`` (UTF-8) at the root with at least the columns ``audio, subject,
  challenge`` (optional: ``utterance_id, sentence_id, script, device``); ``audio`` is a
  path relative to the folder. The Hugging Face audiofolder name ``file_name`` is accepted
  for ``audio``.
* Pitch-style folders ``SUBJECT/CHALLENGE/[DEVICE/]FILE.wav`` where CHALLENGE is an id
  (``12``, ``c12``, ``challenge_12``) or a taxonomy key (``whisper``).

Every file is decoded, mixed to mono, resampled to 16 kHz and optionally trimmed with a
VAD. Unreadable, truncated, silent or too-short files are listed with their reason in the
manifest's ``skipped`` (and on stderr) and never stop the import.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from pathlib import Path
from typing import Any

from bench import SAMPLE_RATE
from bench.audio import AudioError, audio_problem, encode_wav, load, trim_silence
from bench.challenges.scripts import script_for, scripts, scripts_file
from bench.challenges.taxonomy import get as get_challenge
from bench.data.corpus import DEVICES, build_dataset, save
from bench.errors import BenchError
from bench.outdir import check_output, claim_output
from bench.parallel import run_items

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"}
REQUIRED_COLUMNS = ("audio", "subject", "challenge")
OPTIONAL_COLUMNS = ("utterance_id", "sentence_id", "script", "device", "sample_rate", "duration_s")
#: other names for a column, as other tools write them (Hugging Face audiofolder: file_name)
COLUMN_ALIASES = {"file_name": "audio"}
_CHALLENGE_DIR = re.compile(r"^(?:c|challenge[_-]?|#)?(\d+)$", re.IGNORECASE | re.ASCII)
_SENTENCE = re.compile(r"(?:^|[_\-.])(?:s|sent|sentence)[_-]?(\d+)(?:$|[_\-.])", re.IGNORECASE | re.ASCII)


def _challenge_id(value: str, where: str) -> int:
    m = _CHALLENGE_DIR.match(value.strip())
    try:
        return get_challenge(int(m.group(1)) if m else value.strip()).id
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None


def _read_metadata(meta: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header (aliases resolved) and rows of ``metadata.csv``; one-line errors for what csv cannot read."""
    try:
        with meta.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [COLUMN_ALIASES.get(h.strip(), h.strip()) for h in (reader.fieldnames or [])]
            raw_rows = [[(v or "") if not isinstance(v, list) else ",".join(v) for v in r.values()] for r in reader]
    except UnicodeDecodeError as exc:
        raise BenchError(f"{meta}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise BenchError(f"{meta}: not a readable CSV ({exc})") from None
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise BenchError(f"{meta}: column(s) {', '.join(dupes)} given twice (file_name is another name for audio)")
    return header, [dict(zip(header, values, strict=False)) for values in raw_rows]


def _rows_from_metadata(src: Path) -> list[dict[str, Any]]:
    meta = src / "metadata.csv"
    header, raw_rows = _read_metadata(meta)
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for col in header:
        if col not in known:
            hint = difflib.get_close_matches(col, known, n=1)
            tip = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(known)})"
            raise BenchError(f"{meta}: unknown column {col!r}{tip}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BenchError(f"{meta}: missing column(s) {', '.join(missing)}; "
                         f"required: {', '.join(REQUIRED_COLUMNS)} (audio may be called file_name)")
    rows = []
    for line, raw in enumerate(raw_rows, start=2):
        r = {k: (v or "").strip() for k, v in raw.items() if k}
        where = f"{meta}:{line}"
        for col in REQUIRED_COLUMNS:
            if not r.get(col):
                raise BenchError(f"{where}: empty {col}")
        device = r.get("device") or "desktop"
        if device not in DEVICES:
            raise BenchError(f"{where}: device must be desktop or mobile, got {device!r}")
        sid = r.get("sentence_id") or "-1"
        if not re.fullmatch(r"-?[0-9]{1,9}", sid):
            raise BenchError(f"{where}: sentence_id must be an integer of at most 9 digits, got {sid!r}")
        if Path(r["audio"]).name in ("", ".", ".."):
            raise BenchError(f"{where}: audio must name a file, got {r['audio']!r}")
        rows.append({
            "file": str(src / r["audio"]), "rel": r["audio"], "subject": r["subject"],
            "challenge": _challenge_id(r["challenge"], where), "sentence_id": int(sid),
            "script": r.get("script") or None, "device": device, "utterance_id": r.get("utterance_id"),
        })
    if not rows:
        raise BenchError(f"{meta}: no rows")
    return rows


def _rows_from_folders(src: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        parts = path.relative_to(src).parts
        if len(parts) < 3:
            raise BenchError(f"{path}: expected SUBJECT/CHALLENGE/.../FILE (or a metadata.csv in {src})")
        device = next((p for p in parts[2:-1] if p in DEVICES), "desktop")
        m = _SENTENCE.search(path.stem)
        rows.append({
            "file": str(path), "rel": "/".join(parts), "subject": parts[0],
            "challenge": _challenge_id(parts[1], str(path.parent)),
            "sentence_id": int(m.group(1)) if m else -1, "script": None, "device": device,
            "utterance_id": None,
        })
    if not rows:
        raise BenchError(f"{src}: no audio files found (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})")
    return rows


def _process(row: dict[str, Any], trim: bool, min_duration: float) -> dict[str, Any]:
    x = load(row["file"], SAMPLE_RATE)
    if trim:
        x = trim_silence(x, SAMPLE_RATE)
    problem = audio_problem(x, SAMPLE_RATE, min_duration)
    if problem:
        raise AudioError(problem)
    data = encode_wav(x, SAMPLE_RATE)
    return {"bytes": data, "duration_s": len(x) / SAMPLE_RATE}


def import_local(src: str | Path, out: str | Path, layout: str = "auto", trim: bool = False,
                 workers: int = 1, min_duration: float = 0.5, overwrite: bool = False) -> dict[str, Any]:
    """Import ``src`` into a corpus at ``out``; returns the manifest (with ``skipped``).

    Files that cannot be decoded, are truncated, silent or shorter than ``min_duration``
    seconds are skipped with their reason.
    """
    src = Path(src)
    if not src.is_dir():
        raise BenchError(f"{src}: no such directory")
    if layout not in ("auto", "metadata", "pitch"):
        raise BenchError(f"--layout must be auto, metadata or pitch, got {layout!r}")
    if not min_duration >= 0:
        raise BenchError("--min-duration must be >= 0")
    scripts()  # a bad BENCH_SCRIPTS is an error now, not after every file was decoded
    if (src / "metadata.csv").exists() and not (src / "metadata.csv").is_file():
        raise BenchError(f"{src / 'metadata.csv'} is not a file")
    if layout == "metadata" or (layout == "auto" and (src / "metadata.csv").is_file()):
        if not (src / "metadata.csv").is_file():
            raise BenchError(f"{src}: no metadata.csv")
        rows, layout = _rows_from_metadata(src), "metadata"
    else:
        rows, layout = _rows_from_folders(src), "pitch"
    seen: set[str] = set()
    for row in rows:  # ids are checked before any file is written
        row["uid"] = row["utterance_id"] or re.sub(r"[^\w\-]+", "_", Path(row["rel"]).with_suffix("").as_posix())
        if row["uid"] in seen:
            raise BenchError(f"{src}: duplicate utterance_id {row['uid']!r}")
        seen.add(row["uid"])
    params = {"source": str(src.resolve()), "layout": layout, "trim_silence": trim, "min_duration": min_duration}
    inputs = [src, scripts_file(), *(row["file"] for row in rows)]  # metadata.csv may point outside src
    check_output(out, "data load", params, inputs=inputs, overwrite=overwrite)  # nothing is written before the end

    results: dict[int, dict[str, Any]] = {}
    skipped = []
    indexed = list(enumerate(rows))
    fn = functools.partial(_process_indexed, trim=trim, min_duration=min_duration)
    for outcome in run_items(fn, indexed, workers=workers, description="importing"):
        idx, row = outcome.item
        if outcome.ok:
            results[idx] = outcome.result
        else:
            reason = outcome.error.split(": ", 1)[-1]
            if reason.startswith(f"{row['file']}: "):
                reason = reason[len(row["file"]) + 2:]
            skipped.append({"file": row["rel"], "error": reason})

    records = []
    for idx, row in indexed:
        if idx not in results:
            continue
        key = get_challenge(row["challenge"]).key
        script = row["script"]
        if script is None:
            script = script_for(key, row["sentence_id"])[0] if row["sentence_id"] >= 0 else ""
        records.append({
            "utterance_id": row["uid"], "subject": row["subject"], "challenge": row["challenge"],
            "sentence_id": row["sentence_id"], "script": script, "device": row["device"],
            "audio": {"bytes": results[idx]["bytes"], "path": Path(row["rel"]).with_suffix(".wav").name},
            "sample_rate": SAMPLE_RATE, "duration_s": results[idx]["duration_s"],
        })
    if not records:
        reasons = "; ".join(sorted({s["error"] for s in skipped})[:3])
        raise BenchError(f"{src}: none of the {len(rows)} audio files is usable ({reasons})")
    manifest = {"kind": "corpus", "simulated": False, "name": src.name, "source": str(src),
                "layout": layout, "trim_silence": trim, "min_duration": min_duration, "skipped": skipped}
    claim_output(out, "data load", params, inputs=inputs, overwrite=overwrite)
    return save(build_dataset(records), out, manifest)


def _process_indexed(indexed: tuple[int, dict[str, Any]], trim: bool, min_duration: float) -> dict[str, Any]:
    return _process(indexed[1], trim, min_duration)
