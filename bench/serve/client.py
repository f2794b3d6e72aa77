"""A client of ``bench serve`` (protocol ``bench.serve/1``, docs/serve.md): what a phone app does.

:class:`EdgeCall` is one call over a WebSocket: ``send_chunk`` sends 1-second chunks (raw 16-bit PCM, or
in privacy mode the device half's feature messages, computed here from the same model so that the audio
never leaves this process), ``replies`` yields each verdict with the client's own send and receive times
added. :func:`stream_wave` streams a whole waveform in real time (one chunk per chunk-length of audio) or
as fast as the server answers; :func:`stream_file` does it for a WAV file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl as ssl_lib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, RunFailed, first_line
from bench.serve.phone_line import PhoneLine
from bench.serve.protocol import PCM, encode_pcm, hello, now_ms, parse_reply

#: the largest server frame a client reads (replies are JSON of a few hundred bytes; a larger frame closes the
#: call with code 1009 and a :class:`CallFailed`, instead of letting a server fill this process's memory)
MAX_REPLY_BYTES = 64 * 1024


class CallFailed(RunFailed):
    """The call could not complete: the server ended it or went away mid-call (exit code 1)."""


def check_url(url: str) -> str:
    """``url`` if it is a ws:// or wss:// URL with a host (and a valid port); a one-line BenchError otherwise."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        raise BenchError(f"--url {url!r} is not a valid URL ({first_line(exc)})") from None
    if parts.scheme in ("http", "https"):
        raise BenchError(f"--url {url}: calls are WebSockets: use ws:// (or wss:// for TLS), e.g. "
                         f"ws{'s' if parts.scheme == 'https' else ''}://{parts.netloc}/v1/call")
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise BenchError(f"--url {url!r}: expected ws://HOST:PORT/v1/call or wss://HOST:PORT/v1/call")
    return url


def _ended(exc: Exception) -> CallFailed:
    """What a closed connection means, as one line."""
    sent, rcvd = getattr(exc, "sent", None), getattr(exc, "rcvd", None)
    if sent is not None and sent.code == 1009:
        return CallFailed(f"the server sent a frame above {MAX_REPLY_BYTES} bytes (a client reads replies of at most "
                          "that size); the call is closed")
    if rcvd is not None:
        why = f" ({rcvd.reason})" if rcvd.reason else ""
        return CallFailed(f"the server closed the call (WebSocket code {rcvd.code}{why})")
    return CallFailed("the connection to the server was lost mid-call (the server stopped or the network failed)")


@contextlib.contextmanager
def _call_errors() -> Iterator[None]:
    """A closed or broken connection during a call, as a one-line :class:`CallFailed`."""
    from websockets.exceptions import ConnectionClosed

    try:
        yield
    except ConnectionClosed as exc:
        raise _ended(exc) from None
    except OSError as exc:
        raise CallFailed(f"the connection to the server failed mid-call: {exc.strerror or first_line(exc)}") from None


class DeviceHalf:
    """The phone's half of a split model: 16 kHz chunks -> the privacy-mode frame (one message per seed)."""

    def __init__(self, model: str) -> None:
        from bench.countermeasures.split_model import load_split_detector

        entry, det = load_split_detector(model)
        self.detector = det
        self.ref = entry.card.ref

    def frame(self, chunk16k: np.ndarray, seq: int) -> bytes:
        return b"".join(m.to_bytes() for m in self.detector.device_messages(chunk16k, seq))


class EdgeCall:
    """One call to the server; use ``async with EdgeCall.connect(...) as call``."""

    def __init__(self, ws: Any, ready: dict[str, Any], mode: str, sample_rate: int, encoding: str = PCM) -> None:
        self.ws, self.ready, self.mode, self.sample_rate, self.encoding = ws, ready, mode, sample_rate, encoding
        self.sent: dict[int, float] = {}
        self.seq = 0

    @classmethod
    async def connect(cls, url: str, token: str, *, mode: str = "raw", sample_rate: int = 16000, call_id: str = "",
                      keep: bool = False, label: int | None = None, cafile: str | None = None,
                      open_timeout: float = 30.0, encoding: str = PCM) -> EdgeCall:
        """Open the WebSocket (``Authorization: Bearer TOKEN``), send the hello, wait for ``ready``. ``encoding``
        (raw mode): pcm_s16le at ``sample_rate``, or pcm_mulaw / pcm_alaw (G.711, 8 kHz)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        check_url(url)
        if keep and mode != "privacy":
            raise BenchError("--keep needs --mode privacy: a server keeps feature messages, never raw audio")
        ssl = None
        if url.startswith("wss://"):
            try:
                ssl = ssl_lib.create_default_context(cafile=cafile)
            except (OSError, ssl_lib.SSLError) as exc:
                raise BenchError(f"--cafile {cafile}: not a readable PEM certificate ({first_line(exc)})") from None
        try:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, ssl=ssl,
                               open_timeout=open_timeout, compression=None, max_size=MAX_REPLY_BYTES)
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            raise BenchError(f"the server refused the call: HTTP {status} {' '.join(body.split())[:200]}") from None
        except InvalidURI as exc:
            raise BenchError(f"--url {url!r} is not a valid WebSocket URL ({first_line(exc)})") from None
        except (InvalidHandshake, EOFError) as exc:
            hint = " (a TLS server needs wss://)" if url.startswith("ws://") else ""
            raise BenchError(f"{url} did not answer as a bench server{hint}: {first_line(exc)}") from None
        except TimeoutError:
            raise BenchError(f"{url} did not answer within {open_timeout:g} s") from None
        except OSError as exc:
            raise BenchError(f"cannot reach {url}: {first_line(exc)}") from None
        try:
            with _call_errors():
                await ws.send(hello(mode, sample_rate, call_id, keep, label, encoding))
                ready = parse_reply(await ws.recv())
            if ready["type"] != "ready":
                raise BenchError(f"the server refused the call: {ready.get('code')}: {ready.get('message')}")
        except BaseException:
            await ws.close()
            raise
        return cls(ws, ready, mode, sample_rate, encoding)

    async def send_frame(self, frame: bytes) -> int:
        """Send one binary frame (a chunk); returns its sequence number."""
        seq = self.seq
        self.seq += 1
        self.sent[seq] = now_ms()
        await self._send(frame)
        return seq

    async def _send(self, data: bytes | str) -> None:
        """Send a frame; a closed call is a :class:`CallFailed` that gives the server's reason when it sent one."""
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(data)
        except ConnectionClosed as exc:
            raise await self._why_closed(exc) from None
        except OSError:
            with _call_errors():
                raise

    async def _why_closed(self, exc: Exception) -> CallFailed:
        """The fatal error frame the server sent before closing, if it is still unread; else what the close says."""
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                d = parse_reply(await self.ws.recv())
                if d.get("type") == "error" and d.get("fatal"):
                    return CallFailed(f"the server ended the call: {d.get('code')}: {d.get('message')}")
        except (ConnectionClosed, BenchError):
            return _ended(exc)

    async def send_chunk(self, chunk: np.ndarray, device: DeviceHalf | None = None) -> int:
        """Send one chunk of audio at this call's rate (privacy mode: ``device`` turns it into features)."""
        if self.mode == "privacy":
            if device is None:
                raise BenchError("privacy mode needs the device half (DeviceHalf) to compute the features")
            from bench.audio import resample

            return await self.send_frame(device.frame(resample(chunk, self.sample_rate, 16000), self.seq))
        return await self.send_frame(encode_pcm(chunk, self.encoding))

    async def recv(self) -> dict[str, Any]:
        """The next server frame, with ``t_client_sent`` / ``t_client_received`` added to chunk replies."""
        with _call_errors():
            text = await self.ws.recv()
        t = now_ms()
        d = parse_reply(text)
        seq = d.get("seq")
        if isinstance(seq, int) and seq in self.sent:
            d["t_client_sent"], d["t_client_received"] = self.sent.pop(seq), t
        return d

    async def end(self) -> dict[str, Any]:
        """Say the call is over; returns the server's ``call_end`` summary (replies still due are skipped)."""
        await self._send(json.dumps({"type": "end"}))
        while True:
            d = await self.recv()
            if d["type"] == "call_end":
                await self.ws.close()
                return d

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> EdgeCall:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.ws.close()


def chunks_of(wave: np.ndarray, sample_rate: int, seconds: float = 1.0) -> list[np.ndarray]:
    """``wave`` cut into chunks of ``seconds`` (the last one shorter, dropped if under 0.1 s)."""
    n = int(round(seconds * sample_rate))
    out = [wave[i:i + n] for i in range(0, len(wave), n)]
    return [c for c in out if len(c) >= 0.1 * sample_rate]


async def stream_wave(url: str, token: str, wave: np.ndarray, sample_rate: int, *, mode: str = "raw",
                      device: DeviceHalf | None = None, realtime: bool = True, chunk_seconds: float = 1.0,
                      call_id: str = "", keep: bool = False, label: int | None = None, cafile: str | None = None,
                      on_reply: Callable[[dict[str, Any]], None] | None = None,
                      encoding: str = PCM) -> dict[str, Any]:
    """Stream one call; returns ``{"ready", "replies", "call_end"}``. ``realtime``: a chunk every
    ``chunk_seconds`` (a phone); otherwise the next chunk as soon as the previous reply arrived. ``encoding``: the
    raw chunks' wire encoding (G.711 needs ``sample_rate`` 8000)."""
    chunks = chunks_of(np.asarray(wave, dtype=np.float32), sample_rate, chunk_seconds)
    if not chunks:
        raise BenchError("nothing to stream: the audio is shorter than 0.1 s")
    call = await EdgeCall.connect(url, token, mode=mode, sample_rate=sample_rate, call_id=call_id, keep=keep,
                                  label=label, cafile=cafile, encoding=encoding)
    replies: list[dict[str, Any]] = []

    async def receive(n: int) -> None:
        while len(replies) < n:
            d = await call.recv()
            if d["type"] == "error" and d.get("fatal"):
                raise CallFailed(f"the server ended the call: {d.get('code')}: {d.get('message')}")
            if d["type"] == "call_end":
                raise CallFailed(f"the server ended the call after {len(replies)} of {n} replies")
            if d["type"] in ("verdict", "error"):
                replies.append(d)
                if on_reply is not None:
                    on_reply(d)

    reader: asyncio.Future | None = None
    try:
        if realtime:
            reader = asyncio.ensure_future(receive(len(chunks)))
            t0 = time.perf_counter()
            for i, c in enumerate(chunks):
                await asyncio.wait([reader], timeout=max(0.0, t0 + i * chunk_seconds - time.perf_counter()))
                if reader.done():  # the call ended early: its exception says why
                    break
                await call.send_chunk(c, device)
            await reader
        else:
            for i, c in enumerate(chunks):
                await call.send_chunk(c, device)
                await receive(i + 1)
        end = await call.end()
    finally:
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        elif reader is not None and not reader.cancelled():
            reader.exception()  # retrieved: a Ctrl-C that landed in the reader is the caller's to report
        await call.close()
    return {"ready": call.ready, "replies": replies, "call_end": end}


def stream_file(path: str | Path, url: str, token: str, *, line: PhoneLine | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """:func:`stream_wave` for an audio file (any rate soundfile reads; sent at 16 kHz, or 8 kHz if it is 8 kHz);
    ``line``: first through that telephone channel, sent at the line's rate in its encoding."""
    from bench.audio import decode, resample

    if not Path(path).is_file():
        raise BenchError(f"{path}: no such file")
    x, sr = decode(str(path))
    if line is not None:
        x, sr = line.apply(resample(x, sr, 16000), seed=line.seed)
        kwargs["encoding"] = line.encoding
    elif sr not in (8000, 16000):
        x, sr = resample(x, sr, 16000), 16000
    return asyncio.run(stream_wave(url, token, x, sr, **kwargs))
