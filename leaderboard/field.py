"""The leaderboard's view of detectors on the field's datasets (``bench leaderboard build --dataset RESULT``):
one row per dataset result (EER and AUROC with CIs, minDCF, the organisers' EER, HTER at each carried-over
threshold), and beside them the published figures on record for the same datasets, marked quoted and never
ranked with ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.evaluation.dataset_results import load_dataset_result
from bench.references.field import QUOTED


def _v(est: Any) -> float | None:
    return None if est is None else est.value


def load_dataset_rows(paths: list[str | Path]) -> list[dict[str, Any]]:
    """One row per ``bench evaluate --dataset`` result; the same result twice is an error."""
    rows, seen = [], set()
    for p in paths:
        r = load_dataset_result(p)
        key = (r.detector.model_dump_json(), r.dataset.get("name"), r.dataset.get("split"), r.dataset.get("revision"))
        if key in seen:
            raise BenchError(f"{p}: the same dataset result was given twice")
        seen.add(key)
        o = r.overall
        rows.append({
            "detector": r.detector.name, "model": r.detector.config.get("model"),
            "protocol": r.detector.config.get("protocol", "bench"), "dataset": r.dataset["name"],
            "split": r.dataset["split"], "revision": str(r.dataset["revision"])[:12],
            "n_bona_fide": o.n_bona_fide, "n_fake": o.n_fake,
            "eer": _v(o.eer), "eer_ci": [o.eer.ci_low, o.eer.ci_high], "auroc": _v(o.auroc),
            "auroc_ci": [o.auroc.ci_low, o.auroc.ci_high], "min_dcf": _v(o.min_dcf),
            "official_eer": r.official.eer if r.official else None,
            "min_tdcf": r.official.min_tdcf if r.official else None,
            "deployment": [{"source": d.source, "threshold": d.threshold, "fpr": d.fpr.value, "fnr": d.fnr.value,
                            "hter": d.hter.value, "hter_ci": [d.hter.ci_low, d.hter.ci_high]} for d in r.deployment],
            "date": r.created,
        })
    return rows


def quoted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every published figure on record (bench.references.field) for a dataset and split on the board."""
    present = {(r["dataset"], r["split"]) for r in rows}
    return [{"model": model, "dataset": name, "split": split, **q} for (model, name, split), quotes in QUOTED.items()
            if (name, split) in present for q in quotes]


def quote_metric(q: dict[str, Any]) -> str:
    return "min t-DCF" if q["metric"] == "min_tdcf" else q["metric"].upper() + " %"


def quote_value(q: dict[str, Any]) -> str:
    """A quoted figure as printed: EER in percent, t-DCF as a number."""
    return f"{q['value']:.4f}" if q["metric"] == "min_tdcf" else _pct(q["value"])


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def _ci(v: float | None, ci: list[float | None]) -> str:
    if v is None:
        return "–"
    return _pct(v) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci and ci[0] is not None else "")


def _deployment(r: dict[str, Any]) -> str:
    return "; ".join(f"{d['source']}: HTER {_ci(d['hter'], d['hter_ci'])} (FPR {_pct(d['fpr'])}, FNR "
                     f"{_pct(d['fnr'])})" for d in r["deployment"]) or "–"


def field_cells(r: dict[str, Any]) -> list[str]:
    """The cells of one measured row, for the Markdown and HTML tables alike."""
    return [f"{r['detector']} ({r['model']}, {r['protocol']} protocol)", f"{r['dataset']} {r['split']} "
            f"@{r['revision']}", f"{r['n_bona_fide']} / {r['n_fake']}", _ci(r["eer"], r["eer_ci"]),
            _pct(r["official_eer"]) + ("" if r.get("min_tdcf") is None else f" (min t-DCF {r['min_tdcf']:.4f})"),
            _ci(r["auroc"], r["auroc_ci"]),
            "–" if r["min_dcf"] is None else f"{r['min_dcf']:.3f}", _deployment(r), r["date"][:10]]


FIELD_HEADER = ["system", "dataset split @revision", "n bona fide / spoof", "EER % [95% CI]",
                "organisers' EER %", "AUROC % [95% CI]", "minDCF", "at carried-over thresholds", "date"]


def field_markdown(doc: dict[str, Any]) -> list[str]:
    """The README section (nothing when the board has no dataset result)."""
    rows = doc.get("field_datasets") or []
    if not rows:
        return []
    lines = ["", "## The field's datasets", "", "Detectors on the field's own labelled sets (`bench evaluate "
             "--dataset`). HTER at a threshold fixed before these data (the model card's, or a development "
             "split's EER point) is what a deployment sees; the EER picks its threshold on the evaluation data "
             "itself. Quoted rows are published figures, never measured here.", "",
             "| " + " | ".join(FIELD_HEADER) + " |", "|" + "---|" * len(FIELD_HEADER)]
    lines += ["| " + " | ".join(field_cells(r)) + " |" for r in rows]
    quoted = doc.get("field_quoted") or []
    if quoted:
        lines += ["", "| quoted: model | dataset split | metric | value | source |", "|---|---|---|---|---|"]
        lines += [f"| {q['model']} ({q['protocol']} protocol) | {q['dataset']} {q['split']} | {quote_metric(q)} | "
                  f"{quote_value(q)} | {q['source']} |" for q in quoted]
    return lines
