"""The feature message a split detector's device half sends to its server half.

Privacy-split detectors (DevoX, DeepDetection) run their first layers on the caller's phone
and the rest on a server, so that raw audio never leaves the device. What travels is one
:class:`FeatureMessage` per chunk of audio and per seed of the model: a small JSON header
(schema, detector, model ``NAME@VERSION`` and a fingerprint of its weights, the seed, the
sample rate the device computed the features at, dtype and shape) and the array's raw
little-endian bytes. The server refuses a message made by another model, and a malformed
message is a one-line :class:`~bench.errors.BenchError`, never a crash.

Wire format (``to_bytes``): ``b"BFM1"``, the header's length (4 bytes, little-endian), the
UTF-8 JSON header, then ``prod(shape) * itemsize`` bytes of payload.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import BenchError

SCHEMA = "bench.features/1"
MAGIC = b"BFM1"
DTYPES = ("float16", "float32")
MAX_HEADER = 64 * 1024
MAX_PAYLOAD = 256 * 1024 * 1024
MAX_DIMS = 8  #: most axes a feature array may have


class MessageError(BenchError):
    """A feature message that cannot be read, or that another model made."""


def payload_bytes(shape: object, dtype: object, limit: int = MAX_PAYLOAD) -> int:
    """The payload size a header's ``shape`` and ``dtype`` announce, checked before anything is allocated:
    ``shape`` is 1 to :data:`MAX_DIMS` positive integers, ``dtype`` one of :data:`DTYPES`, and the size (exact
    integer arithmetic: no overflow) at most ``limit`` (pass the bytes actually present). A
    :class:`MessageError` otherwise."""
    if dtype not in DTYPES:
        raise MessageError(f"malformed feature message: dtype {dtype!r} not allowed ({', '.join(DTYPES)})")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= MAX_DIMS
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
        raise MessageError(f"malformed feature message: shape {str(shape)[:80]} must be 1 to {MAX_DIMS} positive "
                           "integers")
    size = np.dtype(dtype).itemsize
    for n in shape:
        size *= n
        if size > limit:
            raise MessageError(f"malformed feature message: shape {shape} {dtype} needs more than the {limit} "
                               "payload bytes available")
    return size


def model_version(fingerprint: str) -> str:
    """A short, stable version id of a model's weights (first 16 hex digits of the SHA-256 of its fingerprint)."""
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


@dataclass
class FeatureMessage:
    """Features of one chunk of audio (all its windows), from one seed of a split model."""

    detector: str
    model: str  # NAME@VERSION
    model_version: str  # bench.countermeasures.split_model.device_version: which device-half weights made the features
    seed: int
    sample_rate: int  # the rate of the audio the device half computed the features from
    data: np.ndarray  # (windows, ...) features, dtype float16 or float32
    seq: int = 0  # chunk index within a call
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if str(self.data.dtype) not in DTYPES:
            raise MessageError(f"feature message dtype must be one of {', '.join(DTYPES)}, not {self.data.dtype}")

    @property
    def dtype(self) -> str:
        return str(self.data.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.data.shape)

    def header(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "detector": self.detector, "model": self.model, "model_version": self.model_version,
                "seed": self.seed, "sample_rate": self.sample_rate, "dtype": self.dtype, "shape": list(self.shape),
                "seq": self.seq, **({"extra": self.extra} if self.extra else {})}

    def to_bytes(self) -> bytes:
        """The message on the wire (see the module docstring)."""
        head = json.dumps(self.header(), separators=(",", ":"), sort_keys=True).encode()
        payload = np.ascontiguousarray(self.data, dtype=self.data.dtype.newbyteorder("<")).tobytes()
        return MAGIC + struct.pack("<I", len(head)) + head + payload

    @property
    def nbytes(self) -> int:
        """Size on the wire, header included."""
        return len(self.to_bytes())

    @classmethod
    def from_bytes(cls, raw: bytes) -> FeatureMessage:
        """Parse a message; a truncated, foreign or inconsistent one is a one-line :class:`MessageError`."""
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise MessageError(f"malformed feature message: expected bytes, got {type(raw).__name__}")
        raw = bytes(raw)
        if len(raw) < 8 or raw[:4] != MAGIC:
            raise MessageError("malformed feature message: it does not start with the bench feature-message magic "
                               "(BFM1)")
        (n,) = struct.unpack("<I", raw[4:8])
        if n > MAX_HEADER or 8 + n > len(raw):
            raise MessageError(f"malformed feature message: header length {n} does not fit the {len(raw)}-byte message")
        try:
            head = json.loads(raw[8:8 + n].decode())
            if not isinstance(head, dict):
                raise ValueError
        except (UnicodeDecodeError, ValueError):
            raise MessageError("malformed feature message: the header is not a JSON object") from None
        if head.get("schema") != SCHEMA:
            raise MessageError(f"feature message schema {head.get('schema')!r} is not {SCHEMA}")
        try:
            dtype, shape = head["dtype"], head["shape"]
            meta = {k: str(head[k]) for k in ("detector", "model", "model_version")}
            seed, rate, seq = (_int(head["seed"]), _int(head["sample_rate"]), _int(head.get("seq", 0)))
            extra = head.get("extra") or {}
            if not isinstance(extra, dict):
                raise ValueError("extra")
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"malformed feature message: header field {exc} missing or invalid") from None
        body = raw[8 + n:]
        want = payload_bytes(shape, dtype, min(len(body), MAX_PAYLOAD))
        if len(body) != want:
            raise MessageError(f"malformed feature message: {len(body)} payload bytes, shape {shape} {dtype} needs "
                               f"{want}")
        data = np.frombuffer(body, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        if not np.isfinite(data).all():
            raise MessageError("malformed feature message: the features hold NaN or infinite values")
        return cls(detector=meta["detector"], model=meta["model"], model_version=meta["model_version"],
                   seed=seed, sample_rate=rate, data=data, seq=seq, extra=dict(extra))


def _int(value: object) -> int:
    """A header integer (JSON number without a fraction, not a boolean); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise ValueError(f"{value!r} is not an integer")
    return value
