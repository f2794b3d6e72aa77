"""Run a function over many items in worker processes with a rich progress bar.

Failures are captured per item (the run goes on); results arrive as they complete. An
item that raises :class:`~bench.errors.FatalError` (a model that cannot load: every item
would fail the same way) stops the run at once: pending items are cancelled, the workers
stopped, and the error raised in the caller. Ctrl-C does the same with KeyboardInterrupt
(workers ignore SIGINT; the parent stops them), so finished items stay and a rerun resumes.
Two engines: ``local`` (default; a process pool on this machine, ``workers <= 1`` runs
in-process) and ``ray`` (tasks on a Ray cluster: ``BENCH_ENGINE=ray``, with
``RAY_ADDRESS`` naming the cluster, or a local Ray instance when unset; needs the
``ray`` extra): ``--workers`` long-lived actors, each with one CPU and ``BENCH_GPUS_PER_WORKER`` GPUs, a dead
one restarted and its item run again. Every command that takes ``--workers`` runs through :func:`run_items`;
:func:`process_memo` keeps what an item loads (a model) for the worker's later items, in both engines.
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

from bench.errors import BenchError, FatalError, RunFailed, first_line

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
_IN_WORKER = False  # set in a worker process of either engine (process_memo keeps models only there)
_MEMO: dict[str, object] = {}  # what process_memo keeps, by key


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
    _set_up_worker(initializer)


def _set_up_worker(initializer: Callable[[], None] | None) -> None:
    """What every worker process of either engine does first: one compute thread, then the caller's setup."""
    global _IN_WORKER
    _IN_WORKER = True
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


def gpus_per_worker() -> float:
    """GPUs each Ray worker reserves (``BENCH_GPUS_PER_WORKER``, set by ``--gpus-per-worker``; 0 by default)."""
    raw = os.environ.get("BENCH_GPUS_PER_WORKER", "0").strip() or "0"
    try:
        value = float(raw)
    except ValueError:
        raise BenchError(f"--gpus-per-worker / BENCH_GPUS_PER_WORKER must be a number, got {raw!r}") from None
    if not 0 <= value <= 64:
        raise BenchError(f"--gpus-per-worker must be 0-64, got {value:g}")
    return value


#: how often Ray restarts a worker that died, and retries the item it was on, before the item is recorded failed
RAY_RESTARTS = 3


class _RayWorker:
    """One long-lived worker (a Ray actor): set up once, then runs items, so what an item's function loads
    once per process (a model: :func:`process_memo`) stays loaded for every later item."""

    def __init__(self, initializer: Callable[[], None] | None) -> None:
        _set_up_worker(initializer)

    def run(self, fn: Callable[[T], R], item: T) -> Outcome[T, R]:
        return _call(fn, item)


def _ray_actors(ray, workers: int, initializer: Callable[[], None] | None) -> list:
    gpus = gpus_per_worker()
    actor = ray.remote(_RayWorker).options(num_cpus=1, num_gpus=gpus, max_restarts=RAY_RESTARTS,
                                           max_task_retries=RAY_RESTARTS)
    return [actor.remote(initializer) for _ in range(max(1, workers))]


def _ray_items(fn: Callable[[T], R], items: list[T], workers: int, progress: Progress, task,
               initializer: Callable[[], None] | None = None) -> Iterator[Outcome[T, R]]:
    """Items on a pool of Ray actors (``workers`` of them, one CPU and ``--gpus-per-worker`` GPUs each). A worker
    that dies (killed, out of memory) is restarted by Ray and the item it was on is run again there: the
    caller gets one outcome per item, never a duplicate, and results are only ever written by the caller."""
    try:
        import ray
    except ImportError:
        raise BenchError("BENCH_ENGINE=ray needs Ray: pip install '.[ray]'") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        kwargs = {} if address else {"num_cpus": max(1, workers)}
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False,
                 **kwargs)
    actors = _ray_actors(ray, min(workers, len(items)), initializer)
    fn_ref = ray.put(fn)
    queue = iter(items)
    in_flight: dict = {}  # ref -> (item, actor)
    idle = list(actors) * 2  # two items queued per actor: the next one is ready when an item ends
    try:
        while True:
            while idle:
                item = next(queue, _DONE)
                if item is _DONE:
                    break
                actor = idle.pop()
                in_flight[actor.run.remote(fn_ref, item)] = (item, actor)
            if not in_flight:
                break
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                item, actor = in_flight.pop(ref)
                idle.append(actor)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker died more often than Ray restarts it: recorded on the item
                    outcome = Outcome(item, error=f"{type(exc).__name__}: {first_line(exc)}")
                progress.advance(task)
                yield _checked(outcome)
    finally:  # stopped early (fatal item, Ctrl-C, caller gave up): cancel what is still running
        for ref in in_flight:
            ray.cancel(ref, force=True)
        for actor in actors:
            ray.kill(actor)


_DONE = object()


MEMO_SIZE = 4  #: loaded things a process keeps (a run needs one per component); the oldest goes first


def process_memo(key: str, make: Callable[[], T]) -> T:
    """``make()`` once per worker process for ``key`` (a loaded model, keyed by what it is), kept for later
    items: the local pool's workers and Ray's actors load a model once, not once per item. At most
    :data:`MEMO_SIZE` are kept. In the caller's own process (``--workers 1``) nothing is kept: ``make()`` runs
    every time (an item's objects are the caller's own there, loaded once anyway)."""
    if not _IN_WORKER:
        return make()
    if key in _MEMO:
        _MEMO[key] = _MEMO.pop(key)  # most recently used last
    else:
        while len(_MEMO) >= MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = make()
    return _MEMO[key]  # type: ignore[return-value]


def run_items(fn: Callable[[T], R], items: Iterable[T], workers: int = 1, description: str = "working",
              initializer: Callable[[], None] | None = None) -> Iterator[Outcome[T, R]]:
    """Yield an :class:`Outcome` for each item, in completion order, with a progress bar."""
    items = list(items)
    engine = engine_name()
    with make_progress() as progress:
        task = progress.add_task(description, total=len(items))
        if engine == "ray" and items:
            yield from _ray_items(fn, items, workers, progress, task, initializer)
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


