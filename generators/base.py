"""The generator interface, re-exported for plugins; it lives in the core (``bench.generation``)."""

from bench.generation import Generator, StreamStats  # noqa: F401
from bench.registry import GENERATORS, PluginMeta  # noqa: F401
