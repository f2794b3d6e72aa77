"""The human ratings file (issue #25): one row per (sample, rater), as ``bench rate`` writes it.

Columns, in this order (CSV, UTF-8, header row):

- ``sample_id``: the rated sample (an id of the subset the ratings belong to);
- ``rater``: a pseudonymous rater id (no names: the file holds personal judgements);
- ``compliance``: 1 if the rater heard the challenge performed, else 0;
- ``realism``: 1-5, an ITU-T P.808 absolute category rating (5 = excellent);
- ``initial_decision``, ``initial_confidence``: ``real`` or ``fake``, and how sure, 50-100 (%);
- ``machine_verdict``: ``real`` or ``fake`` as shown to the rater after the initial decision, empty when
  the rater saw none (the vanilla study);
- ``rationale_shown``: 1 if the verdict came with the machine's rationale, else 0;
- ``final_decision``, ``final_confidence``: after seeing the verdict (empty when none was shown);
- ``simulated``: 1 for a row written by the simulated-rater model (``bench.human.simulated``), never a person.

Reading checks every row and names the first bad one (line and column) in one line.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from bench.errors import BenchError
from bench.fileio import write_atomic

COLUMNS = ("sample_id", "rater", "compliance", "realism", "initial_decision", "initial_confidence",
           "machine_verdict", "rationale_shown", "final_decision", "final_confidence", "simulated")
Decision = Literal["real", "fake"]


class Rating(BaseModel):
    """One rater's answers on one sample."""

    sample_id: str = Field(min_length=1, max_length=200)
    rater: str = Field(min_length=1, max_length=100)
    compliance: int = Field(ge=0, le=1)
    realism: int = Field(ge=1, le=5)
    initial_decision: Decision
    initial_confidence: int = Field(ge=50, le=100)
    machine_verdict: Decision | None = None
    rationale_shown: int = Field(default=0, ge=0, le=1)
    final_decision: Decision | None = None
    final_confidence: int | None = Field(default=None, ge=50, le=100)
    simulated: int = Field(default=0, ge=0, le=1)

    @model_validator(mode="after")
    def _assisted_fields_together(self) -> Rating:
        shown = self.machine_verdict is not None
        if shown != (self.final_decision is not None) or shown != (self.final_confidence is not None):
            raise ValueError("machine_verdict, final_decision and final_confidence are given together or not at all")
        if not shown and self.rationale_shown:
            raise ValueError("rationale_shown is 1 but no machine verdict was shown")
        return self

    def row(self) -> list[str]:
        """The CSV cells, in ``COLUMNS`` order."""
        return ["" if (v := getattr(self, c)) is None else str(v) for c in COLUMNS]


def read_ratings(path: str | os.PathLike) -> list[Rating]:
    """Every rating of a ratings CSV, validated; a missing or malformed file is one clear error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BenchError(f"cannot read ratings file {p}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != list(COLUMNS):
        raise BenchError(f"{p}: the header must be {','.join(COLUMNS)} (got {','.join(reader.fieldnames or [])})")
    out, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        if None in raw or any(v is None for v in raw.values()):
            raise BenchError(f"{p}, line {line}: expected {len(COLUMNS)} fields")
        cells = {k: (v.strip() or None) for k, v in raw.items()}
        try:
            rating = Rating.model_validate({k: v for k, v in cells.items() if v is not None})
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "row"
            raise BenchError(f"{p}, line {line}, {where}: {err['msg']}") from None
        key = (rating.sample_id, rating.rater)
        if key in seen:
            raise BenchError(f"{p}, line {line}: rater {rating.rater!r} rated sample {rating.sample_id!r} twice")
        seen.add(key)
        out.append(rating)
    return out


def ratings_csv(ratings: list[Rating]) -> str:
    """The CSV text of ``ratings`` (header first)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(r.row() for r in ratings)
    return buf.getvalue()


def write_ratings(path: str | os.PathLike, ratings: list[Rating]) -> None:
    """Write ``ratings`` atomically, readable by the owner only (0600): they are personal judgements."""
    write_atomic(path, ratings_csv(ratings).encode("utf-8"))
    os.chmod(path, 0o600)
