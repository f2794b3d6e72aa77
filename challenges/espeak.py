"""A small ctypes driver for libespeak-ng as shipped by the ``espeakng-loader`` wheel.

It synthesises text to a float32 waveform in memory (no audio device, no files), with
voice, language, rate, pitch and pitch-range control. One engine per process: the
library keeps global state, so calls are serialised with a lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_SSML = 0x10
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings: language, variant, words per minute, pitch, range."""

    language: str = "en-us"
    variant: str = "m1"
    rate_wpm: int = 165
    pitch: int = 50  # 0..100, espeak's base pitch
    pitch_range: int = 50  # 0..100, intonation range

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language


class EspeakError(RuntimeError):
    """libespeak-ng could not be loaded or refused a request."""


class Espeak:
    """In-process espeak-ng synthesiser returning mono float32 audio.

    libespeak-ng keeps static state across utterances (its pitch "flutter" and timing
    counters), so the same text would come out slightly differently depending on what
    was spoken before, and seeds its noise generator from the clock. To make synthesis a
    pure function of its inputs, the library is loaded fresh for every utterance (about
    3 ms) and its noise generator is given a fixed seed.
    """

    _instance: Espeak | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise EspeakError("espeakng-loader is not installed (pip install espeakng-loader)") from exc
        self._path = espeakng_loader.get_library_path()
        self._data = espeakng_loader.get_data_path().encode()
        self._chunks: list[np.ndarray] = []

        def _collect(wav, n, _events):
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = _SYNTH_CALLBACK(_collect)  # keep a reference alive
        lib = self._open()
        self.sample_rate = self._rate
        self._close(lib)

    def _open(self) -> ctypes.CDLL:
        lib = ctypes.CDLL(self._path)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data, 0)
        if rate <= 0:
            self._close(lib)
            raise EspeakError(f"espeak_Initialize failed (returned {rate})")
        self._rate = int(rate)
        lib.espeak_SetSynthCallback(self._callback)
        # breathy voices draw noise from espeak's own generator, seeded from the clock at start-up
        lib.espeak_ng_SetRandSeed(1)
        return lib

    @staticmethod
    def _close(lib: ctypes.CDLL) -> None:
        import _ctypes

        lib.espeak_Terminate()
        _ctypes.dlclose(lib._handle)

    @classmethod
    def get(cls) -> Espeak:
        """The process-wide engine (created on first use)."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def synth(self, text: str, voice: Voice) -> np.ndarray:
        """Speak ``text`` with ``voice``; returns float32 samples at ``self.sample_rate``."""
        with self._lock:
            lib = self._open()
            try:
                if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                    raise EspeakError(f"espeak-ng has no voice {voice.name!r}")
                for param, value in (
                    (_PARAM_RATE, voice.rate_wpm), (_PARAM_PITCH, voice.pitch),
                    (_PARAM_RANGE, voice.pitch_range), (_PARAM_VOLUME, 100),
                ):
                    lib.espeak_SetParameter(param, int(value), 0)
                self._chunks = []
                buf = ctypes.create_string_buffer(text.encode("utf-8"))
                err = lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
                if err != 0:
                    raise EspeakError(f"espeak_Synth failed with code {err}")
                lib.espeak_Synchronize()
            finally:
                self._close(lib)
            if not self._chunks:
                return np.zeros(0, dtype=np.float32)
            return np.concatenate(self._chunks).astype(np.float32) / 32768.0
