"""Readers for the field's datasets in the layouts they are distributed in (local folders).

Each reader takes the dataset's root folder and a split, reads the protocol or metadata file line by
line, checks every line (field count, label word, a file name that stays inside the folder, the audio
being there) and returns a :class:`~bench.data.labelled.LabelledSet`. The layouts, as documented by
their publishers (see each reader's ``reference``):

- ``asvspoof2019``: ``ASVspoof2019_{LA,PA}_cm_protocols/ASVspoof2019.{LA,PA}.cm.{train.trn,dev.trl,eval.trl}.txt``
  (``SPEAKER UTTERANCE ENV ATTACK KEY``, KEY ``bonafide``/``spoof``, ATTACK ``-`` for bona fide) beside
  ``ASVspoof2019_{LA,PA}_{train,dev,eval}/flac/UTTERANCE.flac``.
- ``asvspoof2021``: ``keys/{LA,DF}/CM/trial_metadata.txt`` beside ``ASVspoof2021_{LA,DF}_eval/flac/``.
- ``asvspoof5``: ``ASVspoof5.{train,dev,eval}*.tsv`` protocols beside ``flac_{T,D,E}*/``.
- ``in-the-wild``: ``meta.csv`` (``file,speaker,label``, label ``bona-fide``/``spoof``) beside the WAV files.
- ``mlaad``: ``fake/LANGUAGE/MODEL/*.wav`` (each model folder with its ``meta.csv``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.data.labelled import (
    BONA_FIDE_ATTACK,
    LabelledItem,
    LabelledSet,
    check_unique,
    files_digest,
    parse_label,
)
from bench.errors import BenchError
from bench.fileio import check_relative_name, confined

ASVSPOOF_WORDS = {"bonafide": 0, "spoof": 1}
ITW_WORDS = {"bona-fide": 0, "spoof": 1}
MAX_LINE = 4096  #: a protocol line is under 200 bytes; longer is not a protocol file


def detect_layout(root: Path) -> str:
    """Which layout ``root`` holds; one line listing what was looked for otherwise."""
    for name, probe in _PROBES.items():
        if probe(root):
            return name
    raise BenchError(f"{root}: not a known dataset layout (looked for ASVspoof 2019 *_cm_protocols/, ASVspoof "
                     "2021 keys/*/CM/trial_metadata.txt, ASVspoof 5 ASVspoof5.*.tsv, In-the-Wild meta.csv, MLAAD "
                     "fake/, or *.parquet files); see docs/datasets.md")


def read_layout(layout: str, root: Path, split: str | None) -> LabelledSet:
    """Read ``split`` (default: the layout's evaluation split) of a local dataset in ``layout``."""
    return _READERS[layout](root, split)


# ------------------------------------------------------------------------------------------ helpers
def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for the non-empty lines of a text protocol, each checked for length."""
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if len(line) > MAX_LINE:
                    raise BenchError(f"{path}:{n}: a line of {len(line)} characters is not a protocol line")
                if line.strip():
                    yield n, line.strip()
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _fields(line: str, n_min: int, where: str, expected: str) -> list[str]:
    parts = line.split()
    if len(parts) < n_min:
        raise BenchError(f"{where}: {len(parts)} field(s), expected {n_min} ({expected})")
    return parts


def _audio(folder: Path, name: str, where: str) -> dict[str, str]:
    """The audio entry of a file named in a protocol: checked to stay inside ``folder`` and to exist."""
    path = confined(folder, check_relative_name(name, where), where)
    if not path.is_file():
        raise BenchError(f"{where}: {name} is listed but {path} does not exist")
    return {"path": str(path)}


def _pick_split(split: str | None, available: dict[str, object], default: str, root: Path) -> str:
    split = split or default
    if split not in available:
        raise BenchError(f"{root}: no split {split!r} (this dataset has {', '.join(available) or 'none'})")
    return split


# ------------------------------------------------------------------------------------------ ASVspoof 2019
_2019_PROTOCOLS = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def _asvspoof2019_root(root: Path) -> tuple[Path, str] | None:
    """(folder holding the track's folders, track) for a root that is the LA/PA folder or holds one."""
    for base in (root, root / "LA", root / "PA"):
        for track in ("LA", "PA"):
            if (base / f"ASVspoof2019_{track}_cm_protocols").is_dir():
                return base, track
    return None


def read_asvspoof2019(root: Path, split: str | None) -> LabelledSet:
    """ASVspoof 2019 LA or PA as distributed (protocols folder beside one flac folder per split)."""
    found = _asvspoof2019_root(root)
    assert found is not None
    base, track = found
    protocols = base / f"ASVspoof2019_{track}_cm_protocols"
    available = {s: protocols / f"ASVspoof2019.{track}.cm.{suffix}.txt" for s, suffix in _2019_PROTOCOLS.items()
                 if (protocols / f"ASVspoof2019.{track}.cm.{suffix}.txt").is_file()}
    split = _pick_split(split, available, "eval", root)
    protocol = available[split]
    flac = base / f"ASVspoof2019_{track}_{split}" / "flac"
    items = []
    for n, line in _lines(protocol):
        where = f"{protocol}:{n}"
        speaker, utt, env, attack, key = _fields(line, 5, where, "SPEAKER UTTERANCE ENV ATTACK KEY")[:5]
        label = parse_label(key, ASVSPOOF_WORDS, where)
        conditions = {"environment": env} if track == "PA" and env != "-" else {}
        items.append(LabelledItem(utt, label, attack if label else BONA_FIDE_ATTACK, speaker, split,
                                  _audio(flac, f"{utt}.flac", where), conditions))
    check_unique(items, str(protocol))
    asv_file = base / f"ASVspoof2019_{track}_asv_scores" / f"ASVspoof2019.{track}.asv.{split}.gi.trl.scores.txt"
    asv = _asv_scores(asv_file) if asv_file.is_file() else None
    return LabelledSet(name=f"asvspoof2019-{track.lower()}", layout="asvspoof2019", source=str(root), split=split,
                       items=items, splits=list(available),
                       revision=files_digest([protocol, *([asv_file] if asv else [])]),
                       label_words=ASVSPOOF_WORDS, reference="ASVspoof 2019 evaluation plan; clovaai/aasist "
                       "data_utils.genSpoof_list reads the same 5 fields", asv_scores=asv)


ASV_KEYS = ("target", "nontarget", "spoof")


def _asv_scores(path: Path) -> tuple[list[str], list[float]]:
    """The organisers' ASV scores (``CM_KEY ASV_KEY SCORE`` per line, ASV_KEY target/nontarget/spoof), for the
    tandem t-DCF."""
    keys, scores = [], []
    for n, line in _lines(path):
        where = f"{path}:{n}"
        _, key, score = _fields(line, 3, where, "CM_KEY ASV_KEY SCORE")[:3]
        if key not in ASV_KEYS:
            raise BenchError(f"{where}: ASV key {key!r} is not {', '.join(ASV_KEYS)}")
        try:
            value = float(score)
        except ValueError:
            raise BenchError(f"{where}: score {score!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise BenchError(f"{where}: score {score!r} is not a finite number")
        keys.append(key)
        scores.append(value)
    return keys, scores


# ------------------------------------------------------------------------------------------ ASVspoof 2021
#: trial_metadata.txt columns (asvspoof-challenge/2021 eval-package config.py), by track
_2021_COLUMNS = {
    "LA": ("speaker", "trial", "codec", "transmission", "attack", "label", "trim", "subset"),
    "DF": ("speaker", "trial", "compression", "source", "attack", "label", "trim", "subset", "vocoder", "task",
           "team", "gender_pair", "language"),
}
_2021_CONDITIONS = {"LA": ("codec", "transmission", "trim"), "DF": ("compression", "source", "vocoder", "trim")}
_2021_SPLITS = ("eval", "progress", "hidden", "all")


def _asvspoof2021_track(root: Path) -> str | None:
    for track in ("LA", "DF"):
        if (root / "keys" / track / "CM" / "trial_metadata.txt").is_file():
            return track
    return None


def _flac_index(folders: list[Path]) -> dict[str, Path]:
    """File name -> folder for every flac folder of a (possibly multi-part) distribution."""
    index: dict[str, Path] = {}
    for folder in folders:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.endswith(".flac"):
                    index[entry.name] = folder
    return index


def read_asvspoof2021(root: Path, split: str | None) -> LabelledSet:
    """ASVspoof 2021 LA or DF: the keys' ``trial_metadata.txt`` beside ``ASVspoof2021_{LA,DF}_eval/flac`` (or
    the DF distribution's ``ASVspoof2021_DF_eval_part0N/ASVspoof2021_DF_eval/flac`` parts). Splits are the
    keys' subsets (eval, progress, hidden) and ``all``."""
    track = _asvspoof2021_track(root)
    assert track is not None
    split = _pick_split(split, dict.fromkeys(_2021_SPLITS), "eval", root)
    meta = root / "keys" / track / "CM" / "trial_metadata.txt"
    flac = [p for p in [root / f"ASVspoof2021_{track}_eval" / "flac",
                        *sorted(root.glob(f"ASVspoof2021_{track}_eval_part*/ASVspoof2021_{track}_eval/flac"))]
            if p.is_dir()]
    if not flac:
        raise BenchError(f"{root}: no ASVspoof2021_{track}_eval/flac folder beside keys/ (unpack the evaluation "
                         "audio there)")
    index = _flac_index(flac)
    columns = _2021_COLUMNS[track]
    items = []
    for n, line in _lines(meta):
        where = f"{meta}:{n}"
        row = dict(zip(columns, _fields(line, len(columns), where, " ".join(c.upper() for c in columns)),
                       strict=False))
        if split != "all" and row["subset"] != split:
            continue
        label = parse_label(row["label"], ASVSPOOF_WORDS, where)
        name = check_relative_name(f"{row['trial']}.flac", where)
        if name not in index:
            raise BenchError(f"{where}: {row['trial']} is listed but no {name} is in {', '.join(map(str, flac))}")
        items.append(LabelledItem(row["trial"], label, row["attack"] if label else BONA_FIDE_ATTACK,
                                  row["speaker"], split, {"path": str(confined(index[name], name, where))},
                                  {k: row[k] for k in _2021_CONDITIONS[track]}))
    check_unique(items, str(meta))
    return LabelledSet(name=f"asvspoof2021-{track.lower()}", layout="asvspoof2021", source=str(root), split=split,
                       items=items, splits=list(_2021_SPLITS), revision=files_digest([meta]),
                       label_words=ASVSPOOF_WORDS, reference="asvspoof-challenge/2021 eval-package (config.py "
                       "column names of keys/*/CM/trial_metadata.txt)")


# ------------------------------------------------------------------------------------------ ASVspoof 5
#: the released protocols (ASVspoof 5 README.txt): space-separated despite the .tsv suffix, ten columns
_5_COLUMNS = ("speaker", "file", "gender", "codec", "codec_quality", "codec_seed", "attack_tag", "attack", "key",
              "reserved")
_5_SPLITS = {"train": ("ASVspoof5.train.tsv", "flac_T"), "dev": ("ASVspoof5.dev.track_1.tsv", "flac_D"),
             "eval": ("ASVspoof5.eval.track_1.tsv", "flac_E_eval")}


def _asvspoof5_protocols(root: Path) -> Path | None:
    for base in (root, root / "ASVspoof5_protocols"):
        if any((base / name).is_file() for name, _ in _5_SPLITS.values()):
            return base
    return None


def read_asvspoof5(root: Path, split: str | None) -> LabelledSet:
    """ASVspoof 5 track 1: ``ASVspoof5.{train,dev.track_1,eval.track_1}.tsv`` (at the root or in
    ``ASVspoof5_protocols/``) beside ``flac_T``, ``flac_D``, ``flac_E_eval``."""
    base = _asvspoof5_protocols(root)
    assert base is not None
    available = {s: v for s, v in _5_SPLITS.items() if (base / v[0]).is_file()}
    split = _pick_split(split, available, "eval", root)
    protocol_name, folder = available[split]
    protocol = base / protocol_name
    items = []
    for n, line in _lines(protocol):
        where = f"{protocol}:{n}"
        row = dict(zip(_5_COLUMNS, _fields(line, 9, where, " ".join(c.upper() for c in _5_COLUMNS[:9])),
                       strict=False))
        label = parse_label(row["key"], ASVSPOOF_WORDS, where)
        items.append(LabelledItem(row["file"], label, row["attack"] if label else BONA_FIDE_ATTACK, row["speaker"],
                                  split, _audio(root / folder, f"{row['file']}.flac", where),
                                  {"codec": row["codec"], "gender": row["gender"]}))
    check_unique(items, str(protocol))
    return LabelledSet(name="asvspoof5", layout="asvspoof5", source=str(root), split=split, items=items,
                       splits=list(available), revision=files_digest([protocol]), label_words=ASVSPOOF_WORDS,
                       reference="ASVspoof 5 README.txt (Zenodo 14498691): SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER "
                                 "CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP")


# ------------------------------------------------------------------------------------------ MLAAD
def read_mlaad(root: Path, split: str | None) -> LabelledSet:
    """MLAAD: ``fake/LANGUAGE/MODEL/*.wav`` (every file a spoof; the model folder is its attack). MLAAD holds no
    bona fide audio: it pairs with M-AILABS, whose ``LANGUAGE/by_book/GENDER/SPEAKER/BOOK/wavs/*.wav`` folders go
    under ``real/`` (copied, not linked: bench reads nothing outside the dataset's folder)."""
    split = _pick_split(split, {"eval": None}, "eval", root)
    items = []
    for path in sorted((root / "fake").glob("*/*/*.wav")):
        lang, model = path.parent.parent.name, path.parent.name
        rel = path.relative_to(root).as_posix()
        items.append(LabelledItem(rel, 1, model, "-", split, {"path": str(confined(root, rel, str(root)))},
                                  {"language": lang}))
    real = root / "real"
    for path in sorted(real.glob("*/by_book/*/*/*/wavs/*.wav")) if real.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        lang, speaker = path.relative_to(real).parts[0], path.relative_to(real).parts[3]
        items.append(LabelledItem(rel, 0, BONA_FIDE_ATTACK, speaker, split,
                                  {"path": str(confined(root, rel, str(root)))}, {"language": lang}))
    notes = [] if real.is_dir() else ["MLAAD has no bona fide audio: put M-AILABS under real/ (docs/datasets.md)"]
    lists = sorted(p for p in root.glob("fake/*/*/meta.csv"))
    return LabelledSet(name="mlaad", layout="mlaad", source=str(root), split=split, items=items, splits=["eval"],
                       revision=files_digest(lists) if lists else "unversioned (no meta.csv)",
                       label_words={"fake/": 1, "real/": 0}, reference="MLAAD (Müller et al. 2024) folder layout "
                       "fake/LANGUAGE/MODEL; bona fide from M-AILABS", notes=notes)


# ------------------------------------------------------------------------------------------ In-the-Wild
def read_in_the_wild(root: Path, split: str | None) -> LabelledSet:
    """In-the-Wild (Müller et al. 2022): ``meta.csv`` with ``file,speaker,label`` beside the audio; one split."""
    split = _pick_split(split, {"eval": None}, "eval", root)
    meta = root / "meta.csv"
    items = []
    try:
        with meta.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"file", "speaker", "label"} - set(reader.fieldnames or [])
            if missing:
                raise BenchError(f"{meta}: no column(s) {', '.join(sorted(missing))} (In-the-Wild's meta.csv has "
                                 "file, speaker, label)")
            for n, row in enumerate(reader, 2):
                where = f"{meta}:{n}"
                if any(row.get(k) in (None, "") for k in ("file", "speaker", "label")):
                    raise BenchError(f"{where}: a missing field (file, speaker and label are all needed)")
                label = parse_label(row["label"], ITW_WORDS, where)
                name = row["file"].strip()
                items.append(LabelledItem(Path(name).stem, label, "in-the-wild" if label else BONA_FIDE_ATTACK,
                                          row["speaker"].strip(), split, _audio(root, name, where)))
    except UnicodeDecodeError as exc:
        raise BenchError(f"{meta}: not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise BenchError(f"{meta}: not a CSV file ({exc})") from None
    check_unique(items, str(meta))
    return LabelledSet(name="in-the-wild", layout="in-the-wild", source=str(root), split=split, items=items,
                       splits=["eval"], revision=files_digest([meta]), label_words=ITW_WORDS,
                       reference="Müller et al., 'Does audio deepfake detection generalize?' (Interspeech 2022): "
                                 "meta.csv file, speaker, label")


def _has_itw(root: Path) -> bool:
    meta = root / "meta.csv"
    if not meta.is_file():
        return False
    with meta.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline().strip().split(",")
    return {"file", "speaker", "label"} <= {h.strip() for h in header}


def _has_parquet(root: Path) -> bool:
    return any(p.suffix == ".parquet" for p in _walk_limited(root, 3))


def _walk_limited(root: Path, depth: int) -> Iterator[Path]:
    """Files under ``root`` at most ``depth`` folders down (no symbolic-link folders followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= depth:
            dirnames[:] = []
        for f in filenames:
            yield Path(dirpath) / f


_PROBES: dict[str, Callable[[Path], bool]] = {
    "asvspoof2019": lambda r: _asvspoof2019_root(r) is not None,
    "asvspoof2021": lambda r: _asvspoof2021_track(r) is not None,
    "asvspoof5": lambda r: _asvspoof5_protocols(r) is not None,
    "mlaad": lambda r: (r / "fake").is_dir(),
    "in-the-wild": _has_itw,
    "parquet": _has_parquet,
}
_READERS: dict[str, Callable[[Path, str | None], LabelledSet]] = {
    "asvspoof2019": read_asvspoof2019,
    "asvspoof2021": read_asvspoof2021,
    "asvspoof5": read_asvspoof5,
    "in-the-wild": read_in_the_wild,
    "mlaad": read_mlaad,
}
