"""svm: a linear SVM on utterance-level MFCC / LFCC statistics, one of DevoX's comparison models.

What DevoX (Seo et al., "DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the
Core-Edge Cloud"; ``../shared/papers/devox.txt``) says about it, and nothing more:

- Section II.A (Related Work, Deep Voice Detection): "research focusing on improving accuracy
  using various deep learning or ML models, including SVM-Linear [7], XGBoost [8], and VGG16 [9],
  is increasing." Reference [7] is M. Lataifeh, A. Elnagar, I. Shahin and A. B. Nassif, "Arabic
  audio clips: Identification and discrimination of authentic Cantillations from imitations", 2020.
- Section IV.A: "Fig. 5 shows the results of comparing the accuracy performance between standard
  models (VGG-16, XGBoost, SVM-LINEAR) and our proposed model", whose model reaches "the highest
  performance with an accuracy of 92%". Fig. 5's bars (F1 score, accuracy, loss) did not survive
  the text extraction: the SVM's own figures are not known here.

DevoX does not say which features, scaling, regularisation or implementation its SVM used. Those are bench's
choices (``bench.countermeasures.feature_model``, features ``bench.countermeasures.cepstral``): MFCC and LFCC
(20 coefficients, deltas and delta-deltas, mean and std over the utterance, 240 values with both),
standardised, scikit-learn's ``LinearSVC`` with C = 1 and balanced class weights. The score is the SVM's
decision value (a margin, threshold 0), not a log-likelihood ratio.
"""

from __future__ import annotations

from bench.api import DETECTORS, SVM_MARGIN, FeatureCMDetector, LinearSVM, PluginMeta


@DETECTORS.register(PluginMeta(
    name="svm", version="1", license="Apache-2.0 (bench's code; scikit-learn and liblinear: BSD-3-Clause)",
    description="linear SVM on utterance MFCC/LFCC statistics (DevoX's 'SVM-LINEAR' comparison model)",
    reference="Y. Seo et al., DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the Core-Edge "
              "Cloud (Sec. II.A, Fig. 5: 'SVM-Linear [7]', ref. [7] Lataifeh et al. 2020); scikit-learn LinearSVC "
              "(liblinear: R.-E. Fan et al., JMLR 9, 2008)",
    paper_name=None, sample_rate=16_000, devices=["cpu"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector svm)"},
    n_params={"both": 241, "mfcc": 121, "lfcc": 121},
    trained_on="your corpus + fakes (bench train)",
))
class SVMDetector(FeatureCMDetector):
    """Linear SVM; see the module docstring. Whole utterances of any length (one feature vector each)."""

    classifier = LinearSVM
    semantics = SVM_MARGIN
