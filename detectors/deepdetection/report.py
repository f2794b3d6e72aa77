"""DeepDetection's user-authentication report: user identification, deep-voice detection, per-user EER.

The paper (Sec. 4.3) reports, on ASVspoof 2019 slices, an F1 score for "user authentication" (the
21-class decision: which of 20 users, or a deep voice), an F1 score for deep-voice detection, and an
EER per user (Table 5). :func:`authentication_report` computes the same measures for a trained model,
on recordings it never trained on, at two levels:

- ``slice``: every 1,000-sample slice is one trial (the paper's level);
- ``utterance``: one trial per recording, scored by its slices' mean softmax (the detector's own
  utterance score, what a real call gets); ``utterance_majority_vote`` gives the decisions by majority
  vote of the slices' decisions instead (user: the most frequent arg-max class, ties to the higher
  mean probability; deep voice: at least half the slices have P(deep voice) >= 0.5).

Measures (``bench.evaluation.detection_metrics`` where it has them):

- ``user_identification_f1``: per-class F1 of the arg-max class (one-vs-rest), macro-averaged over
  the enrolled users and the deep-voice class. ``closed_set`` uses the enrolled users' originals and the
  fakes (every trial has a true class, as in the paper); ``open_set`` adds the originals of speakers who
  were never enrolled: they have no true class, so whatever class they get is a false positive of it.
- ``deep_voice_f1``: F1 of the fake class (fakes against every original, enrolled or not) with the
  detector's decision P(deep voice) >= 0.5; ``deep_voice_f1_argmax``: with "the arg-max class is deep
  voice" (the multi-class decision).
- ``per_user_eer``: for user u, score = P(u); genuine trials = u's originals; impostor trials = the
  other enrolled users' originals, the unenrolled speakers' originals and every fake (also the fakes
  that imitate u). ``eer_vs_fakes_imitating`` is u's EER against only the fakes whose target is u,
  when there are some. ``mean_user_eer`` averages over users (the paper: "average EER" over 20 users).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.evaluation.detection_metrics import eer, f1

QUOTED_SOURCE = "quoted, DeepDetection Sec. 4.3 (ASVspoof 2019)"
#: what the paper's text states (its Tables 4 and 5 were lost in the text extraction beyond these numbers)
QUOTED: dict[str, Any] = {
    "source": QUOTED_SOURCE,
    "user_authentication_f1_percent": {"train": 99.03, "validation": 98.55, "test": 99.05},
    "deep_voice_detection_f1_percent": {"train": 99.98, "validation": 99.95, "test": 100.0},
    "average_user_eer": 0.15,
    "users": 20,
    "classes": 21,
    "cross_entropy_loss": {"train": 0.021041, "validation": 0.037903},
    "autoencoder_mse": 0.00076,
    "notes": "Sec. 4.3: 'The total average EER for user classification was 0.15. Therefore, we set the threshold "
             "to 0.15' and compares it with 'the random probability of 0.04 when classifying 21 classes', so the "
             "paper's 0.15 may be a probability threshold rather than an error rate in bench's sense; the "
             "autoencoder's MSE 'about 0.00076' is Sec. 4.2. Level: 1,000-sample slices of 2,450 recordings "
             "(130,516 slices) split 60/20/20 by slice (Sec. 3.1.2), so one recording's slices can be in both "
             "training and test; bench splits by recording.",
}


def _round(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def class_f1(true: np.ndarray, pred: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """One-vs-rest F1 of each class (NaN for a class with no trial and no prediction)."""
    return {c: f1((true == c).astype(int), (pred == c).astype(float), 0.5) for c in classes}


def macro_f1(true: np.ndarray, pred: np.ndarray, classes: Sequence[int]) -> float:
    vals = [v for v in class_f1(true, pred, classes).values() if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _identification(true: np.ndarray, pred: np.ndarray, names: list[str]) -> dict[str, Any]:
    classes = list(range(len(names)))
    known = true >= 0
    per = class_f1(true[known], pred[known], classes)
    return {"closed_set": _round(macro_f1(true[known], pred[known], classes)),
            "open_set": _round(macro_f1(true, pred, classes)),
            "per_class_closed_set": {names[c]: _round(v) for c, v in per.items()},
            "accuracy_closed_set": _round(float(np.mean(pred[known] == true[known])) if known.any() else np.nan)}


def _user_eers(probs: np.ndarray, true: np.ndarray, fake: np.ndarray, targets: list[str], users: list[str]
               ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    targets_a = np.asarray(targets, dtype=object)
    for u, name in enumerate(users):
        genuine = (true == u) & ~fake
        impostor = ~genuine
        row: dict[str, Any] = {"n_genuine": int(genuine.sum()), "n_impostor": int(impostor.sum())}
        if genuine.any() and impostor.any():
            rate, thr = eer(genuine.astype(int), probs[:, u])
            row.update({"eer": _round(rate), "eer_threshold": _round(thr)})
        else:
            row["eer"] = None
        imitating = fake & (targets_a == name)
        row["n_fakes_imitating"] = int(imitating.sum())
        if genuine.any() and imitating.any():
            keep = genuine | imitating
            row["eer_vs_fakes_imitating"] = _round(eer(genuine[keep].astype(int), probs[keep, u])[0])
        out[name] = row
    return out


def level_report(probs: np.ndarray, true: np.ndarray, fake: np.ndarray, targets: list[str], users: list[str],
                 deep_voice_index: int) -> dict[str, Any]:
    """All measures for one level: ``probs`` (n, K) softmax rows, ``true`` the class (-1: an unenrolled
    speaker's original), ``fake`` the 0/1 labels, ``targets`` each trial's subject (a fake's target)."""
    fake = np.asarray(fake).astype(bool)
    true = np.asarray(true)
    names = [*users, "deep voice"]
    pred = probs.argmax(axis=1)
    eers = _user_eers(probs, true, fake, targets, users)
    finite = [r["eer"] for r in eers.values() if r["eer"] is not None]
    return {"n": int(len(true)),
            "user_identification_f1": _identification(true, pred, names),
            "deep_voice_f1": _round(f1(fake.astype(int), probs[:, deep_voice_index], 0.5)),
            "deep_voice_f1_argmax": _round(f1(fake.astype(int), (pred == deep_voice_index).astype(float), 0.5)),
            "per_user_eer": eers,
            "mean_user_eer": _round(float(np.mean(finite))) if finite else None}


def majority_vote(slice_probs: list[np.ndarray], deep_voice_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Per recording: (the majority arg-max class of its slices, ties to the higher mean probability;
    fake = at least half its slices have P(deep voice) >= 0.5)."""
    cls, fake = [], []
    for p in slice_probs:
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
        tied = np.flatnonzero(votes == votes.max())
        cls.append(int(tied[np.argmax(p.mean(axis=0)[tied])]))
        fake.append(bool(np.mean(p[:, deep_voice_index] >= 0.5) >= 0.5))
    return np.asarray(cls, dtype=int), np.asarray(fake, dtype=bool)


def authentication_report(slice_probs: list[np.ndarray], true: Sequence[int], labels: Sequence[int],
                          targets: Sequence[str], users: list[str], deep_voice_index: int,
                          counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report for recordings with per-slice softmax rows ``slice_probs`` (one (k_i, K) array each), true
    class ``true`` (user index, ``deep_voice_index`` for a fake, -1 for an unenrolled speaker's original),
    0/1 ``labels`` and ``targets`` (an original's speaker, a fake's target)."""
    true_a, lab = np.asarray(true, dtype=int), np.asarray(labels, dtype=int)
    sizes = [len(p) for p in slice_probs]
    flat = np.concatenate(slice_probs) if slice_probs else np.zeros((0, len(users) + 1))
    rep = np.repeat(np.arange(len(sizes)), sizes)
    utt = np.stack([p.mean(axis=0) for p in slice_probs]) if slice_probs else flat
    vote_cls, vote_fake = majority_vote(slice_probs, deep_voice_index)
    names = [*users, "deep voice"]
    return {
        "users": list(users), "classes": names, "deep_voice_index": deep_voice_index,
        "counts": {**(counts or {}), "recordings": len(sizes), "slices": int(len(flat))},
        "slice": level_report(flat, true_a[rep], lab[rep], [targets[i] for i in rep], users, deep_voice_index),
        "utterance": level_report(utt, true_a, lab, list(targets), users, deep_voice_index),
        "utterance_majority_vote": {
            "user_identification_f1": _identification(true_a, vote_cls, names),
            "deep_voice_f1": _round(f1(lab, vote_fake.astype(float), 0.5))},
        "quoted": QUOTED,
    }


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def summary_lines(report: dict[str, Any], label: str) -> list[str]:
    """A few printable lines of :func:`authentication_report`'s output: user-identification F1, deep-voice
    F1 and mean per-user EER at slice and utterance level, the per-user EERs, and the paper's figures."""
    c = report.get("counts", {})
    lv = {k: report.get(k) or {} for k in ("slice", "utterance")}
    f1s = {k: (v.get("user_identification_f1") or {}) for k, v in lv.items()}
    lines = [f"{label} authentication ({len(report.get('users', []))} enrolled users + deep voice; "
             f"{c.get('recordings', '?')} held-out recordings, {c.get('slices', '?')} slices, none trained on):",
             "  user-ID F1 closed set (open set): slice " + _fmt(f1s['slice'].get('closed_set'))
             + f" ({_fmt(f1s['slice'].get('open_set'))}), utterance {_fmt(f1s['utterance'].get('closed_set'))} "
             f"({_fmt(f1s['utterance'].get('open_set'))}); deep-voice F1: slice "
             f"{_fmt(lv['slice'].get('deep_voice_f1'))}"
             f", utterance {_fmt(lv['utterance'].get('deep_voice_f1'))}; mean per-user EER: slice "
             f"{_fmt(lv['slice'].get('mean_user_eer'))}, utterance {_fmt(lv['utterance'].get('mean_user_eer'))}"]
    per = (lv["utterance"].get("per_user_eer") or {})
    if per:
        lines.append("  per-user EER (utterance): " + ", ".join(f"{u} {_fmt(r.get('eer'))}" for u, r in per.items()))
    q = report.get("quoted") or QUOTED
    lines.append(f"  paper ({q['source']}): user-authentication F1 {q['user_authentication_f1_percent']['test']} %, "
                 f"deep-voice F1 {q['deep_voice_detection_f1_percent']['test']} %, average EER "
                 f"{q['average_user_eer']} (20 users, slices split by slice)")
    return lines
