"""The edge server's inference: loaded model versions and a micro-batching pool of inference threads.

:class:`ModelSlot` is one loaded model version (any registered countermeasure detector, found through the
registry from the model's card). :class:`InferenceEngine` runs ``threads`` inference threads (one per core,
each with one torch thread); a thread takes the oldest chunk, adds whatever other chunks are already queued
(up to ``max_batch``, waiting at most ``batch_wait_ms`` for more: 0 by default, so an idle server adds no
delay and a loaded one batches what piled up), scores them in one forward pass per model version and
resolves each chunk's future on the event loop. :meth:`InferenceEngine.swap` installs a newly promoted
version: chunks already batched finish on the old one, the next batch uses the new one.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.countermeasures.feature_message import FeatureMessage, MessageError, model_version
from bench.errors import BenchError


class Overloaded(BenchError):
    """The inference queue is full."""


class ModelSlot:
    """One loaded model version: its detector, scorer, score semantics and what calls may send it."""

    def __init__(self, ref: str, device: str = "cpu", batch_size: int = 64, backend: str = "auto") -> None:
        from bench.countermeasures.split_model import SplitScorer
        from bench.serve.compute_floor import floor_ms, peak_mac_rate

        entry, det = load_detector(ref, device, batch_size)
        self.detector = det
        self.scorer = det.load_scorer()
        self.ref = entry.card.ref
        self.name = entry.card.name
        self.semantics = det.score_semantics()
        self.split = isinstance(self.scorer, SplitScorer)
        self.version = self.scorer.version if self.split else model_version(entry.fingerprint())
        self.spec = self.scorer.spec
        self.seeds = list(self.scorer.seeds)
        self.macs_per_chunk = self.count_chunk_macs()  # on the torch networks, before a backend replaces them
        self.backend, self.backend_note = choose_backend(self.scorer, self.ref, backend, device)
        self.score_raw([np.zeros(16_000, np.float32)])  # warm up (lazy imports, first-call allocations)
        self.isolated_ms = self.isolated_inference()
        self.peak_macs_per_s = peak_mac_rate(device) if self.macs_per_chunk else None
        self.floor_ms = {k: floor_ms(v, self.peak_macs_per_s) for k, v in self.macs_per_chunk.items()}

    def isolated_inference(self, repeats: int = 15) -> dict[str, float]:
        """The isolated inference time in this process: median milliseconds to score one 1-second chunk alone
        (batch 1; ``raw``: the whole model, ``privacy``: the server half only), on a chunk of noise."""
        chunk = _noise_chunk()
        out = {"raw": median_ms(lambda: self.score_raw([chunk]), repeats)}
        if self.split:
            msgs = self.scorer.device_messages(chunk)
            out["privacy"] = median_ms(lambda: self.score_messages([msgs]), repeats)
        return out

    def count_chunk_macs(self) -> dict[str, int]:
        """MACs of the torch networks to score one 1-second chunk as the server does (every window and seed;
        ``privacy``: the server half only); empty for a model that is not torch."""
        import torch

        from bench.serve.compute_floor import macs_during

        nets = getattr(self.scorer, "modules", None)
        if not nets or not all(isinstance(n, torch.nn.Module) for n in nets):
            return {}
        chunk = _noise_chunk()
        with macs_during(nets) as raw:
            self.score_raw([chunk])
        out = {"raw": raw.total}
        if self.split:
            msgs = self.scorer.device_messages(chunk)
            with macs_during(nets) as server_half:
                self.score_messages([msgs])
            out["privacy"] = server_half.total
        return {k: v for k, v in out.items() if v}

    def describe(self) -> dict[str, Any]:
        """What the ready frame and /healthz say about the model."""
        d = {"model": self.ref, "detector": self.detector.meta.name, "model_version": self.version,
             "threshold": self.semantics.threshold, "score_scale": self.semantics.scale, "seeds": self.seeds,
             "privacy_mode": self.split, "isolated_inference_ms": self.isolated_ms, "compute_floor_ms": self.floor_ms,
             "macs_per_chunk": self.macs_per_chunk, "peak_macs_per_s": self.peak_macs_per_s, "backend": self.backend,
             "backend_note": self.backend_note}
        if self.split:  # what a privacy call's feature messages must be (docs/serve.md, "Privacy mode")
            msg = self.scorer.message_spec()
            d.update(feature_shape=msg["shape"], message_dtype=msg["dtype"], feature_sample_rate=msg["sample_rate"],
                     device_input=self.scorer.device_input())
        return d

    def check_messages(self, messages: list[FeatureMessage]) -> None:
        """A :class:`MessageError` unless ``messages`` are one checked message per seed of this model."""
        if not self.split:
            raise MessageError(f"model {self.ref} is not a split model: it takes raw audio, not feature messages")
        if sorted(m.seed for m in messages) != sorted(self.seeds):
            raise MessageError(f"expected one feature message per seed {self.seeds}, got seeds "
                               f"{sorted(m.seed for m in messages)}")
        for m in messages:
            self.scorer.check_message(m)
            self.scorer.check_shape(m)

    def score_raw(self, chunks: list[np.ndarray]) -> list[float]:
        """Scores (mean over windows and seeds) of 16 kHz float32 chunks: the base :meth:`Scorer.scores`, which
        batches every chunk's windows together (a split scorer's own ``scores`` goes one utterance at a time)."""
        from bench.countermeasures.base import Scorer

        return [float(v) for v in Scorer.scores(self.scorer, chunks, batch_size=1 << 16, check=False).mean(axis=0)]

    def score_messages(self, chunks: list[list[FeatureMessage]]) -> list[float]:
        """Scores of checked privacy chunks (one message per seed each), one forward pass per seed."""
        out = np.zeros(len(chunks))
        for seed in self.seeds:
            feats = [next(m for m in msgs if m.seed == seed).data for msgs in chunks]
            s = self.scorer.server_window_scores(seed, np.concatenate(feats))
            pos = 0
            for i, f in enumerate(feats):
                out[i] += s[pos:pos + len(f)].mean() / len(self.seeds)
                pos += len(f)
        return [float(v) for v in out]


def load_detector(ref: str, device: str = "cpu", batch_size: int = 64) -> tuple[Any, Any]:
    """(model store entry, checked detector) of a servable model: a trained countermeasure whose detector is
    installed; a one-line BenchError otherwise."""
    from bench.api.registry import DETECTORS
    from bench.countermeasures.base import CMDetector
    from bench.models.store import resolve

    entry = resolve(ref)
    name = entry.card.detector
    if name not in DETECTORS:
        raise BenchError(f"model {entry.card.ref} needs detector {name!r}, which is not installed")
    # a packaged model is named (its folder is the package's, not a bench model folder); a stored one by folder
    model = entry.card.ref if entry.card.source == "packaged" else str(entry.folder)
    det = DETECTORS.create(name, model=model, device=device, batch_size=batch_size, threads=1)
    if not isinstance(det, CMDetector):
        raise BenchError(f"detector {name} scores no single model; bench serve takes a trained model")
    det.check("")
    return entry, det


def choose_backend(scorer: Any, ref: str, backend: str, device: str, convert: bool = True) -> tuple[str, str]:
    """(backend, note) for ``scorer``: ``auto``: ONNX Runtime where the model converts (faster on CPU;
    BENCHMARKS.md), else torch; ``onnx``: ONNX Runtime or a one-line error; ``torch``: eager torch.
    ``convert=False`` checks everything but the conversion itself (``auto`` then answers torch)."""
    if backend not in ("auto", "onnx", "torch"):
        raise BenchError(f"backend must be auto, onnx or torch, not {backend!r}")
    if not hasattr(scorer, "modules"):
        if backend == "onnx":
            raise BenchError(f"model {ref} is not a torch model: the ONNX backend does not apply")
        return "native", "not a torch model: scored by its own library"
    if backend == "torch":
        return "torch", ""
    if device != "cpu":
        if backend == "onnx":
            raise BenchError("the ONNX backend runs on the CPU here (onnxruntime's CPU build); use --backend "
                             "torch with a GPU")
        return "torch", "ONNX Runtime is CPU-only here: torch on the GPU"
    if not convert:
        return "torch", "not converted (a check only)"
    from bench.serve.onnx_backend import to_onnx

    try:
        parts = to_onnx(scorer, scorer.spec.samples)
    except BenchError as exc:
        if backend == "onnx":
            raise BenchError(f"model {ref}: {exc}") from None
        return "torch", f"stayed on torch: {exc}"
    return "onnx", f"ONNX Runtime ({', '.join(parts)})"


def check_servable(ref: str, *, backend: str = "auto", device: str = "cpu", mode: str = "raw") -> Any:
    """Everything ``bench serve`` would refuse about serving ``ref`` (a model that cannot load, a backend it cannot
    run on, privacy mode on an unsplit model), checked in this process before a command writes anything;
    returns the model's store entry. ``--backend onnx`` is converted here too: its failure is part of the check."""
    from bench.countermeasures.split_model import SplitScorer

    entry, det = load_detector(ref, device)
    scorer = det.load_scorer()
    if mode == "privacy" and not isinstance(scorer, SplitScorer):
        raise BenchError(f"model {entry.card.ref} is not a split model: privacy mode needs devox or deepdetection")
    choose_backend(scorer, entry.card.ref, backend, device, convert=backend == "onnx")
    return entry


def _noise_chunk() -> np.ndarray:
    """The 1-second chunk of noise the per-chunk costs are measured on."""
    return (0.1 * np.random.default_rng(0).standard_normal(16_000)).astype(np.float32)


def median_ms(fn: Any, repeats: int) -> float:
    """Median wall-clock milliseconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return float(np.median(times))


@dataclass
class Job:
    """One chunk waiting for inference."""

    kind: str  # raw | privacy
    payload: Any  # float32 16 kHz samples, or the chunk's feature messages
    future: asyncio.Future
    slot: ModelSlot | None = None  # privacy chunks: the version their device half ran; raw: set at batch time
    t_start: float = 0.0
    t_end: float = 0.0
    batch_size: int = 0
    result: dict[str, Any] = field(default_factory=dict)


class InferenceEngine:
    """A pool of inference threads with greedy micro-batching across calls (see the module docstring)."""

    def __init__(self, slot: ModelSlot, loop: asyncio.AbstractEventLoop, *, threads: int = 1, max_batch: int = 32,
                 batch_wait_ms: float = 0.0, max_queue: int = 4096, on_batch: Any = None) -> None:
        if threads < 1 or max_batch < 1 or batch_wait_ms < 0 or max_queue < 1:
            raise BenchError("threads, max_batch and max_queue must be >= 1 and batch_wait_ms >= 0")
        self.current = slot
        self.versions: dict[str, ModelSlot] = {slot.version: slot}
        self.loop = loop
        self.max_batch, self.batch_wait = max_batch, batch_wait_ms / 1000.0
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self._cpu = CpuTally()
        self._set_torch_threads()
        self.threads = [threading.Thread(target=self._work, name=f"bench-infer-{i}", daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _set_torch_threads() -> None:
        try:
            import torch

            torch.set_num_threads(1)  # one inference thread per core, each single-threaded
        except ImportError:
            pass

    # ------------------------------------------------------------------ models
    def swap(self, slot: ModelSlot, keep: int = 2) -> ModelSlot:
        """Make ``slot`` the version new chunks use; privacy calls of the ``keep`` - 1 previous versions
        still get scored by their own version (their phones hold its device half). Returns the old one."""
        old, self.current = self.current, slot
        self.versions[slot.version] = slot
        while len(self.versions) > keep:
            self.versions.pop(next(iter(self.versions)))
        return old

    def slot_for(self, messages: list[FeatureMessage]) -> ModelSlot:
        """The loaded version that made ``messages`` (checked), or a :class:`MessageError`."""
        version = messages[0].model_version if messages else ""
        slot = self.versions.get(version)
        if slot is None:
            cur = self.current
            raise MessageError(f"feature messages from weights {version} ({messages[0].model if messages else '?'}); "
                               f"this server runs {cur.ref} (weights {cur.version}): update the device half")
        slot.check_messages(messages)
        return slot

    # ------------------------------------------------------------------ jobs
    def submit(self, job: Job) -> None:
        """Queue a chunk; :class:`Overloaded` when the queue is full (the chunk is dropped)."""
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise Overloaded(f"the inference queue is full ({self.queue.maxsize} chunks)") from None

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join(timeout=5)

    def _take(self) -> list[Job] | None:
        first = self.queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.perf_counter() + self.batch_wait
        while len(batch) < self.max_batch:
            try:
                wait = deadline - time.perf_counter()
                job = self.queue.get_nowait() if wait <= 0 else self.queue.get(timeout=wait)
            except queue.Empty:
                break
            if job is None:
                self.queue.put(None)  # another thread's stop signal
                break
            batch.append(job)
        return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            current = self.current
            groups: dict[tuple[int, str], list[Job]] = {}
            for job in batch:
                job.slot = job.slot or current
                groups.setdefault((id(job.slot), job.kind), []).append(job)
            for jobs in groups.values():
                self._run(jobs)

    def cpu(self) -> dict[str, float]:
        """CPU seconds the inference threads spent scoring, and the chunks they scored, since the start."""
        return self._cpu.read()

    def _run(self, jobs: list[Job]) -> None:
        slot = jobs[0].slot
        c0 = time.thread_time()
        t0 = time.time() * 1000.0
        try:
            if jobs[0].kind == "raw":
                scores = slot.score_raw([j.payload for j in jobs])
            else:
                scores = slot.score_messages([j.payload for j in jobs])
            error = None
        except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the server
            scores, error = [None] * len(jobs), exc
        t1 = time.time() * 1000.0
        self._cpu.add(time.thread_time() - c0, len(jobs))
        for job, score in zip(jobs, scores, strict=True):
            job.t_start, job.t_end, job.batch_size = t0, t1, len(jobs)
            job.result = {"score": score, "error": error}
        self.loop.call_soon_threadsafe(_resolve, jobs)  # one wake-up of the event loop per batch, not per chunk
        if self.on_batch is not None:
            self.on_batch(len(jobs), (t1 - t0) / 1000.0)


class CpuTally:
    """CPU seconds and chunks summed over the threads that score (each thread measures its own CPU time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds, self.chunks = 0.0, 0

    def add(self, seconds: float, chunks: int) -> None:
        with self._lock:
            self.seconds += seconds
            self.chunks += chunks

    def read(self) -> dict[str, float]:
        with self._lock:
            return {"inference_cpu_s": self.seconds, "chunks": self.chunks}


def _resolve(jobs: list[Job]) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_result(job)


class NaiveEngine(InferenceEngine):
    """The baseline ``bench latency`` compares with: one inference per request, as a straightforward server
    does it (each chunk scored alone, batch 1, in the event loop's default thread pool, torch at its default
    thread count). Same interface as :class:`InferenceEngine`."""

    def __init__(self, slot: ModelSlot, loop: asyncio.AbstractEventLoop, **_: Any) -> None:
        self.current = slot
        self.versions = {slot.version: slot}
        self.loop = loop
        self.queue: queue.Queue[Job | None] = queue.Queue()  # stays empty: /healthz reads its size
        self.on_batch = None
        self._cpu = CpuTally()
        self.threads = []
        try:
            import os

            import torch

            torch.set_num_threads(len(os.sched_getaffinity(0)))  # torch's default: every core it may use
        except ImportError:
            pass

    def submit(self, job: Job) -> None:
        job.slot = job.slot or self.current
        self.loop.run_in_executor(None, self._run, [job])

    def close(self) -> None:
        pass
