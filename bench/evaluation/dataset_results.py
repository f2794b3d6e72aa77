"""The results document of a detector on a labelled field dataset (``bench evaluate --dataset``).

Beside the metrics a challenge result holds (AUROC, EER, minDCF... with bootstrap CIs), pooled and per
attack or condition, it records the errors at a threshold carried over from elsewhere (a development split
or the model card: FPR, FNR, HTER), the ASVspoof organisers' own EER when the official protocol scored it,
and the published figure for the same model and data as a quoted row, never mixed with ours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from bench.errors import BenchError
from bench.evaluation.results import Estimate, Metrics, RunInfo, RunPart, _validated
from bench.fileio import read_json, write_atomic

DATASET_SCHEMA_VERSION = "1.0"


class GroupMetrics(BaseModel):
    """Metrics of one value of a breakdown field (an attack, a codec...)."""

    value: str
    metrics: Metrics
    compared_with: str = Field(description="which bona fide the group's spoofs are set against: 'all bona fide' "
                                           "(attacks) or 'bona fide with the same value' (conditions)")


class Deployment(BaseModel):
    """Errors at a threshold fixed before looking at these data."""

    threshold: float
    source: str  # where the threshold came from, in a few words
    detail: str = ""  # and why it is that number (a model card's threshold_source...)
    fpr: Estimate  # bona fide called fake
    fnr: Estimate  # spoof called bona fide
    hter: Estimate
    n_bona_fide: int
    n_fake: int


class OfficialScoring(BaseModel):
    """The ASVspoof organisers' EER on the official scores (higher = bona fide), and the score file."""

    protocol: str
    eer: float
    threshold: float = Field(description="on the official scale (official score = -bench score)")
    per_attack_eer: dict[str, float] = Field(default_factory=dict)
    min_tdcf: float | None = Field(None, description="ASVspoof 2019's minimum normalised t-DCF with the organisers' "
                                   "ASV scores (only where the data has them)")
    score_file: str
    procedure: str = ("ASVspoof compute_det_curve/compute_eer (bench.evaluation.asvspoof_scoring): every sorted "
                      "score a threshold, the first point of least |FRR - FAR|, their mean")


class DatasetResult(BaseModel):
    """A detector on one split of a labelled dataset."""

    schema_version: Literal["1.0"] = DATASET_SCHEMA_VERSION
    kind: Literal["dataset-detection"] = "dataset-detection"
    created: str
    detector: RunPart
    dataset: dict[str, Any]
    overall: Metrics
    breakdowns: dict[str, list[GroupMetrics]] = Field(default_factory=dict)
    deployment: list[Deployment] = Field(default_factory=list)
    official: OfficialScoring | None = None
    quoted: list[dict[str, Any]] = Field(default_factory=list, description="published figures for this model on "
                                         "these data (bench.references.field), quoted, never measured here")
    evaluation_scope: dict[str, Any] = Field(default_factory=dict)
    metric_settings: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, Any] = Field(default_factory=dict)
    run: RunInfo = Field(default_factory=RunInfo)
    notes: list[str] = Field(default_factory=list)

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, self.model_dump_json(indent=2).encode())


def load_dataset_result(path: str | os.PathLike) -> DatasetResult:
    """A dataset result from ``result.json`` (or its folder); one line when it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / "result.json"
    data = read_json(p, "a dataset result")
    if data.get("kind") != "dataset-detection":
        raise BenchError(f"{p}: not a dataset result (kind {data.get('kind')!r})")
    return _validated(DatasetResult, data, p, "dataset result")
