"""Run a function over many items in worker processes with a rich progress bar.

Failures are captured per item (the run goes on); results arrive as they complete. An
item that raises :class:`~bench.errors.FatalError` (a model that cannot load: every item
would fail the same way) stops the run at once: pending items are cancelled, the workers
stopped, and the error raised in the caller. Ctrl-C does the same with KeyboardInterrupt
(workers ignore SIGINT; the parent stops them), so finished items stay and a rerun resumes.
Two engines: ``local`` (default; a process pool on this machine, ``workers <= 1`` runs
in-process) and ``ray`` (tasks on a Ray cluster: ``BENCH_ENGINE=ray``, with
``RAY_ADDRESS`` naming the cluster, or a local Ray instance when unset; needs the
``ray`` extra). Every command that takes ``--workers`` runs through :func:`run_items`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
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

from bench.errors import BenchError, FatalError, RunFailed

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome(Generic[T, R]):
    """What happened to one item: its result, or the error text if it failed."""

    item: T
    result: R | None = None
    error: str | None = None
    fatal: bool = False
    interrupted: bool = False  # skipped by a worker that got Ctrl-C: not a failure of the item

    @property
    def ok(self) -> bool:
        return self.error is None


_STOP = False  # set in a worker by Ctrl-C: items it has not started yet are skipped


def _request_stop(signum, frame) -> None:
    global _STOP
    _STOP = True


def _call(fn: Callable[[T], R], item: T) -> Outcome[T, R]:
    if _STOP:
        return Outcome(item, error="skipped: interrupted", interrupted=True)
    try:
        return Outcome(item, fn(item))
    except FatalError as exc:  # every item would fail: the caller stops the run
        return Outcome(item, error=str(exc), fatal=True)
    except Exception as exc:  # recorded per item, never stops the run
        return Outcome(item, error=f"{type(exc).__name__}: {exc}")


def _checked(outcome: Outcome[T, R]) -> Outcome[T, R]:
    if outcome.interrupted:  # a worker was interrupted (Ctrl-C reached it, not us): stop as if it had
        raise KeyboardInterrupt
    if outcome.fatal:
        raise FatalError(outcome.error or "a work item failed fatally")
    return outcome


def _init_worker(initializer: Callable[[], None] | None) -> None:
    # Ctrl-C reaches the whole process group: a worker finishes the item it is on and skips the rest,
    # while the parent stops handing out items (see _stop_early). The worker was started with SIGINT
    # blocked (see _sigint_held): one that arrived meanwhile is handled here, never a KeyboardInterrupt
    signal.signal(signal.SIGINT, _request_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
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


def engine_name() -> str:
    """The engine chosen by ``BENCH_ENGINE`` (local or ray)."""
    name = os.environ.get("BENCH_ENGINE", "local").strip().lower() or "local"
    if name not in ("local", "ray"):
        raise BenchError(f"BENCH_ENGINE must be local or ray, got {name!r}")
    return name


def check_engine() -> str:
    """The engine, checked before any work: a bad ``BENCH_ENGINE``, or Ray asked for but not installed, is a
    one-line BenchError."""
    name = engine_name()
    if name == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BenchError("BENCH_ENGINE=ray needs Ray: pip install '.[ray]'") from None
    return name


def _ray_items(fn: Callable[[T], R], items: list[T], workers: int, progress: Progress,
               task) -> Iterator[Outcome[T, R]]:
    try:
        import ray
    except ImportError:
        raise BenchError("BENCH_ENGINE=ray needs Ray: pip install '.[ray]'") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        kwargs = {} if address else {"num_cpus": max(1, workers)}
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False,
                 **kwargs)
    remote = ray.remote(num_cpus=1)(_call)
    fn_ref = ray.put(fn)
    queue = iter(items)
    in_flight = {}
    limit = max(1, workers) * 4
    try:
        for item in queue:
            in_flight[remote.remote(fn_ref, item)] = item
            if len(in_flight) >= limit:
                break
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                item = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # a worker died: recorded on its item
                    outcome = Outcome(item, error=f"{type(exc).__name__}: {exc}")
                progress.advance(task)
                yield _checked(outcome)
            for item in queue:
                in_flight[remote.remote(fn_ref, item)] = item
                if len(in_flight) >= limit:
                    break
    finally:  # stopped early (fatal item, Ctrl-C, caller gave up): cancel what is still running
        for ref in in_flight:
            ray.cancel(ref, force=True)


def run_items(fn: Callable[[T], R], items: Iterable[T], workers: int = 1, description: str = "working",
              initializer: Callable[[], None] | None = None) -> Iterator[Outcome[T, R]]:
    """Yield an :class:`Outcome` for each item, in completion order, with a progress bar."""
    items = list(items)
    engine = engine_name()
    with make_progress() as progress:
        task = progress.add_task(description, total=len(items))
        if engine == "ray" and items:
            yield from _ray_items(fn, items, workers, progress, task)
            return
        if workers <= 1 or len(items) <= 1:
            if initializer is not None:
                initializer()
            for item in items:
                out = _call(fn, item)
                progress.advance(task)
                yield _checked(out)
            return
        yield from _pool_items(fn, items, workers, initializer, progress, task)


def _pool_items(fn: Callable[[T], R], items: list[T], workers: int, initializer: Callable[[], None] | None,
                progress: Progress, task) -> Iterator[Outcome[T, R]]:
    workers = min(workers, len(items))  # a fork-based pool starts every worker at once
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(initializer,))
    finished = False
    try:
        pending = set()
        queue = iter(items)
        with _sigint_held():  # the first submit forks the workers
            for item in queue:  # keep a bounded number of tasks in flight
                pending.add(pool.submit(_call, fn, item))
                if len(pending) >= workers * 4:
                    break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                progress.advance(task)
                try:
                    outcome = fut.result()
                except BrokenProcessPool:
                    raise RunFailed("a worker process died (out of memory or killed); finished items are kept: "
                                    "rerun the same command to resume, perhaps with fewer --workers") from None
                yield _checked(outcome)
            for item in queue:
                pending.add(pool.submit(_call, fn, item))
                if len(pending) >= workers * 4:
                    break
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_early(pool)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold Ctrl-C back while worker processes start: they inherit the blocked signal and handle it once their
    own handler is in place (a Ctrl-C in between would otherwise die in the worker as a KeyboardInterrupt
    traceback). This process gets a held Ctrl-C when the block ends."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stop_early(pool: ProcessPoolExecutor) -> None:
    """Drop queued items and let the items workers are on finish (they write atomically); items already
    queued to a worker are skipped there once Ctrl-C has reached it.

    Workers are not killed: a worker killed while it sends a result leaves the pool's
    reader thread blocked on a half-written message, and the interpreter then hangs at
    exit joining it. A second Ctrl-C while waiting kills the workers and ends the process.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)  # forgets both: keep them to signal and join
    for proc in processes:
        try:  # in case the Ctrl-C reached only this process (kill -INT PID, a supervisor)
            os.kill(proc.pid, signal.SIGINT)
        except (ProcessLookupError, OSError):
            pass
    try:
        if manager is not None:
            manager.join()  # returns once the workers finished their items and exited
    except KeyboardInterrupt:
        for proc in processes:
            proc.kill()
        sys.stderr.write("interrupted twice: stopped at once; finished items are kept\n")
        sys.stderr.flush()
        os._exit(130)  # the pool's threads cannot be joined any more (see above)


def default_workers() -> int:
    """Worker count when the user gives none: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


