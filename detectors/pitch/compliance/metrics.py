"""Metrics of Pitch's compliance classifiers: AUROC and accuracy of one classifier on a set of
recordings, the Table-A.2-like table of a checkpoint (with the paper's figures quoted), and the
one-line summary a training run logs per challenge."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """AUROC (:func:`~bench.evaluation.detection_metrics.auroc`, ties half); None (JSON null): a class missing."""
    from bench.evaluation.detection_metrics import auroc as _auroc

    value = _auroc(np.asarray(labels, dtype=int), np.asarray(scores, dtype=float))
    return None if math.isnan(value) else value


def binary_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy at 0.5, AUROC, count and positives of P(complied) ``probs`` against 0/1 ``labels``."""
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    return {"accuracy": float(((probs >= 0.5).astype(int) == labels).mean()) if len(labels) else None,
            "auroc": auroc(labels, probs), "n": int(len(labels)), "n_pos": int(labels.sum())}


def mean_or_none(values: list[float | None]) -> float | None:
    """The mean of the values that are not None (None if there are none)."""
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def metrics_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Table-A.2-like rows: challenge, validation acc/AUROC (mean over folds), test acc/AUROC, and the
    paper's Table A.2 figures for the challenge (quoted; fractions)."""
    from bench.references.pitch import row

    def frac(x: float | None) -> float | None:
        return None if x is None else x / 100

    rows = []
    for key in sorted(doc.get("challenges", {}), key=int):
        e = doc["challenges"][key]
        paper = row("tableA2", e["challenge"]) or {}
        rows.append({"challenge": e["challenge"], "key": e["key"], "name": e["name"],
                     "val_accuracy": e["validation"]["accuracy"], "val_auroc": e["validation"]["auroc"],
                     "test_accuracy": e["test"]["accuracy"], "test_auroc": e["test"]["auroc"],
                     "n_train": e["train"]["n"], "n_test": e["test"]["n"],
                     "folds": len([f for f in e["validation"]["folds"] if "accuracy" in f]),
                     "paper_val_accuracy": frac(paper.get("val_acc")),
                     "paper_test_accuracy": frac(paper.get("test_acc")), "paper_auroc": frac(paper.get("auc")),
                     "paper_human_baseline": frac(paper.get("human_baseline"))})
    return rows


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_row(e: dict[str, Any]) -> str:
    return (f"#{e['challenge']} {e['key']}: val acc {_fmt(e['validation']['accuracy'])} "
            f"AUROC {_fmt(e['validation']['auroc'])}; test acc {_fmt(e['test']['accuracy'])} "
            f"AUROC {_fmt(e['test']['auroc'])} ({e['seconds']:.1f} s)")
