"""``bench serve``'s settings: :class:`ServeConfig`, everything the server can be told, and its checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.outdir import check_writable_dir
from bench.serve.eventloop import loop_factory

#: the largest --max-frame-bytes: what one call can make the server hold is a few frames of 4x it (docs/serve.md)
MAX_FRAME_BYTES_CAP = 16 * 2**20


@dataclass
class ServeConfig:
    """Everything ``bench serve`` can be told (defaults: one 1-second chunk per frame, an edge box)."""

    model: str
    token: str
    host: str = "127.0.0.1"
    port: int = 8765
    device: str = "cpu"
    threads: int = 1  # inference threads (one per core)
    max_batch: int = 32
    batch_wait_ms: float = 0.0
    max_queue: int = 4096
    max_connections: int = 1000
    max_frame_bytes: int = 256 * 1024  # larger frames get an error frame; 4x this closes the call (1009)
    min_chunk_seconds: float = 0.1
    max_chunk_seconds: float = 2.0
    idle_timeout: float = 30.0
    max_call_seconds: float = 4 * 3600.0
    max_inflight: int = 4  # chunks of one call in the engine before the server stops reading it
    call_alert_chunks: int = 2  # fake chunks before the call verdict turns fake
    privacy_only: bool = False
    watch_seconds: float = 2.0  # how often to look for a newly promoted version (0: never)
    tls_cert: str | None = None
    tls_key: str | None = None
    keep_dir: str | None = None  # where opted-in privacy calls' features and labels are kept (MLOps)
    engine: str = "batched"  # batched | naive (one inference per request: the baseline bench latency compares)
    backend: str = "auto"  # auto (ONNX Runtime where the model converts, else torch) | onnx | torch
    loop: str = "auto"  # the event loop: auto (uvloop where installed) | uvloop | asyncio (bench.serve.eventloop)
    calibration: str | None = None  # a bench-calibration JSON: the call summary then carries Pitch's tag

    def tagging(self) -> dict | None:
        """The calibration the call summaries tag with (its one variant, or ``default``), or None; a file that is
        not a single-variant calibration is a one-line BenchError."""
        if not self.calibration:
            return None
        from bench.evaluation.calibration import parse_calibration

        try:
            text = Path(self.calibration).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BenchError(f"cannot read --calibration {self.calibration}: {e}") from None
        doc = parse_calibration(text, self.calibration)
        variants = doc["variants"]
        v = variants.get("default") or (next(iter(variants.values())) if len(variants) == 1 else None)
        if v is None:
            raise BenchError(f"{self.calibration}: {len(variants)} variants and no default: give the server one")
        return {"threshold": float(v["threshold"]), "temperature": float(v["temperature"]),
                "certain_cut": None if doc.get("certain_cut") is None else float(doc["certain_cut"])}

    def check(self) -> None:
        """A one-line BenchError for any setting the server cannot run with (before anything is written)."""
        self._check_limits()
        if not self.token or len(self.token) < 16:
            raise BenchError("the server token must be at least 16 characters (use --token-file or BENCH_SERVE_TOKEN)")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise BenchError("TLS needs both --tls-cert and --tls-key")
        for f in (self.tls_cert, self.tls_key):
            if f and not Path(f).is_file():
                raise BenchError(f"{f}: no such file")
        if self.max_frame_bytes < 1024 or self.max_connections < 1 or self.max_inflight < 1:
            raise BenchError("max_frame_bytes must be >= 1024, max_connections and max_inflight >= 1")
        if self.max_frame_bytes > MAX_FRAME_BYTES_CAP:
            raise BenchError(f"--max-frame-bytes must be at most {MAX_FRAME_BYTES_CAP} (a 2-second raw chunk is 64,000 "
                             f"bytes), not {self.max_frame_bytes}: each call may buffer a few frames of 4x it")
        if self.engine not in ("batched", "naive"):
            raise BenchError(f"engine must be batched or naive, not {self.engine!r}")
        if self.backend not in ("auto", "onnx", "torch"):
            raise BenchError(f"--backend must be auto, onnx or torch, not {self.backend!r}")
        loop_factory(self.loop)  # an unknown --loop, or uvloop asked for and not installed: one line, before anything
        if not 0 < self.min_chunk_seconds <= self.max_chunk_seconds:
            raise BenchError("need 0 < min_chunk_seconds <= max_chunk_seconds")
        if self.keep_dir:
            check_writable_dir(Path(self.keep_dir), "--keep-dir")
        self.tagging()

    #: integer limits (>= 1) and number limits (finite; > 0, or >= 0 where 0 means "none"/"never")
    INT_LIMITS = ("threads", "max_batch", "max_queue", "max_connections", "max_frame_bytes", "max_inflight",
                  "call_alert_chunks")
    NUMBER_LIMITS = {"batch_wait_ms": False, "min_chunk_seconds": True, "max_chunk_seconds": True,
                     "idle_timeout": True, "max_call_seconds": True, "watch_seconds": False}

    def _check_limits(self) -> None:
        """Every numeric limit is a real bound: integers >= 1, finite numbers (NaN or inf would turn it off)."""
        for name in self.INT_LIMITS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise BenchError(f"--{name.replace('_', '-')} must be an integer >= 1, not {v!r}")
        for name, positive in self.NUMBER_LIMITS.items():
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or v < 0 or (positive and v == 0):
                raise BenchError(f"--{name.replace('_', '-')} must be a finite number {'>' if positive else '>='} "
                                 f"0, not {v!r}")
