"""The event loop ``bench serve`` and the ``bench latency`` callers run on: uvloop where it is installed (a C
loop on libuv: less CPU per frame than asyncio's pure-Python selector loop; BENCHMARKS.md, "Capacity"), else
asyncio's own. ``kind``: ``auto`` (uvloop if importable), ``uvloop`` (an error without it) or ``asyncio``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from bench.errors import BenchError

KINDS = ("auto", "uvloop", "asyncio")


def loop_factory(kind: str = "auto") -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """(a new-loop factory, the loop's name: ``uvloop`` or ``asyncio``) for ``kind``."""
    if kind not in KINDS:
        raise BenchError(f"--loop must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise BenchError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        else:
            return uvloop.new_event_loop, "uvloop"
    return asyncio.new_event_loop, "asyncio"


def run(main: Coroutine[Any, Any, Any], kind: str = "auto") -> Any:
    """``asyncio.run(main)`` on the loop ``kind`` names."""
    factory, _name = loop_factory(kind)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
