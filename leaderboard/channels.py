"""The leaderboard's view over the phone: per system and generator, AUROC / EER / minDCF on clean audio and on
each telephone channel its recordings went through (``bench data channel``), and the drop from clean."""

from __future__ import annotations

from typing import Any

from bench.leaderboard.cells import dec, pct, system_grid

CLEAN = "clean"


def channel_table(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``{"channels": [clean, ...], "rows": [...]}``, or None when every row is clean (no table to show). A row
    holds the system, the generator and one cell per channel (None where that system was not run on it); the
    first row of a (system, generator, channel) in the ranking's order stands for it."""
    channels = sorted({r.get("channel") or CLEAN for r in rows} - {CLEAN})
    if not channels:
        return None
    runs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        runs.setdefault((r["system"], r["generator"]), {}).setdefault(r.get("channel") or CLEAN, r)
    table = []
    for (system, generator), per in runs.items():
        clean = per.get(CLEAN)
        cells = {}
        for ch in (CLEAN, *channels):
            r = per.get(ch)
            cells[ch] = None if r is None else {
                "auroc": r["auroc"], "auroc_ci": r["auroc_ci"], "eer": r["eer"], "min_dcf": r["min_dcf"],
                "simulated": r["simulated"],
                "drop": None if ch == CLEAN or clean is None or r["auroc"] is None or clean["auroc"] is None
                else clean["auroc"] - r["auroc"]}
        table.append({"system": system, "generator": generator, "cells": cells})
    return {"channels": [CLEAN, *channels], "rows": table}


def cell_text(c: dict[str, Any] | None) -> str:
    """``AUROC [CI], EER, minDCF (drop)`` of one cell, in %; a dash where the system was not run there."""
    if c is None:
        return "–"
    ci = c["auroc_ci"]
    drop = "" if c["drop"] is None else f" (drop {100 * c['drop']:+.1f})"
    return (f"{pct(c['auroc'])} [{pct(ci[0])}, {pct(ci[1])}]{drop}; EER {pct(c['eer'])}, minDCF "
            f"{dec(c['min_dcf'])}")


def markdown(table: dict[str, Any] | None) -> list[str]:
    """The README's section for :func:`channel_table` (nothing when every row is clean)."""
    if not table:
        return []
    lines = ["", "## Over the phone: AUROC % per telephone channel", "",
             "Each column is the same corpus and fakes passed through one channel (`bench data channel`: band limit, "
             "codec, loss, noise; docs/channel.md). AUROC % [95% CI], with its drop from clean in points; EER %, "
             "minDCF." + (" Simulated speech: these rows describe the simulation (see above)."
                           if any(c and c["simulated"] for r in table["rows"] for c in r["cells"].values()) else ""),
             ""]
    return lines + system_grid("generator", "generator", table["channels"], table["rows"], cell_text)
