"""Opus decoded by libopus itself, so that a lost packet gets Opus's own packet-loss concealment.

FFmpeg's Opus decoders are never told that a packet was lost (a network drops it; FFmpeg's API has no "decode a
gap" call), so bench calls libopus through ``ctypes``: ``opus_decode_float`` with no packet is the decoder's
concealment of one frame, continuing the signal from its state. The library is the one PyAV's wheels bundle
(``av.libs/libopus*.so*``), else the system's (``ctypes.util.find_library("opus")``); bench hands it only
packets its own encoder made."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from functools import cache

import numpy as np

from bench.errors import BenchError

OPUS_OK = 0
MAX_FRAME_S = 0.12  #: the longest Opus packet (120 ms)


@cache
def libopus() -> ctypes.CDLL:
    """libopus, with the signatures bench uses; a one-line BenchError when none can be loaded."""
    import av

    bundled = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs",
                                            "libopus*.so*")))
    for path in [*bundled, ctypes.util.find_library("opus")]:
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.opus_decode_float.restype = ctypes.c_int
        lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                          ctypes.POINTER(ctypes.c_float), ctypes.c_int, ctypes.c_int]
        lib.opus_decoder_destroy.restype = None
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        return lib
    raise BenchError("codec opus: bench decodes Opus with libopus itself (for its packet-loss concealment) and "
                     "found none: install a PyAV wheel (it bundles libopus) or the system's libopus")


class OpusDecoder:
    """One mono libopus decoder at ``rate`` (8, 12, 16, 24 or 48 kHz)."""

    def __init__(self, rate: int) -> None:
        self.lib = libopus()
        err = ctypes.c_int(0)
        self._state = self.lib.opus_decoder_create(rate, 1, ctypes.byref(err))
        if err.value != OPUS_OK or not self._state:
            raise BenchError(f"libopus could not make a decoder at {rate} Hz (error {err.value})")
        self._buf = (ctypes.c_float * int(MAX_FRAME_S * rate))()

    def decode(self, packet: bytes | None, frame_samples: int) -> np.ndarray:
        """One packet's samples; ``packet`` None: libopus's concealment of a lost frame of ``frame_samples``."""
        if packet is None:
            n = self.lib.opus_decode_float(self._state, None, 0, self._buf, frame_samples, 0)
        else:
            n = self.lib.opus_decode_float(self._state, packet, len(packet), self._buf, len(self._buf), 0)
        if n < 0:
            raise BenchError(f"libopus could not decode a packet (error {n})")
        return np.frombuffer(self._buf, dtype=np.float32, count=n).copy()

    def close(self) -> None:
        if self._state:
            self.lib.opus_decoder_destroy(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()
