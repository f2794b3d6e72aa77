"""Output folders: a command writes only into a folder it owns, and never into its own input.

Every command that writes a folder calls :func:`claim_output` as its last check before any
work. The folder then holds ``.bench-run.json``, which names the command and the settings
that define its output. A later run

- resumes when the marker names the same command with the same settings;
- is refused (one line, exit 2) when the folder holds another command's output or the same
  command's output with other settings, unless ``--overwrite`` is given;
- with ``--overwrite``, empties a folder bench wrote (any command, any settings) and starts
  again;
- is always refused when the folder is not empty and bench did not write it (bench never
  deletes what it did not write), or when the output is, contains or lies inside one of
  the command's inputs.

Folders written by bench 0.1 (no marker) are recognised by their plan files or by a corpus
or fakes manifest beside a dataset; anything else without a marker is foreign.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.fileio import read_json, write_json

MARKER = ".bench-run.json"
#: plan files of bench 0.1 runs: command -> file name (read so that those runs still resume)
_LEGACY_PLANS = {"generate": ".generate.json", "data simulate": ".simulate.json"}


def _written_by_old_bench(out: Path) -> bool:
    """A bench 0.1 corpus or fakes folder: a dataset (state.json) with bench's manifest (bench.json whose
    kind is corpus or fakes). Common file names alone (result.json, state.json) prove nothing."""
    if not (out / "state.json").is_file() or not (out / "bench.json").is_file():
        return False
    try:
        return json.loads((out / "bench.json").read_text()).get("kind") in ("corpus", "fakes")
    except (OSError, ValueError, AttributeError):
        return False


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def check_not_input(out: Path, inputs: Iterable[str | os.PathLike | None], flag: str) -> None:
    """Refuse an output that is, contains or lies inside one of ``inputs`` (never writable, even with
    ``--overwrite``)."""
    o = _resolved(out)
    for item in inputs:
        if item is None:
            continue
        i = _resolved(item)
        if o == i:
            raise BenchError(f"{flag} {out} is also an input of this command; choose another folder")
        if i in o.parents:
            raise BenchError(f"{flag} {out} lies inside the input {item}; choose a folder outside it")
        if o in i.parents:
            raise BenchError(f"{flag} {out} contains the input {item}; choose a folder that does not hold it")


def check_writable_dir(out: Path, flag: str) -> None:
    """Refuse an output that is a file or lies under a file (mkdir would fail half-way)."""
    p = Path(out)
    for candidate in (p, *p.parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = "is a file" if candidate == p else f"lies under {candidate}, which is a file"
                raise BenchError(f"{flag} {out} {where}, not a folder; choose another path")
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise BenchError(f"{flag} {out}: no permission to write in {candidate}")
            return


def _owner(out: Path) -> tuple[str | None, Any]:
    """(command, params) recorded in ``out``; (None, None) when nothing is recorded."""
    marker = out / MARKER
    if marker.is_file():
        doc = read_json(marker, "run marker")
        return doc.get("command"), doc.get("params")
    for command, name in _LEGACY_PLANS.items():
        if (out / name).is_file():
            return command, read_json(out / name, "run plan")
    return None, None


def _empty_folder(out: Path, command: str) -> None:
    """Delete everything in ``out``; the marker is first rewritten as 'being replaced', so an interrupted
    clean-up is still recognised as bench's and can be overwritten again."""
    write_json(out / MARKER, {"command": command, "params": None, "state": "being replaced"})
    for child in out.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _differences(old: Any, new: dict[str, Any]) -> list[str]:
    if not isinstance(old, dict):
        return ["(incomplete or unknown settings)"]
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _decide(out: Path, command: str, params: dict[str, Any], inputs: Iterable[str | os.PathLike | None],
            overwrite: bool, flag: str) -> str:
    """What claiming ``out`` means: 'new', 'resume' or 'replace'; BenchError when it is refused."""
    check_writable_dir(out, flag)
    check_not_input(out, inputs, flag)
    if not (out.is_dir() and any(out.iterdir())):
        return "new"
    try:
        owner, old = _owner(out)
    except BenchError:
        if not overwrite:
            raise BenchError(f"{out}/{MARKER} is corrupt; pass --overwrite to replace {out}") from None
        return "replace"
    if owner is None and not _written_by_old_bench(out):
        raise BenchError(f"{flag} {out} is not empty and was not written by bench; choose a new or empty "
                         "folder (bench never deletes files it did not write)")
    if overwrite:
        return "replace"
    if owner is None:
        raise BenchError(f"{out} holds a corpus written by an earlier bench version; choose another folder "
                         "or pass --overwrite to replace it")
    if owner != command:
        raise BenchError(f"{out} holds the output of `bench {owner}`; choose another folder or pass "
                         "--overwrite to replace it")
    if old != params:
        raise BenchError(f"{out} holds a `bench {command}` run with other settings "
                         f"({', '.join(_differences(old, params))}); choose another folder or pass "
                         "--overwrite to replace it")
    return "resume"


def _normalised(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=str))  # compare as they will be stored


def check_output(out: str | os.PathLike, command: str, params: dict[str, Any], *,
                 inputs: Iterable[str | os.PathLike | None] = (), overwrite: bool = False,
                 flag: str = "--out") -> bool:
    """Raise the BenchError :func:`claim_output` would raise, without writing anything (for commands that
    must check several outputs, or their output, before they validate the rest of their input); returns
    True when claiming would resume an earlier run of the same settings."""
    return _decide(Path(out), command, _normalised(params), list(inputs), overwrite, flag) == "resume"


def claim_output(out: str | os.PathLike, command: str, params: dict[str, Any], *,
                 inputs: Iterable[str | os.PathLike | None] = (), overwrite: bool = False,
                 flag: str = "--out") -> bool:
    """Make ``out`` this run's folder; returns True when it resumes an earlier run of the same settings.

    ``params`` are the settings that define the output (JSON-serialisable); ``inputs`` the
    paths the command reads. Raises :class:`BenchError` (one line) instead of touching a
    folder that is not this command's in this configuration, unless ``overwrite`` (which
    empties a folder bench wrote, and only such a folder).
    """
    out = Path(out)
    params = _normalised(params)
    action = _decide(out, command, params, list(inputs), overwrite, flag)
    if action == "replace":
        _empty_folder(out, command)
    out.mkdir(parents=True, exist_ok=True)
    for name in _LEGACY_PLANS.values():
        (out / name).unlink(missing_ok=True)
    write_json(out / MARKER, {"command": command, "params": params})
    return action == "resume"
