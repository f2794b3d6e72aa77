"""Audio I/O: decode with soundfile, resample to 16 kHz mono, trim silence, write atomically."""

from __future__ import annotations

import io
import os
import re
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from bench import SAMPLE_RATE
from bench.errors import BenchError, first_line
from bench.fileio import write_atomic

__all__ = ["AudioError", "audio_problem", "decode", "encode_wav", "entry_problem", "load", "load_entry", "resample",
           "trim_silence", "wav_truncation", "write_wav"]

#: sample rates a recording may have (a header outside this range is damaged, and resampling from it
#: could take unbounded memory)
MIN_RATE, MAX_RATE = 4_000, 384_000
#: peak level below which a clip counts as silent (-60 dBFS)
SILENCE_PEAK = 1e-3


class AudioError(BenchError):
    """An audio file or buffer could not be decoded."""


def decode(source: str | os.PathLike | bytes) -> tuple[np.ndarray, int]:
    """Decode a file path or encoded bytes to (float32 mono samples, sample rate).

    16-bit PCM WAV (every corpus bench writes) is decoded with numpy; files by path go
    through libsndfile by name. Neither uses soundfile's Python callbacks for in-memory
    files, inside which a Ctrl-C would be swallowed (cffi cannot raise through C).
    """
    name = "<bytes>" if isinstance(source, bytes | bytearray) else str(source)
    if not isinstance(source, bytes | bytearray) and not Path(source).is_file():
        raise AudioError(f"{name}: no such file")
    try:
        raw = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from None
    wav = _parse_wav(raw)
    if wav is not None and wav.truncated:
        raise AudioError(f"{name}: {wav.truncated}")
    if wav is not None and wav.pcm16 is not None:
        data, sr = wav.pcm16, wav.rate
    else:
        try:
            handle = io.BytesIO(raw) if isinstance(source, bytes | bytearray) else str(source)
            with _c_stderr_silenced():  # decoders (mpg123) print their complaints there; ours is one line
                data, sr = sf.read(handle, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            reason = re.sub(r"^Error opening [^:]*: ", "", first_line(exc))  # the handle's name says nothing new
            raise AudioError(f"{name}: cannot decode audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: audio is empty")
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{name}: sample rate {sr} Hz is outside {MIN_RATE}-{MAX_RATE} Hz (a damaged header?)")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: audio contains NaN or infinite samples")
    return data.mean(axis=1).astype(np.float32), int(sr)


@contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Send what C libraries write to file descriptor 2 to /dev/null for the duration."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured in memory)
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@dataclass
class _Wav:
    truncated: str | None = None
    pcm16: np.ndarray | None = None  # (frames, channels) float32 in [-1, 1), when the data is 16-bit PCM
    rate: int = 0


def _parse_wav(raw: bytes) -> _Wav | None:
    """Walk a RIFF/WAVE file's chunks (None if it is not one): whether it is truncated, and its samples
    when they are 16-bit PCM (decoded exactly as libsndfile does: int16 / 32768)."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None
    fmt = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt " and size >= 16 and body + 16 <= len(raw):
            fmt = struct.unpack("<HHIIHH", raw[body:body + 16])
        elif chunk == b"data":
            held = len(raw) - body
            if size not in (0, 0xFFFFFFFF) and size > held:
                return _Wav(truncated=f"truncated WAV: its data chunk declares {size} bytes but the file holds "
                                      f"{held}")
            if fmt is None or size in (0, 0xFFFFFFFF):
                return _Wav()
            tag, channels, rate, _, align, bits = fmt
            if tag != 1 or bits != 16 or channels < 1 or align != 2 * channels or size % align:
                return _Wav()  # another encoding: libsndfile decodes it
            samples = np.frombuffer(raw, dtype="<i2", count=size // 2, offset=body)
            return _Wav(pcm16=(samples.astype(np.float32) / 32768.0).reshape(-1, channels), rate=rate)
        pos = body + size + (size & 1)
    return _Wav()  # no data chunk: libsndfile says what is wrong


def wav_truncation(raw: bytes) -> str | None:
    """Why a RIFF/WAVE file is truncated (its data chunk declares more bytes than it holds), else None.

    libsndfile silently reads what is there, so a half-copied recording would pass as a shorter one.
    Sizes of 0 and 0xFFFFFFFF (streamed WAVs whose writer could not seek back) are not checked.
    """
    wav = _parse_wav(raw)
    return wav.truncated if wav is not None else None


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


def entry_problem(entry: dict | None, root: str | os.PathLike | None = None) -> str | None:
    """Why a dataset audio entry cannot be decoded, or None (the samples are decoded and thrown away)."""
    if not entry or not (entry.get("bytes") or entry.get("path")):
        return "no audio"
    try:
        load_entry(entry, root=root)
    except BenchError as exc:
        return str(exc)
    return None


def encode_wav(x: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM mono WAV bytes of float32 samples (clipped to [-1, 1]), byte for byte what libsndfile
    writes for them: it rounds ``x * 2**31`` (in float32) to a 32-bit integer and keeps its top 16 bits.

    Written with numpy: soundfile would go through Python callbacks for an in-memory file,
    inside which a Ctrl-C is swallowed.
    """
    x = np.clip(np.asarray(x, dtype=np.float32).reshape(-1), -1.0, 1.0)
    wide = np.clip(np.rint(x * np.float32(2 ** 31)).astype(np.float64), -2 ** 31, 2 ** 31 - 1).astype(np.int64)
    pcm = (wide >> 16).astype("<i2").tobytes()
    header = (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
              + b"data" + struct.pack("<I", len(pcm)))
    return header + pcm


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
