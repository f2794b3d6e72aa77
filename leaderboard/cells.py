"""How the leaderboard's tables show a value (the Markdown README and the HTML page alike), and the order of the
per-challenge grid's columns."""

from __future__ import annotations

from typing import Any

from bench.references.pitch import top10_auroc


def system_grid(second: str, second_key: str, columns: list[str], rows: list[dict[str, Any]],
                cell_text: Any) -> list[str]:
    """A Markdown table of systems (``system``, then ``second_key`` headed ``second``) against ``columns``, each
    cell ``cell_text(row["cells"][column])``."""
    lines = [f"| system | {second} | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for r in rows:
        lines.append(f"| {r['system']} | {r[second_key]} | " + " | ".join(cell_text(r["cells"][c]) for c in columns)
                     + " |")
    return lines


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal ("–" for none)."""
    return "–" if x is None else f"{100 * x:.1f}"


def num(x: float | None) -> str:
    """A number with one decimal ("–" for none)."""
    return "–" if x is None else f"{x:.1f}"


def dec(x: float | None) -> str:
    """A number with three decimals ("–" for none)."""
    return "–" if x is None else f"{x:.3f}"


def cell(v: Any) -> str:
    """A quoted table's cell as printed ("–" for none)."""
    return "–" if v is None else str(v)


def seed_cell(r: dict[str, Any]) -> str:
    """AUROC over seeds, "97.1 +- 0.4 (3 seeds)"; "–" for a single model."""
    if not r.get("seeds"):
        return "–"
    std = r["auroc_seed_std"]
    return f"{pct(r['auroc_seed_mean'])}{f' +- {100 * std:.1f}' if std is not None else ''} ({len(r['seeds'])} seeds)"


def challenge_list(ids: list[int]) -> str:
    """Challenge ids as the pages name them: "#1, #2, #3"."""
    return ", ".join(f"#{i}" for i in ids)


def paper_top10(series: dict[str, Any]) -> float | None:
    """The paper's top-10 figure for a quoted series: Table 3's 'Average (top-10)' for Pitch on FreeVC only."""
    return top10_auroc() if series["detector"] == "pitch" and series["generator"] == "freevc" else None


def heatmap_columns(rows: list[dict[str, Any]], series: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The per-challenge grid's columns: our rows in ranking order, each paper series quoted right after the last
    of our rows with the same paper name (e.g. Pitch Table A.3's LCNN beside lfcc-lcnn), unmatched ones last."""
    cols: list[tuple[str, Any]] = []
    placed: set[int] = set()
    for i, r in enumerate(rows):
        cols.append(("ours", r))
        if any(later.get("paper_name") == r.get("paper_name") for later in rows[i + 1:]):
            continue
        for k, sr in enumerate(series):
            if k not in placed and r.get("paper_name") and sr["detector"] == r["paper_name"]:
                cols.append(("quoted", sr))
                placed.add(k)
    cols += [("quoted", sr) for k, sr in enumerate(series) if k not in placed]
    return cols
