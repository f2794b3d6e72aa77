"""Every GPU measurement in one go, for the next time a GPU machine is lent (about 8 minutes on one GPU):

1. scoring RTFx on CUDA of the waveform zoo (aasist, aasist-l, lfcc-lcnn, specrnet, rawnet2: float32, batches
   of 32 windows of 4.04 s), beside each network's compute floor on that GPU (MACs / the measured peak rate);
2. the neural generator ``world-hifigan`` on CUDA: x real time of whole conversions and of the HiFi-GAN vocoder
   alone, and streaming in 250 ms chunks (per-chunk compute beside the chunk);
3. ``bench latency --profile core-gpu`` (CUDA inference, eager torch) at 1 and ``--callers`` real-time callers
   for the packaged ``aasist-asvspoof2019`` (no training) and two split models, devox-small and deepdetection,
   trained first for 1-2 epochs on a small simulated corpus (raw and privacy mode).

    python benchmarks/gpu_all.py --out runs/gpu-all        # on a CUDA machine; prints the tables
    python benchmarks/gpu_all.py --dry-run --out /tmp/gpu  # anywhere: the CPU path in seconds, then exits 0

Writes OUT/gpu_all.json (every figure, and any step's failure) and prints Markdown tables for BENCHMARKS.md.
Steps are skipped, not started, once ``--budget-s`` (default 450 s) would be exceeded; a step that fails is
recorded and the next one runs. The trained models have seen simulated speech for a minute: their latency is
real, their alert figures and AUROC describe nothing but this run. Without a CUDA GPU it says so in one line
and exits 1 (``--dry-run``: 0, after checking the CPU path).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, machine, table  # noqa: E402

SR, WINDOW = 16_000, 64_600
ZOO = [("aasist", "aasist"), ("aasist", "aasist-l"), ("lfcc-lcnn", "lfcc-lcnn"), ("specrnet", "specrnet"),
       ("rawnet2", "rawnet2")]
#: (detector, store name, --set settings) of the split models trained before their latency runs
SPLIT = [("devox", "gpu-devox", ["epochs=2"]), ("deepdetection", "gpu-deepdetection", ["epochs=1", "ae_epochs=1"])]


class Budget:
    """Seconds left of the run's budget; a step is started only if its estimate fits."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def allows(self, estimate_s: float) -> bool:
        return time.monotonic() + estimate_s <= self.end


def scoring_rtfx(device: str, batch: int, repeats: int, zoo: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per zoo network: RTFx of a batch of 4.04-s windows on ``device`` (best of ``repeats``), its MACs per
    window and its compute floor at the device's measured peak MAC rate."""
    import torch

    from bench.api.registry import DETECTORS
    from bench.serve.compute_floor import count_macs, peak_mac_rate

    peak = peak_mac_rate(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    for name, arch in zoo:
        det = DETECTORS.create(name)
        net = det.build(det.architectures[arch]).eval()
        macs = count_macs(net, WINDOW)
        net = net.to(device)
        x = (0.1 * torch.randn(batch, WINDOW)).to(device)
        with torch.no_grad():
            net(x)
            sync()
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                net(x)
                sync()
                best = min(best, time.perf_counter() - t)
        floor_s = batch * macs / peak
        rows.append({"detector": name, "architecture": arch, "device": device, "batch": batch,
                     "batch_s": best, "rtfx": batch * WINDOW / SR / best, "mmacs_per_window": macs / 1e6,
                     "peak_gmacs_per_s": peak / 1e9, "floor_s": floor_s, "over_floor": best / floor_s})
    return rows


def generator_speed(device: str, clips: int) -> list[dict[str, Any]]:
    """``world-hifigan`` on ``device``: whole conversions and the vocoder alone (x real time, after a warm-up), and
    one streaming run in 250 ms chunks, on simulated #0 clips."""
    import numpy as np
    import torch

    from bench.api.registry import GENERATORS
    from bench.challenges.simulate import Item, make_speakers, render

    sp = make_speakers(2, 0)
    utt = [render(Item(f"sim-spk{s:03d}-c00-s{k}-desktop", s, 0, k, "desktop"), sp, 0)[0]
           for s in (0, 1) for k in range(max(2, clips))][:clips + 1]
    gen = GENERATORS.create("world-hifigan", device=device)
    gen.check()
    gen.load()
    target = gen.prepare_target(utt[0])
    sources = utt[1:]
    seconds = sum(len(x) for x in sources) / SR

    def timed(fn: Any) -> float:
        fn(sources[0][:SR])  # warm-up (kernels, allocations)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for x in sources:
            fn(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    whole = timed(lambda x: gen.convert(x, target))
    vocoder = timed(lambda x: gen.vocoder.vocode(gen.vocoder.mel(x), len(x)))
    _, stats = gen.stream(np.concatenate(sources[:2]), target, 250)
    s = stats.summary()
    return [{"device": device, "clips": len(sources), "audio_s": seconds, "convert_x_rt": seconds / whole,
             "vocoder_x_rt": seconds / vocoder, "chunk_ms": s["chunk_ms"], "delay_ms": s["algorithmic_delay_ms"],
             "chunk_compute_mean_ms": s["compute_ms_mean"], "chunk_compute_p95_ms": s["compute_ms_p95"],
             "realtime_fraction": s["realtime_fraction"]}]


def simulate(root: Path, workers: int) -> tuple[Path, Path]:
    """A small simulated corpus (4 speakers, 3 challenges) and its WORLD fakes: callers' audio and training data."""
    from bench.runs.generate import generate
    from bench.runs.simulate_corpus import simulate_corpus

    corpus, fakes = root / "corpus", root / "fakes"
    if not (corpus / "bench.json").is_file():
        simulate_corpus(corpus, speakers=4, sentences=2, challenges=[0, 1, 3], seed=0, workers=workers)
    if not (fakes / "bench.json").is_file():
        generate(corpus, fakes, pairs_per_source=2, workers=workers)
    return corpus, fakes


def train(detector: str, name: str, settings: list[str], corpus: Path, fakes: Path, out: Path) -> str:
    """``bench train`` of a tiny split model on CUDA into the run's own model store (resumes if rerun); its name."""
    cmd = [sys.executable, "-m", "bench", "train", "--detector", detector, "--corpus", str(corpus), "--fakes",
           str(fakes), "--out", str(out / "models" / name), "--name", name, "--seeds", "0", "--device", "cuda"]
    for s in settings:
        cmd += ["--set", s]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip() or "?").splitlines()[-1]
        raise RuntimeError(f"bench train {detector}: exit {res.returncode}: {last}")
    return name


def latency_row(model: str, mode: str, callers: int, duration: float, corpus: Path, fakes: Path,
                out: Path) -> dict[str, Any]:
    """One ``bench latency --profile core-gpu`` run, summarised."""
    from bench.serve.latency import run_latency

    folder = out / "latency" / f"{model}-{mode}-{callers}"
    r = run_latency(model, folder, profile="core-gpu", callers=callers, duration=duration, mode=mode,
                    corpus=str(corpus), fakes=str(fakes), backend="torch", overwrite=True,
                    command=f"benchmarks/gpu_all.py ({model}, {mode}, {callers})",
                    progress=lambda m: print("  " + m, file=sys.stderr, flush=True))
    if r is None:
        raise RuntimeError("bench latency skipped core-gpu (no CUDA GPU)")
    e2e, a = r.parts["end_to_end"], r.alerts
    return {"model": model, "mode": mode, "callers": callers, "p50_ms": e2e.p50_ms, "p95_ms": e2e.p95_ms,
            "p99_ms": e2e.p99_ms, "inference_p95_ms": r.parts["inference"].p95_ms,
            "throughput": r.throughput_chunks_per_s, "dropped": r.dropped, "sent": r.chunks_sent,
            "isolated_ms": r.isolated_inference_ms, "floor_ms": r.compute_floor_ms,
            "alert_p50_ms": a.get("p50_ms"), "alerted": a.get("alerted"), "turning_fake": a.get("calls_turning_fake"),
            "false_alarm_chunks": a.get("false_alarm_chunks"), "real_chunks": a.get("real_chunks"),
            "chunk_auroc": a.get("chunk_auroc"), "result": str(folder / "latency.json")}


def _f(v: Any, fmt: str = ",.1f") -> str:
    return "–" if v is None else format(v, fmt)


def report(doc: dict[str, Any]) -> str:
    """The Markdown section: scoring RTFx, latency runs, failures and skips."""
    lines = [header(f"GPU measurements (benchmarks/gpu_all.py{', dry run on the CPU' if doc['dry_run'] else ''})"),
             f"device: {doc['device_name']}\n"]
    rtfx = doc["scoring"]
    if rtfx:
        lines.append(table(["detector (architecture)", "batch of 4.04-s windows", "batch s", "scoring RTFx",
                            "MMACs per window", "peak GMAC/s", "compute floor s", "time / floor"],
                           [[f"{r['detector']} ({r['architecture']})", str(r["batch"]), _f(r["batch_s"], ".4f"),
                             _f(r["rtfx"]), _f(r["mmacs_per_window"], ",.0f"), _f(r["peak_gmacs_per_s"]),
                             _f(r["floor_s"], ".5f"), _f(r["over_floor"]) + "x"] for r in rtfx]))
    gens = doc.get("generators") or []
    if gens:
        lines.append("")
        lines.append(table(["generator", "device", "clips (audio s)", "conversion x real time",
                            "HiFi-GAN alone x real time", "streaming: chunk / delay ms", "chunk compute mean / p95 ms",
                            "chunks in time"],
                           [["world-hifigan", g["device"], f"{g['clips']} ({g['audio_s']:.1f})",
                             _f(g["convert_x_rt"], ".2f"), _f(g["vocoder_x_rt"], ".1f"),
                             f"{g['chunk_ms']:.0f} / {g['delay_ms']:.0f}",
                             f"{_f(g['chunk_compute_mean_ms'])} / {_f(g['chunk_compute_p95_ms'])}",
                             f"{100 * g['realtime_fraction']:.0f}%"] for g in gens]))
    lat = doc["latency"]
    if lat:
        lines.append("")
        lines.append(table(["model", "mode", "callers", "end-to-end ms p50 / p95 / p99", "inference p95 ms",
                            "chunks / s", "dropped", "isolated inference ms", "compute floor ms (MACs / peak)",
                            "alert after the fake p50 ms (alerted)", "false alarms (real chunks)", "chunk AUROC"],
                           [[r["model"], r["mode"], str(r["callers"]),
                             f"{_f(r['p50_ms'])} / {_f(r['p95_ms'])} / {_f(r['p99_ms'])}", _f(r["inference_p95_ms"]),
                             _f(r["throughput"]), f"{r['dropped']} of {r['sent']}", _f(r["isolated_ms"], ".2f"),
                             _f(r["floor_ms"], ".3f"), f"{_f(r['alert_p50_ms'], ',.0f')} ({r['alerted']}/"
                             f"{r['turning_fake']})", f"{r['false_alarm_chunks']} of {r['real_chunks']}",
                             "–" if r["chunk_auroc"] is None else f"{100 * r['chunk_auroc']:.1f}%"] for r in lat]))
    for what in ("failed", "skipped"):
        for item in doc[what]:
            lines.append(f"- {what}: {item['step']}: {item['why']}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/gpu-all", help="folder for gpu_all.json, the models and latency runs")
    ap.add_argument("--callers", type=int, default=100, help="the loaded run's callers (the other is 1)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds each latency caller streams")
    ap.add_argument("--batch", type=int, default=32, help="windows per scoring batch")
    ap.add_argument("--budget-s", type=float, default=450.0, help="start no step that would end after this")
    ap.add_argument("--dry-run", action="store_true", help="check the script on the CPU (one small network, "
                                                           "batch 1), skip the GPU steps, exit 0")
    args = ap.parse_args()
    import torch

    from bench.fileio import write_json

    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        print("gpu_all: no CUDA GPU here (torch.cuda.is_available() is False); nothing measured "
              "(--dry-run checks the script on the CPU)", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_MODEL_STORE"] = str(out / "store")  # the trained models stay in this run's own store
    budget = Budget(args.budget_s)
    doc: dict[str, Any] = {"dry_run": args.dry_run, "machine": machine(), "scoring": [], "generators": [],
                           "latency": [],
                           "failed": [], "skipped": [],
                           "device_name": torch.cuda.get_device_name(0) if cuda else "cpu (no CUDA GPU)"}

    def step(name: str, estimate_s: float, fn: Any) -> Any:
        if not budget.allows(estimate_s):
            doc["skipped"].append({"step": name, "why": f"the {args.budget_s:.0f} s budget would be exceeded"})
            return None
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - recorded per step; the next one runs
            doc["failed"].append({"step": name, "why": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"})
            return None

    if args.dry_run:
        doc["scoring"] = step("scoring RTFx on the CPU (dry run)", 30,
                              lambda: scoring_rtfx("cpu", 1, 1, [("lfcc-lcnn", "lfcc-lcnn")])) or []
        doc["generators"] = step("world-hifigan on the CPU (dry run)", 60, lambda: generator_speed("cpu", 1)) or []
        doc["skipped"].append({"step": "core-gpu latency and CUDA scoring", "why": "dry run"
                               + ("" if cuda else ": no CUDA GPU here")})
    else:
        doc["scoring"] = step("scoring RTFx on CUDA", 60, lambda: scoring_rtfx("cuda", args.batch, 5, ZOO)) or []
        doc["generators"] = step("world-hifigan on CUDA", 45, lambda: generator_speed("cuda", 4)) or []
        data = step("simulated corpus and fakes", 90, lambda: simulate(out / "audio", os.cpu_count() or 1))
        models = [("aasist-asvspoof2019", ["raw"])]
        for detector, name, settings in SPLIT:
            if data and step(f"train {name}", 60, lambda d=detector, n=name, s=settings: train(d, n, s, *data, out)):
                models.append((name, ["raw", "privacy"]))
        corpus, fakes = data or (None, None)
        for model, modes in models:
            for mode in modes:
                for n in (1, args.callers):
                    row = step(f"bench latency core-gpu {model} {mode} {n}", args.duration + 25,
                               lambda m=model, md=mode, c=n: latency_row(m, md, c, args.duration, corpus, fakes, out))
                    if row:
                        doc["latency"].append(row)
    write_json(out / "gpu_all.json", doc)
    print(report(doc))
    print(f"\nwrote {out / 'gpu_all.json'}", file=sys.stderr)
    if args.dry_run and not cuda:
        print("skipped: no CUDA GPU here; the dry run checked the CPU path only", file=sys.stderr)
    return 0 if args.dry_run or not doc["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
