"""A run's settings file: resuming a run with other settings is refused unless asked to overwrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.audio import write_atomic
from bench.errors import BenchError


def check_plan(out: Path, plan_file: str, params: dict[str, Any], overwrite: bool, what: str,
               clear: tuple[str, ...]) -> None:
    """Refuse to resume ``out`` if it was started with other ``params``; with ``overwrite``, empty the
    ``clear`` subfolders first. Then record ``params``."""
    plan_path = out / plan_file
    if plan_path.is_file() and not overwrite:
        previous = json.loads(plan_path.read_text())
        if previous != params:
            changed = sorted(k for k in params if previous.get(k) != params[k])
            raise BenchError(f"{out} holds a {what} with other settings ({', '.join(changed)}); "
                             "use another --out or pass --overwrite")
    if overwrite:
        for sub in clear:
            for f in (out / sub).glob("*"):
                if f.is_file():
                    f.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(plan_path, json.dumps(params, sort_keys=True).encode())
