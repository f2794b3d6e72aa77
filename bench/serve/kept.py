"""The keep folder: the features and labels of the privacy calls that opted in (never their audio), for
``bench mlops cycle``. The edge server appends to it (:func:`keep_frame`) and exports it as a tar over
``GET /v1/kept`` (:func:`stream_kept`). Kept features identify speakers: files 0600, folders 0700."""

from __future__ import annotations

import asyncio
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

from bench.errors import first_line
from bench.serve.protocol import KEPT_PATH


def keep_frame(keep: Path | None, call: Any, frame: bytes, slot: Any) -> None:
    """An opted-in privacy call's feature frames, appended to KEEP_DIR/<model_version>/<session>.bfm
    with its label in a sidecar (raw audio is never kept). Both are biometric: files 0600, folders 0700."""
    if keep is None or not call.hello.keep:
        return
    folder = keep / slot.version
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    side = folder / f"{call.session}.json"
    if not side.exists():
        meta = {"session": call.session, "call_id": call.hello.call_id, "label": call.hello.label,
                "model": slot.ref, "model_version": slot.version,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with open_private(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as f:
            f.write(json.dumps(meta).encode())
    with open_private(folder / f"{call.session}.bfm", os.O_WRONLY | os.O_CREAT | os.O_APPEND) as f:
        f.write(len(frame).to_bytes(4, "little") + frame)


async def stream_kept(connection: Any, keep: Path, log: Callable[[str], None]) -> Any:
    """Stream the tar onto the connection (HTTP/1.1 chunked), in chunks of :data:`KEPT_CHUNK` read by a thread,
    each written once the previous ones drained: memory stays bounded whatever the keep folder holds, and
    the event loop keeps serving calls. A websockets ``Response`` holds its whole body in memory, so the
    export writes to the transport itself, closes it, and returns a response that is never sent."""
    transport = connection.transport
    files = await asyncio.to_thread(kept_files, keep)
    chunks = tar_chunks(files)
    transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n"
                    b"Cache-Control: no-store\r\nConnection: close\r\n\r\n")
    try:
        while not transport.is_closing():
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                transport.write(b"0\r\n\r\n")
                break
            transport.write(b"%x\r\n" % len(chunk))
            transport.write(chunk)
            transport.write(b"\r\n")
            await connection.drain()
    except Exception as exc:  # noqa: BLE001 - a file that vanished: the client sees a cut chunked body
        log(f"GET {KEPT_PATH}: {type(exc).__name__}: {first_line(exc)}")
    finally:
        chunks.close()
        transport.close()
    await asyncio.shield(connection.connection_lost_waiter)
    return connection.respond(HTTPStatus.OK, "")  # the connection is closed: websockets sends nothing more


def open_private(path: Path, flags: int) -> Any:
    """``path`` opened for binary writing with ``flags``, created 0600 (owner only) whatever the umask."""
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode: make sure
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


#: bytes per chunk of the GET /v1/kept stream (the export holds about two of them in memory)
KEPT_CHUNK = 256 * 1024


def kept_files(keep: Path) -> list[tuple[Path, str, int, float]]:
    """Every regular file under ``keep``: (path, name in the tar, size now, mtime); files still being appended
    to are exported up to their size at this moment."""
    out = []
    if keep.is_dir():
        for f in sorted(keep.rglob("*")):
            if f.is_file() and not f.is_symlink():
                st = f.stat()
                out.append((f, f.relative_to(keep).as_posix(), st.st_size, st.st_mtime))
    return out


def tar_chunks(files: list[tuple[Path, str, int, float]], chunk: int = KEPT_CHUNK) -> Iterator[bytes]:
    """An uncompressed tar of ``files`` as chunks of about ``chunk`` bytes (never the whole archive at once)."""
    buf = bytearray()
    for path, name, size, mtime in files:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(mtime), 0o600
        buf += info.tobuf(tarfile.PAX_FORMAT)
        with open(path, "rb") as f:
            left = size
            while left:
                block = f.read(min(chunk, left)) or bytes(min(chunk, left))  # shrunk: zeros keep the tar valid
                buf += block
                left -= len(block)
                if len(buf) >= chunk:
                    yield bytes(buf)
                    buf.clear()
        buf += bytes(-size % tarfile.BLOCKSIZE)
    buf += bytes(2 * tarfile.BLOCKSIZE)  # end of archive
    yield bytes(buf)
