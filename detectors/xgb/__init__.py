"""xgboost: gradient-boosted trees on utterance-level MFCC / LFCC statistics, one of DevoX's comparison
models. (The package is ``xgb`` so that it never shadows the ``xgboost`` library; the plugin's name
is ``xgboost``.)

What DevoX (Seo et al., "DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the
Core-Edge Cloud"; ``../shared/papers/devox.txt``) says about it, and nothing more:

- Section II.A (Related Work, Deep Voice Detection): "research focusing on improving accuracy
  using various deep learning or ML models, including SVM-Linear [7], XGBoost [8], and VGG16 [9],
  is increasing." Reference [8] is J. Khochare, C. Joshi, B. Yenarkar, S. Suratkar and F. Kazi,
  "A deep learning framework for audio deepfake detection", Arabian Journal for Science and
  Engineering, 2021.
- Section IV.A: "Fig. 5 shows the results of comparing the accuracy performance between standard
  models (VGG-16, XGBoost, SVM-LINEAR) and our proposed model", whose model reaches "the highest
  performance with an accuracy of 92%". Fig. 5's bars (F1 score, accuracy, loss) did not survive
  the text extraction: XGBoost's own figures are not known here.

DevoX does not say which features, hyper-parameters or stopping rule its XGBoost used. Those are bench's
choices (``bench.countermeasures.feature_model``, features ``bench.countermeasures.cepstral``): MFCC and LFCC
(20 coefficients, deltas and delta-deltas, mean and std over the utterance, 240 values with both), the
library's default trees (100 rounds, depth 6, learning rate 0.3), balanced class weights, early stopping on
the validation speakers' log loss (10 rounds). The score is the trees' margin: the log-odds of fake (threshold
0).
"""

from __future__ import annotations

from bench.api import DETECTORS, XGB_LOG_ODDS, FeatureCMDetector, PluginMeta, XGBoost


@DETECTORS.register(PluginMeta(
    name="xgboost", version="1", license="Apache-2.0 (bench's code; the xgboost library: Apache-2.0)",
    description="XGBoost on utterance MFCC/LFCC statistics (DevoX's 'XGBoost' comparison model)",
    reference="Y. Seo et al., DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the Core-Edge "
              "Cloud (Sec. II.A, Fig. 5: 'XGBoost [8]', ref. [8] Khochare et al. 2021); T. Chen and C. Guestrin, "
              "XGBoost: A Scalable Tree Boosting System, KDD 2016 (the xgboost library)",
    paper_name=None, sample_rate=16_000, devices=["cpu"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector xgboost)"},
    n_params=None, trained_on="your corpus + fakes (bench train)",
))
class XGBoostDetector(FeatureCMDetector):
    """XGBoost; see the module docstring. Whole utterances of any length (one feature vector each).
    Its size depends on the data (the model card's n_params counts tree nodes)."""

    classifier = XGBoost
    semantics = XGB_LOG_ODDS
