"""Audio I/O: decode with soundfile, resample to 16 kHz mono, trim silence, write atomically."""

from __future__ import annotations

import io
import os
import re
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from bench import SAMPLE_RATE
from bench.errors import BenchError, first_line
from bench.fileio import write_atomic

__all__ = ["AudioError", "audio_problem", "decode", "encode_wav", "load", "load_entry", "resample", "trim_silence",
           "wav_truncation", "write_atomic", "write_wav"]

#: sample rates a recording may have (a header outside this range is damaged, and resampling from it
#: could take unbounded memory)
MIN_RATE, MAX_RATE = 4_000, 384_000
#: peak level below which a clip counts as silent (-60 dBFS)
SILENCE_PEAK = 1e-3


class AudioError(BenchError):
    """An audio file or buffer could not be decoded."""


def decode(source: str | os.PathLike | bytes) -> tuple[np.ndarray, int]:
    """Decode a file path or encoded bytes to (float32 mono samples, sample rate)."""
    name = "<bytes>" if isinstance(source, bytes | bytearray) else str(source)
    if not isinstance(source, bytes | bytearray) and not Path(source).is_file():
        raise AudioError(f"{name}: no such file")
    try:
        raw = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from None
    truncated = wav_truncation(raw)
    if truncated:
        raise AudioError(f"{name}: {truncated}")
    try:
        data, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        reason = re.sub(r"^Error opening <[^>]*>: ", "", first_line(exc))  # the buffer's repr says nothing
        raise AudioError(f"{name}: cannot decode audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: audio is empty")
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{name}: sample rate {sr} Hz is outside {MIN_RATE}-{MAX_RATE} Hz (a damaged header?)")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: audio contains NaN or infinite samples")
    return data.mean(axis=1).astype(np.float32), int(sr)


def wav_truncation(raw: bytes) -> str | None:
    """Why a RIFF/WAVE file is truncated (its data chunk declares more bytes than it holds), else None.

    libsndfile silently reads what is there, so a half-copied recording would pass as a shorter one.
    Sizes of 0 and 0xFFFFFFFF (streamed WAVs whose writer could not seek back) are not checked.
    """
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(raw):
        chunk, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if chunk == b"data":
            held = len(raw) - pos - 8
            if size not in (0, 0xFFFFFFFF) and size > held:
                return f"truncated WAV: its data chunk declares {size} bytes but the file holds {held}"
            return None
        pos += 8 + size + (size & 1)
    return None  # no data chunk: libsndfile reports what is wrong


def audio_problem(x: np.ndarray, sr: int = SAMPLE_RATE, min_duration: float = 0.0) -> str | None:
    """Why a clip is unusable as speech (too short, silent), or None."""
    seconds = len(x) / sr
    if seconds < min_duration:
        return f"too short ({seconds:.2f} s < {min_duration:g} s)"
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0.0:
        return "silent (every sample is zero)"
    if peak < SILENCE_PEAK:
        return f"silent (peak {20 * np.log10(peak):.0f} dBFS, below -60 dBFS)"
    return None


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``sr_in`` to ``sr_out``."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(sr_out, sr_in).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def load(source: str | os.PathLike | bytes, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode and resample to ``sr`` mono float32."""
    x, sr_in = decode(source)
    return resample(x, sr_in, sr)


def load_entry(entry: dict, sr: int = SAMPLE_RATE, root: str | os.PathLike | None = None) -> np.ndarray:
    """Load a datasets ``Audio(decode=False)`` entry ({'bytes', 'path'})."""
    if entry.get("bytes"):
        return load(entry["bytes"], sr)
    path = Path(entry["path"])
    if root is not None and not path.is_absolute():
        path = Path(root) / path
    return load(path, sr)


def encode_wav(x: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes (clipped to [-1, 1])."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_wav(path: str | os.PathLike, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Atomically write a 16-bit WAV file."""
    write_atomic(path, encode_wav(x, sr))


def trim_silence(x: np.ndarray, sr: int = SAMPLE_RATE, aggressiveness: int = 2,
                 frame_ms: int = 30, pad_ms: int = 150) -> np.ndarray:
    """Cut leading/trailing non-speech with WebRTC VAD, keeping ``pad_ms`` of margin."""
    import webrtcvad

    if sr not in (8000, 16000, 32000, 48000):
        raise AudioError(f"VAD needs 8/16/32/48 kHz audio, got {sr} Hz")
    vad = webrtcvad.Vad(aggressiveness)
    hop = sr * frame_ms // 1000
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    voiced = [vad.is_speech(pcm[i:i + hop].tobytes(), sr) for i in range(0, len(pcm) - hop + 1, hop)]
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return x
    pad = sr * pad_ms // 1000
    start = max(0, idx[0] * hop - pad)
    end = min(len(x), (idx[-1] + 1) * hop + pad)
    return x[start:end]
