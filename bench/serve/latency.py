"""``bench latency``: drive ``bench serve`` under a deployment profile with simulated callers, on loopback.

The server runs as its own process under the profile (``edge-cpu``: pinned to one core, one inference
thread, an 8 GB address-space cap, DevoX's edge; ``core-gpu``: CUDA). N callers in this process stream
real calls in 1-second chunks, in real time (one chunk per second each, calls starting spread over the
first second) or as fast as the replies come, for a bounded time. Each call is an original recording
that turns into a fake of the same voice halfway, so the time from the start of the fake segment to the
first alert is measured too. Privacy-mode callers send device-half features computed before the run (the
phone's work is not the server's). Every chunk's reply carries the server's timestamps, which split the
end-to-end time into transmission, queueing, inference and reply as DevoX Table 3 does.

This module holds the profiles, the server process and the run with its statistics; the calls and the
callers that stream them are :mod:`bench.serve.callers`.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, RunFailed
from bench.references.devox import DEVOX_TABLE3
from bench.serve.callers import drive, encode_calls, make_calls, through_line
from bench.serve.eventloop import loop_factory
from bench.serve.eventloop import run as run_loop
from bench.serve.phone_line import clean_line, phone_line

PROFILES: dict[str, dict[str, Any]] = {
    "edge-cpu": {"cores": 1, "threads": 1, "memory_gb": 8.0, "device": "cpu",
                 "about": "DevoX's edge: 1 CPU core (pinned), 1 inference thread, 8 GB memory cap"},
    "core-gpu": {"cores": None, "threads": 1, "memory_gb": None, "device": "cuda",
                 "about": "a core server's GPU: CUDA inference, every CPU core for the network"},
}
PARTS = ("transmission", "queueing", "inference", "server", "reply", "end_to_end")
ENGINES = ("batched", "naive")
BACKENDS = ("auto", "onnx", "torch")
#: below this chunk AUROC the streamed calls are not separated, and the alert times get a caveat
SEPARATES = 0.75
FILES_PER_CALLER = 2  #: open files a caller needs across this process and the server (a socket at each end)


def percentiles(values: list[float]) -> dict[str, Any]:
    """n, mean, p50, p95, p99, max (ms) of ``values``."""
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=np.float64)
    return {"n": int(len(a)), "mean_ms": float(a.mean()), "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}


# ------------------------------------------------------------------ the server process
class ServerProcess:
    """``bench serve`` in a subprocess under a profile (CPU pinning and memory cap applied before exec)."""

    def __init__(self, model: str, token: str, profile: dict[str, Any], *, engine: str, threads: int,
                 max_batch: int, batch_wait_ms: float, max_connections: int, cpus: list[int] | None,
                 backend: str = "auto", loop: str = "auto") -> None:
        from bench.serve.protocol import TOKEN_ENV

        # the token goes in the child's environment (readable by this user only), never on its command line
        cmd = [sys.executable, "-m", "bench", "serve", "--model", model, "--port", "0",
               "--threads", str(threads), "--device", "cuda" if profile["device"] == "cuda" else "cpu",
               "--engine", engine, "--max-batch", str(max_batch), "--batch-wait-ms", str(batch_wait_ms),
               "--max-connections", str(max_connections), "--watch-seconds", "0", "--idle-timeout", "120",
               "--backend", backend, "--loop", loop]
        mem = profile.get("memory_gb")

        def limit() -> None:  # in the child, before exec
            if cpus:
                os.sched_setaffinity(0, cpus)
            if mem:
                import resource

                cap = int(mem * 2**30)
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        self.log: list[str] = []
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     preexec_fn=limit, env={**os.environ, TOKEN_ENV: token})
        self.url: str | None = None
        found = threading.Event()

        def drain() -> None:
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                m = re.search(r" on (wss?://\S+?);", line)
                if m and self.url is None:
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(300) or self.url is None:
            self.stop()
            tail = self.log[-1] if self.log else "no output"
            raise BenchError(f"the server did not start: {tail}")

    def health(self) -> dict[str, Any]:
        base = self.url.replace("ws://", "http://").rsplit("/v1/", 1)[0]
        return json.loads(urllib.request.urlopen(base + "/healthz", timeout=10).read())

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def open_files_for(callers: int) -> None:
    """Raise this process's open-file limit (inherited by the server) to what ``callers`` need, up to the hard
    limit; a one-line BenchError when the hard limit is too low."""
    import resource

    need = FILES_PER_CALLER * callers + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise BenchError(f"--callers {callers} needs about {need} open files, and this system allows {hard} "
                             "(ulimit -Hn); use fewer callers")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def check_args(profile: str, callers: int, duration: float, chunk_seconds: float, mode: str, engine: str,
               backend: str, corpus: str | None, fakes: str | None, loop: str = "auto",
               channel: str | None = None) -> None:
    """Every flag of ``bench latency`` that can be checked without the model, as one-line BenchErrors."""
    if profile not in PROFILES:
        raise BenchError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if callers < 1 or not all(math.isfinite(v) and v > 0 for v in (duration, chunk_seconds)):
        raise BenchError("--callers must be >= 1, --duration and the chunk length finite and > 0")
    if mode not in ("raw", "privacy"):
        raise BenchError(f"--mode must be raw or privacy, not {mode!r}")
    if engine not in ENGINES:
        raise BenchError(f"--engine must be {' or '.join(ENGINES)}, not {engine!r}")
    if backend not in BACKENDS:
        raise BenchError(f"--backend must be {', '.join(BACKENDS)}, not {backend!r}")
    loop_factory(loop)  # an unknown --loop, or uvloop asked for and not installed
    if channel is not None:
        if mode != "raw":
            raise BenchError("--channel sends the callers' audio through a phone line: it needs --mode raw")
        phone_line(channel)  # an unknown profile, or a codec this PyAV build lacks
    if (corpus is None) != (fakes is None):
        raise BenchError("give both --corpus and --fakes, or neither (a small corpus is then simulated)")
    for flag, p in (("--corpus", corpus), ("--fakes", fakes)):
        if p is not None and not Path(p).is_dir():
            raise BenchError(f"{flag} {p}: no such corpus folder")


# ------------------------------------------------------------------ the run
def run_latency(model: str, out: str | Path, *, profile: str = "edge-cpu", callers: int = 1, duration: float = 30.0,
                mode: str = "raw", realtime: bool = True, corpus: str | None = None, fakes: str | None = None,
                engine: str = "batched", threads: int | None = None, cores: int | None = None, max_batch: int = 32,
                batch_wait_ms: float = 0.0, chunk_seconds: float = 1.0, backend: str = "auto", loop: str = "auto",
                command: str | None = None, overwrite: bool = False, channel: str | None = None,
                channel_seed: int = 0, progress: Callable[[str], None] | None = None) -> Any:
    """Measure; writes OUT/latency.json (:class:`LatencyResult`) and returns it, or None with a
    message when the profile cannot run here (core-gpu without a CUDA GPU). ``channel``: the callers' audio goes
    through that telephone channel profile and reaches the server in the line's encoding and rate."""
    import secrets

    from bench.evaluation.results import LatencyResult, Percentiles, run_info
    from bench.outdir import claim_output
    from bench.serve.engine import check_servable

    say = progress or (lambda _m: None)
    check_args(profile, callers, duration, chunk_seconds, mode, engine, backend, corpus, fakes, loop, channel)
    line = phone_line(channel, channel_seed) if channel is not None else None
    prof = dict(PROFILES[profile])
    if prof["device"] == "cuda":
        import torch

        if not torch.cuda.is_available():
            say("skipped: the core-gpu profile needs a CUDA GPU, and torch sees none on this machine")
            return None
    allowed = sorted(os.sched_getaffinity(0))
    n_cores = cores or prof["cores"] or len(allowed)
    if n_cores > len(allowed):
        raise BenchError(f"--cores {n_cores}: this machine lets bench use {len(allowed)} core(s)")
    open_files_for(callers)
    entry = check_servable(model, backend=backend, device=prof["device"], mode=mode)
    out = Path(out)
    params = {"model": entry.card.ref, "profile": profile, "callers": callers, "duration": duration, "mode": mode,
              "realtime": realtime, "corpus": corpus, "fakes": fakes, "engine": engine, "threads": threads,
              "cores": cores, "max_batch": max_batch, "batch_wait_ms": batch_wait_ms, "chunk_seconds": chunk_seconds,
              "backend": backend, "loop": loop, **({"channel": channel, "channel_seed": channel_seed} if line else {})}
    claim_output(out, "latency", params, inputs=[entry.folder, corpus, fakes], overwrite=overwrite)
    server_cpus = allowed[:n_cores]
    prof.update({"cores": n_cores, "server_cpus": server_cpus, "threads": threads or prof["threads"],
                 "backend_asked": backend, "loop_asked": loop})
    calls, corpus_info = make_calls(out, corpus, fakes, min(callers, 8), max(duration, 4.0), say,
                                    training=entry.card.training)
    if line is not None:
        say(f"passing the calls through {line.profile}: sent as {line.encoding} at {line.rate} Hz")
        through_line(calls, line)
    encode_calls(calls, mode, entry.card.ref, chunk_seconds)
    token = secrets.token_urlsafe(24)
    say(f"starting bench serve ({engine}) on cpus {server_cpus} with {prof['threads']} inference thread(s)")
    server = ServerProcess(entry.card.ref, token, prof, engine=engine, threads=prof["threads"],
                           max_batch=max_batch, batch_wait_ms=batch_wait_ms, max_connections=callers + 10,
                           cpus=server_cpus if len(server_cpus) < len(allowed) or cores else None, backend=backend,
                           loop=loop)
    try:
        health = server.health()
        prof["backend"] = health.get("backend")
        prof["server_event_loop"] = health.get("event_loop")
        prof["callers_event_loop"] = loop_factory(loop)[1]
        rest = [c for c in allowed if c not in server_cpus]
        if rest:
            os.sched_setaffinity(0, rest)  # the callers stay off the server's cores
        say(f"{callers} caller(s), {'real time' if realtime else 'as fast as possible'}, {duration:g} s")
        t_drive = time.perf_counter()
        rows, info, errors = run_loop(drive(server.url, token, calls, callers, duration, mode, chunk_seconds,
                                            realtime), loop)
        cpu = server_cpu(health, server.health(), time.perf_counter() - t_drive)
        rss = server.peak_rss_mb()
    finally:
        os.sched_setaffinity(0, allowed)
        server.stop()
    sent = sum(i["sent"] for i in info)
    if not rows:
        why = "; ".join(sorted({i["error"] for i in info if i.get("error")}))[:300]
        why = why or (f"errors {errors}" if errors else "no caller sent a chunk")
        raise RunFailed(f"no chunk got a verdict ({sent} sent; {why}); nothing written")
    parts = {p: [] for p in PARTS}
    for r in rows:
        parts["transmission"].append(r["t_received"] - r["t_client_sent"])
        parts["queueing"].append(r["t_inference_start"] - r["t_received"])
        parts["inference"].append(r["t_inference_end"] - r["t_inference_start"])
        parts["server"].append(r["t_sent"] - r["t_received"])
        parts["reply"].append(r["t_client_received"] - r["t_sent"])
        parts["end_to_end"].append(r["t_client_received"] - r["t_client_sent"])
    stats = {p: percentiles(v) for p, v in parts.items()}
    isolated = (health.get("isolated_inference_ms") or {}).get(mode)
    floor = (health.get("compute_floor_ms") or {}).get(mode)
    e2e = stats["end_to_end"]
    alerts = _alerts(rows, info, chunk_seconds) if realtime else {"note": "measured in real-time runs only"}
    samples = parts["end_to_end"]
    if len(samples) > 5000:
        samples = list(np.asarray(samples)[np.linspace(0, len(samples) - 1, 5000).astype(int)])
    res = LatencyResult(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        detector={"name": entry.card.detector, "version": entry.card.detector_version,
                  "config": {"model": entry.card.ref}},
        model_version=health.get("model_version", ""), profile=profile, profile_settings=prof, engine=engine,
        mode=mode, realtime=realtime, callers=callers, duration_s=duration, chunk_seconds=chunk_seconds,
        chunks_sent=sent, verdicts=len(rows), dropped=sent - len(rows), errors=errors,
        throughput_chunks_per_s=_throughput(rows),
        parts={k: Percentiles(**v) for k, v in stats.items()},
        batch_size={"mean": float(np.mean([r["batch_size"] for r in rows])) if rows else 0.0,
                    "max": float(max((r["batch_size"] for r in rows), default=0))},
        isolated_inference_ms=isolated, compute_floor_ms=floor,
        compute_floor={"macs_per_chunk": (health.get("macs_per_chunk") or {}).get(mode),
                       "peak_macs_per_s": health.get("peak_macs_per_s"), "device": prof["device"],
                       "definition": "MACs of the model's torch layers to score one chunk as the server does (all "
                                     "its windows; privacy: the server half) / the peak float32 matmul MAC rate "
                                     "measured in the server process (CPU: one thread)"},
        end_to_end_over_isolated=_over(e2e, isolated), end_to_end_over_floor=_over(e2e, floor),
        alerts=alerts, server_peak_rss_mb=rss, server_cpu=cpu, all_connected=all_connected(rows, info),
        corpus=corpus_info, simulated=corpus_info["simulated"],
        line=line.to_dict() if line else clean_line() if mode == "raw" else {},
        paper=[DEVOX_TABLE3],
        timings={"latency": {"p50_ms": e2e.get("p50_ms"), "p95_ms": e2e.get("p95_ms"), "p99_ms": e2e.get("p99_ms"),
                             "samples_ms": [float(v) for v in samples], "profile": profile, "callers": callers}},
        run=run_info(command),
        notes=["loopback: transmission and reply are the local network stack's, not a phone uplink's"]
        + (["simulated speech: the alert times describe the simulation"] if corpus_info["simulated"] else [])
        + ([f"calls through the {line.profile} channel, sent as {line.encoding} at {line.rate} Hz"] if line else [])
        + ([alerts["caveat"]] if alerts.get("caveat") else []),
    )
    res.save(out / "latency.json")
    return res


def all_connected(rows: list[dict[str, Any]], info: list[dict[str, Any]]) -> dict[str, Any]:
    """End-to-end percentiles of the chunks sent once every caller was connected and streaming: the load the
    server holds, without the connection storm of the start (every call connects within the first second, each
    WebSocket handshake costing the server CPU while the first calls already stream)."""
    starts = [i["t0_wall"] for i in info]
    if not starts:
        return {}
    t_all = max(starts)
    e2e = [r["t_client_received"] - r["t_client_sent"] for r in rows if r["t_client_sent"] >= t_all]
    return {"from_s": (t_all - min(starts)) / 1000.0, **percentiles(e2e)}


def server_cpu(before: dict[str, Any], after: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The server's CPU per chunk while the callers ran, from two /healthz readings: in its inference threads'
    scoring, and outside it (the event loop: WebSocket frames, decoding, JSON, futures; the hand-over to the
    inference threads), and how busy the process was (CPU seconds over wall seconds; 1.0 = one core)."""
    b, a = before.get("cpu") or {}, after.get("cpu") or {}
    chunks = a.get("chunks", 0) - b.get("chunks", 0)
    if not chunks or "process_cpu_s" not in a or "process_cpu_s" not in b:
        return {}
    proc = a["process_cpu_s"] - b["process_cpu_s"]
    inf = a["inference_cpu_s"] - b["inference_cpu_s"]
    return {"chunks": chunks, "wall_s": wall_s, "process_cpu_s": proc, "inference_cpu_s": inf,
            "inference_ms_per_chunk": 1000.0 * inf / chunks,
            "outside_inference_ms_per_chunk": 1000.0 * (proc - inf) / chunks,
            "cores_busy": proc / wall_s if wall_s > 0 else None}


def _alerts(rows: list[dict[str, Any]], info: list[dict[str, Any]], chunk_s: float) -> dict[str, Any]:
    """Per caller's first pass through its call: ms from the moment the fake segment starts (in the call's
    audio time) to the first alert on a chunk at or after it (calls with no such alert are misses), beside the
    false alarms before it (chunks, and calls with any) and the chunk-level AUROC of the streamed chunks (a
    chunk before the fake's start is real, 0; at or after it fake, 1), without which an alert time means
    little: a detector that alerts on everything alerts on every call's first fake chunk too."""
    from bench.evaluation.detection_metrics import auroc

    by: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["caller"], []).append(r)
    times, missed, false_chunks, false_calls, n = [], 0, 0, 0, 0
    labels: list[int] = []
    scores: list[float] = []
    for k, inf in enumerate(info):
        start_chunk = int(np.ceil(inf["fake_start"] / chunk_s - 1e-9))
        mine = sorted((r for r in by.get(k, []) if r["seq"] < inf["n_frames"]), key=lambda r: r["seq"])
        for r in mine:
            labels.append(int(r["seq"] >= start_chunk))
            scores.append(float(r["score"]))
        before = sum(1 for r in mine if r["seq"] < start_chunk and r["alert"])
        false_chunks += before
        false_calls += before > 0
        if inf["sent"] <= start_chunk:
            continue
        n += 1
        hit = next((r for r in mine if r["seq"] >= start_chunk and r["alert"]), None)
        if hit is None:
            missed += 1
            continue
        # chunk i holds audio [i, i + 1) chunk lengths and is sent when recorded, at t0 + i chunk lengths
        fake_starts_at = inf["t0_wall"] + (inf["fake_start"] - chunk_s) * 1000.0
        times.append(hit["t_client_received"] - fake_starts_at)
    n_real = len(labels) - sum(labels)
    chunk_auc = auroc(labels, scores) if labels else float("nan")
    caveat = None
    if (not np.isnan(chunk_auc) and chunk_auc < SEPARATES) or (n_real and false_chunks == n_real):
        auc_text = "unknown" if np.isnan(chunk_auc) else f"{100 * chunk_auc:.1f}%"
        caveat = (f"the detector does not separate these calls (chunk AUROC {auc_text}, {false_chunks} of {n_real} "
                  "real chunks alerted): the alert times say nothing about detection")
    return {"calls_turning_fake": n, "alerted": len(times), "missed": missed, "caveat": caveat,
            "real_chunks": n_real, "fake_chunks": sum(labels), "false_alarm_chunks": false_chunks,
            "false_alarm_calls": false_calls, "calls": sum(1 for k in range(len(info)) if by.get(k)),
            "chunk_auroc": None if np.isnan(chunk_auc) else chunk_auc, **percentiles(times),
            "definition": "client receive time of the first alert on a chunk at or after the fake segment's start, "
                          "minus the moment the fake segment starts in real time (chunks are sent once recorded, so "
                          "at least one chunk length); false alarms: alerts on chunks before the fake's start "
                          "(false_alarm_calls: calls with any); chunk_auroc: the verdict scores of every answered "
                          "chunk of the calls' first pass, real (before the fake) vs fake (at or after it)"}


def _over(e2e: dict[str, Any], ref_ms: float | None) -> dict[str, float | None]:
    """End-to-end p50/p95/p99 as multiples of ``ref_ms`` (None where either is unknown)."""
    return {k: (e2e[f"{k}_ms"] / ref_ms if ref_ms and e2e.get(f"{k}_ms") else None) for k in ("p50", "p95", "p99")}


def _throughput(rows: list[dict[str, Any]]) -> float:
    """Verdicts per second between the first chunk sent and the last verdict received."""
    if len(rows) < 2:
        return 0.0
    span = max(r["t_client_received"] for r in rows) - min(r["t_client_sent"] for r in rows)
    return len(rows) / (span / 1000.0) if span > 0 else 0.0
