"""The plugin API: the one import path for detector and generator authors.

Everything a plugin needs from bench is importable from here (``from bench.api import DETECTORS,
TorchCMDetector, InputSpec``); the built-in plugins, the docs and the entry-point examples all import
it this way. Names load lazily from their homes (the map below, as lm-evaluation-harness keeps a lazy
name -> module map), so ``import bench.api`` costs nothing until a name is used: a registry lookup does
not import torch.

Homes, for readers: ``bench.api.registry`` (registries, ``PluginMeta``), ``bench.api.detector`` and
``bench.api.generator`` (the interfaces), ``bench.api.score_contract`` (``InputSpec``,
``ScoreSemantics``), ``bench.countermeasures`` (ready-made waveform, split and feature models and their
training), ``bench.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.api.lazy import lazy_exports

_HOMES: dict[str, tuple[str, ...]] = {
    "bench": ("SAMPLE_RATE", "__version__"),
    "bench.errors": ("BenchError", "FatalError", "NetworkError", "RunFailed", "first_line"),
    "bench.api.registry": ("DETECTORS", "GENERATORS", "TOOLS", "PluginMeta", "Registry"),
    "bench.api.detector": ("Component", "Detector", "Sample"),
    "bench.api.generator": ("Generator", "StreamStats"),
    "bench.api.score_contract": ("InputSpec", "LOG_ODDS", "ScoreProtocol", "ScoreSemantics", "windows"),
    "bench.countermeasures.base": ("CMDetector", "Scorer", "TrainingData"),
    "bench.countermeasures.torch_model": ("TorchCMDetector", "two_class"),
    "bench.countermeasures.split_model": ("SplitTorchCMDetector",),
    "bench.countermeasures.feature_model": ("FeatureCMDetector", "LinearSVM", "XGBoost", "SVM_MARGIN",
                                            "XGB_LOG_ODDS"),
    "bench.countermeasures.training": ("Checkpoint", "FitConfig", "FitOutcome", "fit_torch", "predict_logits",
                                       "resolve_device", "save_torch", "split_speakers"),
}
__all__, __getattr__, __dir__ = lazy_exports(globals(), _HOMES)


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from bench import SAMPLE_RATE, __version__  # noqa: F401
    from bench.api.detector import Component, Detector, Sample  # noqa: F401
    from bench.api.generator import Generator, StreamStats  # noqa: F401
    from bench.api.registry import DETECTORS, GENERATORS, TOOLS, PluginMeta, Registry  # noqa: F401
    from bench.api.score_contract import LOG_ODDS, InputSpec, ScoreProtocol, ScoreSemantics, windows  # noqa: F401
    from bench.countermeasures.base import CMDetector, Scorer, TrainingData  # noqa: F401
    from bench.countermeasures.feature_model import (  # noqa: F401
        SVM_MARGIN,
        XGB_LOG_ODDS,
        FeatureCMDetector,
        LinearSVM,
        XGBoost,
    )
    from bench.countermeasures.split_model import SplitTorchCMDetector  # noqa: F401
    from bench.countermeasures.torch_model import TorchCMDetector, two_class  # noqa: F401
    from bench.countermeasures.training import (  # noqa: F401
        Checkpoint,
        FitConfig,
        FitOutcome,
        fit_torch,
        predict_logits,
        resolve_device,
        save_torch,
        split_speakers,
    )
    from bench.errors import BenchError, FatalError, NetworkError, RunFailed, first_line  # noqa: F401
