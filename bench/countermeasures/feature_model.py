"""Classical countermeasures: a classifier on utterance-level features (the kind of DevoX's baselines).

A plugin subclasses :class:`FeatureCMDetector`, names its :class:`Classifier` (bench has two:
:class:`LinearSVM` and :class:`XGBoost`), declares its metadata and score semantics, and is
done: bench computes the features, splits, trains one model per seed, stores it and scores.

The features (MFCC and LFCC statistics over the utterance) are :mod:`bench.countermeasures.cepstral`'s;
this module holds the classifiers and the detector kit.

Models are stored without pickle: a linear SVM as an ``.npz`` of its coefficients, intercept
and the standard scaler's mean and scale (read back with ``allow_pickle=False`` and scored
with numpy), XGBoost as the library's JSON model (``Booster.save_model``). Training is
class-weighted (each class weighs half), so a score of 0 is the boundary under balanced
priors, as for bench's neural detectors.
"""

from __future__ import annotations

import io
import math
import os
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.api.score_contract import LOG_ODDS, InputSpec, ScoreSemantics
from bench.countermeasures import cepstral
from bench.countermeasures.base import CMDetector, Scorer, TrainingData
from bench.errors import BenchError
from bench.fileio import write_atomic
from bench.models.store import ModelEntry

SVM_MARGIN = ScoreSemantics(
    scale="linear SVM decision value (signed distance to the separating hyperplane, in units of the margin) on "
          "standardised utterance features; not a log-likelihood ratio or a probability",
    threshold=0.0,
    threshold_source="0: the SVM's decision boundary (training is class-weighted, each class weighs half); "
                     "bench evaluate also reports the EER threshold")
XGB_LOG_ODDS = ScoreSemantics(
    scale="log-odds of fake against bona fide: the boosted trees' raw margin (sum of leaf values plus the base "
          "score) before the logistic function",
    threshold=0.0,
    threshold_source=LOG_ODDS.threshold_source, llr=True)  # balanced training priors: log-odds = LLR


# ------------------------------------------------------------------ settings checks
def _number(name: str, value: Any, lo: float, hi: float = math.inf, *, lo_open: bool = False,
            integer: bool = False) -> float | int:
    """``value`` as a number in [lo, hi] (``lo_open``: above lo), else a one-line BenchError."""
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok:
        raise BenchError(f"setting {name} must be {kind}, got {value!r}")
    if (value <= lo if lo_open else value < lo) or value > hi:
        span = f"{'above' if lo_open else 'at least'} {lo:g}" + ("" if hi == math.inf else f" and at most {hi:g}")
        raise BenchError(f"setting {name} must be {span}, got {value!r}")
    return int(value) if integer else float(value)


def _class_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights that give each class half the total weight (as bench's neural trainer does)."""
    counts = np.bincount(y, minlength=2).astype(np.float64)
    return (len(y) / (2 * np.maximum(counts, 1)))[y]


def _val_metrics(y: np.ndarray | None, scores: np.ndarray | None) -> dict[str, Any]:
    from bench.evaluation.detection_metrics import auroc

    if y is None or scores is None or not len(y):
        return {}
    out: dict[str, Any] = {"val_n": int(len(y)), "val_accuracy": float(((scores >= 0) == (y == 1)).mean())}
    if len(set(y.tolist())) == 2:
        out["val_auroc"] = auroc(y, scores)
    return out


# ------------------------------------------------------------------ classifiers
Decision = Callable[[np.ndarray], np.ndarray]


class Classifier(ABC):
    """A classical classifier bench can train, store without pickle and load back for scoring."""

    name: ClassVar[str]
    file: ClassVar[str]  # the model file of one seed
    defaults: ClassVar[dict[str, Any]]

    @classmethod
    @abstractmethod
    def check(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` (the defaults overlaid with the user's) checked and typed; one-line BenchError."""

    @classmethod
    @abstractmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None,
            settings: dict[str, Any], seed: int, threads: int, path: Path) -> dict[str, Any]:
        """Train, write the model to ``path``; returns ``{"n_params": int, "params": {...}, "fit": {...}}``."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, n_features: int, threads: int) -> Decision:
        """The stored model as a function (n, d) features -> (n,) scores."""


class LinearSVM(Classifier):
    """A linear support vector machine on standardised features: scikit-learn's ``StandardScaler`` then
    ``LinearSVC`` (liblinear: L2-regularised squared hinge loss, the intercept regularised as liblinear
    does), class-weighted. Stored as ``svm.npz`` (``coef`` (1, d), ``intercept`` (1,), ``mean`` and
    ``scale`` (d,)); scored with numpy as ``((x - mean) / scale) @ coef.T + intercept``, exactly sklearn's
    ``decision_function``. A linear SVM has one optimum: seeds only change the solver's visiting order."""

    name = "linear-svm"
    file = "svm.npz"
    defaults = {"C": 1.0, "max_iter": 10_000}

    @classmethod
    def check(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return {**settings, "C": _number("C", settings["C"], 0.0, lo_open=True),
                "max_iter": _number("max_iter", settings["max_iter"], 1, integer=True)}

    @classmethod
    def fit(cls, x, y, x_val, y_val, settings, seed, threads, path):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        scaler = StandardScaler().fit(x)
        svm = LinearSVC(C=settings["C"], max_iter=settings["max_iter"], class_weight="balanced", dual="auto",
                        random_state=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm.fit(scaler.transform(x), y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        buf = io.BytesIO()
        np.savez(buf, coef=svm.coef_.astype(np.float64), intercept=svm.intercept_.astype(np.float64),
                 mean=scaler.mean_.astype(np.float64), scale=scaler.scale_.astype(np.float64))
        write_atomic(path, buf.getvalue())
        decide = cls.load(path, x.shape[1], threads)
        return {"n_params": int(svm.coef_.size + svm.intercept_.size),
                "params": {"loss": "squared_hinge", "penalty": "l2", "class_weight": "balanced",
                           "solver": "liblinear (" + ("dual" if svm.dual else "primal") + ")"},
                "fit": {"iterations": int(np.max(svm.n_iter_)), "converged": converged,
                        "train_accuracy": float(((decide(x) >= 0) == (y == 1)).mean()),
                        **_val_metrics(y_val, decide(x_val) if x_val is not None else None)}}

    @classmethod
    def load(cls, path, n_features, threads):
        try:
            with np.load(path, allow_pickle=False) as z:
                coef, intercept, mean, scale = (np.asarray(z[k], dtype=np.float64)
                                                for k in ("coef", "intercept", "mean", "scale"))
        except (OSError, ValueError, KeyError) as exc:
            raise BenchError(f"{path}: not a bench linear-SVM model ({type(exc).__name__})") from None
        if coef.shape != (1, n_features) or intercept.shape != (1,) or mean.shape != (n_features,) \
                or scale.shape != (n_features,):
            raise BenchError(f"{path}: a linear SVM of {coef.shape[-1]} features, the model card says {n_features}")
        if not all(np.isfinite(a).all() for a in (coef, intercept, mean, scale)) or not (scale > 0).all():
            raise BenchError(f"{path}: a linear SVM with non-finite numbers or a scale <= 0 (its scores would be NaN "
                             "or infinite); the model file is corrupt")

        def decide(x: np.ndarray) -> np.ndarray:
            z = (np.asarray(x, dtype=np.float64) - mean) / scale
            return (z @ coef.T + intercept).reshape(-1)

        return decide


class XGBoost(Classifier):
    """Gradient-boosted trees (the ``xgboost`` library, ``binary:logistic``, ``hist`` trees), class-weighted,
    early-stopped on the validation speakers' log loss when there are any (the rounds after the best one are
    dropped before saving). Stored with ``Booster.save_model`` as ``xgboost.json``; scored with
    ``Booster.predict(..., output_margin=True)``: the log-odds of fake. The defaults are the library's own
    (XGBClassifier: 100 rounds, depth 6, learning rate 0.3, no subsampling, so seeds give the same trees
    unless ``subsample`` or ``colsample_bytree`` is below 1)."""

    name = "xgboost"
    file = "xgboost.json"
    defaults = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.3, "subsample": 1.0,
                "colsample_bytree": 1.0, "early_stopping_rounds": 10}

    @classmethod
    def check(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return {**settings, "n_estimators": _number("n_estimators", settings["n_estimators"], 1, 100_000, integer=True),
                "max_depth": _number("max_depth", settings["max_depth"], 1, 64, integer=True),
                "learning_rate": _number("learning_rate", settings["learning_rate"], 0.0, 1.0, lo_open=True),
                "subsample": _number("subsample", settings["subsample"], 0.0, 1.0, lo_open=True),
                "colsample_bytree": _number("colsample_bytree", settings["colsample_bytree"], 0.0, 1.0,
                                            lo_open=True),
                "early_stopping_rounds": _number("early_stopping_rounds", settings["early_stopping_rounds"], 0,
                                                 integer=True)}

    @classmethod
    def fit(cls, x, y, x_val, y_val, settings, seed, threads, path):
        import xgboost as xgb

        params = {"objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
                  "max_depth": settings["max_depth"], "eta": settings["learning_rate"],
                  "subsample": settings["subsample"], "colsample_bytree": settings["colsample_bytree"],
                  "seed": seed, "nthread": threads}
        dtrain = xgb.DMatrix(x, label=y, weight=_class_weights(y), nthread=threads)
        evals = [(dtrain, "train")]
        has_val = x_val is not None and y_val is not None and len(y_val) > 0
        if has_val:
            evals.append((xgb.DMatrix(x_val, label=y_val, weight=_class_weights(y_val), nthread=threads), "val"))
        stop = settings["early_stopping_rounds"] if has_val and settings["early_stopping_rounds"] > 0 else None
        history: dict[str, Any] = {}
        booster = xgb.train(params, dtrain, num_boost_round=settings["n_estimators"], evals=evals,
                            early_stopping_rounds=stop, evals_result=history, verbose_eval=False)
        rounds_run = booster.num_boosted_rounds()
        best = booster.best_iteration if stop else rounds_run - 1
        if best + 1 < rounds_run:
            booster = booster[: best + 1]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # save_model picks the format from the suffix
        booster.save_model(os.fspath(tmp))
        os.replace(tmp, path)
        trees = _tree_nodes(path)
        decide = cls.load(path, x.shape[1], threads)
        fit = {"rounds_run": rounds_run, "best_round": best + 1, "stopped_early": bool(stop and rounds_run <
                                                                                     settings["n_estimators"]),
               "n_trees": len(trees), "n_leaves": sum(leaves for _, leaves in trees),
               "model_bytes": path.stat().st_size,
               "history": {f"{k}_logloss": [round(float(v), 6) for v in h["logloss"]] for k, h in history.items()},
               "train_accuracy": float(((decide(x) >= 0) == (y == 1)).mean())}
        if has_val:
            fit["val_logloss"] = float(history["val"]["logloss"][best])
            fit.update(_val_metrics(y_val, decide(x_val)))
        return {"n_params": int(sum(nodes for nodes, _ in trees)),
                "params": {"objective": "binary:logistic", "tree_method": "hist", "class_weight": "balanced",
                           "n_params_counts": "tree nodes (split thresholds and leaf values)"},
                "fit": fit}

    @classmethod
    def load(cls, path, n_features, threads):
        """The model's scorer. OpenMP is held to ``threads`` (one while loading) through threadpoolctl: an OpenMP
        thread team started in a process that later forks (bench evaluate loads the model, then forks its
        workers) deadlocks the children's first parallel region (libgomp is not fork-safe)."""
        import xgboost as xgb
        from threadpoolctl import threadpool_limits

        booster = xgb.Booster(params={"nthread": 1})
        try:
            with threadpool_limits(1, user_api="openmp"):
                booster.load_model(os.fspath(path))
        except xgb.core.XGBoostError as exc:
            raise BenchError(f"{path}: not an XGBoost JSON model ({str(exc).strip().splitlines()[0][:120]})") \
                from None
        if booster.num_features() != n_features:
            raise BenchError(f"{path}: an XGBoost model of {booster.num_features()} features, the model card says "
                             f"{n_features}")
        booster.set_param({"nthread": threads})

        def decide(x: np.ndarray) -> np.ndarray:
            with threadpool_limits(threads, user_api="openmp"):
                d = xgb.DMatrix(np.asarray(x, dtype=np.float64), nthread=threads)
                return booster.predict(d, output_margin=True).astype(np.float64).reshape(-1)

        return decide


def _tree_nodes(path: Path) -> list[tuple[int, int]]:
    """(nodes, leaves) of every tree of a saved XGBoost JSON model."""
    import json

    doc = json.loads(Path(path).read_text())
    out = []
    for tree in doc["learner"]["gradient_booster"]["model"]["trees"]:
        left = tree["left_children"]
        out.append((int(tree["tree_param"]["num_nodes"]), sum(1 for c in left if c == -1)))
    return out


# ------------------------------------------------------------------ the detector
class FeatureScorer(Scorer):
    """Scores = each seed's classifier on the utterance's feature vector (any length: one window)."""

    def __init__(self, decisions: list[Decision], spec: InputSpec, seeds: list[int], features: str) -> None:
        super().__init__(spec, seeds)
        self.decisions, self.features = decisions, features

    def score_windows(self, batch: np.ndarray) -> np.ndarray:
        x = cepstral.feature_matrix(list(batch), self.features)
        return np.stack([d(x) for d in self.decisions]).astype(np.float64)


class FeatureCMDetector(CMDetector):
    """A classical classifier on utterance-level MFCC / LFCC statistics. Subclasses set ``classifier`` and
    ``semantics``. Training settings (``bench train --set``): ``features`` (mfcc, lfcc or both) and the
    classifier's own (:attr:`Classifier.defaults`). ``threads`` is the classifier's thread count."""

    classifier: ClassVar[type[Classifier]]
    input_spec: ClassVar[InputSpec] = InputSpec()  # the whole utterance, whatever its length
    default_features: ClassVar[str] = "both"

    def load_scorer(self) -> Scorer:
        return self.build_scorer(self.entry())  # no torch here

    def build_scorer(self, entry: ModelEntry) -> FeatureScorer:
        card = entry.card
        features = cepstral.check_features(card.params.get("features", self.default_features))
        d = cepstral.n_features(features)
        candidates = [f for f in card.files if Path(f).name == self.classifier.file]
        decisions = []
        for seed in card.seeds:
            name = candidates[0] if len(card.seeds) == 1 and len(candidates) == 1 else \
                f"seed-{seed}/{self.classifier.file}"
            if name not in card.files:
                raise BenchError(f"model {card.ref}: no {name} in its files (a {self.meta.name} model stores one "
                                 f"{self.classifier.file} per seed)")
            decisions.append(self.classifier.load(entry.path(name), d, self.threads))
        spec = InputSpec.from_dict(card.input) if card.input else self.input_spec
        return FeatureScorer(decisions, spec, card.seeds, features)

    def training_defaults(self) -> dict[str, Any]:
        # crop_seconds: 0 trains on whole recordings; > 0 on every consecutive crop of that length of each
        # recording (labelled as the recording): a model for the 1-second chunks bench serve scores
        return {"features": self.default_features, "crop_seconds": 0.0, **self.classifier.defaults}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The base rules (no unknown keys), a known feature set and the classifier's own checks."""
        out = super().resolve_settings(settings)
        try:
            cepstral.check_features(out["features"])
            crop = _number("crop_seconds", out["crop_seconds"], 0.0, 600.0)
            if 0 < crop < 0.1:
                raise BenchError(f"crop_seconds must be 0 (whole recordings) or at least 0.1, not {crop:g}")
            return self.classifier.check({**out, "crop_seconds": float(crop)})
        except BenchError as exc:
            raise BenchError(f"{self.meta.name}: {exc}") from None

    def _features(self, data: TrainingData, split: str, features: str,
                  crop_seconds: float = 0.0) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The split's (feature matrix, labels): one row per recording, or per crop with ``crop_seconds`` > 0;
        computed once per training run (every seed shares it)."""
        cache = getattr(self, "_feature_cache", None)
        if cache is None or cache[0] is not data:
            cache = self._feature_cache = (data, {})
        key = (split, features, crop_seconds)
        if key not in cache[1]:
            waves, labels = data.waves.get(split) or [], data.labels.get(split)
            if crop_seconds > 0 and waves:
                pairs = [(c, y) for w, y in zip(waves, labels, strict=True)
                         for c in cepstral.crops(w, round(crop_seconds * self.input_spec.sample_rate))]
                waves, labels = [c for c, _ in pairs], np.array([y for _, y in pairs])
            cache[1][key] = (cepstral.feature_matrix(waves, features), labels) if waves else (None, None)
        return cache[1][key]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_feature_cache", None)  # training material never travels to workers
        return state

    def train(self, data: TrainingData, out: Path, seed: int, settings: dict[str, Any],
              tick: Any = None) -> dict[str, Any]:
        s = self.resolve_settings(settings)
        if len(set(data.labels["train"].tolist())) < 2:
            raise BenchError("the training speakers need both original recordings and fakes")
        t0 = time.perf_counter()
        x, y = self._features(data, "train", s["features"], s["crop_seconds"])
        x_val, y_val = self._features(data, "val", s["features"], s["crop_seconds"])
        t_feat = time.perf_counter() - t0
        out.mkdir(parents=True, exist_ok=True)
        info = self.classifier.fit(x, y, x_val, y_val, s, seed, self.threads, out / self.classifier.file)
        seconds = time.perf_counter() - t0
        return {"files": [self.classifier.file], "architecture": f"{self.classifier.name}-{s['features']}",
                "params": {"classifier": self.classifier.name, "features": s["features"],
                           "n_features": int(x.shape[1]), "front_end": cepstral.FRONT_END, **info["params"]},
                "n_params": info["n_params"], "input": self.input_spec.to_dict(), "settings": s,
                "fit": {**info["fit"], "n_train": int(len(x)), "n_train_recordings": len(data.waves["train"]),
                        "feature_seconds": t_feat,
                        "fit_seconds": seconds - t_feat, "seconds": seconds}}
