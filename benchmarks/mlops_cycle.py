"""Issue #12's MLOps figures: one `bench mlops cycle` on the simulated corpus, timed beside DevoX Table 2,
with a live real-time call streaming through the hot swap.

Usage (a split model trained on the corpus, in a store this script may add a version to):

    cp -r zoo/store mlops-store
    BENCH_MODEL_STORE=mlops-store python benchmarks/mlops_cycle.py --model devox --corpus demo/corpus \
        --fakes demo/fakes-world --calls 302 --out mlops-run

A privacy-mode `bench serve` (edge-cpu's single inference thread, following the model's name, keeping
opted-in calls) receives `--calls` labelled calls from the model's training and validation speakers
(never its test speakers, on whom the gate evaluates), each call's first 4 seconds. Then the cycle runs:
upload (fetched from the server over loopback HTTP, GET /v1/kept), preparation, 30 epochs of server-half
training, registration, gate, deployment. Meanwhile one caller streams in real time, and its dropped
chunks and versions are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a split model's NAME (the server follows its promotions)")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--fakes", required=True)
    ap.add_argument("--calls", type=int, default=302, help="labelled calls kept by the edge (DevoX: 302)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default="mlops-run")
    args = ap.parse_args()

    import numpy as np

    from bench.audio import load_entry
    from bench.data.corpus import open_dataset
    from bench.models.store import resolve
    from bench.references.devox import DEVOX_TABLE2
    from bench.serve.client import DeviceHalf, EdgeCall
    from bench.serve.config import ServeConfig
    from bench.serve.mlops import mlops_cycle
    from bench.serve.server import ServerThread

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    card = resolve(args.model).card
    speakers = set(card.training["splits"]["train"]) | set(card.training["splits"]["val"])
    orig = [r for r in open_dataset(args.corpus) if r["subject"] in speakers]
    fake = [r for r in open_dataset(args.fakes) if r["imposter"] in speakers]
    half = args.calls // 2
    calls = [(load_entry(r["audio"])[:64000], 0) for r in orig[:half]] + \
            [(load_entry(r["audio"])[:64000], 1) for r in fake[:args.calls - half]]
    token = secrets.token_urlsafe(24)
    keep = out / "kept"
    device = DeviceHalf(card.ref)
    frames = [[device.frame(w[i:i + 16000], k) for k, i in enumerate(range(0, len(w), 16000))
               if len(w[i:i + 16000]) >= 1600] for w, _ in calls]
    live_wave = np.tile(calls[0][0], 40)

    async def keep_calls(url: str) -> float:
        t = time.perf_counter()
        for fr, (_, label) in zip(frames, calls, strict=True):
            call = await EdgeCall.connect(url, token, mode="privacy", keep=True, label=label)
            for f in fr:
                await call.send_frame(f)
                await call.recv()
            await call.end()
        return time.perf_counter() - t

    async def live(url: str, stop: asyncio.Event, log: dict) -> None:
        call = await EdgeCall.connect(url, token, mode="privacy")
        replies = []

        async def reader() -> None:
            while True:
                d = await call.recv()
                if d["type"] == "call_end":
                    log["end"] = d
                    return
                replies.append(d)

        task = asyncio.ensure_future(reader())
        i = 0
        t0 = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(max(0.0, t0 + i - time.perf_counter()))
            await call.send_frame(device.frame(live_wave[16000 * i:16000 * (i + 1)], i))
            i += 1
        await call.ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(task, 60)
        await call.close()
        log.update({"sent": i, "replies": replies})

    cfg = ServeConfig(model=card.name, token=token, port=0, watch_seconds=0.5, keep_dir=str(keep), threads=1)
    with ServerThread(cfg) as st:
        kept_s = asyncio.run(keep_calls(st.url))
        print(f"kept {len(calls)} calls in {kept_s:.1f} s", flush=True)
        log: dict = {}

        async def cycle_with_live_call() -> dict:
            stop = asyncio.Event()
            task = asyncio.ensure_future(live(st.url, stop, log))
            doc = await asyncio.to_thread(mlops_cycle, card.name, st.url, out / "cycle", token=token,
                                          epochs=args.epochs,
                                          threads=2, server=st.url, progress=lambda m: print("  " + m, flush=True))
            await asyncio.sleep(3)
            stop.set()
            await task
            return doc

        doc = asyncio.run(cycle_with_live_call())
    models = [r.get("model") for r in log["replies"]]
    errors = sum(1 for r in log["replies"] if r["type"] == "error")
    quoted = {"upload": DEVOX_TABLE2["upload_s"], "preparation": DEVOX_TABLE2["preparation_s"],
              "training": DEVOX_TABLE2["training_s"], "deployment": DEVOX_TABLE2["deployment_s"]}
    rows = [[k, f"{v:.2f}", f"{quoted[k]:.2f}" if k in quoted else "– (no such stage)"]
            for k, v in doc["stages_s"].items()]
    print("\n".join([
        header("MLOps cycle (bench mlops cycle) beside DevoX Table 2"),
        f"- command: `python benchmarks/mlops_cycle.py --model {args.model} --corpus {args.corpus} --fakes "
        f"{args.fakes} --calls {args.calls} --epochs {args.epochs}`",
        f"- {doc['running']} -> {doc['candidate']}: {doc['data']['kept_calls']} kept calls "
        f"({doc['data']['new_windows']} labelled 1-s windows, {doc['upload']['bytes']:,} bytes uploaded, "
        f"{doc['upload']['audio_files']} audio files) + {doc['data']['old_training_windows']} windows of the old "
        f"training data; {args.epochs} epochs; gate {'passed' if doc['gate']['passed'] else 'failed'} "
        f"(held-out AUROC {json.dumps({k: round(v, 3) for k, v in doc['gate']['auroc'].items()})}); "
        f"promoted: {doc['deployment']['promoted']}, server swapped: {doc['deployment'].get('server_swapped')}",
        f"- live real-time call through the cycle: {log['sent']} chunks sent, {len(log['replies'])} answered, "
        f"{errors} errors, {log['sent'] - len(log['replies'])} dropped; versions in order: "
        f"{' -> '.join(dict.fromkeys(m for m in models if m))}",
        "- simulated corpus: the gate's AUROC describes the simulation", "",
        table(["stage", "bench s", "DevoX Table 2 s (quoted, mean of 3)"], rows)]))


if __name__ == "__main__":
    main()
