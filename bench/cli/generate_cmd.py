"""`bench generate`: voice-conversion deepfakes of a challenge corpus."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bench.cli.data_cmd import _print_summary, _report_written, _workers
from bench.cli.output import console
from bench.corpus import open_dataset
from bench.errors import BenchError
from challenges.taxonomy import parse_selection


def _parse_params(items: list[str]) -> dict:
    config = {}
    for item in items:
        if "=" not in item:
            raise BenchError(f"--param expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def generate(
    corpus: Path = typer.Option(..., "--corpus", "-c", help="Corpus directory (bench data simulate/load/pull)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output fakes directory (resumes if it exists)."),
    generator: str = typer.Option("world", "--generator", "-g", help="Generator name (bench plugins list)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Generator setting KEY=VALUE (repeatable)."),
    freevc_repo: Path = typer.Option(None, "--freevc-repo", help="FreeVC checkout (freevc generator)."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Model checkpoint (e.g. freevc-s.pth)."),
    device: str = typer.Option(None, "--device", help="cpu or cuda, for generators that support it."),
    challenges: str = typer.Option("all", help="Source challenges to convert: 'all', '0,1,5-7' or keys."),
    max_targets: int = typer.Option(None, "--max-targets", help="Use at most N subjects as targets."),
    pairs_per_source: str = typer.Option("1", "--pairs-per-source",
                                         help="Targets per source recording, or 'all' (Pitch's full product)."),
    seed: int = typer.Option(0, help="Seed for target and reference sampling."),
    workers: int = typer.Option(None, help="Worker processes (default: all CPUs)."),
    streaming: bool = typer.Option(False, "--streaming", help="Convert chunk by chunk like a live attacker."),
    chunk_ms: float = typer.Option(500.0, "--chunk-ms", help="Chunk size in ms for --streaming."),
    overwrite: bool = typer.Option(False, help="Discard a previous run with other settings."),
) -> None:
    """Generate voice-conversion deepfakes of every imposter recording towards target speakers."""
    from bench.generate import generate as run_generate

    config = _parse_params(param)
    for key, value in (("repo", freevc_repo), ("checkpoint", checkpoint), ("device", device)):
        if value is not None:
            config[key] = str(value)
    if pairs_per_source == "all":
        pps = None
    elif pairs_per_source.isdigit():
        pps = int(pairs_per_source)
    else:
        raise typer.BadParameter("must be a positive integer or 'all'", param_hint="--pairs-per-source")
    selection = None if challenges == "all" else parse_selection(challenges)
    manifest = run_generate(corpus, out, generator=generator, config=config, max_targets=max_targets,
                            pairs_per_source=pps, seed=seed, workers=_workers(workers), streaming=streaming,
                            chunk_ms=chunk_ms, challenges=selection, overwrite=overwrite)
    _report_written(out, manifest)
    console.print(f"{manifest['finished']}/{manifest['planned']} conversions finished, {manifest['failed']} failed; "
                  f"{manifest['audio_seconds']:.0f} s of audio in {manifest['compute_seconds']:.0f} s of compute")
    if manifest.get("streaming"):
        s = manifest["streaming"]
        console.print(f"streaming: {s['chunk_ms']:.0f} ms chunks, "
                      f"algorithmic delay {s['algorithmic_delay_ms']:.0f} ms, "
                      f"compute p95 {s['compute_ms_p95']:.1f} ms per chunk, real-time in "
                      f"{100 * s['realtime_fraction']:.0f}% of chunks")
    _print_summary(open_dataset(out), manifest)
