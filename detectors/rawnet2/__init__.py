"""RawNet2 (Tak et al., ICASSP 2021), the ASVspoof 2021 raw-waveform baseline: a fixed sinc filter
bank, residual blocks with filter-wise feature map scaling, a GRU and a classifier.

The network (``network.py``) is bench's implementation, checked against the official baseline:
17,621,410 parameters (the 3-layer GRU of 1024 units holds most of them); its output is
log-probabilities with class 1 = bona fide, swapped by :func:`bench.countermeasures.torch_model.two_class`.
"""

from __future__ import annotations

from typing import Any

from bench.api import DETECTORS, FitConfig, InputSpec, PluginMeta, TorchCMDetector, two_class


@DETECTORS.register(PluginMeta(
    name="rawnet2", version="1", license="Apache-2.0 (bench's implementation of the official baseline)",
    description="RawNet2: sinc front end + residual blocks with FMS + GRU, on the raw waveform",
    reference="H. Tak et al., End-to-end anti-spoofing with RawNet2, ICASSP 2021; github.com/asvspoof-challenge/"
              "2021 LA/Baseline-RawNet2",
    sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector rawnet2)",
                "device": "cpu | cuda | cuda:N"},
    n_params={"rawnet2": 17_621_410}, trained_on="your corpus + fakes (bench train)",
))
class RawNet2Detector(TorchCMDetector):
    """RawNet2; see the module docstring (official input: 64,600 samples, shorter clips repeated)."""

    input_spec = InputSpec(samples=64600, shorter="tile", longer="windows", min_samples=3211)
    architectures = {"rawnet2": {}}
    default_architecture = "rawnet2"
    fit_defaults = FitConfig(epochs=10, batch_size=16, lr=1e-4, weight_decay=1e-4, patience=3)  # Adam 1e-4: official
    train_seconds = 1.0

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.rawnet2.network import RawNet2

        return two_class(RawNet2(**params), "bona-fide-index-1")
