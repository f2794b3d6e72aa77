"""``bench serve``: the edge detection server (WebSocket, protocol ``bench.serve/1``; docs/serve.md).

One asyncio event loop does the network: the HTTP upgrade (token check, connection cap), the calls'
frames (parsing, limits, timeouts, backpressure) and the replies; the :class:`~bench.serve.engine.InferenceEngine`
threads do the scoring. ``GET /healthz`` and ``GET /metrics`` (Prometheus text format) share the port.
A bad frame gets an ``error`` frame and touches nothing but its own chunk; a call is closed only after a fatal
error frame (a bad hello, a timeout, a server failure: close code 1000, the error code as the reason), after
``call_end`` (1000), or for a frame above the hard size cap (1009).

This module holds the server (:class:`EdgeServer`, :class:`ServerThread`); its settings are
:mod:`bench.serve.config`, its metrics :mod:`bench.serve.metrics`, a call's state :mod:`bench.serve.call`,
the upgrade's token check :mod:`bench.serve.auth`, the keep folder :mod:`bench.serve.kept`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import ssl as ssl_lib
import threading
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np

from bench.countermeasures.feature_message import MessageError
from bench.errors import BenchError, first_line
from bench.serve.auth import select_subprotocol, token_matches
from bench.serve.call import Call
from bench.serve.config import ServeConfig
from bench.serve.engine import InferenceEngine, Job, ModelSlot, NaiveEngine, Overloaded
from bench.serve.eventloop import loop_factory
from bench.serve.kept import keep_frame, stream_kept
from bench.serve.metrics import Metrics
from bench.serve.protocol import (
    CLOSE_NORMAL,
    KEPT_PATH,
    PROTOCOL,
    SUBPROTOCOL,
    TOKEN_SUBPROTOCOL_PREFIX,
    WS_PATH,
    ProtocolError,
    decode_pcm,
    is_fatal,
    now_ms,
    parse_hello,
    split_messages,
)


def warm_up_phone_lines() -> None:
    """Import and run once what an 8 kHz or G.711 call needs (scipy's resampler, the G.711 tables), before the first
    call: done lazily in the event loop, the imports stalled every call for 0.25-0.5 s (p99 of BENCHMARKS.md's
    per-encoding run)."""
    from bench.audio import resample
    from bench.channel.g711 import LAWS, table

    resample(np.zeros(800, np.float32), 8000, 16000)
    for encoding in LAWS:
        table(encoding)


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
        if self._keep is not None and not self._keep.exists():
            self._keep.mkdir(parents=True, mode=0o700)  # kept features identify speakers: owner only
        self.following = following(config.model)
        self._calls: set[Call] = set()  # calls past their hello, watched by _expire_calls
        self.tagging = config.tagging()  # Pitch's tag in each call summary when --calibration was given
        self.swap_error: dict[str, str] | None = None  # the last promoted version that failed to load, and why
        if not config.privacy_only:
            warm_up_phone_lines()


    # ------------------------------------------------------------------ HTTP side
    def _process_request(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = json.dumps({"status": "ok", "protocol": PROTOCOL, "sessions": self.sessions,
                               "uptime_s": round(time.time() - self.started, 1),
                               "queue": self.engine.queue.qsize() if self.engine else 0,
                               "following": self.following, "swap_error": self.swap_error,
                               "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
                               "cpu": {"process_cpu_s": time.process_time(), **self.engine.cpu()},
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
        if not token_matches(request.headers, self.config.token):
            self.metrics.rejected.labels("token").inc()
            return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token (Authorization: Bearer TOKEN, "
                                                               f"or subprotocols {SUBPROTOCOL}, "
                                                               f"{TOKEN_SUBPROTOCOL_PREFIX}TOKEN)\n")
        if path == KEPT_PATH:
            return self._kept_archive(connection)
        if self.sessions >= self.config.max_connections:
            self.metrics.rejected.labels("connection_cap").inc()
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many calls; retry later\n")
        return None

    def _kept_archive(self, connection: Any) -> Any:
        """``GET /v1/kept`` (token required): the keep folder as an uncompressed tar, for ``bench mlops cycle``."""
        if self._keep is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "this server keeps no features (--keep-dir)\n")
        return stream_kept(connection, self._keep, self.log)


    # ------------------------------------------------------------------ a call
    async def _send(self, ws: Any, frame: dict[str, Any]) -> None:
        if "t_sent" in frame:
            frame["t_sent"] = now_ms()
        await ws.send(json.dumps(frame, allow_nan=False))

    async def _error(self, ws: Any, call: Call | None, code: str, message: str, seq: int | None = None) -> None:
        """An error frame; a fatal one (:func:`is_fatal`, the flag it carries) is followed by the close of the call
        (code 1000, the error code as the reason): the flag and the close are decided here, together."""
        self.metrics.errors.labels(code).inc()
        if call is not None:
            call.errors += 1
        fatal = is_fatal(code)
        await self._send(ws, {"type": "error", "code": code, "message": message, "seq": seq, "fatal": fatal})
        if fatal:
            await ws.close(CLOSE_NORMAL, code)

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
            call = Call(session, hello, cfg.call_alert_chunks, self.tagging)
            if hello.mode == "privacy" and not self.engine.current.split:
                await self._error(ws, None, "bad_hello", f"model {self.engine.current.ref} is not a split model: "
                                                         "privacy mode needs one (devox, deepdetection)")
                return
            await ws.send(json.dumps(self._ready(session, hello)))
            call.task, call.last = asyncio.current_task(), time.monotonic()
            call.ends = call.last + cfg.max_call_seconds
            self._calls.add(call)
            while True:
                if time.monotonic() >= call.ends:
                    await self._error(ws, call, "session_timeout", f"calls last at most {cfg.max_call_seconds:g} s")
                    return
                call.receiving = True
                try:
                    frame = await ws.recv()
                except asyncio.CancelledError:
                    if call.expired is None:  # the server is stopping
                        raise
                    call.task.uncancel()
                    await self._error(ws, call, *call.expired)
                    return
                finally:
                    call.receiving = False
                call.last = time.monotonic()
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
            await ws.close(CLOSE_NORMAL)
        except Exception as exc:  # noqa: BLE001 - a closed connection or a bug ends this call only
            from websockets.exceptions import ConnectionClosed

            if not isinstance(exc, ConnectionClosed):
                self.log(f"call {session}: {type(exc).__name__}: {first_line(exc)}")
                try:  # the client learns why its call ends, then the connection closes
                    await self._error(ws, call, "server_error", f"the server failed on this call "
                                                                f"({type(exc).__name__}); it is logged")
                except Exception:  # noqa: BLE001,S110 - the connection is already gone
                    pass
        finally:
            for t in inflight:
                t.cancel()
            self._calls.discard(call)
            self.sessions -= 1
            self.metrics.sessions.dec()

    def _ready(self, session: str, hello: Any) -> dict[str, Any]:
        """The ``ready`` frame: the call's settings, the limits and the model (docs/serve.md). In privacy mode
        ``sample_rate`` is the rate every feature message header must carry (the device half's feature rate)."""
        cfg, model = self.config, self.engine.current.describe()
        rate = model["feature_sample_rate"] if hello.mode == "privacy" else hello.sample_rate
        keep = bool(hello.keep and self._keep is not None)
        return {"type": "ready", "protocol": PROTOCOL, "session": session, "mode": hello.mode, "sample_rate": rate,
                **({"encoding": hello.encoding} if hello.mode == "raw" else {}), "keep": keep,
                "max_frame_bytes": cfg.max_frame_bytes,
                "chunk_seconds": [cfg.min_chunk_seconds, cfg.max_chunk_seconds],
                "call_alert_chunks": cfg.call_alert_chunks, **model}

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
                x = decode_pcm(frame, call.hello.sample_rate, cfg.min_chunk_seconds, cfg.max_chunk_seconds,
                               call.hello.encoding)
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
                keep_frame(self._keep, call, frame, slot)
            self.engine.submit(job)
            return job
        except ProtocolError as exc:
            await self._error(ws, call, exc.code, str(exc), seq)
        except Overloaded as exc:
            await self._error(ws, call, "overloaded", str(exc), seq)
        except (MessageError, ValueError, OSError) as exc:  # a parser or keep-folder failure hits this chunk only
            self.log(f"call {call.session} chunk {seq}: {type(exc).__name__}: {first_line(exc)}")
            await self._error(ws, call, "internal", f"the server failed on this chunk ({type(exc).__name__})", seq)
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
        if not math.isfinite(score):  # never a verdict: a NaN is below every threshold, so it would read bona fide
            self.log(f"call {call.session} chunk {seq}: model {slot.ref} gave a {score} score")
            await self._error(ws, call, "bad_score", f"model {slot.ref} gave a non-finite score ({score}) for this "
                                                     "chunk: no verdict", seq)
            return
        fake = bool(score >= slot.semantics.threshold)
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

    async def _expire_calls(self) -> None:
        """End every call that waits for a frame past its idle timeout or its length limit, checked a few times a
        second for all calls at once (a timer per frame cost about a tenth of the event loop's CPU at 700
        callers: BENCHMARKS.md, "Capacity"). The handler, cancelled inside ``recv``, sends the error frame."""
        cfg = self.config
        tick = min(0.25, cfg.idle_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for call in list(self._calls):
                if not call.receiving or call.expired is not None:
                    continue
                if now >= call.ends:
                    call.expired = ("session_timeout", f"calls last at most {cfg.max_call_seconds:g} s")
                elif now - call.last >= cfg.idle_timeout:
                    call.expired = ("idle_timeout", f"no frame for {cfg.idle_timeout:g} s")
                else:
                    continue
                call.task.cancel()

    # ------------------------------------------------------------------ model updates
    async def _watch(self) -> None:
        """Follow the model's name: swap to the version PROMOTED names whenever it changes (loaded off the event
        loop). Nothing promoted: keep what is served. A version that fails to load is reported (log line,
        /healthz ``swap_error``) and not retried until PROMOTED names another version; serving goes on."""
        from bench.models.store import promoted

        cfg = self.config
        if self.following is None:
            return
        failed: str | None = None
        while cfg.watch_seconds > 0:
            await asyncio.sleep(cfg.watch_seconds)
            try:
                version = await asyncio.to_thread(promoted, self.following)
            except (OSError, BenchError) as exc:
                self.log(f"hot swap: cannot read what {self.following} promotes: {first_line(exc)}")
                continue
            ref = f"{self.following}@{version}" if version else None
            if ref is None or ref == self.engine.current.ref or ref == failed:
                continue
            try:
                await self.swap(ref)
                failed = None
            except Exception as exc:  # noqa: BLE001 - any load failure: keep serving the old version
                failed = ref
                self.swap_error = {"version": ref, "reason": first_line(exc),
                                   "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                self.metrics.swap_failures.inc()
                self.log(f"hot swap to {ref} failed, still serving {self.engine.current.ref}: {first_line(exc)}")

    async def swap(self, ref: str) -> ModelSlot:
        """Load ``ref`` in a thread and make it the version new chunks get; live calls keep going."""
        slot = await asyncio.to_thread(ModelSlot, ref, self.config.device, 64, self.config.backend)
        old = self.engine.swap(slot)
        self.swap_error = None
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
        clock = asyncio.ensure_future(self._expire_calls())
        try:
            async with serve(self._handle, cfg.host, cfg.port, process_request=self._process_request,
                             select_subprotocol=select_subprotocol,
                             max_size=4 * cfg.max_frame_bytes, ssl=self._ssl(), compression=None,
                             ping_interval=20, ping_timeout=20, max_queue=cfg.max_inflight) as server:
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
            clock.cancel()
            self.engine.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


def following(model: str) -> str | None:
    """The model name a server started with ``model`` follows (hot swap): a bare store name, not NAME@VERSION,
    a folder or a packaged model."""
    from bench.models.store import parse_ref, store_root

    if os.sep in model or model.startswith(".") or Path(model).is_dir():
        return None
    try:
        name, version = parse_ref(model)
    except BenchError:
        return None
    return name if version is None and (store_root() / name).is_dir() else None


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
        self.loop = loop_factory(self.server.config.loop)[0]()
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
