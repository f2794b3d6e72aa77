"""The detector interface, re-exported for plugins; it lives in the core (``bench.detection``)."""

from bench.detection import Component, Detector, Sample  # noqa: F401
from bench.registry import DETECTORS, PluginMeta  # noqa: F401
