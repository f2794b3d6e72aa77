"""``bench serve``: the edge detection server (WebSocket, protocol ``bench.serve/1``; docs/serve.md).

One asyncio event loop does the network: the HTTP upgrade (token check, connection cap), the calls'
frames (parsing, limits, timeouts, backpressure) and the replies; the :class:`~bench.serve.engine.InferenceEngine`
threads do the scoring. ``GET /healthz`` and ``GET /metrics`` (Prometheus text format) share the port.
A bad frame gets an ``error`` frame and touches nothing but its own chunk; a call is closed only for a bad
hello, a timeout, or a frame above the hard size cap (WebSocket close code 1009).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import ssl as ssl_lib
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.featuremsg import MessageError
from bench.serve.engine import InferenceEngine, Job, ModelSlot, NaiveEngine, Overloaded
from bench.serve.protocol import (
    FATAL,
    KEPT_PATH,
    PROTOCOL,
    WS_PATH,
    ProtocolError,
    decode_pcm,
    now_ms,
    parse_hello,
    split_messages,
)


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

    def check(self) -> None:
        if not self.token or len(self.token) < 16:
            raise BenchError("the server token must be at least 16 characters (use --token-file or BENCH_SERVE_TOKEN)")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise BenchError("TLS needs both --tls-cert and --tls-key")
        for f in (self.tls_cert, self.tls_key):
            if f and not Path(f).is_file():
                raise BenchError(f"{f}: no such file")
        if self.max_frame_bytes < 1024 or self.max_connections < 1 or self.max_inflight < 1:
            raise BenchError("max_frame_bytes must be >= 1024, max_connections and max_inflight >= 1")
        if self.engine not in ("batched", "naive"):
            raise BenchError(f"engine must be batched or naive, not {self.engine!r}")
        if not 0 < self.min_chunk_seconds <= self.max_chunk_seconds:
            raise BenchError("need 0 < min_chunk_seconds <= max_chunk_seconds")


class Metrics:
    """The server's Prometheus metrics (its own registry, so several servers can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        buckets = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
        self.queue = Histogram("bench_serve_queue_seconds", "chunk received -> inference start", buckets=buckets,
                               registry=self.registry)
        self.inference = Histogram("bench_serve_inference_seconds", "inference of the chunk's batch",
                                   buckets=buckets, registry=self.registry)
        self.server = Histogram("bench_serve_server_seconds", "chunk received -> verdict sent", buckets=buckets,
                                registry=self.registry)
        self.batch = Histogram("bench_serve_batch_size", "chunks per inference batch",
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry)
        self.chunks = Counter("bench_serve_chunks", "chunks answered with a verdict", ["mode"], registry=self.registry)
        self.errors = Counter("bench_serve_errors", "error frames sent", ["code"], registry=self.registry)
        self.rejected = Counter("bench_serve_rejected_connections", "connections refused", ["reason"],
                                registry=self.registry)
        self.sessions = Gauge("bench_serve_sessions", "open calls", registry=self.registry)
        self.swaps = Counter("bench_serve_model_swaps", "hot swaps to a newly promoted version",
                             registry=self.registry)
        self.model = Gauge("bench_serve_model_info", "the model new calls get", ["model", "model_version"],
                           registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class Call:
    """One call's running state: its chunks' verdicts accumulate into the call verdict."""

    def __init__(self, session: str, hello: Any, alert_chunks: int) -> None:
        self.session, self.hello, self.alert_chunks = session, hello, alert_chunks
        self.seq = 0
        self.chunks = 0
        self.fake_chunks = 0
        self.total = 0.0
        self.first_alert_seq: int | None = None
        self.errors = 0

    def add(self, seq: int, score: float, fake: bool) -> dict[str, Any]:
        self.chunks += 1
        self.total += score
        if fake:
            self.fake_chunks += 1
            if self.first_alert_seq is None:
                self.first_alert_seq = seq
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "fake_chunks": self.fake_chunks,
                "mean_score": self.total / self.chunks if self.chunks else None,
                "verdict": "fake" if self.fake_chunks >= self.alert_chunks else "bona fide",
                "first_alert_seq": self.first_alert_seq, "errors": self.errors}


class EdgeServer:
    """The server; :meth:`serve_forever` runs it, :class:`ServerThread` runs it beside a test or a harness."""

    def __init__(self, config: ServeConfig, log: Any = None) -> None:
        config.check()
        self.config = config
        self.log = log or (lambda _m: None)
        self.metrics = Metrics()
        self.slot = ModelSlot(config.model, device=config.device, backend=config.backend)
        self.metrics.model.labels(self.slot.ref, self.slot.version).set(1)
        self.engine: InferenceEngine | None = None
        self.sessions = 0
        self.started = time.time()
        self.port: int | None = None
        self._stop: asyncio.Event | None = None
        self._keep = Path(config.keep_dir) if config.keep_dir else None

    # ------------------------------------------------------------------ HTTP side
    def _process_request(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = json.dumps({"status": "ok", "protocol": PROTOCOL, "sessions": self.sessions,
                               "uptime_s": round(time.time() - self.started, 1),
                               "queue": self.engine.queue.qsize() if self.engine else 0,
                               **self.engine.current.describe()})
            resp = connection.respond(HTTPStatus.OK, body + "\n")
            resp.headers["Content-Type"] = "application/json"
            return resp
        if path == "/metrics":
            resp = connection.respond(HTTPStatus.OK, self.metrics.text())
            resp.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
            return resp
        if path not in (WS_PATH, KEPT_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, f"no such endpoint; calls go to {WS_PATH}\n")
        auth = request.headers.get("Authorization", "")
        given = auth[7:] if auth.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), self.config.token.encode()):
            self.metrics.rejected.labels("token").inc()
            return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token (Authorization: Bearer ...)\n")
        if path == KEPT_PATH:
            return self._kept_archive(connection)
        if self.sessions >= self.config.max_connections:
            self.metrics.rejected.labels("connection_cap").inc()
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many calls; retry later\n")
        return None

    def _kept_archive(self, connection: Any) -> Any:
        """``GET /v1/kept`` (token required): the keep folder as an uncompressed tar, for ``bench mlops cycle``."""
        import io
        import tarfile

        from websockets.datastructures import Headers
        from websockets.http11 import Response

        if self._keep is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "this server keeps no features (--keep-dir)\n")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if self._keep.is_dir():
                for f in sorted(self._keep.rglob("*")):
                    if f.is_file():
                        tar.add(f, arcname=str(f.relative_to(self._keep)))
        body = buf.getvalue()
        return Response(200, "OK", Headers([("Content-Type", "application/x-tar"),
                                            ("Content-Length", str(len(body)))]), body)

    # ------------------------------------------------------------------ a call
    async def _send(self, ws: Any, frame: dict[str, Any]) -> None:
        if "t_sent" in frame:
            frame["t_sent"] = now_ms()
        await ws.send(json.dumps(frame))

    async def _error(self, ws: Any, call: Call | None, code: str, message: str, seq: int | None = None) -> None:
        self.metrics.errors.labels(code).inc()
        if call is not None:
            call.errors += 1
        await self._send(ws, {"type": "error", "code": code, "message": message, "seq": seq, "fatal": code in FATAL})

    async def _handle(self, ws: Any) -> None:
        cfg = self.config
        self.sessions += 1
        self.metrics.sessions.inc()
        session = uuid.uuid4().hex[:12]
        call: Call | None = None
        inflight: list[asyncio.Task] = []
        try:
            try:
                first = await asyncio.wait_for(ws.recv(), cfg.idle_timeout)
                hello = parse_hello(first, cfg.privacy_only)
            except TimeoutError:
                await self._error(ws, None, "idle_timeout", f"no hello within {cfg.idle_timeout:g} s")
                return
            except ProtocolError as exc:
                await self._error(ws, None, exc.code, str(exc))
                return
            call = Call(session, hello, cfg.call_alert_chunks)
            if hello.mode == "privacy" and not self.engine.current.split:
                await self._error(ws, None, "bad_hello", f"model {self.engine.current.ref} is not a split model: "
                                                         "privacy mode needs one (devox, deepdetection)")
                return
            await ws.send(json.dumps({"type": "ready", "protocol": PROTOCOL, "session": session, "mode": hello.mode,
                                      "sample_rate": hello.sample_rate, "max_frame_bytes": cfg.max_frame_bytes,
                                      "chunk_seconds": [cfg.min_chunk_seconds, cfg.max_chunk_seconds],
                                      "call_alert_chunks": cfg.call_alert_chunks,
                                      **self.engine.current.describe()}))
            ends = time.monotonic() + cfg.max_call_seconds
            while True:
                left = ends - time.monotonic()
                if left <= 0:
                    await self._error(ws, call, "session_timeout", f"calls last at most {cfg.max_call_seconds:g} s")
                    return
                try:
                    frame = await asyncio.wait_for(ws.recv(), min(cfg.idle_timeout, left))
                except TimeoutError:
                    if time.monotonic() >= ends:
                        continue
                    await self._error(ws, call, "idle_timeout", f"no frame for {cfg.idle_timeout:g} s")
                    return
                t_recv = now_ms()
                if isinstance(frame, str):
                    if await self._control(ws, call, frame):
                        break
                    continue
                seq = call.seq
                call.seq += 1
                job = await self._job(ws, call, frame, seq)
                if job is None:
                    continue
                inflight.append(asyncio.ensure_future(self._reply(ws, call, job, seq, t_recv)))
                inflight = [t for t in inflight if not t.done()]
                while len(inflight) >= cfg.max_inflight:  # backpressure: stop reading this call
                    await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                    inflight = [t for t in inflight if not t.done()]
            if inflight:
                await asyncio.gather(*inflight)
            await ws.send(json.dumps({"type": "call_end", "session": session, "call_id": hello.call_id,
                                      **call.summary()}))
        except Exception as exc:  # noqa: BLE001 - a closed connection or a bug ends this call only
            from websockets.exceptions import ConnectionClosed

            if not isinstance(exc, ConnectionClosed):
                self.log(f"call {session}: {type(exc).__name__}: {exc}")
        finally:
            for t in inflight:
                t.cancel()
            self.sessions -= 1
            self.metrics.sessions.dec()

    async def _control(self, ws: Any, call: Call, text: str) -> bool:
        """A text frame during a call; True when it ends the call."""
        try:
            d = json.loads(text)
        except ValueError:
            d = None
        if not isinstance(d, dict) or d.get("type") not in ("end", "ping"):
            await self._error(ws, call, "bad_json", "text frames during a call are {\"type\": \"end\"} or "
                                                    "{\"type\": \"ping\"}")
            return False
        if d["type"] == "ping":
            await ws.send(json.dumps({"type": "pong", "t": now_ms()}))
            return False
        return True

    async def _job(self, ws: Any, call: Call, frame: bytes, seq: int) -> Job | None:
        """The chunk's inference job, or None after an error frame."""
        cfg = self.config
        try:
            if len(frame) > cfg.max_frame_bytes:
                raise ProtocolError("frame_too_large", f"frame of {len(frame)} bytes; at most {cfg.max_frame_bytes}")
            loop = asyncio.get_running_loop()
            if call.hello.mode == "raw":
                x = decode_pcm(frame, call.hello.sample_rate, cfg.min_chunk_seconds, cfg.max_chunk_seconds)
                if call.hello.sample_rate != 16000:
                    from bench.audio import resample

                    x = resample(x, call.hello.sample_rate, 16000)
                job = Job("raw", x, loop.create_future())
            else:
                messages = split_messages(frame)
                try:
                    slot = self.engine.slot_for(messages)
                except MessageError as exc:
                    raise ProtocolError("bad_message", str(exc)) from None
                job = Job("privacy", messages, loop.create_future(), slot=slot)
                self._keep_features(call, frame, slot)
            self.engine.submit(job)
            return job
        except ProtocolError as exc:
            await self._error(ws, call, exc.code, str(exc), seq)
        except Overloaded as exc:
            await self._error(ws, call, "overloaded", str(exc), seq)
        return None

    async def _reply(self, ws: Any, call: Call, job: Job, seq: int, t_recv: float) -> None:
        await job.future
        err = job.result.get("error")
        if err is not None:
            self.log(f"call {call.session} chunk {seq}: {type(err).__name__}: {err}")
            await self._error(ws, call, "internal", f"inference failed: {type(err).__name__}", seq)
            return
        slot = job.slot
        score = float(job.result["score"])
        fake = bool(np.isfinite(score) and score >= slot.semantics.threshold)
        summary = call.add(seq, score, fake)
        frame = {"type": "verdict", "seq": seq, "score": score, "verdict": "fake" if fake else "bona fide",
                 "alert": fake, "threshold": slot.semantics.threshold, "model": slot.ref,
                 "model_version": slot.version, "batch_size": job.batch_size,
                 "t_received": t_recv, "t_inference_start": job.t_start, "t_inference_end": job.t_end,
                 "t_sent": 0.0, "call": summary}
        self.metrics.queue.observe(max(0.0, job.t_start - t_recv) / 1000.0)
        self.metrics.inference.observe(max(0.0, job.t_end - job.t_start) / 1000.0)
        self.metrics.chunks.labels(job.kind).inc()
        await self._send(ws, frame)
        self.metrics.server.observe(max(0.0, frame["t_sent"] - t_recv) / 1000.0)

    def _keep_features(self, call: Call, frame: bytes, slot: ModelSlot) -> None:
        """An opted-in privacy call's feature frames, appended to KEEP_DIR/<model_version>/<session>.bfm
        with its label in a sidecar (raw audio is never kept)."""
        if self._keep is None or not call.hello.keep:
            return
        folder = self._keep / slot.version
        folder.mkdir(parents=True, exist_ok=True)
        side = folder / f"{call.session}.json"
        if not side.exists():
            side.write_text(json.dumps({"session": call.session, "call_id": call.hello.call_id,
                                        "label": call.hello.label, "model": slot.ref, "model_version": slot.version,
                                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        with open(folder / f"{call.session}.bfm", "ab") as f:
            f.write(len(frame).to_bytes(4, "little") + frame)

    # ------------------------------------------------------------------ model updates
    async def _watch(self) -> None:
        """Swap to a newly promoted version of the model's name (loaded off the event loop)."""
        from bench.modelstore import resolve

        cfg = self.config
        while cfg.watch_seconds > 0:
            await asyncio.sleep(cfg.watch_seconds)
            try:
                ref = resolve(self.engine.current.name).card.ref
            except BenchError:
                continue
            if ref != self.engine.current.ref:
                await self.swap(ref)

    async def swap(self, ref: str) -> ModelSlot:
        """Load ``ref`` in a thread and make it the version new chunks get; live calls keep going."""
        slot = await asyncio.to_thread(ModelSlot, ref, self.config.device, 64, self.config.backend)
        old = self.engine.swap(slot)
        self.metrics.model.labels(old.ref, old.version).set(0)
        self.metrics.model.labels(slot.ref, slot.version).set(1)
        self.metrics.swaps.inc()
        self.log(f"hot swap: {old.ref} -> {slot.ref}")
        return slot

    # ------------------------------------------------------------------ lifecycle
    def _ssl(self) -> ssl_lib.SSLContext | None:
        if not self.config.tls_cert:
            return None
        ctx = ssl_lib.SSLContext(ssl_lib.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    async def run(self, ready: Any = None) -> None:
        """Serve until :meth:`stop`; ``ready(url)`` is called once listening."""
        from websockets.asyncio.server import serve

        cfg = self.config
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        make = NaiveEngine if cfg.engine == "naive" else InferenceEngine
        self.engine = make(self.slot, loop, threads=cfg.threads, max_batch=cfg.max_batch,
                                      batch_wait_ms=cfg.batch_wait_ms, max_queue=cfg.max_queue,
                                      on_batch=lambda n, _s: self.metrics.batch.observe(n))
        watcher = asyncio.ensure_future(self._watch())
        try:
            async with serve(self._handle, cfg.host, cfg.port, process_request=self._process_request,
                             max_size=4 * cfg.max_frame_bytes, ssl=self._ssl(), compression=None,
                             ping_interval=20, ping_timeout=20, max_queue=cfg.max_inflight * 4) as server:
                sock = next(iter(server.sockets))
                self.port = sock.getsockname()[1]
                scheme = "wss" if cfg.tls_cert else "ws"
                url = f"{scheme}://{cfg.host}:{self.port}{WS_PATH}"
                self.log(f"serving {self.slot.ref} ({self.slot.detector.meta.name}, {self.slot.backend}) on {url}; "
                         f"health and metrics "
                         f"at {'https' if cfg.tls_cert else 'http'}://{cfg.host}:{self.port}/healthz and /metrics")
                if ready is not None:
                    ready(url)
                await self._stop.wait()
        finally:
            watcher.cancel()
            self.engine.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


class ServerThread:
    """An :class:`EdgeServer` on its own event loop in a background thread (tests, the latency harness)."""

    def __init__(self, config: ServeConfig, log: Any = None) -> None:
        self.server = EdgeServer(config, log)
        self.url: str | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._main, name="bench-serve", daemon=True)

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self.server.run(ready=self._on_ready))
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def start(self, timeout: float = 60.0) -> str:
        self.thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise BenchError(f"the server did not start: {self._error or 'timeout'}")
        return self.url

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.server.stop)
        self.thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
