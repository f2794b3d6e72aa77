"""Small file helpers every writer uses: atomic writes and JSON that fails with one clear line."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file and a rename (never a torn file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as JSON (sorted keys are the caller's choice)."""
    write_atomic(path, (json.dumps(obj, indent=indent, default=str) + "\n").encode())


def read_json(path: str | os.PathLike, what: str, expect: type = dict) -> Any:
    """Parse a JSON file that must hold a ``expect`` (dict by default); BenchError naming ``what`` otherwise."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{p}: no such {what}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BenchError(f"{p}: {what} is corrupt or unreadable ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    if not isinstance(doc, expect):
        raise BenchError(f"{p}: {what} should hold a JSON {_json_kind(expect)}, found a {_json_kind(type(doc))}")
    return doc


def read_text(path: str | os.PathLike, what: str) -> str:
    """A UTF-8 text file's contents; one-line BenchError if it is missing, unreadable or binary."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise BenchError(f"{p}: a folder, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"{p}: {what} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BenchError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None


def _json_kind(t: type) -> str:
    return {dict: "object", list: "array", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}.get(t, t.__name__)


def check_relative_name(name: str, what: str) -> str:
    """``name`` if it is a plain relative path (no absolute path, no ``..``, no backslash, no empty or NUL
    part); one-line BenchError naming ``what`` otherwise. The check a name read from a file must pass before
    it is joined to a folder."""
    bad = (not isinstance(name, str) or not name or "\x00" in name or "\\" in name or name.startswith("/")
           or any(part in ("", ".", "..") for part in name.split("/")))
    if bad:
        raise BenchError(f"{what} names {name!r}: only plain relative paths inside its folder are allowed "
                         "(no absolute path, no '..', no empty part)")
    return name


def confined(folder: str | os.PathLike, name: str, what: str, within: str | os.PathLike | None = None) -> Path:
    """``folder / name`` for a name read from a file, checked to stay inside ``folder`` (or the wider ``within``,
    e.g. a Hub cache's repo folder whose snapshot files link to its blobs) once symbolic links are followed;
    one-line BenchError otherwise (see :func:`check_relative_name`)."""
    check_relative_name(name, what)
    base = Path(within if within is not None else folder).resolve()
    path = Path(folder) / name
    if not path.resolve().is_relative_to(base):
        raise BenchError(f"{what} names {name!r}, which leads out of {folder} (a symbolic link); refused")
    return path
