"""SpecRNet (Kawa, Plata, Syga, Interspeech 2022): a light residual CNN + GRU on LFCC, built to run
fast on consumer hardware. Pitch Table A.3 quotes it (86.0% average AUROC): bench shows that
series beside this detector's results.

The network (``network.py``) is bench's implementation, checked against the official code:
277,963 parameters, the paper's front end (80 LFCC from 128 linear filters); its one logit is
positive for bona fide, so bench trains and scores ``-logit`` (higher = fake).
"""

from __future__ import annotations

from typing import Any

from bench.api import DETECTORS, FitConfig, InputSpec, PluginMeta, TorchCMDetector, two_class


@DETECTORS.register(PluginMeta(
    name="specrnet", version="1", license="Apache-2.0 (bench's implementation; official code MIT)",
    description="SpecRNet: residual CNN + GRU on LFCC (277 k parameters)",
    reference="P. Kawa, M. Plata, P. Syga, SpecRNet: Towards Faster and More Accessible Audio DeepFake Detection, "
              "TrustCom 2022; github.com/piotrkawa/specrnet",
    paper_name="specrnet", sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector specrnet)",
                "device": "cpu | cuda | cuda:N"},
    n_params={"specrnet": 277_963}, trained_on="your corpus + fakes (bench train)",
))
class SpecRNetDetector(TorchCMDetector):
    """SpecRNet; see the module docstring (official input: 64,600 samples, shorter clips repeated)."""

    input_spec = InputSpec(samples=64600, shorter="tile", longer="windows", min_samples=10_080)
    architectures = {"specrnet": {"frontend": "paper"}, "specrnet-whisper-features": {"frontend": "whisper_features"}}
    default_architecture = "specrnet"
    fit_defaults = FitConfig(epochs=20, batch_size=16, lr=1e-3, weight_decay=1e-4, patience=4)  # official: Adam 1e-4
    train_seconds = 64600 / 16_000

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.specrnet.network import SpecRNet

        return two_class(SpecRNet(**params), "bona-fide-logit")
