"""The edge server's latency figures in one run: a naive one-request-one-inference server vs `bench serve`.

Usage (models from `bench train`, e.g. the detector zoo's store):

    BENCH_MODEL_STORE=zoo/store python benchmarks/serve_latency.py --model devox-small@1 --aasist aasist-l@1 \
        --alert-model lcnn-1s@1 --corpus demo/corpus --fakes demo/fakes-world --out serve-latency

Runs `bench latency` (bench.serve.latency.run_latency) on the edge-cpu profile: the server pinned to one core
with one inference thread, the callers on the other core of a 2-core machine, streaming in real time at
1, 10, 50, 200 and 700 concurrent callers (issue #21's capacity goal: 700 at p95 <= 250 ms, no chunk
dropped), each with the naive engine and bench serve's micro-batching engine; then AASIST-L alone at 1
caller (its p95 against its compute floor) and ``--alert-model`` (a detector that separates 1-second
chunks, e.g. LFCC-LCNN trained with ``--set crop_seconds=1``) at ``--alert-callers`` for the alert figures.
A finished run's folder is reused (delete it to measure again). Prints the BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the default small detector's model (devox-small)")
    ap.add_argument("--aasist", default="", help="an AASIST-L model for the compute-floor target ('' to skip)")
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--fakes", default=None)
    ap.add_argument("--out", default="serve-latency")
    ap.add_argument("--callers", default="1,10,50,200,700")
    ap.add_argument("--alert-model", default="", help="a detector that separates 1-second chunks ('' to skip)")
    ap.add_argument("--alert-callers", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--mode", default="raw")
    ap.add_argument("--backend", default="auto", help="the servers' inference backend (auto, onnx, torch)")
    args = ap.parse_args()

    from bench.serve.latency import run_latency

    out = Path(args.out)
    runs = [(engine, int(n), args.model) for n in args.callers.split(",") for engine in ("naive", "batched")]
    if args.aasist:
        runs += [("batched", 1, args.aasist)]
    if args.alert_model:
        runs += [("batched", args.alert_callers, args.alert_model)]
    results = []
    for engine, n, model in runs:
        folder = out / f"{model.replace('@', '-')}-{engine}-{n}"
        if (folder / "latency.json").is_file():
            from bench.evaluation.results import load_latency

            results.append(load_latency(folder))
            continue
        print(f"== {model} {engine} {n} caller(s)", flush=True)
        r = run_latency(model, folder, profile="edge-cpu", callers=n, duration=args.duration, mode=args.mode,
                        corpus=args.corpus, fakes=args.fakes, engine=engine, backend=args.backend,
                        command=f"benchmarks/serve_latency.py ({engine}, {n})", progress=lambda m: print("  " + m))
        results.append(r)
    print(report(results, args))


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:,.1f}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}x"


def _cpu(c: dict) -> str:
    if not c:
        return "–"
    return (f"{c['inference_ms_per_chunk']:.3f} / {c['outside_inference_ms_per_chunk']:.3f} "
            f"({c['cores_busy']:.2f})")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def report(results: list, args: argparse.Namespace) -> str:
    rows = []
    for r in results:
        e2e, inf, q = r.parts["end_to_end"], r.parts["inference"], r.parts["queueing"]
        a = r.alerts
        server = "naive" if r.engine == "naive" else "bench serve"
        ps = r.profile_settings
        server += f" ({ps.get('backend')}, {ps.get('server_event_loop') or 'asyncio'})"
        rows.append([r.detector.config["model"], server, str(r.callers),
                     f"{_ms(e2e.p50_ms)} / {_ms(e2e.p95_ms)} / {_ms(e2e.p99_ms)} / {_ms(e2e.max_ms)}",
                     _ms(r.all_connected.get("p95_ms")),
                     f"{_ms(q.p95_ms)}", f"{_ms(inf.p50_ms)} / {_ms(inf.p95_ms)}", f"{r.batch_size.get('mean', 0):.1f}",
                     f"{r.throughput_chunks_per_s:.1f}", f"{r.dropped} of {r.chunks_sent}",
                     json.dumps(r.errors) if r.errors else "0",
                     f"{_ms(r.isolated_inference_ms)} / {_ms(r.compute_floor_ms)}",
                     f"{_ratio(r.end_to_end_over_isolated.get('p95'))} / {_ratio(r.end_to_end_over_floor.get('p95'))}",
                     f"{a.get('alerted', 0)}/{a.get('calls_turning_fake', 0)}, p50 {_ms(a.get('p50_ms'))}",
                     f"{a.get('false_alarm_chunks', '–')}/{a.get('real_chunks', '–')} chunks, "
                     f"{a.get('false_alarm_calls', '–')}/{a.get('calls', '–')} calls",
                     _pct(a.get("chunk_auroc")),
                     _cpu(r.server_cpu),
                     f"{r.server_peak_rss_mb or 0:.0f}"])
    rows.append(["DevoX Table 3 (quoted): 1 CPU core, 8 GB edge", "socket + inference containers", "1",
                 "mean 2,118 (968 transmission + 1,150 inference)", "–", "–", "mean 1,150 (320-1,717)", "–", "–", "–",
                 "–", "–", "–", "–", "–", "–", "–", "–"])
    return "\n".join([
        header("Edge server latency: naive server vs bench serve (edge-cpu profile)"),
        f"- command: `python benchmarks/serve_latency.py --model {args.model} --aasist {args.aasist} --alert-model "
        f"{args.alert_model} --alert-callers {args.alert_callers} --callers {args.callers} --corpus {args.corpus} "
        f"--fakes {args.fakes} --duration {args.duration:g} --backend {args.backend}`",
        "- profile edge-cpu: the server pinned to 1 core (1 inference thread, 8 GB address-space cap), the "
        "callers on the other core; real-time callers (one 1-second chunk per second each, calls starting spread "
        "over the first second); loopback",
        "- calls: simulated speech (an original turning into its WORLD fake halfway; up to 8 distinct calls, "
        "cycled over the callers; the model's held-out test speakers when it trained on this corpus): alert "
        "figures describe the simulation", "",
        table(["model", "server", "callers", "end-to-end ms p50 / p95 / p99 / max",
               "end-to-end p95 ms once all callers were connected", "queueing p95 ms",
               "inference ms p50 / p95 (batch)", "mean batch", "chunks / s", "dropped", "errors",
               "isolated inference ms / compute floor ms (MACs / peak)", "p95 / isolated / floor",
               "calls alerted after the fake, ms", "false alarms before the fake", "chunk AUROC",
               "server CPU ms per chunk: scoring / outside it (cores busy)", "server peak RSS MB"], rows),
    ])


if __name__ == "__main__":
    main()
