"""Figures quoted from the papers this benchmark reproduces, as the leaderboard shows them: beside measured
rows, clearly marked as quoted, and never ranked with them. The figures themselves are in ``bench.references``
(``pitch``, ``devox``: the DevoX row is :data:`bench.references.devox.DEVOX_LATENCY`)."""

from __future__ import annotations

from typing import Any

from bench.references.devox import DEVOX_LATENCY as DEVOX_LATENCY  # the leaderboard's DevoX row
from bench.references.pitch import headline, series, table, table_label, top10, top10_auroc

#: the paper tables shown in full on the leaderboard
SHOWN_TABLES = ("table3", "tableA3")


def pitch_rows() -> list[dict]:
    """Pitch's headline AUROC figures and the average of each detector column (as fractions)."""
    rows = [
        {"source": "Pitch Table 3 (quoted)", "system": "Pitch machine evaluation, the paper's top-10 challenges",
         "auroc": top10_auroc(), "note": "'Average (top-10)' over " + ", ".join(f"#{i}" for i in top10())
         + " (Table 4's set)"},
        {"source": "Pitch Table 3 (quoted)", "system": "Pitch machine evaluation, no challenge (#0)",
         "auroc": headline("no_challenge_auroc") / 100, "note": "56.0% without a challenge"},
    ]
    for s in series():
        fakes = f"{s.generator} fakes" + (" (presumed: the caption was lost)" if s.source == "Table A.3"
                                          and s.detector != "pitch" else "")
        rows.append({"source": f"Pitch {s.source} (quoted)", "system": s.system, "auroc": s.average,
                     "note": f"average as printed; {fakes}"})
    return rows


def pitch_series() -> list[dict[str, Any]]:
    """Every per-challenge AUROC series of the paper, keyed by detector name and generator (fractions)."""
    return [{"detector": s.detector, "system": s.system, "generator": s.generator, "source": s.source,
             "per_challenge": s.per_challenge, "average": s.average} for s in series()]


def pitch_tables() -> dict[str, dict[str, Any]]:
    """The paper's Table 3 and Table A.3 as printed (paper units), with their notes."""
    return {table_label(name): table(name) for name in SHOWN_TABLES}

