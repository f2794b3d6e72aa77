"""Option types shared by the commands, so every number is checked the same way at parse time.

``int`` options take typer's ``min``/``max`` (click ranges). Floats go through
:func:`number`, which also refuses NaN and infinities (a click ``FloatRange`` lets NaN
through, because every comparison with NaN is false).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import typer

from bench.errors import BenchError
from bench.fileio import read_text
from bench.serve.protocol import TOKEN_ENV  # noqa: F401 - the protocol's; imported from here by the CLI


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           what: str = "a number") -> Callable[[str], float]:
    """A parser for a finite float in [lo, hi] (``lo_open``: strictly above ``lo``)."""

    def parse(text: str | float) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"must be a finite number, not {text}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise typer.BadParameter(f"must be {'>' if lo_open else '>='} {lo:g}, not {text}")
        if hi is not None and value > hi:
            raise typer.BadParameter(f"must be <= {hi:g}, not {text}")
        return value

    parse.__name__ = "number"
    return parse


def seed_option(help_text: str = "Seed: the same seed gives the same output.") -> int:
    """``--seed``: a non-negative integer (numpy seeds must be >= 0)."""
    return typer.Option(0, "--seed", min=0, help=help_text)


def workers_option() -> int | None:
    """``--workers``: worker processes, at least 1 (default: the CPUs this process may use)."""
    return typer.Option(None, "--workers", min=1, max=1024, help="Worker processes (default: all CPUs).")


def gpus_per_worker_option() -> float | None:
    """``--gpus-per-worker``: GPUs each Ray worker reserves (BENCH_ENGINE=ray only)."""
    return typer.Option(None, "--gpus-per-worker", min=0, max=64, help="BENCH_ENGINE=ray: GPUs each worker "
                        "reserves (fractions share one; default 0). The local engine uses --param device=cuda.")


def overwrite_option(what: str = "output") -> bool:
    """``--overwrite``: replace a folder bench wrote with another command or other settings."""
    return typer.Option(False, "--overwrite", help=f"Replace an existing {what} folder that another bench "
                        "command, or this one with other settings, wrote (never a folder bench did not write).")


def scripts_option() -> str:
    """``--scripts``: a packaged script set (pitch, bench) or a scripts JSON file."""
    return typer.Option(None, "--scripts", help="Script set: pitch (Pitch Table A.1, the default), bench "
                        "(bench's own sentences) or a JSON file like challenges/data/scripts/pitch.json.")



def _check_token(tok: str, where: str) -> str:
    """``tok`` stripped of its surrounding whitespace; a one-line error when it spans lines or holds spaces."""
    tok = tok.strip()
    if not tok:
        raise BenchError(f"{where}: the token is empty")
    if any(c.isspace() for c in tok) or not tok.isprintable():
        raise BenchError(f"{where}: the token must be one line without spaces or control characters")
    return tok


def read_token(token_file: Path | None, required: bool) -> str | None:
    """The edge server's token: from ``token_file`` (refused, as ssh does with keys, when its mode gives
    group or others any access), else ``BENCH_SERVE_TOKEN``; None (or a one-line error when ``required``)
    without either."""
    if token_file is not None:
        if not token_file.is_file():
            raise BenchError(f"{token_file}: no such token file")
        mode = token_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise BenchError(f"{token_file}: the token file is readable by group or others (mode {mode:04o}); "
                             f"run chmod 600 {token_file}")
        return _check_token(read_text(token_file, "token file"), str(token_file))
    tok = os.environ.get(TOKEN_ENV, "")
    if tok.strip():
        return _check_token(tok, TOKEN_ENV)
    if not required:
        return None
    raise BenchError(f"give the token with --token-file FILE or the {TOKEN_ENV} environment variable")
