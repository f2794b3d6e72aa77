"""Pitch's machine evaluation: challenge compliance, content compliance (WIL), realism (MOS)
and speaker match, combined into the degradation score D = ((1 - C) + WIL + (1 - R/5)) / 3.

Importing the package registers the ``pitch`` and ``pitch-lite`` detectors and their tools (``tools.py``)."""

from bench.detectors.pitch import detector, tools  # noqa: F401  (register the detectors and their tools)
