"""The leaderboard's generators view: each generator's fakes as Pitch's machine evaluation sees them (pitch or
pitch-lite results on clean audio): the no-challenge AUROC beside Pitch's quoted figure, the fakes' content (WIL),
realism (DNSMOS or NISQA) and speaker similarity beside the originals', and how fast they were made."""

from __future__ import annotations

from typing import Any

from bench.leaderboard.cells import dec, pct

#: per-sample columns of a Pitch-style result: content WIL, realism MOS, speaker similarity to the target's reference
MEASURES = {"wil": "content", "mos": "realism.mos", "speaker": "speaker.similarity"}


def _mean(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [r[column] for r in rows if r.get(column) is not None]
    return sum(values) / len(values) if values else None


def generator_table(entries: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``{"rows": [...]}``, one per generator, from the first clean Pitch-style result (in the ranking's order) on its
    fakes; None unless two generators have one."""
    by_id = {e["id"]: e for e in entries}
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        e = by_id[r["id"]]
        scores = e["scores"] or []
        if r["generator"] in found or (r.get("channel") or "clean") != "clean" or not scores \
                or any(c not in scores[0] for c in MEASURES.values()):
            continue
        scoped = [s for s in scores if s.get("in_scope", True)]
        zero = next((c for c in e["result"].per_challenge if c.challenge == 0), None)
        generation = e["result"].fakes.get("generation") or {}
        found[r["generator"]] = {
            "generator": r["generator"], "system": r["system"], "simulated": r["simulated"],
            "auroc0": zero.auroc.value if zero else None,
            "auroc0_ci": [zero.auroc.ci_low, zero.auroc.ci_high] if zero else [None, None],
            "n0": [zero.n_bona_fide, zero.n_fake] if zero else None,
            "paper_auroc0": zero.paper_auroc if zero else None,
            "auroc": r["auroc"], "auroc_ci": r["auroc_ci"],
            **{f"{key}_{who}": _mean([s for s in scoped if s["label"] == label], column)
               for key, column in MEASURES.items() for who, label in (("orig", 0), ("fake", 1))},
            "x_real_time": generation.get("x_real_time_per_worker"), "streaming": generation.get("streaming")}
    return {"rows": list(found.values())} if len(found) >= 2 else None


def _streaming(s: dict[str, Any] | None) -> str:
    if not s:
        return "–"
    return (f"{s['chunk_ms']:.0f} ms chunks, delay {s['algorithmic_delay_ms']:.0f} ms, compute p95 "
            f"{s['compute_ms_p95']:.0f} ms")


def cells(g: dict[str, Any]) -> list[str]:
    """One generator's cells, in :data:`COLUMNS` order."""
    ci = g["auroc0_ci"]
    n = f" ({g['n0'][0]}+{g['n0'][1]})" if g["n0"] else ""
    return [g["generator"], g["system"], f"{pct(g['auroc0'])} [{pct(ci[0])}, {pct(ci[1])}]{n}",
            "–" if g["paper_auroc0"] is None else f"{pct(g['paper_auroc0'])} (quoted)",
            f"{pct(g['auroc'])} [{pct(g['auroc_ci'][0])}, {pct(g['auroc_ci'][1])}]",
            f"{dec(g['wil_orig'])} / {dec(g['wil_fake'])}", f"{dec(g['mos_orig'])} / {dec(g['mos_fake'])}",
            f"{dec(g['speaker_orig'])} / {dec(g['speaker_fake'])}",
            "–" if g["x_real_time"] is None else f"{g['x_real_time']:.2f}x", _streaming(g["streaming"])]


COLUMNS = ["generator", "scored by", "no-challenge (#0) AUROC % [95% CI] (n)", "Pitch #0, FreeVC",
           "all challenges AUROC %", "WIL originals / fakes", "MOS originals / fakes",
           "speaker similarity to the target's reference, originals / fakes", "made x real time per worker",
           "streaming"]


def markdown(table: dict[str, Any] | None) -> list[str]:
    """The README's section for :func:`generator_table` (nothing without one)."""
    if not table:
        return []
    simulated = any(g["simulated"] for g in table["rows"])
    lines = ["", "## Generators side by side", "",
             "Each generator's fakes as Pitch's machine evaluation scores them (clean audio): the lower the "
             "no-challenge AUROC, the more convincing the fakes before any challenge. Pitch's figure is quoted "
             "(FreeVC on recorded speech), never measured here. 'made x real time per worker': audio seconds over "
             "the conversions' wall seconds in `bench generate`'s worker processes."
             + (" Simulated speech: these rows describe the simulation." if simulated else ""), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(g)) + " |" for g in table["rows"]]
    return lines
