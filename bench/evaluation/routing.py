"""Routing calls between the machine and a person by machine confidence (issue #25; Pitch §5.3, Fig. 4).

A call whose confidence reaches the cut is decided by the machine; the others go to a person, who
sees the machine's tag and decides. Pitch's Fig. 4 sweeps the temperature at a fixed confidence
cut; with ``confidence = tanh(|s - t| / 2T)`` (``bench.evaluation.calibration``) a call is automated
exactly when ``|s - t| >= 2 T atanh(cut)``, so sweeping T at one cut and sweeping the cut at one T
trace the same curve of (share automated, joint accuracy). bench sweeps the cut and reports the
distance from the threshold each point automates at.

The risk-coverage curve is the machine alone: calls sorted by confidence, coverage = share decided,
risk = error rate among them. Tied confidences enter together (one point per distinct confidence),
and AURC = sum over those points of (share of calls entering there) x (risk there): the usual mean
of risk over coverage when there are no ties.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _arrays(labels, machine_fake, conf, human_fake=None) -> tuple[np.ndarray, ...]:
    y = np.asarray(labels).astype(bool)
    m, c = np.asarray(machine_fake).astype(bool), np.asarray(conf, dtype=np.float64)
    h = None if human_fake is None else np.asarray(human_fake).astype(bool)
    if not (y.shape == m.shape == c.shape) or (h is not None and h.shape != y.shape):
        raise ValueError("labels, verdicts, confidences and human decisions differ in length")
    if y.size == 0:
        raise ValueError("no calls to route")
    return y, m, c, h


def route(labels, machine_fake, conf, cut: float, human_fake) -> dict[str, Any]:
    """One operating point: calls with ``conf >= cut`` decided by the machine, the rest by the person."""
    y, m, c, h = _arrays(labels, machine_fake, conf, human_fake)
    auto = c >= cut
    final = np.where(auto, m, h)
    return {"cut": float(cut), "n": int(y.size), "machine_share": float(auto.mean()),
            "human_share": float(1 - auto.mean()), "accuracy": float((final == y).mean()),
            "machine_accuracy": float((m[auto] == y[auto]).mean()) if auto.any() else None,
            "human_accuracy": float((h[~auto] == y[~auto]).mean()) if (~auto).any() else None}


def routing_curve(labels, machine_fake, conf, human_fake, distance=None) -> list[dict[str, Any]]:
    """Every distinct operating point, from everything to the person (cut above every confidence) to everything
    automated; ``distance`` (|score - threshold| per call), when given, adds the distance each point automates at."""
    y, m, c, h = _arrays(labels, machine_fake, conf, human_fake)
    cuts = [np.inf, *np.unique(c)[::-1]]
    points = []
    for cut in cuts:
        p = route(y, m, c, cut, h)
        if distance is not None:
            auto = c >= cut
            p["distance_cut"] = float(np.min(np.asarray(distance)[auto])) if auto.any() else None
        points.append(p)
    return points


def operating_point(curve: list[dict[str, Any]], automation: float | None = None,
                    accuracy: float | None = None) -> dict[str, Any] | None:
    """The point for a target: the least automation reaching ``automation`` (share of calls the machine decides),
    or the most automation whose joint accuracy still reaches ``accuracy``; None when no point does."""
    if (automation is None) == (accuracy is None):
        raise ValueError("give exactly one target: automation or accuracy")
    if automation is not None:
        reach = [p for p in curve if p["machine_share"] >= automation]
        return min(reach, key=lambda p: p["machine_share"]) if reach else None
    reach = [p for p in curve if p["accuracy"] >= accuracy]
    return max(reach, key=lambda p: p["machine_share"]) if reach else None


def risk_coverage(labels, machine_fake, conf) -> dict[str, Any]:
    """The machine's risk-coverage curve (one point per distinct confidence, most confident first) and its AURC."""
    y, m, c, _ = _arrays(labels, machine_fake, conf)
    wrong = m != y
    coverage, risk, weights = [], [], []
    taken = np.zeros(y.size, dtype=bool)
    for level in np.unique(c)[::-1]:
        entering = c == level
        taken |= entering
        coverage.append(float(taken.mean()))
        risk.append(float(wrong[taken].mean()))
        weights.append(float(entering.mean()))
    return {"coverage": coverage, "risk": risk, "aurc": float(np.dot(weights, risk))}


def cut_for_risk(labels, machine_fake, conf, max_risk: float) -> float | None:
    """The lowest confidence cut at which the machine's error rate among the calls it would decide (confidence
    at or above the cut) is at most ``max_risk``; None when no cut reaches it."""
    y, m, c, _ = _arrays(labels, machine_fake, conf)
    wrong = m != y
    best = None
    for level in np.unique(c)[::-1]:
        taken = c >= level
        if wrong[taken].mean() <= max_risk:
            best = float(level)
    return best
