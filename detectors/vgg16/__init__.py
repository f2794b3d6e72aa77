"""vgg16: VGG16 on log-mel spectrograms, DevoX's "VGG-16" comparison model.

What DevoX (Seo et al., "DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the
Core-Edge Cloud"; ``../shared/papers/devox.txt``) says about it, and nothing more:

- Section II.A (Related Work, Deep Voice Detection): "research focusing on improving accuracy
  using various deep learning or ML models, including SVM-Linear [7], XGBoost [8], and VGG16 [9],
  is increasing." Reference [9] is H. Khalid, M. Kim, S. Tariq and S. S. Woo, "Evaluation of an
  audio-video multimodal deepfake dataset using unimodal and multimodal detectors", 1st Workshop
  on Synthetic Multimedia - Audiovisual Deepfake Generation and Detection, 2021.
- Section IV.A: "Fig. 5 shows the results of comparing the accuracy performance between standard
  models (VGG-16, XGBoost, SVM-LINEAR) and our proposed model", whose model reaches "the highest
  performance with an accuracy of 92%". Fig. 5's bars (F1 score, accuracy, loss) did not survive
  the text extraction: VGG16's own figures are not known here.

DevoX gives no input features, input size, pre-training, optimiser, epochs or stopping rule for
its VGG16. Everything below except the VGG16 layout itself is bench's choice:

- The network (``network.py``): VGG16 as published (Simonyan & Zisserman, ICLR 2015,
  configuration D: 13 3x3 convolutions with ReLU, five 2x2 max-pools, FC 4096 - ReLU - dropout -
  FC 4096 - ReLU - dropout - FC), no batch norm, with a 7x7 adaptive average pool before the
  classifier, one input channel (the spectrogram) and two outputs (class 1 = fake).
- The input: a 128-band log-mel spectrogram of the 16 kHz waveform (n_fft 512, 25 ms Hann
  window, 10 ms hop, ``log(1e-6 + power)``, normalised per utterance to zero mean and unit
  variance) computed inside the network; a fixed 4 s window (64,000 samples, 401 frames), shorter
  audio tiled, longer audio scored in consecutive windows whose scores are averaged.
- Two architectures: ``vgg16``, the paper-sized network (134,267,586 parameters: 14,713,536 in
  the convolutions, 119,554,050 in the classifier), and ``vgg16-small`` (the default), every
  channel count and the FC width divided by 8 (2,100,250 parameters), which trains from scratch
  on 2 CPU cores in minutes on a few hundred 4 s clips. No ImageNet weights: both start from
  random initialisation.
- Training: bench's shared epoch loop (AdamW, class-weighted cross-entropy, early stopping on the
  validation speakers), defaults 15 epochs, batch 16, learning rate 1e-4, weight decay 1e-4,
  patience 4, on 4 s crops. 1e-4, not 1e-3: without batch norm, vgg16-small at 1e-3 stayed at the
  chance loss on the simulated corpora (held-out AUROC 37.6 % on the demo split, 42.1 % on the
  12-speaker one, against 59.7 % at 1e-4; BENCHMARKS.md, "Privacy-split detectors").

The score is the fake logit minus the bona fide logit (log-odds, threshold 0).
"""

from __future__ import annotations

from typing import Any

from bench.api import DETECTORS, BenchError, FitConfig, InputSpec, PluginMeta, TorchCMDetector

SAMPLES = 64_000        # 4 s at 16 kHz: 401 frames of 10 ms
MIN_SAMPLES = 4_960     # network.MIN_SAMPLES: 32 frames for five 2x2 max-pools (not imported: torch loads lazily)
ARCHITECTURES = {
    "vgg16": {"width": 1, "n_mels": 128, "pool": 7, "batch_norm": False},
    "vgg16-small": {"width": 8, "n_mels": 128, "pool": 7, "batch_norm": False},
}
N_PARAMS = {"vgg16": 134_267_586, "vgg16-small": 2_100_250}


@DETECTORS.register(PluginMeta(
    name="vgg16", version="1", license="Apache-2.0 (bench's implementation)",
    description="VGG16 (configuration D) on 128-band log-mel spectrograms (DevoX's 'VGG-16' comparison model)",
    reference="Y. Seo et al., DevoX: Deep Voice Detection MLOps Framework for Crime Prevention in the Core-Edge "
              "Cloud (Sec. II.A, Fig. 5: 'VGG16 [9]', ref. [9] Khalid et al. 2021); K. Simonyan, A. Zisserman, "
              "Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015 (configuration D)",
    paper_name=None, sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector vgg16)",
                "device": "cpu | cuda | cuda:N"},
    n_params=N_PARAMS, trained_on="your corpus + fakes (bench train)",
))
class VGG16Detector(TorchCMDetector):
    """VGG16 on log-mel spectrograms; see the module docstring (input: 4 s windows, shorter clips tiled)."""

    input_spec = InputSpec(samples=SAMPLES, shorter="tile", longer="windows", min_samples=MIN_SAMPLES)
    architectures = ARCHITECTURES
    default_architecture = "vgg16-small"  # 2.1 M parameters: trains on 2 CPU cores in minutes
    fit_defaults = FitConfig(epochs=15, batch_size=16, lr=1e-4, weight_decay=1e-4, patience=4)
    train_seconds = SAMPLES / 16_000

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The base rules, and a crop long enough for five 2x2 max-pools (32 frames)."""
        out = super().resolve_settings(settings)
        if round(float(out["crop_seconds"]) * 16_000) < MIN_SAMPLES:
            raise BenchError(f"{self.meta.name}: crop_seconds must be at least {MIN_SAMPLES / 16_000} (32 frames "
                             "of 10 ms for five 2x2 max-pools)")
        return out

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.vgg16.network import VGG16

        return VGG16(**params)
