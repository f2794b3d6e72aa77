"""Import a recorded corpus from a local folder into the bench corpus format.

Two layouts are understood:

* ``metadata.csv`` at the root with at least the columns ``audio, subject, challenge``
  (optional: ``utterance_id, sentence_id, script, device``); ``audio`` is a path
  relative to the folder.
* Pitch-style folders ``SUBJECT/CHALLENGE/[DEVICE/]FILE.wav`` where CHALLENGE is an id
  (``12``, ``c12``, ``challenge_12``) or a taxonomy key (``whisper``).

Every file is decoded, mixed to mono, resampled to 16 kHz and optionally trimmed with a
VAD. Unreadable files are listed in the manifest's ``skipped`` and never stop the import.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from pathlib import Path
from typing import Any

from bench import SAMPLE_RATE
from bench.audio import encode_wav, load, trim_silence
from bench.corpus import DEVICES, build_dataset, save
from bench.errors import BenchError
from bench.parallel import run_items
from challenges.scripts import script_for
from challenges.taxonomy import get as get_challenge

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"}
REQUIRED_COLUMNS = ("audio", "subject", "challenge")
OPTIONAL_COLUMNS = ("utterance_id", "sentence_id", "script", "device", "sample_rate", "duration_s")
_CHALLENGE_DIR = re.compile(r"^(?:c|challenge[_-]?|#)?(\d+)$", re.IGNORECASE)
_SENTENCE = re.compile(r"(?:^|[_\-.])(?:s|sent|sentence)[_-]?(\d+)(?:$|[_\-.])", re.IGNORECASE)


def _challenge_id(value: str, where: str) -> int:
    m = _CHALLENGE_DIR.match(value.strip())
    try:
        return get_challenge(int(m.group(1)) if m else value.strip()).id
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None


def _rows_from_metadata(src: Path) -> list[dict[str, Any]]:
    meta = src / "metadata.csv"
    with meta.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        for col in header:
            if col not in known:
                hint = difflib.get_close_matches(col, known, n=1)
                tip = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(known)})"
                raise BenchError(f"{meta}: unknown column {col!r}{tip}")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise BenchError(f"{meta}: missing column(s) {', '.join(missing)}; "
                             f"required: {', '.join(REQUIRED_COLUMNS)}")
        rows = []
        for line, raw in enumerate(reader, start=2):
            r = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            where = f"{meta}:{line}"
            device = r.get("device") or "desktop"
            if device not in DEVICES:
                raise BenchError(f"{where}: device must be desktop or mobile, got {device!r}")
            sid = r.get("sentence_id") or "-1"
            if not re.fullmatch(r"-?\d+", sid):
                raise BenchError(f"{where}: sentence_id must be an integer, got {sid!r}")
            rows.append({
                "file": str(src / r["audio"]), "rel": r["audio"], "subject": r["subject"],
                "challenge": _challenge_id(r["challenge"], where), "sentence_id": int(sid),
                "script": r.get("script") or None, "device": device, "utterance_id": r.get("utterance_id"),
            })
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


def _process(row: dict[str, Any], trim: bool) -> dict[str, Any]:
    x = load(row["file"], SAMPLE_RATE)
    if trim:
        x = trim_silence(x, SAMPLE_RATE)
    data = encode_wav(x, SAMPLE_RATE)
    return {"bytes": data, "duration_s": len(x) / SAMPLE_RATE}


def import_local(src: str | Path, out: str | Path, layout: str = "auto", trim: bool = False,
                 workers: int = 1) -> dict[str, Any]:
    """Import ``src`` into a corpus at ``out``; returns the manifest (with ``skipped``)."""
    src = Path(src)
    if not src.is_dir():
        raise BenchError(f"{src}: no such directory")
    if layout not in ("auto", "metadata", "pitch"):
        raise BenchError(f"--layout must be auto, metadata or pitch, got {layout!r}")
    if layout == "metadata" or (layout == "auto" and (src / "metadata.csv").is_file()):
        if not (src / "metadata.csv").is_file():
            raise BenchError(f"{src}: no metadata.csv")
        rows, layout = _rows_from_metadata(src), "metadata"
    else:
        rows, layout = _rows_from_folders(src), "pitch"

    results: dict[int, dict[str, Any]] = {}
    skipped = []
    indexed = list(enumerate(rows))
    fn = functools.partial(_process_indexed, trim=trim)
    for outcome in run_items(fn, indexed, workers=workers, description="importing"):
        idx, row = outcome.item
        if outcome.ok:
            results[idx] = outcome.result
        else:
            skipped.append({"file": row["rel"], "error": outcome.error.split(": ", 1)[-1]})

    records = []
    seen: set[str] = set()
    for idx, row in indexed:
        if idx not in results:
            continue
        key = get_challenge(row["challenge"]).key
        uid = row["utterance_id"] or re.sub(r"[^\w\-]+", "_", Path(row["rel"]).with_suffix("").as_posix())
        if uid in seen:
            raise BenchError(f"{src}: duplicate utterance_id {uid!r}")
        seen.add(uid)
        script = row["script"]
        if script is None:
            script = script_for(key, row["sentence_id"])[0] if row["sentence_id"] >= 0 else ""
        records.append({
            "utterance_id": uid, "subject": row["subject"], "challenge": row["challenge"],
            "sentence_id": row["sentence_id"], "script": script, "device": row["device"],
            "audio": {"bytes": results[idx]["bytes"], "path": Path(row["rel"]).with_suffix(".wav").name},
            "sample_rate": SAMPLE_RATE, "duration_s": results[idx]["duration_s"],
        })
    if not records:
        raise BenchError(f"{src}: none of the {len(rows)} audio files could be read")
    manifest = {"kind": "corpus", "simulated": False, "name": src.name, "source": str(src),
                "layout": layout, "trim_silence": trim, "skipped": skipped}
    return save(build_dataset(records), out, manifest)


def _process_indexed(indexed: tuple[int, dict[str, Any]], trim: bool) -> dict[str, Any]:
    return _process(indexed[1], trim)
