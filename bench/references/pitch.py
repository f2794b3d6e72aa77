"""The Pitch paper's figures as data (``data/pitch_reference.json``): Tables 3, 4, 5, A.2, A.3 and §5.

Every number here is quoted from the paper as printed, never measured by bench. Tables
keep the paper's units (mostly percent); the helpers that feed comparisons with bench's
own AUROCs return fractions. Detector columns are keyed by detector name (``pitch``,
``lfcc-lcnn``, ``specrnet``) and generator, so a later detector's figures slot in as
one more entry of ``detector_auroc``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel

from bench.errors import BenchError


class Series(BaseModel):
    """One detector's per-challenge AUROC against one generator, as a table of the paper prints it."""

    detector: str
    system: str
    generator: str
    source: str
    per_challenge: dict[int, float]  # fractions
    average: float | None = None  # fraction, as printed
    note: str = ""


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The whole reference document."""
    text = files("bench.references").joinpath("pitch_reference.json").read_text(encoding="utf-8")
    return json.loads(text)


def table(name: str) -> dict[str, Any]:
    """One table (``table3``, ``table4``, ``table5``, ``tableA2``, ``tableA3``) with title, columns, rows, notes."""
    tables = reference()["tables"]
    if name not in tables:
        raise BenchError(f"unknown paper table {name!r}; known: {', '.join(tables)}")
    return tables[name]


def table_label(name: str) -> str:
    """'Table A.2' for 'tableA2'."""
    suffix = name.removeprefix("table")
    return f"Table {suffix[0]}.{suffix[1:]}" if suffix[:1].isalpha() else f"Table {suffix}"


def row(name: str, challenge: int) -> dict[str, Any] | None:
    """A table's row for a challenge id (None when the paper has no such row)."""
    t = table(name)
    return t.get("rows", {}).get(str(challenge)) or t.get("heuristic_rows", {}).get(str(challenge))


def top10() -> list[int]:
    """The paper's ten effective challenges (Table 4): data, never recomputed from bench runs."""
    return list(reference()["top10"]["challenges"])


def headline(key: str) -> Any:
    """A headline figure of the paper (abstract, §5), e.g. ``top10_auroc`` -> 88.7."""
    return reference()["headline"]["figures"][key]["value"]


def headline_figures() -> dict[str, dict[str, Any]]:
    """Every headline figure with its unit and what it measures."""
    return dict(reference()["headline"]["figures"])


def series(detector: str | None = None, generator: str | None = None) -> list[Series]:
    """The paper's per-challenge AUROC series, optionally for one detector and/or generator."""
    out = []
    for s in reference()["detector_auroc"]:
        if (detector and s["detector"] != detector) or (generator and s["generator"] != generator):
            continue
        t = table(s["table"])
        col = s["column"]
        per = {int(cid): r[col] / 100 for cid, r in t["rows"].items() if r.get(col) is not None}
        avg = t.get("average", {}).get(col)
        out.append(Series(detector=s["detector"], system=s["system"], generator=s["generator"],
                          source=table_label(s["table"]), per_challenge=per,
                          average=None if avg is None else avg / 100, note=t.get("note", "")))
    return out


def paper_series(detector: str | None, generator: str = "freevc") -> Series | None:
    """The series a bench detector is compared with (``detector`` is its ``paper_name``), FreeVC by default."""
    if not detector:
        return None
    found = series(detector, generator)
    return found[0] if found else None


def top10_auroc() -> float:
    """The paper's pooled top-10 AUROC (Table 3, 'Average (top-10)'), as a fraction."""
    return table("table3")["average_top10"]["auroc"] / 100
