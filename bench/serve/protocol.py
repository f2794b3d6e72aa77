"""The edge server's wire protocol, ``bench.serve/1`` (specified for client writers in docs/serve.md).

A call is one WebSocket connection. Text frames carry JSON control messages, binary frames carry audio
chunks (raw mode: 16-bit little-endian PCM, or G.711 mu-law / A-law bytes at 8 kHz as a phone switch sends them)
or a split detector's feature messages (privacy mode: one
``bench.features/1`` message per seed of the model, concatenated). Every chunk gets one JSON text frame
back: a ``verdict`` or an ``error``. Nothing here imports torch: clients need only this module.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.countermeasures.feature_message import MAGIC, MAX_HEADER, FeatureMessage, MessageError, payload_bytes
from bench.errors import BenchError

PROTOCOL = "bench.serve/1"
MODES = ("raw", "privacy")
RAW_RATES = (8000, 16000)  #: PCM sample rates a raw-mode call may declare (telephone and wideband)
#: raw-mode audio encodings (FFmpeg's names) and their bytes per sample; G.711 runs at 8 kHz only
ENCODINGS = {"pcm_s16le": 2, "pcm_mulaw": 1, "pcm_alaw": 1}
PCM = "pcm_s16le"
G711_RATE = 8000
WS_PATH = "/v1/call"
TOKEN_ENV = "BENCH_SERVE_TOKEN"  #: the environment variable that gives bench serve and its clients the token
#: the WebSocket subprotocol a call may negotiate; browsers, which cannot set an Authorization header, offer it
#: with the token as a second subprotocol ``bearer.<token>`` (the server echoes only this name, never the token)
SUBPROTOCOL = "bench.serve.v1"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."
#: the WebSocket close code after ``call_end`` and after a fatal error frame (whose code is the close reason)
CLOSE_NORMAL = 1000
KEPT_PATH = "/v1/kept"  #: GET (token): the kept features of opted-in calls, as a tar (bench mlops cycle)

#: error codes of ``error`` frames; the ``fatal`` ones (:data:`FATAL`) and only they are followed by the server
#: closing the call (close code :data:`CLOSE_NORMAL`, the error code as the reason): the server closes a call in
#: one place, :func:`is_fatal` decides both the flag and the close
ERRORS = {
    "bad_hello": "the first frame was not a valid hello (the call is closed)",
    "bad_json": "a text frame that is not a JSON object of a known type",
    "bad_frame": "a binary frame that is not a chunk of this call's mode",
    "bad_sample_rate": "the hello declares a sample rate the server does not accept (the call is closed)",
    "bad_encoding": "the hello declares an audio encoding the server does not accept (the call is closed)",
    "frame_too_large": "a frame above max_frame_bytes (the chunk is dropped)",
    "chunk_too_short": "a raw chunk shorter than min_chunk_seconds",
    "chunk_too_long": "a raw chunk longer than max_chunk_seconds",
    "bad_message": "a feature message that is malformed, truncated, NaN, or of another model or shape",
    "overloaded": "the server's queue is full: the chunk is dropped (retry later)",
    "idle_timeout": "no frame for idle_timeout seconds (the call is closed)",
    "session_timeout": "the call lasted max_call_seconds (the call is closed)",
    "bad_score": "the model gave a NaN or infinite score for this chunk: no verdict (logged on the server)",
    "internal": "the server failed on this chunk (a bug: please report it)",
    "server_error": "the server failed on this call (a bug, logged on the server; the call is closed)",
}
FATAL = frozenset({"bad_hello", "bad_sample_rate", "bad_encoding", "idle_timeout", "session_timeout", "server_error"})


def is_fatal(code: str) -> bool:
    """Whether an error frame of ``code`` ends the call (the server then closes the connection)."""
    return code in FATAL


class ProtocolError(BenchError):
    """A frame the protocol does not allow; ``code`` is one of :data:`ERRORS`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Hello:
    """What the client declares when a call starts."""

    mode: str  # raw | privacy
    sample_rate: int  # raw mode: the PCM rate; privacy mode: 0 (ignored: each feature message carries its rate)
    call_id: str
    keep: bool  # the caller consents to the edge keeping this call's features and label (MLOps; privacy mode only)
    label: int | None  # the call's known label (0 bona fide, 1 fake) when the operator labels it
    encoding: str = PCM  # raw mode: pcm_s16le, pcm_mulaw or pcm_alaw (G.711, 8 kHz); privacy mode: unused


def parse_hello(text: str | bytes, privacy_only: bool = False) -> Hello:
    """The first frame of a call; a :class:`ProtocolError` ``bad_hello`` / ``bad_sample_rate`` otherwise.
    Defaults (docs/serve.md): ``protocol`` bench.serve/1, ``mode`` raw, ``encoding`` pcm_s16le (raw),
    ``sample_rate`` 16000 (8000 for G.711; ignored in privacy mode), ``call_id`` "", ``keep`` false, ``label``
    null; other fields are ignored."""
    if isinstance(text, bytes):
        raise ProtocolError("bad_hello", "the first frame must be a JSON text frame {\"type\": \"hello\", ...}")
    try:
        d = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_hello", "the hello frame is not JSON") from None
    if not isinstance(d, dict) or d.get("type") != "hello":
        raise ProtocolError("bad_hello", "the first frame must be {\"type\": \"hello\", ...}")
    if d.get("protocol", PROTOCOL) != PROTOCOL:
        raise ProtocolError("bad_hello", f"protocol {d.get('protocol')!r} is not spoken here (this server: {PROTOCOL})")
    mode = d.get("mode", "raw")
    if mode not in MODES:
        raise ProtocolError("bad_hello", f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if privacy_only and mode != "privacy":
        raise ProtocolError("bad_hello", "this server runs in privacy-only mode: send feature messages "
                                         "(mode \"privacy\"), never raw audio")
    encoding = d.get("encoding", PCM)
    if mode == "privacy" and encoding != PCM:
        raise ProtocolError("bad_hello", "encoding is for raw audio; a privacy-mode call sends feature messages")
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ProtocolError("bad_encoding", f"encoding must be one of {', '.join(ENCODINGS)}, not "
                                            f"{str(encoding)[:40]!r}")
    rate = d.get("sample_rate", (16000 if encoding == PCM else G711_RATE) if mode == "raw" else 0)
    if mode == "raw" and (not isinstance(rate, int) or isinstance(rate, bool) or rate not in RAW_RATES):
        raise ProtocolError("bad_sample_rate", f"raw mode takes 16-bit PCM at {' or '.join(map(str, RAW_RATES))} Hz, "
                                               f"not {str(rate)[:40]!r}")
    if mode == "raw" and encoding != PCM and rate != G711_RATE:
        raise ProtocolError("bad_sample_rate", f"{encoding} (G.711) runs at {G711_RATE} Hz, not {rate}")
    label = d.get("label")
    if label not in (None, 0, 1) or isinstance(label, bool):
        raise ProtocolError("bad_hello", "label must be 0 (bona fide), 1 (fake) or absent")
    call_id = d.get("call_id", "")
    if not isinstance(call_id, str) or len(call_id) > 128:
        raise ProtocolError("bad_hello", "call_id must be a string of at most 128 characters")
    keep = d.get("keep", False)
    if not isinstance(keep, bool):
        raise ProtocolError("bad_hello", f"keep must be true or false, not {str(keep)[:40]!r}")
    if keep and mode == "raw":
        raise ProtocolError("bad_hello", "keep: true needs mode \"privacy\": the server keeps feature messages, "
                                         "never raw audio")
    return Hello(mode=mode, sample_rate=int(rate) if mode == "raw" else 0, call_id=call_id, keep=keep, label=label,
                 encoding=encoding)


def hello(mode: str = "raw", sample_rate: int = 16000, call_id: str = "", keep: bool = False,
          label: int | None = None, encoding: str = PCM) -> str:
    """The client's hello frame."""
    d: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL, "mode": mode, "call_id": call_id, "keep": keep}
    if mode == "raw":
        d["sample_rate"], d["encoding"] = sample_rate, encoding
    if label is not None:
        d["label"] = label
    return json.dumps(d)


def decode_pcm(frame: bytes, sample_rate: int, min_seconds: float, max_seconds: float,
               encoding: str = PCM) -> np.ndarray:
    """A raw chunk (16-bit little-endian PCM, or G.711 bytes) -> float32 in [-1, 1]; :class:`ProtocolError` when
    malformed. Every byte string is valid G.711, so only PCM chunks are checked for a stray feature message."""
    width = ENCODINGS[encoding]
    if len(frame) % width:
        raise ProtocolError("bad_frame", f"a raw chunk is 16-bit PCM: {len(frame)} bytes is an odd count")
    if encoding == PCM and frame[:4] == MAGIC:
        raise ProtocolError("bad_frame", "a feature message in a raw-mode call (say mode \"privacy\" in the hello)")
    n = len(frame) // width
    if n < min_seconds * sample_rate:
        raise ProtocolError("chunk_too_short", f"chunk of {n / sample_rate:.3f} s; at least {min_seconds:g} s")
    if n > max_seconds * sample_rate:
        raise ProtocolError("chunk_too_long", f"chunk of {n / sample_rate:.3f} s; at most {max_seconds:g} s")
    if encoding != PCM:
        from bench.channel.g711 import from_bytes

        return from_bytes(frame, encoding)
    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    x *= 1.0 / 32768.0  # in place (one array per chunk, not two); a power of two: the same values as dividing
    return x


def encode_pcm(x: np.ndarray, encoding: str = PCM) -> bytes:
    """float samples in [-1, 1] -> 16-bit little-endian PCM (clipped), or G.711 bytes (the samples at 8 kHz)."""
    if encoding != PCM:
        from bench.channel.g711 import to_bytes

        return to_bytes(x, encoding)
    return (np.clip(np.asarray(x, dtype=np.float32), -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def split_messages(frame: bytes, max_messages: int = 16) -> list[FeatureMessage]:
    """A privacy chunk: concatenated ``bench.features/1`` messages -> messages; :class:`ProtocolError` otherwise."""
    if frame[:4] != MAGIC:
        raise ProtocolError("bad_frame", "a privacy-mode chunk is one or more bench.features/1 messages "
                                         "(raw audio is never accepted in privacy mode)")
    out, pos = [], 0
    while pos < len(frame):
        if len(out) >= max_messages:
            raise ProtocolError("bad_message", f"more than {max_messages} feature messages in one chunk")
        if len(frame) - pos < 8 or frame[pos:pos + 4] != MAGIC:
            raise ProtocolError("bad_message", f"bytes {pos}.. are not a feature message")
        (hlen,) = struct.unpack_from("<I", frame, pos + 4)
        if hlen > MAX_HEADER or pos + 8 + hlen > len(frame):
            raise ProtocolError("bad_message", "truncated feature message header")
        try:
            head = json.loads(frame[pos + 8:pos + 8 + hlen])
            if not isinstance(head, dict):
                raise ValueError("not a JSON object")
            size = payload_bytes(head.get("shape"), head.get("dtype"), len(frame) - pos - 8 - hlen)
        except (ValueError, RecursionError, MessageError) as exc:
            raise ProtocolError("bad_message", f"feature message header: {str(exc)[:160]}") from None
        end = pos + 8 + hlen + size
        try:
            out.append(FeatureMessage.from_bytes(frame[pos:end]))
        except MessageError as exc:
            raise ProtocolError("bad_message", str(exc)) from None
        pos = end
    return out


def now_ms() -> float:
    """Wall-clock milliseconds since the epoch (the timestamps of verdict frames)."""
    return time.time() * 1000.0


def parse_reply(text: str | bytes) -> dict[str, Any]:
    """A server frame as a dict (clients); a :class:`BenchError` when it is not one."""
    try:
        d = json.loads(text)
    except ValueError:
        raise BenchError(f"the server sent a frame that is not JSON: {str(text)[:80]!r}") from None
    if not isinstance(d, dict) or "type" not in d:
        raise BenchError(f"the server sent an unknown frame: {str(text)[:80]!r}")
    return d


def base_url(url: str) -> str:
    """The server's HTTP(S) base from any of its URLs: ``ws://host:port/v1/call`` -> ``http://host:port``."""
    return url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).split("/v1/", 1)[0].rstrip("/")
