"""Where a chunk's CPU goes in `bench serve` on one core (issue #21's capacity goal), measured in two parts.

Usage:

    BENCH_MODEL_STORE=zoo/store python benchmarks/serve_capacity.py --model devox-small@1

1. **Inference**: the model's ONNX export, as bench exported it before issue #21 and after each of its
   changes, run by ONNX Runtime on one thread, on batches of 1-second chunks (raw mode: device half then
   server half). The variants run interleaved, repeat after repeat, so that the machine's drift hits them
   alike. The first variant rebuilds the earlier arithmetic in this script (a strided one-channel
   convolution for the 16 -> 8 kHz low-pass; plain Conv1d and GroupNorm export); every variant's outputs
   are checked against eager torch.
2. **The WebSocket layer alone**: a bare `websockets` server (no model, no bench code) pinned to one core
   takes the callers' traffic (``--callers`` calls, one 32,000-byte binary frame per second each, as 1 s of
   16 kHz PCM) and answers each frame with a verdict-sized JSON text frame; the server process's CPU per
   frame over ``--seconds``, on asyncio's event loop and on uvloop. This is the floor of what
   `bench serve` spends outside inference with this library.

Prints the BENCHMARKS.md section. Run it on an otherwise idle machine: it pins to cores 0 and 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402

REPLY = json.dumps({"type": "verdict", "seq": 12, "score": 0.1234567, "verdict": "fake", "alert": True,
                    "threshold": 0.0, "model": "devox-small@1", "model_version": "0123456789ab", "batch_size": 32,
                    "t_received": 1765000000000.123, "t_inference_start": 1765000000001.5,
                    "t_inference_end": 1765000000040.2, "t_sent": 1765000000041.0,
                    "call": {"chunks": 12, "fake_chunks": 3, "mean_score": 0.1, "verdict": "fake",
                             "first_alert_seq": 4, "errors": 0}})


# ------------------------------------------------------------------ 1. inference
def _variants(net):
    """(name, device-half module to export, rewrite for ONNX Runtime?) from the earliest to today's."""
    import torch

    from bench.serve.onnx_backend import Conv1dAs2d, swap_layers

    class StridedLowpass(torch.nn.Module):
        """The device half as it computed before issue #21: the low-pass as a strided one-channel convolution."""

        def __init__(self, device_half):
            super().__init__()
            self.device_half = device_half

        def forward(self, x):
            d = self.device_half
            h = d.lowpass
            x = torch.nn.functional.conv1d(x[:, None], h, stride=d.factor, padding=h.shape[-1] // 2)[:, 0]
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True) + 1e-7)
            return d.feature_extractor(x)

    def convs_only(m):
        return swap_layers(m, lambda layer: Conv1dAs2d(layer) if isinstance(layer, torch.nn.Conv1d) else None)

    dev, srv = net.device_half, net.server_half
    return [("before issue #21: strided low-pass, Conv1d, GroupNorm + Mul + Add", StridedLowpass(dev), srv, False),
            ("+ low-pass over blocks (one dense convolution)", dev, srv, False),
            ("+ Conv1d exported as height-1 Conv2d (NCHWc kernels)", convs_only(dev), convs_only(srv), False),
            ("+ per-channel GroupNorm as one InstanceNormalization (today's export)", dev, srv, True)]


def inference(model: str, batch: int, repeats: int) -> list[list[str]]:
    import torch

    from bench.serve.engine import load_detector
    from bench.serve.onnx_backend import for_onnx_runtime, onnx_bytes, session

    os.sched_setaffinity(0, [0])
    torch.set_num_threads(1)
    _entry, det = load_detector(model)
    scorer = det.load_scorer()
    net = scorer.modules[0].eval()
    x = (0.1 * torch.randn(batch, 16_000, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        want = net.server_half(net.device_half(x).float()).numpy()
    runs = []
    for name, dev, srv, rewrite in _variants(net):
        with torch.no_grad():
            feats = dev(x).float()
        d = session(onnx_bytes(for_onnx_runtime(dev) if rewrite else dev, x))
        s = session(onnx_bytes(for_onnx_runtime(srv) if rewrite else srv, feats))
        got = s.run(None, {"x": d.run(None, {"x": x.numpy()})[0]})[0]
        if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
            raise SystemExit(f"{name}: outputs differ from eager torch")
        runs.append((name, d, s, []))
    xn = x.numpy()
    for _ in range(repeats):
        for _name, d, s, times in runs:
            t = time.perf_counter()
            s.run(None, {"x": d.run(None, {"x": xn})[0]})
            times.append(1000 * (time.perf_counter() - t))
    first = float(np.median(runs[0][3]))
    rows = []
    for name, _d, _s, times in runs:
        ms = float(np.median(times))
        rows.append([name, f"{ms:.2f}", f"{ms / batch:.3f}", f"{1000 * batch / ms:,.0f}", f"{first / ms:.2f}x"])
    return rows


# ------------------------------------------------------------------ 2. the WebSocket layer
def _loop(kind: str):
    from bench.serve.eventloop import loop_factory

    return loop_factory(kind)[0]


def ws_server(port: int, kind: str) -> None:
    import gc

    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def answer(ws):
        try:
            async for _frame in ws:
                await ws.send(REPLY)
        except ConnectionClosed:  # the caller hung up between a frame and its reply
            pass

    async def main():
        async with serve(answer, "127.0.0.1", port, compression=None, max_size=2**20):
            print("ready", flush=True)
            await asyncio.Event().wait()

    gc.collect()
    gc.freeze()
    with asyncio.Runner(loop_factory=_loop(kind)) as r:
        r.run(main())


def ws_clients(port: int, callers: int, seconds: float, kind: str) -> None:
    from websockets.asyncio.client import connect

    frame = os.urandom(32_000)

    async def call(k: int, t0: float) -> None:
        async with connect(f"ws://127.0.0.1:{port}", compression=None, open_timeout=60) as ws:
            async def drain():
                async for _ in ws:
                    pass

            reader = asyncio.ensure_future(drain())
            start = t0 + k / callers
            i = 0
            while (when := start + i) < t0 + seconds:
                await asyncio.sleep(max(0.0, when - time.perf_counter()))
                await ws.send(frame)
                i += 1
            reader.cancel()

    async def main():
        t0 = time.perf_counter() + 2.0
        await asyncio.gather(*(call(k, t0) for k in range(callers)))

    with asyncio.Runner(loop_factory=_loop(kind)) as r:
        r.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def websocket_floor(callers: int, seconds: float, kind: str, port: int) -> dict[str, float]:
    """CPU ms per frame of the bare server (32,000-byte frame in, verdict-sized text out) while ``callers`` stream."""
    me = [sys.executable, __file__]
    srv = subprocess.Popen([*me, "--_server", str(port), "--_loop", kind], stdout=subprocess.PIPE, text=True,
                           preexec_fn=lambda: os.sched_setaffinity(0, [0]))
    try:
        srv.stdout.readline()
        cli = subprocess.Popen([*me, "--_clients", str(port), "--_loop", kind, "--callers", str(callers),
                                "--seconds", str(seconds)], preexec_fn=lambda: os.sched_setaffinity(0, [1]))
        time.sleep(2.0 + 0.25 * seconds)  # connections made, streaming steadily
        window = 0.5 * seconds
        c0, t0 = cpu_seconds(srv.pid), time.perf_counter()
        time.sleep(window)
        c1, t1 = cpu_seconds(srv.pid), time.perf_counter()
        cli.wait(timeout=seconds + 120)
    finally:
        srv.kill()
        srv.wait()
    frames = callers * (t1 - t0)
    return {"ms_per_frame": 1000 * (c1 - c0) / frames, "cores_busy": (c1 - c0) / (t1 - t0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="devox-small@1")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--callers", type=int, default=700)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--_server", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_clients", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_loop", default="asyncio", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._server:
        return ws_server(args._server, args._loop)
    if args._clients:
        return ws_clients(args._clients, args.callers, args.seconds, args._loop)

    inf = inference(args.model, args.batch, args.repeats)
    ws = [[kind, f"{(f := websocket_floor(args.callers, args.seconds, kind, args.port))['ms_per_frame']:.3f}",
           f"{f['cores_busy']:.2f}"] for kind in ("asyncio", "uvloop")]
    print("\n".join([
        header("Where a chunk's CPU goes in bench serve (one core)"),
        f"- command: `python benchmarks/serve_capacity.py --model {args.model} --batch {args.batch} --repeats "
        f"{args.repeats} --callers {args.callers} --seconds {args.seconds:g}`", "",
        f"Inference: {args.model}'s ONNX export, whole model (device then server half) on a batch of {args.batch} "
        f"1-second chunks, one thread, median of {args.repeats} interleaved repeats:", "",
        table(["export", f"ms per batch of {args.batch}", "ms per chunk", "chunks / s on one core (inference only)",
               "speed-up over the first"], inf), "",
        f"The WebSocket layer alone (`websockets`, no model, no bench code): {args.callers} callers, one 32,000-byte "
        "frame per second each, a verdict-sized JSON reply per frame; server pinned to core 0, callers on core 1:", "",
        table(["event loop", "server CPU ms per frame", "cores busy"], ws),
    ]))


if __name__ == "__main__":
    main()
