"""Pitch's human tables from a ratings file (issue #25; Pitch §5.2, §5.3, Tables 4, 5 and A.3).

Every function takes the *joined* ratings: one row per (sample, rater) with the sample's truth and the
machine's view of it: ``sample_id``, ``rater``, ``challenge``, ``label`` (1 = fake), ``compliance``,
``realism``, ``initial_fake``, ``initial_confidence``, ``machine_fake`` (the verdict shown, or the
machine's verdict), ``shown`` (a verdict was shown), ``rationale_shown``, ``final_fake``,
``final_confidence``, and for routing and correlations ``machine_confidence`` and ``machine_mos``.

Human degradation (§5.2; the formula was lost in the paper's text extraction, reconstructed from its
prose, "maximum degradation to a non-compliant sample or a score reduction based on human ratings"):
``D_h = 1 - C x R / 5``: 1 when the rater heard no compliance, else 1 - R/5 for realism R in 1-5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, rankdata

from bench.errors import BenchError
from bench.evaluation.detection_metrics import auroc
from bench.evaluation.routing import route
from bench.human.ratings import Rating

# Table 5's eight scenarios: (initial correct, machine correct, final correct) -> the paper's name
SCENARIOS = {
    (True, True, True): "Correct Agreement", (False, True, True): "Machine Corrected",
    (False, False, True): "Self Corrected", (True, False, True): "No Change (Initial Correct)",
    (True, True, False): "Self Misled", (True, False, False): "Machine Misled",
    (False, True, False): "No Change (Initial Wrong)", (False, False, False): "Incorrect Agreement",
}


def joined(ratings: list[Rating], samples: pd.DataFrame) -> pd.DataFrame:
    """The ratings joined with their samples (``sample_id``, ``challenge``, ``label``, and optionally
    ``machine_confidence``, ``machine_mos``, ``machine_fake``): the frame every analysis here takes. A rating of a
    sample the table does not know is an error, named."""
    known = set(samples.sample_id.astype(str))
    unknown = next((r.sample_id for r in ratings if r.sample_id not in known), None)
    if unknown is not None:
        raise BenchError(f"ratings name sample {unknown!r}, which is not in the rated subset")
    df = pd.DataFrame([r.model_dump() for r in ratings])
    df = df.merge(samples.astype({"sample_id": str}).drop(columns=["machine_fake"], errors="ignore"), on="sample_id")
    df["label"] = df.label.astype(int)
    df["initial_fake"] = df.initial_decision == "fake"
    df["shown"] = df.machine_verdict.notna()
    df["machine_fake"] = df.machine_verdict == "fake"
    df["final_fake"] = df.final_decision == "fake"
    return df


def degradation(compliance, realism) -> np.ndarray:
    """``D_h = 1 - C x R / 5`` per rating (the reconstruction in the module docstring)."""
    return 1.0 - np.asarray(compliance, dtype=float) * np.asarray(realism, dtype=float) / 5.0


def kendalls_w(ratings: np.ndarray) -> float:
    """Kendall's coefficient of concordance W of an (m judges x n items) matrix, corrected for ties:
    ``W = 12 S / (m^2 (n^3 - n) - m sum_j T_j)``, S the squared deviations of the items' rank sums from their mean,
    ``T_j = sum (t^3 - t)`` over judge j's groups of t tied items. NaN when undefined (n < 2, or every judge
    ties everything)."""
    r = np.asarray(ratings, dtype=float)
    m, n = r.shape
    if n < 2 or m < 2:
        return float("nan")
    ranks = np.vstack([rankdata(row) for row in r])
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    ties = sum(float(((c := np.unique(row, return_counts=True)[1]) ** 3 - c).sum()) for row in r)
    denom = m ** 2 * (n ** 3 - n) - m * ties
    return float(12 * s / denom) if denom > 0 else float("nan")


def rater_slots(df: pd.DataFrame, column: str) -> tuple[np.ndarray, int]:
    """(judges x samples) matrix of ``column`` for Kendall's W when each sample has its own raters: the k-th
    judge is each sample's k-th rating (raters sorted by id). Samples with fewer ratings than the most common
    count are left out; the second value says how many."""
    counts = df.groupby("sample_id").size()
    if counts.empty:
        return np.empty((0, 0)), 0
    m = int(counts.mode().iloc[0])
    full = counts[counts >= m].index
    rows = (df[df.sample_id.isin(full)].sort_values(["sample_id", "rater"]).groupby("sample_id")[column]
            .apply(lambda v: list(v)[:m]))
    return np.array(rows.tolist(), dtype=float).T, int((counts < m).sum())


def majority(decisions: pd.Series) -> bool:
    """The majority of a sample's boolean decisions (a tie counts as fake: the cautious call)."""
    return bool(decisions.sum() * 2 >= len(decisions))


def _call_means(g: pd.DataFrame) -> pd.DataFrame:
    """Per call: its label and its raters' mean D_h."""
    return (g.assign(d=degradation(g.compliance, g.realism)).groupby("sample_id")
            .agg(label=("label", "first"), d=("d", "mean")))


def per_challenge(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per challenge: human AUROC of D_h (sample means over raters), vanilla accuracy (every initial decision),
    majority-vote accuracy (initial decisions, per sample), assisted accuracy (final decisions where a verdict
    was shown) and rater agreement (Kendall's W of D_h over rater slots)."""
    out = []
    for challenge, g in df.groupby("challenge", sort=True):
        g = g.assign(d=degradation(g.compliance, g.realism))
        per_sample = _call_means(g)
        votes = g.groupby("sample_id").agg(label=("label", "first"), fake=("initial_fake", majority))
        shown = g[g.shown]
        slots, dropped = rater_slots(g, "d")
        out.append({
            "challenge": int(challenge), "samples": int(len(per_sample)), "ratings": int(len(g)),
            "human_auroc": auroc(per_sample.label, per_sample.d),
            "vanilla_accuracy": float((g.initial_fake == g.label.astype(bool)).mean()),
            "majority_accuracy": float((votes.fake == votes.label.astype(bool)).mean()),
            "assisted_accuracy": float((shown.final_fake == shown.label.astype(bool)).mean()) if len(shown) else None,
            "kendalls_w": kendalls_w(slots) if slots.size else float("nan"), "w_samples_left_out": dropped,
        })
    return out


def pooled_auroc(df: pd.DataFrame, challenges: list[int] | None = None) -> float:
    """Human AUROC of D_h (call means over raters) pooled over ``challenges`` (all when None); NaN with one class."""
    per = _call_means(df if challenges is None else df[df.challenge.isin(challenges)])
    return auroc(per.label, per.d) if len(per) else float("nan")


def scenarios(df: pd.DataFrame) -> dict[str, Any]:
    """Table 5 from the ratings that saw a verdict: the eight scenarios' counts and mean confidence change
    (final - initial, points), the rates §5.3 quotes, and acceptance of a disagreeing verdict with and
    without the rationale."""
    s = df[df.shown]
    truth = s.label.astype(bool)
    i, m, f = s.initial_fake == truth, s.machine_fake == truth, s.final_fake == truth
    rows = []
    for key, name in SCENARIOS.items():
        inside = (i == key[0]) & (m == key[1]) & (f == key[2])
        change = (s.final_confidence[inside] - s.initial_confidence[inside]).mean() if inside.any() else None
        rows.append({"scenario": name, "count": int(inside.sum()), "initial": key[0], "machine": key[1],
                     "final": key[2], "confidence_change": None if change is None else float(change)})
    n = {r["scenario"]: r["count"] for r in rows}

    def rate(a: int, b: int) -> float | None:
        return a / (a + b) if a + b else None

    disagree = s.initial_fake != s.machine_fake
    accepted = s.final_fake == s.machine_fake
    with_r, without_r = disagree & (s.rationale_shown == 1), disagree & (s.rationale_shown == 0)
    return {"rows": rows, "responses": int(len(s)),
            "machine_corrected_rate": rate(n["Machine Corrected"], n["No Change (Initial Wrong)"]),
            "machine_misled_rate": rate(n["Machine Misled"], n["No Change (Initial Correct)"]),
            "accepted_with_rationale": float(accepted[with_r].mean()) if with_r.any() else None,
            "accepted_without_rationale": float(accepted[without_r].mean()) if without_r.any() else None}


def collaborative(df: pd.DataFrame, cut: float) -> dict[str, Any]:
    """Table 4 (right) at one confidence cut: each response is decided by the machine when its sample's machine
    confidence reaches ``cut``, else by that rater's final (assisted) decision; accuracy over responses, pooled
    and per challenge, and the share the machine decided."""
    s = df[df.shown]
    pooled = route(s.label, s.machine_fake, s.machine_confidence, cut, s.final_fake)
    per = {int(c): route(g.label, g.machine_fake, g.machine_confidence, cut, g.final_fake)
           for c, g in s.groupby("challenge", sort=True)}
    return {"cut": cut, "pooled": pooled, "per_challenge": per}


def correlations(table: list[dict[str, Any]], machine_auroc: dict[int, float], df: pd.DataFrame) -> dict[str, Any]:
    """Human-machine Pearson correlations (Pitch §5.2, Table A.3's right columns): of per-challenge AUROCs
    across challenges, and per challenge of the samples' mean human realism with the machine's MOS."""
    common = [r for r in table if r["challenge"] in machine_auroc and np.isfinite(r["human_auroc"])]
    across = (float(pearsonr([r["human_auroc"] for r in common], [machine_auroc[r["challenge"]] for r in common])[0])
              if len(common) >= 3 else None)
    realism = {}
    for challenge, g in df.groupby("challenge", sort=True):
        per = g.groupby("sample_id").agg(human=("realism", "mean"), machine=("machine_mos", "first")).dropna()
        ok = len(per) >= 3 and per.human.nunique() > 1 and per.machine.nunique() > 1
        realism[int(challenge)] = float(pearsonr(per.human, per.machine)[0]) if ok else None
    return {"auroc_across_challenges": across, "challenges": len(common), "realism_vs_machine_mos": realism}
