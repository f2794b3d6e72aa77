"""Labelled anti-spoofing datasets (the field's own sets) beside bench's challenge corpora.

A labelled set is a list of :class:`LabelledItem`: one audio file with its label (0 = bona fide, 1 =
spoof), the attack or generator that made it (``-`` for bona fide), the speaker, the split, and the
conditions its source records (codec, transmission, vocoder family...). Nothing is converted or copied:
items point at the audio where it lies (a path inside the dataset's folder, or the bytes of a parquet
row), and :func:`open_labelled` reads the layout the set is distributed in:

- local official layouts (:mod:`bench.data.field_layouts`): ASVspoof 2019 LA/PA, ASVspoof 2021 LA/DF,
  ASVspoof 5, In-the-Wild's ``meta.csv``, MLAAD's folders;
- parquet with audio and label columns (:mod:`bench.data.field_parquet`): the Speech Anti-Spoofing
  Arena's arena-ready sets and other Hub copies, from a local folder or a Hub repo id (streamed).

Every source is read whole and checked before anything is written: a protocol line with missing fields,
a label outside the format's words, a name that leads out of the folder or audio that is listed but
missing is one line naming the file and line (exit 2).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError

BONA_FIDE_ATTACK = "-"
#: a source spec: ``DIR`` or ``REPO_ID``, optionally ``:SPLIT`` (a Windows drive letter is not a split)
_SPLIT_SUFFIX = re.compile(r"^(?P<source>.+?):(?P<split>[A-Za-z0-9_.-]+)$")


@dataclass(frozen=True)
class LabelledItem:
    """One labelled recording of a field dataset."""

    utterance_id: str
    label: int  # 0 bona fide, 1 spoof
    attack: str  # attack or generator id (A07, a TTS model name...); "-" for bona fide
    speaker: str
    split: str
    audio: dict[str, Any] | None  # an Audio(decode=False) entry ({"path"} or {"bytes", "path"}); None until streamed
    conditions: dict[str, str] = field(default_factory=dict)  # codec, transmission, vocoder... as the source has


@dataclass
class LabelledSet:
    """One split of a labelled dataset, read and checked, with what identifies it."""

    name: str  # e.g. asvspoof2019-la
    layout: str  # the reader that read it (see LAYOUTS)
    source: str  # the folder or repo id it was read from
    split: str
    items: list[LabelledItem]
    splits: list[str]  # every split the source has
    revision: str  # a Hub commit, or sha256 of the protocol files for a local layout
    label_words: dict[str, int]  # the words this source uses for its labels
    reference: str = ""  # where the layout is documented
    notes: list[str] = field(default_factory=list)
    #: for a source whose audio is read separately (parquet, the Hub): the items' audio entries, in item order,
    #: streamed (items then hold ``audio=None``), so a split's audio is never all in memory
    audio_stream: Callable[[], Iterator[dict[str, Any] | None]] | None = None
    #: ASVspoof 2019: the organisers' ASV scores for this split (keys target/nontarget/spoof, scores), for the
    #: tandem t-DCF; None where the data has none
    asv_scores: tuple[list[str], list[float]] | None = None

    def counts(self) -> dict[str, int]:
        """Items per label word (bona fide / spoof)."""
        c = Counter(it.label for it in self.items)
        return {"bona_fide": c.get(0, 0), "spoof": c.get(1, 0)}

    def breakdowns(self) -> list[str]:
        """The fields metrics are broken down by: ``attack`` when there are several, then each condition with
        more than one value."""
        out = []
        if len({it.attack for it in self.items if it.label == 1}) > 1:
            out.append("attack")
        keys = sorted({k for it in self.items for k in it.conditions})
        out += [k for k in keys if len({it.conditions.get(k) for it in self.items}) > 1]
        return out

    def describe(self) -> dict[str, Any]:
        """What a results document records about the set (no items)."""
        return {"name": self.name, "layout": self.layout, "source": self.source, "split": self.split,
                "splits": self.splits, "revision": self.revision, "items": len(self.items), **self.counts(),
                "label_words": self.label_words, "reference": self.reference}


def parse_label(word: str, words: dict[str, int], where: str) -> int:
    """0 or 1 for a label word of this source; one line naming the place and the known words otherwise."""
    key = word.strip()
    if key not in words:
        known = " or ".join(sorted(words))
        raise BenchError(f"{where}: label {word!r} is not {known} (the words this layout uses)")
    return words[key]


def split_source(spec: str) -> tuple[str, str | None]:
    """``DIR[:SPLIT]`` or ``REPO_ID[:SPLIT]`` -> (source, split or None). A path that exists as written keeps
    its colon."""
    if Path(spec).exists():
        return spec, None
    m = _SPLIT_SUFFIX.match(spec)
    return (m["source"], m["split"]) if m else (spec, None)


def files_digest(paths: list[Path]) -> str:
    """sha256 over the named files' bytes (names included): a local layout's revision."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        h.update(p.name.encode() + b"\0")
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def check_unique(items: list[LabelledItem], where: str) -> None:
    """One line when two items share an utterance id (scores are keyed by it)."""
    seen: set[str] = set()
    for it in items:
        if it.utterance_id in seen:
            raise BenchError(f"{where}: utterance {it.utterance_id!r} is listed twice")
        seen.add(it.utterance_id)


def open_labelled(spec: str, split: str | None = None, *, revision: str | None = None,
                  columns: dict[str, str] | None = None, audio_cache: str | os.PathLike | None = None) -> LabelledSet:
    """Read one split of a labelled dataset: a local folder in an official layout or of parquet files, or a
    Hub repo id (``REPO_ID[:SPLIT]``). ``split`` overrides a ``:SPLIT`` suffix; without either, the layout's
    evaluation split. ``columns`` maps bench's fields (audio, label, attack, speaker, utterance_id) to a
    parquet source's column names; ``revision`` pins a Hub revision; ``audio_cache`` (a cache root) keeps a Hub
    split's streamed audio for later runs."""
    from bench.data.field_layouts import detect_layout, read_layout
    from bench.data.field_parquet import read_parquet_source

    source, suffix = split_source(spec)
    split = split or suffix
    path = Path(source)
    if path.is_dir():
        layout = detect_layout(path)
        if layout == "parquet":
            return read_parquet_source(str(path), split, revision=revision, columns=columns)
        if columns:
            raise BenchError(f"--columns applies to parquet sources; {source} is a {layout} layout")
        if revision:
            raise BenchError(f"--revision applies to Hub repos; {source} is a local folder")
        return read_layout(layout, path, split)
    if path.exists():
        raise BenchError(f"{source}: not a folder (give the dataset's root folder, or a Hub repo id)")
    if source.count("/") == 1 and not source.startswith((".", "/", "~")):
        return read_parquet_source(source, split, revision=revision, columns=columns, audio_cache=audio_cache)
    raise BenchError(f"{source}: no such folder, and not a Hub repo id (OWNER/NAME)")


def summarize(data: LabelledSet, durations: list[float] | None = None) -> dict[str, Any]:
    """Counts per label, attack and condition (and audio hours when ``durations`` are given): what `bench data
    field-info` prints, and what a cost projection starts from."""
    attacks = Counter(it.attack for it in data.items if it.label == 1)
    conditions: dict[str, Counter] = {}
    for it in data.items:
        for k, v in it.conditions.items():
            conditions.setdefault(k, Counter())[v] += 1
    out: dict[str, Any] = {**data.describe(), "attacks": dict(sorted(attacks.items())),
                           "conditions": {k: dict(sorted(c.items())) for k, c in sorted(conditions.items())},
                           "speakers": len({it.speaker for it in data.items})}
    if durations is not None:
        total = float(sum(durations))
        out["audio"] = {"measured_items": len(durations), "hours": total / 3600,
                        "mean_s": total / len(durations) if durations else None}
    return out
