"""`bench latency`: the edge server under a deployment profile, driven by simulated callers on loopback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from bench.cli.output import console, print_json
from bench.cli.params import number, overwrite_option


def latency(
    model: str = typer.Option(..., "--model", "-m", help="The model to serve: NAME@VERSION, NAME or a folder."),
    profile: str = typer.Option("edge-cpu", help="edge-cpu (1 pinned core, 1 inference thread, 8 GB cap: DevoX's "
                                                 "edge) or core-gpu (CUDA; skipped without a GPU)."),
    callers: int = typer.Option(1, min=1, max=10_000, help="Concurrent simulated callers."),
    duration: float = typer.Option(30.0, parser=number(1.0, 86_400.0), help="Seconds each caller streams."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for latency.json."),
    mode: str = typer.Option("raw", help="raw (16-bit PCM) or privacy (split models' feature messages)."),
    fast: bool = typer.Option(False, "--fast", help="Each caller sends its next chunk as soon as the reply "
                                                    "arrives (default: one chunk per second, real time)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Originals for the calls (default: simulated)."),
    fakes: Path | None = typer.Option(None, "--fakes", help="Fakes of --corpus: each call turns fake halfway."),
    engine: str = typer.Option("batched", help="batched (bench serve) or naive (one inference per request)."),
    threads: int | None = typer.Option(None, min=1, help="Inference threads (default: the profile's)."),
    cores: int | None = typer.Option(None, min=1, help="Cores the server is pinned to (default: the profile's)."),
    max_batch: int = typer.Option(32, min=1, help="Most chunks per inference batch."),
    batch_wait_ms: float = typer.Option(0.0, parser=number(0.0, 1000.0), help="Wait for more chunks before a batch."),
    backend: str = typer.Option("auto", help="The server's inference backend: auto, onnx or torch."),
    loop: str = typer.Option("auto", help="Event loop of the server and the callers: auto (uvloop where installed), "
                                          "uvloop or asyncio."),
    channel: str | None = typer.Option(None, "--channel", help="Telephone channel profile the callers' audio goes "
                                       "through (bench data channels): G.711 lines reach the server as 8 kHz G.711 "
                                       "frames, other codecs as 16-bit PCM at the line's rate (raw mode)."),
    channel_seed: int = typer.Option(0, "--channel-seed", min=0, help="Seed of the channel's noise and losses."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    overwrite: bool = overwrite_option("--out"),
) -> None:
    """Start `bench serve` under a profile and drive it with N concurrent callers streaming real calls; report
    p50/p95/p99/max of transmission, queueing, inference and end-to-end time per chunk beside DevoX Table 3."""
    from bench.references.devox import DEVOX_TABLE3, ms
    from bench.serve.latency import PARTS, run_latency

    res = run_latency(model, out, profile=profile, callers=callers, duration=duration, mode=mode,
                      realtime=not fast, corpus=str(corpus) if corpus else None, fakes=str(fakes) if fakes else None,
                      engine=engine, threads=threads, cores=cores, max_batch=max_batch, batch_wait_ms=batch_wait_ms,
                      backend=backend, loop=loop, overwrite=overwrite, channel=channel, channel_seed=channel_seed,
                      command=" ".join(["bench", *sys.argv[1:]]),
                      progress=lambda m: console.print(m, markup=False, highlight=False, style="dim"))
    if res is None:
        return
    if as_json:
        print_json(res.model_dump())
        return
    from rich.table import Table

    table = Table(title=f"{res.detector.config['model']} on {res.profile} ({res.engine}, "
                        f"{res.profile_settings.get('backend')}, {res.mode} mode, "
                        f"{res.callers} caller(s), {'real time' if res.realtime else 'as fast as possible'}"
                        f"{line_text(res.line)})")
    for col in ("per chunk (ms)", "p50", "p95", "p99", "max", "DevoX Table 3 mean (quoted)"):
        table.add_column(col, justify="right" if col != "per chunk (ms)" else "left")
    t3, (lo, hi) = DEVOX_TABLE3, DEVOX_TABLE3["inference_ms_range"]
    quoted = {"transmission": ms(t3["transmission_ms_mean"]), "end_to_end": ms(t3["end_to_end_ms_mean"]),
              "inference": f"{ms(t3['inference_ms_mean'])} ({ms(lo)}-{ms(hi)})"}
    for p in PARTS:
        s = res.parts[p]
        table.add_row(p.replace("_", "-"), *(f"{v:.2f}" if v is not None else "-"
                                             for v in (s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms)), quoted.get(p, "-"),
                      end_section=p == PARTS[-1])
    for label, v in (("isolated inference time (one chunk alone)", res.isolated_inference_ms),
                     ("compute floor (MACs / peak MAC rate)", res.compute_floor_ms)):
        table.add_row(label, "-" if v is None else f"{v:.2f}", "", "", "", "-")
    console.print(table)
    console.print(f"{res.verdicts} verdicts of {res.chunks_sent} chunks sent ({res.dropped} dropped, errors "
                  f"{res.errors or 'none'}); {res.throughput_chunks_per_s:.1f} chunks/s; batch size mean "
                  f"{res.batch_size.get('mean', 0):.2f}, max {res.batch_size.get('max', 0):.0f}; server peak RSS "
                  f"{res.server_peak_rss_mb or 0:.0f} MB", markup=False, highlight=False)
    for line in reference_lines(res) + cpu_lines(res):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {Path(out) / 'latency.json'}", markup=False)


def line_text(line: dict[str, Any]) -> str:
    """", over pstn-g711u (pcm_mulaw at 8000 Hz)" for a call through a phone line; "" for a clean one."""
    if not line or not line.get("profile"):
        return ""
    return f", over {line['profile']} ({line['encoding']} at {line['sample_rate']} Hz)"


def _ms(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:,.{digits}f} ms"


def _times(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}x"


def cpu_lines(res: Any) -> list[str]:
    """The end-to-end time once every caller was connected, and the server's CPU per chunk inside and outside
    inference while the callers ran."""
    c, a = res.server_cpu or {}, res.all_connected or {}
    out = []
    if a.get("n"):
        out.append(f"end-to-end once all {res.callers} caller(s) were connected ({a['from_s']:.1f} s after the first; "
                   f"{a['n']} chunks): p50 {_ms(a['p50_ms'])}, p95 {_ms(a['p95_ms'])}, p99 {_ms(a['p99_ms'])}, max "
                   f"{_ms(a['max_ms'])}")
    if c:
        out.append(f"server CPU per chunk while the callers ran: {_ms(c['inference_ms_per_chunk'], 3)} scoring "
                   f"(inference threads), {_ms(c['outside_inference_ms_per_chunk'], 3)} outside it (event loop, "
                   f"frames, JSON, hand-over); {c['cores_busy']:.2f} core(s) busy on average")
    return out


def reference_lines(res: Any) -> list[str]:
    """What a chunk's time is read against (isolated inference time, compute floor from MACs and peak) and the
    alert times beside the false alarms and chunk AUROC they depend on."""
    cf = res.compute_floor or {}
    macs, peak = cf.get("macs_per_chunk"), cf.get("peak_macs_per_s")
    made_of = f" = {macs / 1e6:,.0f} MMAC per chunk / {peak / 1e9:.1f} GMAC/s peak" if macs and peak else ""
    lines = [f"isolated inference time (one chunk alone, batch 1, in the server): {_ms(res.isolated_inference_ms)}; "
             f"p95 end-to-end = {_times(res.end_to_end_over_isolated.get('p95'))} of it",
             f"compute floor (MACs / measured peak MAC rate): {_ms(res.compute_floor_ms)}{made_of}; p95 end-to-end "
             f"= {_times(res.end_to_end_over_floor.get('p95'))} of it"]
    a = res.alerts
    if a.get("calls_turning_fake"):
        auc = a.get("chunk_auroc")
        fa = (f"false alarms before the fake: {a.get('false_alarm_chunks', '?')} of {a.get('real_chunks', '?')} real "
              f"chunks, {a.get('false_alarm_calls', '?')} of {a.get('calls', '?')} calls; chunk AUROC of the "
              f"streamed calls {'-' if auc is None else f'{100 * auc:.1f}%'}")
        when = (f" (p50 {a['p50_ms']:,.0f} ms, p95 {a['p95_ms']:,.0f} ms from the fake's start)"
                if a.get("p50_ms") is not None else "")
        lines.append(f"alerts: {a['alerted']} of {a['calls_turning_fake']} calls alerted after turning fake{when}; "
                     f"{fa}")
        if a.get("caveat"):
            lines.append(f"warning: {a['caveat']}")
    return lines
