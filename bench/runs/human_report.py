"""`bench human simulate` and `bench human report` (issue #25): the machine's calibrated verdicts on a result,
simulated or real ratings of its calls, and Pitch's human-AI tables with the paper's numbers beside ours.

The machine side is cross-fitted: calls are split into ``folds`` groups by speaker (``source_subject``: the
person who spoke), and each group's threshold (the EER threshold, unless one is given) and temperature are
fitted on the other groups only. Every confidence reported is therefore from parameters fitted without
that call, never on the scores being reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data.corpus import open_dataset
from bench.errors import BenchError
from bench.evaluation import calibration, routing
from bench.evaluation.detection_metrics import eer
from bench.evaluation.results import load_result, read_scores
from bench.fileio import write_atomic, write_json
from bench.human import analysis
from bench.human.ratings import read_ratings, write_ratings
from bench.human.simulated import simulate_ratings
from bench.outdir import claim_output
from bench.references import pitch

PITCH_ROUTING = {"human_share": 0.56, "machine_share": 0.44, "accuracy": 0.845}  # §5.3 / Fig. 4, quoted


def _scores(result_dir: Path) -> tuple[pd.DataFrame, Any]:
    """The result's per-call scores and its document; one clear line when they are not usable here."""
    path = result_dir / "scores.parquet"
    if not (result_dir / "result.json").is_file() or not path.is_file():
        raise BenchError(f"{result_dir}: not a bench evaluate result (needs result.json and scores.parquet)")
    rows = pd.DataFrame(read_scores(path))
    missing = {"utterance_id", "label", "challenge", "score", "source_subject"} - set(rows.columns)
    if missing:
        raise BenchError(f"{path}: lacks the column(s) {', '.join(sorted(missing))}")
    rows = rows[rows.score.notna()]
    if rows.label.nunique() < 2:
        raise BenchError(f"{path}: needs scored bona fide and fake calls")
    return rows, load_result(result_dir / "result.json")


def machine_view(result_dir: str | Path, threshold: float | None = None, folds: int = 2) -> pd.DataFrame:
    """One row per scored call: ``sample_id``, ``challenge``, ``label``, ``score``, the cross-fitted
    ``threshold`` and ``temperature``, ``p_fake``, ``machine_confidence``, ``machine_fake``, ``machine_mos``."""
    rows, _ = _scores(Path(result_dir))
    speakers = sorted(rows.source_subject.astype(str).unique())
    if len(speakers) < folds:
        raise BenchError(f"cross-fitting needs at least {folds} speakers; the result has {len(speakers)}")
    fold_of = {s: i % folds for i, s in enumerate(speakers)}
    fold = rows.source_subject.astype(str).map(fold_of).to_numpy()
    out = []
    for k in range(folds):
        fit, rep = rows[fold != k], rows[fold == k]
        if fit.label.nunique() < 2:
            raise BenchError(f"fold {k}'s fitting calls hold one class only; use fewer --folds")
        t = threshold if threshold is not None else eer(fit.label.to_numpy(), fit.score.to_numpy())[1]
        temp = calibration.fit_temperature(fit.label, fit.score, t)
        p = calibration.probability_fake(rep.score, t, temp)
        out.append(pd.DataFrame({
            "sample_id": rep.utterance_id.astype(str), "challenge": rep.challenge.astype(int),
            "label": rep.label.astype(int), "score": rep.score.astype(float), "fold": k, "threshold": t,
            "temperature": temp, "p_fake": p, "machine_confidence": np.abs(2 * p - 1), "machine_fake": p >= 0.5,
            "machine_mos": rep["realism.mos"].astype(float) if "realism.mos" in rep else np.nan}))
    return pd.concat(out, ignore_index=True)


def subset_ids(subset: str | Path) -> set[str]:
    """The utterance ids of a ``bench data subset`` folder (its corpus and fakes)."""
    root = Path(subset)
    if not (root / "corpus").is_dir() or not (root / "fakes").is_dir():
        raise BenchError(f"{root}: not a bench data subset folder (needs corpus/ and fakes/)")
    return {str(r["utterance_id"]) for part in ("corpus", "fakes") for r in open_dataset(root / part).to_list()}


def simulate(result_dir: str | Path, out: str | Path, subset: str | Path | None = None, raters: int = 3,
             pool: int = 12, seed: int = 0, overwrite: bool = False) -> dict[str, Any]:
    """Simulated ratings (``bench.human.simulated``) of the result's calls (or a subset's) into out/ratings.csv."""
    params = {"result": str(Path(result_dir).resolve()), "subset": None if subset is None else str(subset),
              "raters": raters, "pool": pool, "seed": seed}
    view = machine_view(result_dir)
    if subset is not None:
        view = view[view.sample_id.isin(subset_ids(subset))]
        if view.empty:
            raise BenchError(f"{subset}: none of its recordings is scored in {result_dir}")
    if not 1 <= raters <= pool:
        raise BenchError(f"--raters must be between 1 and --pool ({pool})")
    claim_output(out, "human simulate", params, inputs=[result_dir, subset], overwrite=overwrite)
    rows = simulate_ratings(view, raters_per_sample=raters, pool=pool, seed=seed)
    write_ratings(Path(out) / "ratings.csv", rows)
    return {"ratings": len(rows), "samples": len(view), "out": str(Path(out) / "ratings.csv")}


def _quoted_table4() -> dict[int, dict[str, float]]:
    t = pitch.table("table4")
    return {int(c): r for c, r in t["rows"].items()}


def report(result_dir: str | Path, ratings_path: str | Path, out: str | Path, threshold: float | None = None,
           automation: float = PITCH_ROUTING["machine_share"], folds: int = 2, overwrite: bool = False) -> dict:
    """Calibration, routing and Pitch's human tables for one result and one ratings file, into out/human.json and
    out/README.md; Pitch's numbers quoted beside every table."""
    result_dir = Path(result_dir)
    params = {"result": str(result_dir.resolve()), "ratings": str(Path(ratings_path).resolve()),
              "threshold": threshold, "automation": automation, "folds": folds}
    if not 0 <= automation <= 1:
        raise BenchError("--automation is a share of calls, between 0 and 1")
    view = machine_view(result_dir, threshold, folds)
    ratings = read_ratings(ratings_path)
    if not ratings:
        raise BenchError(f"{ratings_path}: holds no ratings")
    df = analysis.joined(ratings, view)
    _, result = _scores(result_dir)
    claim_output(out, "human report", params, inputs=[result_dir, ratings_path], overwrite=overwrite)
    doc = build(view, df, result, automation)
    write_json(Path(out) / "human.json", doc)
    write_atomic(Path(out) / "README.md", "\n".join(markdown(doc)).encode())
    return doc


def _calibration(view: pd.DataFrame) -> dict[str, Any]:
    def one(v: pd.DataFrame) -> dict[str, Any]:
        # every call carries its own fold's threshold and temperature: the LLR is (s - t) / T per call
        llr = ((v.score - v.threshold) / v.temperature).to_numpy()
        rep = calibration.calibration_report(v.label, llr, 0.0, 1.0)
        return {k: rep[k] for k in ("n", "ece", "ece_binning", "brier", "act_dcf", "operating_point", "reliability")}

    return {"pooled": one(view), "per_challenge": {int(c): one(g) for c, g in view.groupby("challenge")
                                                   if g.label.nunique() == 2},
            "folds": [{"fold": int(k), "threshold": float(g.threshold.iloc[0]),
                       "temperature": float(g.temperature.iloc[0]), "calls": int(len(g))}
                      for k, g in view.groupby("fold")]}


def build(view: pd.DataFrame, df: pd.DataFrame, result: Any, automation: float) -> dict[str, Any]:
    """The report document (see :func:`report`)."""
    shown = df[df.shown]
    curve = routing.routing_curve(shown.label, shown.machine_fake, shown.machine_confidence, shown.final_fake) \
        if len(shown) else []
    best = max(curve, key=lambda p: (p["accuracy"], p["machine_share"])) if curve else None
    at = routing.operating_point(curve, automation=automation) if curve else None
    table = analysis.per_challenge(df)
    machine_auroc = {c.challenge: c.auroc.value for c in result.per_challenge}
    collab = analysis.collaborative(df, best["cut"]) if best else None
    return {
        "simulated_ratings": bool(df.simulated.any()), "simulated_speech": bool(result.simulated),
        "detector": result.detector.name,
        "samples": int(df.sample_id.nunique()), "ratings": int(len(df)), "raters": int(df.rater.nunique()),
        "calibration": _calibration(view),
        "risk_coverage": routing.risk_coverage(view.label, view.machine_fake, view.machine_confidence),
        "routing": {"curve": curve, "best": best, "at_automation": at, "automation_target": automation},
        "per_challenge": table, "scenarios": analysis.scenarios(df) if len(shown) else None,
        "collaborative": collab, "correlations": analysis.correlations(table, machine_auroc, df),
        "machine_accuracy": float((view.machine_fake == view.label.astype(bool)).mean()),
        "pitch_quoted": {"table4": _quoted_table4(), "table5": pitch.table("table5")["scenarios"],
                         "routing": PITCH_ROUTING, "headline": pitch.headline_figures()},
    }


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def _quoted(q: dict[str, Any], key: str) -> str:
    return f" [{q[key]}]" if key in q else ""


def _calibration_md(doc: dict[str, Any]) -> list[str]:
    cal, op = doc["calibration"]["pooled"], doc["calibration"]["pooled"]["operating_point"]
    lines = ["## Machine calibration (cross-fitted by speaker)", "",
             f"ECE {cal['ece']:.3f} ({cal['ece_binning']}), Brier {cal['brier']:.3f}, actDCF {cal['act_dcf']:.3f} "
             f"(p_spoof {op['p_spoof']}, C_miss {op['c_miss']}, C_fa {op['c_fa']}); machine accuracy "
             f"{_pct(doc['machine_accuracy'])} % (Pitch: 87.7, quoted); AURC {doc['risk_coverage']['aurc']:.3f}.", "",
             "| fold | threshold | temperature | calls |", "|---|---|---|---|"]
    return lines + [f"| {f['fold']} | {f['threshold']:.4g} | {f['temperature']:.4g} | {f['calls']} |"
                    for f in doc["calibration"]["folds"]]


def _routing_md(doc: dict[str, Any]) -> list[str]:
    r = doc["routing"]
    if not r["best"]:
        return []
    b, a = r["best"], r["at_automation"]
    lines = ["", "## Routing (Pitch Fig. 4)", "",
             "| operating point | machine decides | human decides | joint accuracy % |", "|---|---|---|---|",
             f"| best joint accuracy | {_pct(b['machine_share'])} % | {_pct(b['human_share'])} % | "
             f"{_pct(b['accuracy'])} |"]
    if a:
        lines.append(f"| automation >= {_pct(r['automation_target'])} % | {_pct(a['machine_share'])} % | "
                     f"{_pct(a['human_share'])} % | {_pct(a['accuracy'])} |")
    return lines + ["| Pitch, quoted | 44 % | 56 % | 84.5 |"]


def _table4_md(doc: dict[str, Any]) -> list[str]:
    q4 = doc["pitch_quoted"]["table4"]
    collab = (doc["collaborative"] or {}).get("per_challenge", {})
    lines = ["", "## Per challenge (Pitch Table 4; Pitch's figures quoted in brackets)", "",
             "| challenge | calls | human AUROC of D_h % | vanilla acc. % | majority acc. % | assisted acc. % "
             "| collaborative acc. % | Kendall's W |", "|---|---|---|---|---|---|---|---|"]
    for t in doc["per_challenge"]:
        q, c = q4.get(t["challenge"], {}), collab.get(t["challenge"])
        lines.append(f"| #{t['challenge']} | {t['samples']} | {_pct(t['human_auroc'])} | "
                     f"{_pct(t['vanilla_accuracy'])}{_quoted(q, 'vanilla_acc')} | {_pct(t['majority_accuracy'])} | "
                     f"{_pct(t['assisted_accuracy'])}{_quoted(q, 'assisted_acc')} | "
                     f"{_pct(c['accuracy'] if c else None)}{_quoted(q, 'collaborative_acc')} | "
                     f"{t['kendalls_w']:.2f} |")
    return lines


def _table5_md(doc: dict[str, Any]) -> list[str]:
    s = doc["scenarios"]
    if not s:
        return []
    quoted5 = {x["scenario"]: x["count"] for x in doc["pitch_quoted"]["table5"]}
    mark = {True: "✓", False: "✗"}
    lines = ["", "## Machine-assisted decisions (Pitch Table 5)", "",
             "| scenario | I | M | F | count | confidence change (points) | Pitch count (quoted) |",
             "|---|---|---|---|---|---|---|"]
    for x in s["rows"]:
        change = "–" if x["confidence_change"] is None else f"{x['confidence_change']:+.1f}"
        lines.append(f"| {x['scenario']} | {mark[x['initial']]} | {mark[x['machine']]} | {mark[x['final']]} | "
                     f"{x['count']} | {change} | {quoted5[x['scenario']]} |")
    return lines + ["", f"The machine corrected a wrong human {_pct(s['machine_corrected_rate'])} % of the time "
                        f"(Pitch: 45.4, quoted) and misled a right one {_pct(s['machine_misled_rate'])} % (Pitch: "
                        f"29.8). A disagreeing verdict was taken {_pct(s['accepted_with_rationale'])} % with the "
                        f"rationale, {_pct(s['accepted_without_rationale'])} % without (Pitch: 42.4 vs 43.0)."]


def markdown(doc: dict[str, Any]) -> list[str]:
    """README.md of a report: every table with Pitch's quoted numbers beside ours, and what is simulated."""
    who = ("SIMULATED raters (bench.human.simulated: a model following Pitch Tables 4 and 5, not people)"
           if doc["simulated_ratings"] else "human raters")
    speech = "simulated speech" if doc["simulated_speech"] else "recorded speech"
    lines = [f"# Human-AI report: {doc['detector']}", "",
             f"{doc['ratings']} ratings of {doc['samples']} calls by {doc['raters']} {who}; calls: {speech}.", ""]
    lines += _calibration_md(doc) + _routing_md(doc) + _table4_md(doc) + _table5_md(doc)
    corr = doc["correlations"]
    if corr["auroc_across_challenges"] is not None:
        lines += ["", f"Human vs machine AUROC across {corr['challenges']} challenges: Pearson "
                      f"{corr['auroc_across_challenges']:.2f} (Pitch: 0.12, quoted)."]
    return lines + [""]
