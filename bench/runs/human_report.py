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
from bench.human import analysis, tables
from bench.human.ratings import read_ratings, write_ratings
from bench.human.simulated import simulate_ratings
from bench.outdir import claim_output
from bench.references import pitch

PITCH_ROUTING = {"human_share": 0.56, "machine_share": 0.44, "accuracy": 0.845}  # §5.3 / Fig. 4, quoted


def in_scope_rows(rows: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The scored calls in the result's scope (a result scores the speakers its detector trained on but leaves
    them out of its metrics: so does everything here); one clear line when they are not usable."""
    missing = {"utterance_id", "label", "challenge", "score", "source_subject"} - set(rows.columns)
    if missing:
        raise BenchError(f"{path}: lacks the column(s) {', '.join(sorted(missing))}")
    rows = rows[rows.score.notna()]
    if "in_scope" in rows:
        rows = rows[rows.in_scope.fillna(True).astype(bool)]
    if rows.label.nunique() < 2:
        raise BenchError(f"{path}: needs scored bona fide and fake calls")
    return rows


def load_scores(result_dir: Path) -> tuple[pd.DataFrame, Any]:
    """The result's in-scope per-call scores and its document; one clear line when they are not usable here."""
    path = result_dir / "scores.parquet"
    if not (result_dir / "result.json").is_file() or not path.is_file():
        raise BenchError(f"{result_dir}: not a bench evaluate result (needs result.json and scores.parquet)")
    return in_scope_rows(pd.DataFrame(read_scores(path)), path), load_result(result_dir / "result.json")


def machine_view(result_dir: str | Path, threshold: float | None = None, folds: int = 2) -> pd.DataFrame:
    """:func:`cross_fit` of a result's in-scope calls."""
    return cross_fit(load_scores(Path(result_dir))[0], threshold, folds)


def cross_fit(rows: pd.DataFrame, threshold: float | None = None, folds: int = 2) -> pd.DataFrame:
    """One row per scored call: ``sample_id``, ``challenge``, ``label``, ``score``, the cross-fitted
    ``threshold`` and ``temperature``, ``p_fake``, ``machine_confidence``, ``machine_fake``, ``machine_mos``, and
    ``fold_by``: ``speaker``, or ``call`` when the result's scope holds fewer speakers than folds (then the folds
    split the calls, in utterance-id order, and a speaker's calls can sit on both sides)."""
    speakers = sorted(rows.source_subject.astype(str).unique())
    if len(speakers) >= folds:
        fold_by, fold_of = "speaker", {s: i % folds for i, s in enumerate(speakers)}
        fold = rows.source_subject.astype(str).map(fold_of).to_numpy()
    else:
        fold_by = "call"
        order = np.argsort(rows.utterance_id.astype(str).to_numpy(), kind="stable")
        fold = np.empty(len(rows), dtype=int)
        fold[order] = np.arange(len(rows)) % folds
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
            "machine_mos": rep["realism.mos"].astype(float) if "realism.mos" in rep else np.nan,
            "fold_by": fold_by}))
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
           automation: float = PITCH_ROUTING["machine_share"], folds: int = 2, overwrite: bool = False,
           target_accuracy: float | None = None) -> dict:
    """Calibration, routing and Pitch's human tables for one result and one ratings file, into out/human.json and
    out/README.md; Pitch's numbers quoted beside every table."""
    result_dir = Path(result_dir)
    params = {"result": str(result_dir.resolve()), "ratings": str(Path(ratings_path).resolve()),
              "threshold": threshold, "automation": automation, "folds": folds, "target_accuracy": target_accuracy}
    if not 0 <= automation <= 1 or not (target_accuracy is None or 0 <= target_accuracy <= 1):
        raise BenchError("--automation and --target-accuracy are fractions, between 0 and 1")
    rows, result = load_scores(result_dir)
    view = cross_fit(rows, threshold, folds)
    ratings = read_ratings(ratings_path)
    if not ratings:
        raise BenchError(f"{ratings_path}: holds no ratings")
    df = analysis.joined(ratings, view)
    claim_output(out, "human report", params, inputs=[result_dir, ratings_path], overwrite=overwrite)
    doc = build(view, df, result, automation, target_accuracy)
    write_json(Path(out) / "human.json", doc)
    write_json(Path(out) / "calibration.json", deployment_calibration(rows, result, view, threshold, result_dir))
    write_atomic(Path(out) / "README.md", "\n".join(tables.markdown(doc)).encode())
    return doc


CERTAIN_RISK = 0.05  # Deepfake-Certainly: the machine erred on at most 5 % of the calls this confident


def deployment_calibration(rows: pd.DataFrame, result: Any, view: pd.DataFrame, threshold: float | None,
                           result_dir: Path) -> dict[str, Any]:
    """For ``bench tag``: threshold and temperature fitted on *all* the result's calls (the report's tables use
    the cross-fitted ones), and the confidence at or above which the machine's cross-fitted error rate was at most
    5 % (``certain_cut``: Deepfake-Certainly)."""
    t = threshold if threshold is not None else eer(rows.label.to_numpy(), rows.score.to_numpy())[1]
    temp = calibration.fit_temperature(rows.label, rows.score, t)
    cut = routing.cut_for_risk(view.label, view.machine_fake, view.machine_confidence, CERTAIN_RISK)
    return {"kind": "bench-calibration", "detector": result.detector.name,
            "detector_config": result.detector.config, "variants": {"default": {"threshold": t, "temperature": temp}},
            "certain_cut": cut, "certain_rule": f"cross-fitted machine error rate <= {CERTAIN_RISK:.0%} at or above "
                                                "this confidence",
            "fitted_on": f"{len(rows)} calls of {result_dir} ({'simulated' if result.simulated else 'recorded'} "
                         "speech)", "simulated": bool(result.simulated)}


def _calibration(view: pd.DataFrame) -> dict[str, Any]:
    def one(v: pd.DataFrame) -> dict[str, Any]:
        # every call carries its own fold's threshold and temperature: the LLR is (s - t) / T per call
        llr = ((v.score - v.threshold) / v.temperature).to_numpy()
        rep = calibration.calibration_report(v.label, llr, 0.0, 1.0)
        return {k: rep[k] for k in ("n", "ece", "ece_binning", "brier", "act_dcf", "operating_point", "reliability")}

    return {"pooled": one(view), "per_challenge": {int(c): one(g) for c, g in view.groupby("challenge")
                                                   if g.label.nunique() == 2},
            "fold_by": str(view.fold_by.iloc[0]),
            "folds": [{"fold": int(k), "threshold": float(g.threshold.iloc[0]),
                       "temperature": float(g.temperature.iloc[0]), "calls": int(len(g))}
                      for k, g in view.groupby("fold")]}


def build(view: pd.DataFrame, df: pd.DataFrame, result: Any, automation: float,
          target_accuracy: float | None = None) -> dict[str, Any]:
    """The report document (see :func:`report`)."""
    shown = df[df.shown]
    curve = routing.routing_curve(shown.label, shown.machine_fake, shown.machine_confidence, shown.final_fake) \
        if len(shown) else []
    best = max(curve, key=lambda p: (p["accuracy"], p["machine_share"])) if curve else None
    at = routing.operating_point(curve, automation=automation) if curve else None
    at_acc = routing.operating_point(curve, accuracy=target_accuracy) if curve and target_accuracy else None
    table = analysis.per_challenge(df)
    machine_auroc = {c.challenge: c.auroc.value for c in result.per_challenge}
    collab = analysis.collaborative(df, best["cut"]) if best else None
    return {
        "kind": "human-report",
        "simulated_ratings": bool(df.simulated.any()), "simulated_speech": bool(result.simulated),
        "detector": result.detector.name,
        "samples": int(df.sample_id.nunique()), "ratings": int(len(df)), "raters": int(df.rater.nunique()),
        "calibration": _calibration(view),
        "risk_coverage": routing.risk_coverage(view.label, view.machine_fake, view.machine_confidence),
        "routing": {"curve": curve, "best": best, "at_automation": at, "automation_target": automation,
                    "at_accuracy": at_acc, "accuracy_target": target_accuracy},
        "per_challenge": table, "scenarios": analysis.scenarios(df) if len(shown) else None,
        "human_auroc": {"all": analysis.pooled_auroc(df), "pitch_top10": analysis.pooled_auroc(df, pitch.top10())},
        "collaborative": collab, "correlations": analysis.correlations(table, machine_auroc, df),
        "machine_accuracy": float((view.machine_fake == view.label.astype(bool)).mean()),
        "pitch_quoted": {"table4": _quoted_table4(), "table5": pitch.table("table5")["scenarios"],
                         "tableA3": pitch.table("tableA3")["rows"],
                         "routing": PITCH_ROUTING, "headline": pitch.headline_figures()},
    }
