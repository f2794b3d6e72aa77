"""`bench serve` (the edge detection server) and `bench stream` (a client that streams a file as a phone would)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import typer

from bench.cli.output import console, print_json
from bench.cli.params import TOKEN_ENV, number, read_token
from bench.errors import BenchError


def serve(
    model: str = typer.Option(..., "--model", "-m", help="NAME@VERSION, NAME (follows promotions: hot swap) or a "
                                                         "model folder."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8765, min=0, max=65535, help="Port (0: any free port, printed)."),
    token_file: Path | None = typer.Option(None, "--token-file", help=f"File holding the token clients must send "
                                           f"(or {TOKEN_ENV}; neither: a random token is made and printed)."),
    threads: int = typer.Option(1, min=1, max=256, help="Inference threads (one per core)."),
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    max_batch: int = typer.Option(32, min=1, max=4096, help="Most chunks scored in one batch."),
    batch_wait_ms: float = typer.Option(0.0, parser=number(0.0, 1000.0), help="Wait this long for more chunks before "
                                        "scoring a batch (0: batch only what is already queued)."),
    max_connections: int = typer.Option(1000, min=1, help="Most simultaneous calls; more get HTTP 503."),
    max_frame_bytes: int = typer.Option(256 * 1024, min=1024, help="Largest chunk frame (larger: an error frame; "
                                        "4x larger: the call is closed, code 1009)."),
    idle_timeout: float = typer.Option(30.0, parser=number(0.1), help="Close a call after this many seconds "
                                       "without a frame."),
    max_call_seconds: float = typer.Option(4 * 3600.0, parser=number(1.0), help="Close a call after this long."),
    privacy_only: bool = typer.Option(False, "--privacy-only", help="Refuse raw audio: feature messages only."),
    keep_dir: Path | None = typer.Option(None, "--keep-dir", help="Keep the features and labels of privacy calls "
                                         "that opt in (hello keep=true) here, for bench mlops; never raw audio."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate: serve wss:// and https://."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    watch_seconds: float = typer.Option(2.0, parser=number(0.0), help="Look for a newly promoted version of "
                                        "the model's name this often (0: never)."),
    engine: str = typer.Option("batched", help="batched (micro-batching inference threads) or naive (one inference "
                                               "per request: the baseline bench latency compares with)."),
    backend: str = typer.Option("auto", help="auto (ONNX Runtime where the model converts, else torch), onnx or "
                                             "torch."),
    loop: str = typer.Option("auto", help="Event loop: auto (uvloop where installed, else asyncio's), uvloop or "
                                          "asyncio."),
    calibration: Path | None = typer.Option(None, "--calibration", help="A calibration.json (bench human report) "
                                            "for this model: each call summary then carries Pitch's tag, p(fake) "
                                            "and confidence of the call's mean chunk score."),
) -> None:
    """The edge detection server: calls stream 1-second chunks (16-bit PCM, or a split detector's feature
    messages) over a WebSocket and get a verdict per chunk (protocol: docs/serve.md)."""
    from bench.serve.config import ServeConfig
    from bench.serve.eventloop import run
    from bench.serve.server import EdgeServer

    token = read_token(token_file, required=False)
    if token is None:
        token = secrets.token_urlsafe(24)
        console.print(f"token (give it to clients as {TOKEN_ENV} or --token-file): {token}", markup=False)
    cfg = ServeConfig(model=model, token=token, host=host, port=port, device=device, threads=threads,
                      max_batch=max_batch, batch_wait_ms=batch_wait_ms, max_connections=max_connections,
                      max_frame_bytes=max_frame_bytes, idle_timeout=idle_timeout, max_call_seconds=max_call_seconds,
                      privacy_only=privacy_only, watch_seconds=watch_seconds,
                      tls_cert=str(tls_cert) if tls_cert else None, tls_key=str(tls_key) if tls_key else None,
                      keep_dir=str(keep_dir) if keep_dir else None, engine=engine,
                      backend=backend, loop=loop, calibration=str(calibration) if calibration else None)
    server = EdgeServer(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    freeze_startup_objects()
    try:
        run(server.run(), cfg.loop)
    except OSError as exc:
        raise BenchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def freeze_startup_objects() -> None:
    """Move everything loaded so far (the model, torch, the libraries: about a million objects) out of the
    garbage collector's sight: its full collections, triggered by the objects each chunk allocates, otherwise scan
    them all every few seconds (about a sixth of the event loop's CPU at 700 callers; BENCHMARKS.md, "Capacity")."""
    import gc

    gc.collect()
    gc.freeze()


def stream(
    audio: Path = typer.Argument(..., help="Audio file to stream (WAV, FLAC...; sent at 16 kHz, or 8 kHz as is)."),
    url: str = typer.Option("ws://127.0.0.1:8765/v1/call", help="The server's call URL."),
    token_file: Path | None = typer.Option(None, "--token-file", help=f"Token file (or {TOKEN_ENV})."),
    mode: str = typer.Option("raw", help="raw (16-bit PCM) or privacy (feature messages of --model's device "
                                         "half: the audio never leaves this process)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Privacy mode: the split model whose device half "
                                     "runs here (the server's model)."),
    fast: bool = typer.Option(False, "--fast", help="Send the next chunk as soon as the reply arrives (default: "
                                                    "one chunk per second, as a phone)."),
    keep: bool = typer.Option(False, "--keep", help="Consent to the server keeping this call's features (MLOps)."),
    label: int | None = typer.Option(None, min=0, max=1, help="The call's label when known (0 real, 1 fake)."),
    cafile: Path | None = typer.Option(None, "--cafile", help="CA certificate for a wss:// server."),
    channel: str | None = typer.Option(None, "--channel", help="Telephone channel profile the call goes through "
                                       "first (bench data channels): G.711 lines arrive as 8 kHz G.711 frames, "
                                       "other codecs as 16-bit PCM at the line's rate (raw mode)."),
    channel_seed: int = typer.Option(0, "--channel-seed", min=0, help="Seed of the channel's noise and losses."),
    as_json: bool = typer.Option(False, "--json", help="Print every reply as JSON."),
) -> None:
    """Stream an audio file to `bench serve` as a phone app would: 1-second chunks, a verdict for each."""
    from bench.serve.client import DeviceHalf, check_url, stream_file
    from bench.serve.phone_line import phone_line

    if mode not in ("raw", "privacy"):
        raise BenchError(f"--mode must be raw or privacy, not {mode!r}")
    if mode == "privacy" and not model:
        raise BenchError("--mode privacy needs --model (the split model whose device half computes the features)")
    if channel is not None and mode != "raw":
        raise BenchError("--channel streams raw audio through a phone line: it needs --mode raw")
    line = phone_line(channel, channel_seed) if channel is not None else None
    check_url(url)
    token = read_token(token_file, required=True)
    device = DeviceHalf(model) if mode == "privacy" else None

    def show(d: dict) -> None:
        if as_json:
            return
        if d["type"] == "error":
            console.print(f"chunk {d.get('seq')}: error {d['code']}: {d['message']}", markup=False)
            return
        rtt = d.get("t_client_received", 0) - d.get("t_client_sent", 0)
        console.print(f"chunk {d['seq']}: {d['verdict']:9s} score {d['score']:+.3f} (call: {d['call']['verdict']}, "
                      f"{d['call']['fake_chunks']}/{d['call']['chunks']} fake) inference "
                      f"{d['t_inference_end'] - d['t_inference_start']:.1f} ms, round trip {rtt:.1f} ms", markup=False)

    out = stream_file(audio, url, token, mode=mode, device=device, realtime=not fast, keep=keep, label=label,
                      cafile=str(cafile) if cafile else None, on_reply=show, line=line)
    if as_json:
        print_json(out)
        return
    end = out["call_end"]
    console.print(f"call: {end['verdict'] or 'no verdict'} ({end['fake_chunks']} of {end['chunks']} chunks fake, "
                  f"{end['errors']} error(s)); model {out['ready']['model']}"
                  + (f"; over {line.profile} ({line.encoding} at {line.rate} Hz)" if line else ""), markup=False)
    if end["chunks"] == 0:
        raise BenchError("no chunk got a verdict")
