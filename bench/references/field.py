"""Published figures on the field's datasets, quoted as their sources print them, never measured by bench.

A dataset result shows the matching quoted row beside its own number (``bench evaluate --dataset``, the
leaderboard), labelled as quoted. Keys: (bench model name, dataset name as
:class:`bench.data.labelled.LabelledSet` names it, split).
"""

from __future__ import annotations

from typing import Any

_ARENA = ("Speech Anti-Spoofing Arena, model card SpeechAntiSpoofingBenchmarks/AASIST on the Hugging Face Hub (the "
          "official clovaai checkpoint, first 64,600 samples, bona fide logit; the Arena's EER interpolates between "
          "thresholds, so it can differ from the organisers' compute_eer in the last digits)")

#: the official AASIST checkpoint's published EERs. Arena sets keep every keyed trial in one ``test`` split (2021
#: LA/DF: the eval, progress and hidden subsets together), read here from the Arena's parquet repos, whose names
#: (lower-cased) are the dataset names; In-the-Wild read from its own meta.csv layout is the same 31,779 trials.
QUOTED: dict[tuple[str, str, str], list[dict[str, Any]]] = {
    ("aasist-asvspoof2019", "asvspoof2019-la", "eval"): [
        {"metric": "eer", "value": 0.0083, "protocol": "official",
         "source": "clovaai/aasist README, 'Pre-trained models': evaluating AASIST 'shows EER: 0.83%, min t-DCF: "
                   "0.0275' (Jung et al., ICASSP 2022)"},
        {"metric": "min_tdcf", "value": 0.0275, "protocol": "official",
         "source": "clovaai/aasist README, 'Pre-trained models' (as above): 'min t-DCF: 0.0275'"},
    ],
    ("aasist-asvspoof2019", "asvspoof2019_la", "test"): [
        {"metric": "eer", "value": 0.0083, "protocol": "official", "source": _ARENA}],
    ("aasist-asvspoof2019", "asvspoof2021_la", "test"): [
        {"metric": "eer", "value": 0.1235, "protocol": "official", "source": _ARENA}],
    ("aasist-asvspoof2019", "asvspoof2021_df", "test"): [
        {"metric": "eer", "value": 0.1704, "protocol": "official", "source": _ARENA}],
    ("aasist-asvspoof2019", "inthewild", "test"): [
        {"metric": "eer", "value": 0.4301457696738967, "protocol": "official", "source": _ARENA}],
    ("aasist-asvspoof2019", "in-the-wild", "eval"): [
        {"metric": "eer", "value": 0.4301457696738967, "protocol": "official", "source": _ARENA}],
    ("aasist-asvspoof2019", "cd-add", "test"): [
        {"metric": "eer", "value": 0.5105, "protocol": "official", "source": _ARENA}],
}


def quoted_for(model: str | None, dataset: str, split: str) -> list[dict[str, Any]]:
    """The quoted figures for this model on this split of this dataset (empty when none is on record)."""
    return [dict(q) for q in QUOTED.get((model or "", dataset, split), [])]
