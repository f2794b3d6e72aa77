"""bench: a benchmark for defences against real-time voice-conversion deepfakes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vc-challenge-bench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

SAMPLE_RATE = 16_000
"""The benchmark's working sample rate: every corpus is stored at 16 kHz mono."""
