"""Run a function over many items in worker processes with a rich progress bar.

Failures are captured per item (the run goes on); results arrive as they complete.
``workers <= 1`` runs in-process, which is also what a Ray or cluster backend would
replace (see :func:`run_items`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome(Generic[T, R]):
    """What happened to one item: its result, or the error text if it failed."""

    item: T
    result: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _call(fn: Callable[[T], R], item: T) -> Outcome[T, R]:
    try:
        return Outcome(item, fn(item))
    except Exception as exc:  # recorded per item, never stops the run
        return Outcome(item, error=f"{type(exc).__name__}: {exc}")


def _init_worker(initializer: Callable[[], None] | None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    if initializer is not None:
        initializer()


def make_progress(transient: bool = False) -> Progress:
    """A progress bar with count, rate-based ETA and elapsed time (on stderr)."""
    from rich.console import Console

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=transient, disable=not sys.stderr.isatty()
                    and os.environ.get("BENCH_PROGRESS") != "1")


def run_items(fn: Callable[[T], R], items: Iterable[T], workers: int = 1, description: str = "working",
              initializer: Callable[[], None] | None = None) -> Iterator[Outcome[T, R]]:
    """Yield an :class:`Outcome` for each item, in completion order, with a progress bar."""
    items = list(items)
    with make_progress() as progress:
        task = progress.add_task(description, total=len(items))
        if workers <= 1 or len(items) <= 1:
            if initializer is not None:
                initializer()
            for item in items:
                out = _call(fn, item)
                progress.advance(task)
                yield out
            return
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                 initargs=(initializer,)) as pool:
            pending = set()
            queue = iter(items)
            for item in queue:  # keep a bounded number of tasks in flight
                pending.add(pool.submit(_call, fn, item))
                if len(pending) >= workers * 4:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    progress.advance(task)
                    yield fut.result()
                for item in queue:
                    pending.add(pool.submit(_call, fn, item))
                    if len(pending) >= workers * 4:
                        break


def default_workers() -> int:
    """Worker count when the user gives none: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


