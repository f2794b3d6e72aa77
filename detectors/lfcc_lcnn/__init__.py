"""LFCC-LCNN: the ASVspoof 2021 LA baseline (LFCC front end, light CNN with Max-Feature-Map, two
BLSTM layers, average pooling; X. Wang and J. Yamagishi's recipe). Pitch Table A.3 quotes it
as "LCNN": bench shows that series beside this detector's results.

The network (``network.py``) is bench's implementation of the official baseline, checked
against it: 269,729 parameters; its one logit is positive for bona fide, so bench trains and
scores ``-logit`` (higher = fake) through :func:`bench.countermeasures.torch_model.two_class`.
"""

from __future__ import annotations

from typing import Any

from bench.api import DETECTORS, FitConfig, InputSpec, PluginMeta, TorchCMDetector, two_class


@DETECTORS.register(PluginMeta(
    name="lfcc-lcnn", version="1", license="Apache-2.0 (bench's implementation of the BSD-3 baseline)",
    description="LFCC-LCNN, the ASVspoof 2019/2021 LA baseline (LFCC + LCNN + BLSTM)",
    reference="X. Wang, J. Yamagishi, A comparative study on recent neural spoofing countermeasures for synthetic "
              "speech detection, Interspeech 2021; github.com/asvspoof-challenge/2021 LA/Baseline-LFCC-LCNN",
    paper_name="lfcc-lcnn", sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector lfcc-lcnn)",
                "device": "cpu | cuda | cuda:N"},
    n_params={"lfcc-lcnn": 269_729}, trained_on="your corpus + fakes (bench train)",
))
class LFCCLCNNDetector(TorchCMDetector):
    """LFCC-LCNN; see the module docstring. The official recipe scores whole utterances of any length;
    bench trains on fixed crops and scores windows of the training crop's length."""

    input_spec = InputSpec(samples=None, shorter="pad", min_samples=2400)
    architectures = {"lfcc-lcnn": {"dropout": 0.7}}
    default_architecture = "lfcc-lcnn"
    fit_defaults = FitConfig(epochs=20, batch_size=16, lr=3e-4, weight_decay=1e-4, patience=4)  # Adam 3e-4: official
    train_seconds = 3.0

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.lfcc_lcnn.network import LFCCLCNN

        return two_class(LFCCLCNN(**params), "bona-fide-logit")
