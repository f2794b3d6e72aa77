"""Old import paths of bench 0.1, kept for one release: importing one gives the module at its new
path and a ``DeprecationWarning`` that names that path (CHANGELOG.md lists every rename)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: old module path -> new module path (the plugin API's old homes point at ``bench.api``)
MOVED = {
    "bench.registry": "bench.api.registry",
    "bench.detection": "bench.api.detector",
    "bench.generation": "bench.api.generator",
    "bench.scoring": "bench.api.score_contract",
    "bench.detectors.base": "bench.api",
    "bench.generators.base": "bench.api",
    "bench.countermeasure": "bench.countermeasures.base",
    "bench.torchcm": "bench.countermeasures.torch_model",
    "bench.splitcm": "bench.countermeasures.split_model",
    "bench.featurecm": "bench.countermeasures.feature_model",
    "bench.featuremsg": "bench.countermeasures.feature_message",
    "bench.training": "bench.countermeasures.training",
    "bench.corpus": "bench.data.corpus",
    "bench.hub": "bench.data.hub",
    "bench.taxonomy_version": "bench.data.taxonomy_version",
    "bench.subset": "bench.data.subset",
    "bench.simcorpus": "bench.runs.simulate_corpus",
    "bench.localcorpus": "bench.runs.import_corpus",
    "bench.migrate": "bench.runs.migrate_data",
    "bench.generate": "bench.runs.generate",
    "bench.evaluate": "bench.runs.evaluate",
    "bench.train_detector": "bench.runs.train",
    "bench.demo": "bench.runs.demo",
    "bench.metrics": "bench.evaluation.detection_metrics",
    "bench.result_metrics": "bench.evaluation.estimates",
    "bench.results": "bench.evaluation.results",
    "bench.gate": "bench.evaluation.gate",
    "bench.comparison": "bench.evaluation.paper_comparison",
    "bench.modelstore": "bench.models.store",
    "bench.modelhub": "bench.models.hub",
    "bench.client": "bench.serve.client",
    "bench.latency": "bench.serve.latency",
    "bench.mlops": "bench.serve.mlops",
    "bench.privacy": "bench.serve.privacy_report",
    "bench.compute_floor": "bench.serve.compute_floor",
    "bench.world": "bench.dsp.world",
    "bench.acoustics": "bench.dsp.acoustics",
    "bench.challenges.reference": "bench.references.pitch",
    "bench.detectors.pitch.compliance_config": "bench.detectors.pitch.compliance.config",
    "bench.detectors.pitch.compliance_data": "bench.detectors.pitch.compliance.data",
    "bench.detectors.pitch.compliance_metrics": "bench.detectors.pitch.compliance.metrics",
    "bench.detectors.pitch.compliance_model": "bench.detectors.pitch.compliance.model",
    "bench.detectors.pitch.compliance_train": "bench.detectors.pitch.compliance.train",
}
# ``bench.models`` was the assets module and is now a package that still exports the assets' names.


def _caller_stacklevel() -> int:
    """The stack level of the first frame outside the import machinery and this module."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or frame.f_code.co_filename == __file__):
        frame, level = frame.f_back, level + 1
    return level


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} is deprecated and goes in the next release: import {self.new} instead",
                      DeprecationWarning, stacklevel=_caller_stacklevel())
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        return None


class _OldPaths(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED` and loads the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        new = MOVED.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the old-path finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.insert(0, _OldPaths())
