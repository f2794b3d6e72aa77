"""Build a leaderboard (Markdown, self-contained HTML, JSON, figures) from results JSONs.

Each results JSON may have a ``scores.parquet`` beside it (as `bench evaluate` writes);
then ROC/DET curves and degradation distributions are drawn from the per-sample scores.
The parts: rows from results (:mod:`~bench.leaderboard.entries`), figures (:mod:`~bench.leaderboard.figures`),
README.md (:mod:`~bench.leaderboard.readme`), index.html (:mod:`~bench.leaderboard.page`, a Jinja2 template).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench import __version__
from bench.challenges.taxonomy import all_challenges
from bench.fileio import write_atomic
from bench.leaderboard import figures, page, readme
from bench.leaderboard.cells import heatmap_columns
from bench.leaderboard.channels import channel_table
from bench.leaderboard.entries import caveats, load_entries, load_privacy, row, system_label
from bench.leaderboard.field import load_dataset_rows, quoted_rows
from bench.leaderboard.generalisation import cross_generator_table
from bench.leaderboard.generators import generator_table
from bench.leaderboard.human import draw as draw_human
from bench.leaderboard.human import load_human
from bench.leaderboard.latency import load_latency_rows
from bench.leaderboard.reference import DEVOX_LATENCY, pitch_rows, pitch_series, pitch_tables
from bench.outdir import claim_output
from bench.references.pitch import top10

__all__ = ["build", "caveats", "heatmap_columns", "load_entries", "load_privacy", "system_label"]


def build(paths: list[str | Path], out: str | Path, title: str = "bench leaderboard",
          overwrite: bool = False, privacy: list[str | Path] | None = None,
          latency: list[str | Path] | None = None, human: list[str | Path] | None = None,
          datasets: list[str | Path] | None = None) -> dict[str, Any]:
    """Write README.md, index.html, leaderboard.json and figures/ into ``out``; returns the JSON.

    Results with a caveat that makes them incomparable (in-sample metrics) are listed with
    the caveat but not ranked. ``privacy``: ``bench privacy`` reports of split models, shown in
    their own table and beside the rows of the same model. ``latency``: ``bench latency`` results, in a
    table beside DevoX Table 3 (quoted); a ranked row of the same model without its own latency gets the
    p95 of the model's first real-time run. ``human``: ``bench human report`` outputs (calibration, routing and
    Pitch's human tables, Pitch quoted beside). ``datasets``: ``bench evaluate --dataset`` results, in their own
    table with the published figures for the same datasets quoted beside.
    """
    entries = load_entries(paths)
    leaks = load_privacy(privacy or [])
    lat_rows = load_latency_rows(latency or [])
    humans = load_human(human or [])
    field_rows = load_dataset_rows(datasets or [])
    out = Path(out)
    claim_output(out, "leaderboard build", {"results": sorted(str(Path(p).resolve()) for p in paths),
                                            "privacy": sorted(str(Path(p).resolve()) for p in privacy or []),
                                            "latency": sorted(str(Path(p).resolve()) for p in latency or []),
                                            "human": sorted(str(Path(p).resolve()) for p in human or []),
                                            "datasets": sorted(str(Path(p).resolve()) for p in datasets or []),
                                            "title": title},
                 inputs=[*paths, *(privacy or []), *(latency or []), *(human or []), *(datasets or [])],
                 overwrite=overwrite)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    rows = sorted((row(e) for e in entries), key=lambda r: (not r["ranked"], -(r["auroc"] or 0)))
    rank = 0
    for r in rows:
        if r["ranked"]:
            rank += 1
        r["rank"] = rank if r["ranked"] else None
        r["privacy"] = next((p for p in leaks if p["model"] == r["model"]), None)
        lat = next((x for x in lat_rows if x["model"] == r["model"] and x["realtime"]), None)
        if r["latency_p95_ms"] is None and lat is not None:
            r["latency_p95_ms"], r["latency_p50_ms"] = lat["p95_ms"], lat["p50_ms"]
    drawn = figures.draw(entries, out / "figures")
    drawn.update(draw_human(humans, out / "figures"))
    doc = {
        "title": title, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "bench_version": __version__,
        "entries": rows, "challenges": [{"id": c.id, "key": c.key, "name": c.name} for c in all_challenges()],
        "paper_reference": {"pitch": pitch_rows(), "pitch_series": pitch_series(), "pitch_top10": top10(),
                            "pitch_tables": pitch_tables(), "devox_latency": DEVOX_LATENCY},
        "figures": drawn, "privacy": leaks, "latency": lat_rows,
    }
    over_the_phone = channel_table(rows)
    if over_the_phone:  # only when some result went through a telephone channel: a clean board is unchanged
        doc["channels"] = over_the_phone
    side_by_side = generator_table(entries, rows)
    if side_by_side:  # only when two generators' fakes were scored by Pitch's machine evaluation
        doc["generators"] = side_by_side
    if humans:  # only when human-AI reports were given
        doc["human"] = [{k: h[k] for k in ("detector", "who", "sections", "simulated_ratings")} for h in humans]
    if field_rows:  # only when dataset results were given
        doc["field_datasets"], doc["field_quoted"] = field_rows, quoted_rows(field_rows)
    across = cross_generator_table(rows)
    if across:  # only when a trained system was tested on two generators' fakes
        doc["cross_generator"] = across
    write_atomic(out / "leaderboard.json", json.dumps(doc, indent=2, default=str).encode())
    write_atomic(out / "README.md", readme.render(doc).encode())
    write_atomic(out / "index.html", page.render(doc, out).encode())
    return doc
