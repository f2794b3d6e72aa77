"""The keep folder: the features and labels of the privacy calls that opted in (never their audio), for
``bench mlops cycle``. The edge server appends to it (:func:`keep_frame`) and exports it as a tar over
``GET /v1/kept`` (:func:`stream_kept`); the cycle reads it (:func:`read_keep_folder`) or fetches the export
(:func:`fetch_kept`), parses the kept calls (:func:`parse_kept`) and stages them (:func:`stage_private`).
Kept features identify speakers: files 0600, folders 0700."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any

from bench.errors import BenchError, first_line
from bench.serve.protocol import KEPT_PATH, base_url

UPLOAD_PREFIX = ".upload-"  #: the temporary folder :func:`stage_private` builds in, beside its destination


# ------------------------------------------------------------------ writing and exporting it (bench serve)
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


#: relative POSIX path -> bytes: the kept files as read (checked in memory, then staged)
KeptFiles = dict[str, bytes]


# ------------------------------------------------------------------ reading it (bench mlops cycle)
def read_keep_folder(folder: str | Path) -> KeptFiles:
    """Every file of a keep folder; BenchError for a symbolic link or anything but folders and plain files
    (a link could point anywhere; the server writes only plain files)."""
    root = Path(folder)
    if not root.is_dir():
        raise BenchError(f"{folder}: no such keep folder (bench serve --keep-dir)")
    files: KeptFiles = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise BenchError(f"{p}: a symbolic link in the keep folder; it must hold only the server's files")
            if name in filenames:
                if not stat.S_ISREG(mode):
                    raise BenchError(f"{p}: not a plain file; the keep folder must hold only the server's files")
                files[p.relative_to(root).as_posix()] = p.read_bytes()
    return files


MAX_KEPT_BYTES = 4 << 30  #: the largest kept-features archive --fetch accepts from a server (4 GiB)


def _safe_member(name: str, where: str) -> str:
    """A tar member's name as a relative path that stays inside the staging folder."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BenchError(f"{where}: member {name!r} would land outside the staging folder; refused")
    return p.as_posix()


def fetch_kept(server: str, token: str | None) -> tuple[KeptFiles, int]:
    """The running server's kept files (``GET /v1/kept`` with the token), checked: plain files only, every
    path inside the archive; and the bytes transferred."""
    if not token:
        raise BenchError("fetching the kept features from the server needs its token (--token-file)")
    url = base_url(server) + "/v1/kept"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with tempfile.TemporaryFile() as spool:  # the archive goes to disk in bounded blocks, never whole in memory
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                size = 0
                for block in iter(lambda: resp.read(1 << 20), b""):
                    size += len(block)
                    if size > MAX_KEPT_BYTES:
                        raise BenchError(f"{url}: the kept features exceed {MAX_KEPT_BYTES >> 20} MiB; refused (run "
                                         "cycles more often, or copy the keep folder and use --keep-dir)")
                    spool.write(block)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise BenchError(f"cannot fetch the kept features from {url}: {first_line(exc)}") from None
        spool.seek(0)
        files: KeptFiles = {}
        try:
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                for member in tar:
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise BenchError(f"{url}: {member.name} is not a plain file (a link or a device); refused")
                    files[_safe_member(member.name, url)] = tar.extractfile(member).read()
        except tarfile.TarError as exc:
            raise BenchError(f"{url}: not a tar archive of kept features ({first_line(exc)})") from None
    return files, size


def _sidecar(raw: bytes, where: str) -> dict[str, Any]:
    """A kept call's sidecar: a JSON object with a label (0, 1 or null) and the device half's model_version."""
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BenchError(f"{where}: kept call sidecar is not valid JSON ({first_line(exc)})") from None
    if not isinstance(meta, dict):
        raise BenchError(f"{where}: kept call sidecar should hold a JSON object, found {type(meta).__name__}")
    label = meta.get("label")
    if label is not None and (isinstance(label, bool) or label not in (0, 1)):
        raise BenchError(f"{where}: label must be 0 (bona fide), 1 (fake) or null, got {label!r}")
    if not isinstance(meta.get("model_version"), str):
        raise BenchError(f"{where}: kept call sidecar names no model_version (the device half that made it)")
    return meta


def _frames(raw: bytes) -> list[bytes]:
    """The length-prefixed frames of a .bfm file (a frame being written when the upload started is left
    for the next cycle)."""
    frames, pos = [], 0
    while pos + 4 <= len(raw):
        n = int.from_bytes(raw[pos:pos + 4], "little")
        if pos + 4 + n > len(raw):
            break
        frames.append(raw[pos + 4:pos + 4 + n])
        pos += 4 + n
    return frames


def parse_kept(files: KeptFiles, where: str) -> list[dict[str, Any]]:
    """Every kept call (a sidecar ``X.json`` beside its frames ``X.bfm``): its sidecar fields and frames."""
    calls = []
    for rel in sorted(files):
        blob = rel[:-len(".json")] + ".bfm"
        if rel.endswith(".json") and blob in files:
            calls.append({**_sidecar(files[rel], f"{where}/{rel}"), "frames": _frames(files[blob])})
    return calls


def read_kept(folder: Path) -> list[dict[str, Any]]:
    """Every kept call under ``folder``: its sidecar (label, model, model_version) and frames."""
    return parse_kept(read_keep_folder(folder), str(folder))


def stage_private(files: KeptFiles, dest: Path) -> None:
    """Write ``files`` as folder ``dest``, readable by the owner only (folders 0700, files 0600): built in a
    temporary folder beside it, renamed when complete."""
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=UPLOAD_PREFIX))  # mkdtemp: 0700
    try:
        for rel, data in files.items():
            folder = tmp
            for part in PurePosixPath(rel).parts[:-1]:
                folder = folder / part
                if not folder.is_dir():
                    folder.mkdir(mode=0o700)
                    os.chmod(folder, 0o700)
            fd = os.open(tmp / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)
                fh.write(data)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def upload_summary(files: KeptFiles) -> dict[str, Any]:
    """How many kept files, their bytes, and how many are audio (there should be none)."""
    return {"files": len(files), "bytes": sum(len(v) for v in files.values()),
            "audio_files": sum(1 for k in files if Path(k).suffix.lower() in (".wav", ".flac", ".pcm", ".raw"))}
