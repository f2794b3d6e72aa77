"""G.711 as a phone switch sends it: one byte per sample at 8 kHz, mu-law or A-law, coded by FFmpeg (PyAV).

The encoder is FFmpeg's (``pcm_mulaw`` / ``pcm_alaw``). The decoder is a 256-entry table that FFmpeg's decoder
fills once per law (G.711 decoding is a table by definition), so a server decodes a chunk with one numpy
lookup instead of a codec context per chunk."""

from __future__ import annotations

from functools import cache

import numpy as np

from bench.channel.codecs import decode, encode, get_codec
from bench.errors import BenchError

RATE = 8000  #: G.711's only sample rate
#: wire encoding name (FFmpeg's codec name) -> bench's codec
LAWS = {"pcm_mulaw": "g711u", "pcm_alaw": "g711a"}


def _codec(encoding: str):
    if encoding not in LAWS:
        raise BenchError(f"G.711 encoding must be {' or '.join(LAWS)}, not {encoding!r}")
    return get_codec(LAWS[encoding])


def to_bytes(x: np.ndarray, encoding: str) -> bytes:
    """Float audio at 8 kHz in [-1, 1] as G.711 bytes, one per sample (FFmpeg's encoder)."""
    x = np.asarray(x, dtype=np.float32)
    return b"".join(encode(x, _codec(encoding), RATE))[:len(x)]


@cache
def table(encoding: str) -> np.ndarray:
    """The 256 float32 levels of a law, index = code byte, as FFmpeg's decoder gives them (read-only)."""
    levels = decode([bytes(range(256))], _codec(encoding), RATE, 256)
    levels.setflags(write=False)
    return levels


def from_bytes(data: bytes, encoding: str) -> np.ndarray:
    """G.711 bytes -> float32 samples in [-1, 1] (a new array)."""
    return table(encoding)[np.frombuffer(data, dtype=np.uint8)]
