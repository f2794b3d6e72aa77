"""The leaderboard's index.html: one self-contained page (styles, script and figures inline), rendered with Jinja2
from templates/index.html.j2 (which includes templates/leaderboard.css and templates/leaderboard.js)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Template
from markupsafe import Markup

from bench.leaderboard.cells import cell, challenge_list, dec, heatmap_columns, num, paper_top10, pct, seed_cell
from bench.leaderboard.channels import cell_text
from bench.leaderboard.field import FIELD_HEADER, field_cells, quote_metric, quote_value
from bench.leaderboard.generalisation import cell_text as cross_cell_text
from bench.leaderboard.generalisation import challenge_rows as cross_challenge_rows
from bench.leaderboard.generators import COLUMNS as GENERATOR_COLUMNS
from bench.leaderboard.generators import cells as generator_cells
from bench.leaderboard.latency import html_table as latency_html
from bench.templating import html_environment


def heat_color(v: float | None) -> str:
    """A heat-map cell's background: from red (AUROC 0.5, chance) to green (1.0); grey without a value."""
    return "#eee" if v is None else f"hsl({int(120 * max(0.0, min(1.0, (v - 0.5) * 2)))}, 65%, 72%)"


@cache
def _template() -> Template:
    filters = {"pct": pct, "num": num, "dec": dec, "cell": cell, "seed_cell": seed_cell, "heat_color": heat_color,
               "paper_top10": paper_top10, "channel_cell": cell_text,
               "cross_cell": cross_cell_text}
    return html_environment("bench.leaderboard", filters).get_template("index.html.j2")


def _figures(doc: dict[str, Any], out: Path) -> list[tuple[str, Markup]]:
    """Each figure's name and its SVG, from the ``<svg>`` element on (inline in the page)."""
    figures = []
    for key, rel in doc["figures"].items():
        svg = (out / rel).read_text()
        figures.append((key, Markup(svg[svg.find("<svg"):])))
    return figures


def render(doc: dict[str, Any], out: Path) -> str:
    """index.html for the leaderboard document ``doc`` (as leaderboard.json holds it), its figures read from ``out``."""
    rows = doc["entries"]
    ref = doc["paper_reference"]
    return _template().render(
        doc=doc, rows=rows, generators=sorted({r["generator"] for r in rows}),
        columns=heatmap_columns(rows, ref["pitch_series"]), top10=challenge_list(ref["pitch_top10"]),
        channels=doc.get("channels"), cross=doc.get("cross_generator"), human=doc.get("human") or [],
        cross_challenges=cross_challenge_rows(doc["cross_generator"]) if doc.get("cross_generator") else [],
        side_by_side=doc.get("generators"), field=doc.get("field_datasets") or [],
        field_quoted=doc.get("field_quoted") or [], field_header=FIELD_HEADER, field_cells=field_cells,
        quote_metric=quote_metric, quote_value=quote_value,
        generator_columns=GENERATOR_COLUMNS, generator_cells=generator_cells, privacy=doc.get("privacy") or [],
        latency=Markup(latency_html(doc.get("latency") or [])), figures=_figures(doc, out))
