"""Model assets the user supplies: where they live, and how to fetch or install them.

Some models cannot ship with this project because of their licence. The official NISQA
weights (CC BY-NC-SA 4.0, github.com/gabrielmittag/NISQA) are the first: ``bench models
pull nisqa`` downloads them from the NISQA repository at a pinned commit into a per-user
cache (``~/.cache/bench/models/nisqa``; ``$BENCH_CACHE`` replaces ``~/.cache/bench``), or
installs them from a local copy (``--from PATH``). Every file is checked against the
SHA-256 recorded below and written atomically (temporary file + rename), so a failed or
interrupted pull never leaves a torn file and never replaces a good one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

from bench.errors import BenchError, NetworkError


class ChecksumError(BenchError):
    """A downloaded or copied model file does not have the expected SHA-256."""


NISQA_REPO = "gabrielmittag/NISQA"
NISQA_COMMIT = "fe84f0f252abec382b24367d5b22498a7ce34dbb"
NISQA_URL = f"https://raw.githubusercontent.com/{NISQA_REPO}/{NISQA_COMMIT}/weights/{{name}}"
# sha256 of the files in weights/ at NISQA_COMMIT (checked against ../shared/models/nisqa).
NISQA_FILES: dict[str, str] = {
    "nisqa.tar": "7ec4cf937514dd3f8860b21e66fabd8ca87a168572675ef8d979c4c4ad2e805c",
    "nisqa_tts.tar": "c556a954cd9536360b4fe6f524ad432816509cd22f436f345b281a7851360656",
    "nisqa_mos_only.tar": "16b2632bea0a481b1bba485587a8da2265f2c7797b525712ae0c072986ee783c",
    "LICENSE_model_weights": "5b8e7938e1b5e0a675869ffe429cc8e7cc187d76a7c6ea1e0546c412782a43da",
}
NISQA_LICENSE = "CC BY-NC-SA 4.0"
NISQA_ENV = "BENCH_NISQA_WEIGHTS"


@dataclass(frozen=True)
class ModelAsset:
    """A downloadable model: its files (name -> sha256), where to get them, its licence."""

    name: str
    files: dict[str, str]
    url: str  # template with {name}
    license: str
    homepage: str
    required: tuple[str, ...] = field(default=())  # files a usable install must have


MODELS: dict[str, ModelAsset] = {
    "nisqa": ModelAsset(
        name="nisqa",
        files=NISQA_FILES,
        url=NISQA_URL,
        license=NISQA_LICENSE,
        homepage=f"https://github.com/{NISQA_REPO}",
        required=("nisqa.tar",),
    ),
}


def cache_root() -> Path:
    """``$BENCH_CACHE``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``."""
    if os.environ.get("BENCH_CACHE"):
        return Path(os.environ["BENCH_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "bench"
    return Path.home() / ".cache" / "bench"


def model_dir(name: str) -> Path:
    """Where ``bench models pull NAME`` installs a model (it may not exist yet)."""
    return cache_root() / "models" / name


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tmp_in(dest_dir: Path, name: str) -> tuple[int, str]:
    dest_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")


def _finish(tmp: str, target: Path, digest: str, expected: str, origin: str) -> Path:
    """Move ``tmp`` to ``target`` if its digest matches, else delete it and raise."""
    if digest != expected.lower():
        os.unlink(tmp)
        raise ChecksumError(f"{origin}: checksum mismatch for {target.name} (sha256 {digest}, expected {expected}); "
                            "the file is corrupt or not the official one, nothing was installed")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def _is_installed(target: Path, expected: str) -> bool:
    return target.is_file() and sha256_file(target) == expected.lower()


def download(url: str, target: Path, sha256: str, timeout: float = 30.0, model: str = "<name>") -> Path:
    """Download ``url`` to ``target`` (atomically), verifying ``sha256``; returns ``target``."""
    if _is_installed(target, sha256):
        return target
    fd, tmp = _tmp_in(target.parent, target.name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "vc-challenge-bench"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    h.update(block)
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as exc:
        os.unlink(tmp)
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        elif isinstance(reason, socket.timeout | TimeoutError):
            reason = f"timed out after {timeout:g} s"
        reason = " ".join(str(reason).split())
        raise NetworkError(f"cannot download {url}: {reason}; check the network, or install from a local copy "
                           f"with `bench models pull {model} --from PATH`") from None
    except BaseException:  # interrupted: leave no partial file behind
        os.unlink(tmp)
        raise
    return _finish(tmp, target, h.hexdigest(), sha256, url)


def install_file(src: Path, target: Path, sha256: str) -> Path:
    """Copy a local file to ``target`` (atomically), verifying ``sha256``; returns ``target``.

    The source is checked before anything is copied (so a bad copy is reported even when a
    good file is already installed), and the copy is checked again before the rename.
    """
    digest = sha256_file(src)
    if digest != sha256.lower():
        raise ChecksumError(f"{src}: checksum mismatch for {target.name} (sha256 {digest}, expected {sha256}); "
                            "the file is corrupt or not the official one, nothing was installed")
    if _is_installed(target, sha256):
        return target
    fd, tmp = _tmp_in(target.parent, target.name)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        os.unlink(tmp)
        raise BenchError(f"{src}: cannot copy ({exc.strerror or exc})") from None
    except BaseException:
        os.unlink(tmp)
        raise
    return _finish(tmp, target, sha256_file(tmp), sha256, str(src))


def _expected_for(asset: ModelAsset, name: str, sha256: str | None, origin: str) -> str:
    if sha256:
        return sha256
    if name in asset.files:
        return asset.files[name]
    raise BenchError(f"{origin}: {name!r} is not a known {asset.name} file ({', '.join(asset.files)}); "
                     "pass its sha256 to install it anyway")


def _install_local(asset: ModelAsset, source: Path, dest: Path, sha256: str | None) -> list[Path]:
    if source.is_dir():
        found = [source / n for n in asset.files if (source / n).is_file()]
        if not any(p.name in asset.files and p.suffix == ".tar" for p in found):
            raise BenchError(f"{source}: no {asset.name} weights here (expected one of "
                             f"{', '.join(n for n in asset.files if n.endswith('.tar'))})")
        return [install_file(p, dest / p.name, asset.files[p.name]) for p in found]
    if not source.is_file():
        raise BenchError(f"{source}: no such file or directory "
                         f"(--from expects a {asset.name} .tar or a folder of them)")
    digest = sha256_file(source)
    if sha256:
        name = source.name
    else:  # identify the file by its checksum, so a renamed copy installs under its official name
        by_hash = {v: k for k, v in asset.files.items()}
        if digest not in by_hash:
            raise ChecksumError(f"{source}: checksum mismatch (sha256 {digest} is none of the official "
                                f"{asset.name} files {', '.join(asset.files)}); nothing was installed")
        name = by_hash[digest]
    return [install_file(source, dest / name, sha256 or asset.files[name])]


def _pull(asset: ModelAsset, dest: Path | None, url: str | None, sha256: str | None,
          source: str | os.PathLike | None, timeout: float) -> Path:
    dest = Path(dest).expanduser() if dest is not None else model_dir(asset.name)
    if source is not None and url is not None:
        raise BenchError("give either a URL or a local source (--from), not both")
    if source is not None and str(source).startswith(("http://", "https://")):
        url, source = str(source), None
    if source is not None:
        _install_local(asset, Path(source).expanduser(), dest, sha256)
    elif url is not None:
        name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or f"{asset.name}.tar"
        download(url, dest / name, _expected_for(asset, name, sha256, url), timeout, asset.name)
    else:
        for name, digest in asset.files.items():
            download(asset.url.format(name=name), dest / name, digest, timeout, asset.name)
    return dest


def pull_nisqa(dest: Path | None = None, url: str | None = None, sha256: str | None = None,
               source: str | os.PathLike | None = None, timeout: float = 30.0) -> Path:
    """Install the official NISQA weights; returns the folder that holds them.

    - default: download ``nisqa.tar``, ``nisqa_tts.tar``, ``nisqa_mos_only.tar`` and their
      licence from the NISQA repository at commit ``NISQA_COMMIT``;
    - ``url``: download that one file instead (checked against ``sha256``, or against the
      official checksum of the file of that name);
    - ``source`` (``--from``): copy a local ``.tar`` (identified by its checksum, so a
      renamed copy is fine) or every official file in a local folder; an http(s) URL is
      treated as ``url``.

    ``dest`` defaults to :func:`model_dir` ``("nisqa")``. Files already installed with the
    right checksum are kept as they are. Raises :class:`NetworkError` when a download
    fails and :class:`ChecksumError` when a file is not what it should be; in both cases
    nothing already installed is touched.
    """
    return _pull(MODELS["nisqa"], dest, url, sha256, source, timeout)


def pull(name: str, source: str | None = None) -> Path:
    """Entry point for ``bench models pull NAME [--from PATH|URL]``; returns the install folder."""
    if name not in MODELS:
        raise BenchError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    if name == "nisqa":
        return pull_nisqa(source=source)
    return _pull(MODELS[name], None, None, None, source, 30.0)  # pragma: no cover - only nisqa so far


def status() -> list[dict]:
    """One row per known model: name, licence, install folder, which files are installed."""
    rows = []
    for asset in MODELS.values():
        d = model_dir(asset.name)
        present = [n for n in asset.files if (d / n).is_file()]
        rows.append({"name": asset.name, "license": asset.license, "path": str(d), "files": present,
                     "installed": all(n in present for n in asset.required), "homepage": asset.homepage})
    return rows
