"""`bench generate`: voice-conversion deepfakes of a challenge corpus."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bench.cli.output import (
    apply_gpus_per_worker,
    console,
    print_corpus_summary,
    report_problems,
    report_written,
    resolve_workers,
)
from bench.cli.params import gpus_per_worker_option, number, overwrite_option, seed_option, workers_option
from bench.errors import BenchError


def parse_params(items: list[str]) -> dict:
    """``--param KEY=VALUE`` options into a dict (VALUE read as JSON when it is JSON, else a string)."""
    config = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"--param expects KEY=VALUE, got {item!r}")
        if key.strip() in config:
            raise BenchError(f"--param {key.strip()} given twice")
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def _pairs_per_source(text: str) -> int | None:
    if text == "all":
        return None
    if text.isascii() and text.isdecimal() and int(text) >= 1:
        return int(text)
    raise typer.BadParameter("must be a positive integer or 'all'", param_hint="--pairs-per-source")


def generate(
    corpus: Path = typer.Option(..., "--corpus", "-c", help="Corpus directory (bench data simulate/load/pull)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output fakes directory (resumes if it exists)."),
    generator: str = typer.Option("world", "--generator", "-g", help="Generator name (bench plugins list)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Generator setting KEY=VALUE (repeatable)."),
    freevc_repo: Path = typer.Option(None, "--freevc-repo", help="FreeVC checkout (freevc generator)."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Model checkpoint (e.g. freevc-s.pth)."),
    device: str = typer.Option(None, "--device", help="cpu or cuda, for generators that support it."),
    challenges: str = typer.Option("all", help="Source challenges to convert: 'all', '0,1,5-7' or keys."),
    max_targets: int = typer.Option(None, "--max-targets", min=1, help="Use at most N subjects as targets."),
    pairs_per_source: str = typer.Option("1", "--pairs-per-source",
                                         help="Targets per source recording, or 'all' (Pitch's full product)."),
    seed: int = seed_option("Seed for target and reference sampling."),
    workers: int = workers_option(),
    gpus_per_worker: float = gpus_per_worker_option(),
    streaming: bool = typer.Option(False, "--streaming", help="Convert chunk by chunk like a live attacker."),
    chunk_ms: float = typer.Option(500.0, "--chunk-ms", parser=number(1.0, 60_000.0),
                                   help="Chunk size in ms for --streaming."),
    reference_seconds: float = typer.Option(None, "--reference-seconds", parser=number(0.1, 3600.0),
                                            help="Reference audio of the target, seconds: Pitch gives one sentence "
                                                 "(the default); more adds the target's other challenge-0 "
                                                 "recordings (never of a sentence the source says)."),
    overwrite: bool = overwrite_option("fakes"),
) -> None:
    """Generate voice-conversion deepfakes of every imposter recording towards target speakers."""
    from bench.challenges.taxonomy import parse_selection
    from bench.data.corpus import open_dataset
    from bench.runs.generate import generate as run_generate

    config = parse_params(param)
    apply_gpus_per_worker(gpus_per_worker)
    for key, value in (("repo", freevc_repo), ("checkpoint", checkpoint), ("device", device)):
        if value is not None:
            if key in config:
                raise BenchError(f"--param {key} and its own option were both given; use one")
            config[key] = str(value)
    pps = _pairs_per_source(pairs_per_source)
    selection = None if challenges.strip().lower() == "all" else parse_selection(challenges)
    manifest = run_generate(corpus, out, generator=generator, config=config, max_targets=max_targets,
                            pairs_per_source=pps, seed=seed, workers=resolve_workers(workers), streaming=streaming,
                            chunk_ms=chunk_ms, challenges=selection, overwrite=overwrite,
                            reference_seconds=reference_seconds)
    report_written(out, manifest)
    report_problems([{"utterance_id": k, "error": v} for k, v in manifest.get("unusable_references", {}).items()],
                    "challenge-0 recording(s) not used as references")
    console.print(f"{manifest['finished']}/{manifest['planned']} conversions finished, {manifest['failed']} failed; "
                  f"{manifest['audio_seconds']:.0f} s of audio in {manifest['compute_seconds']:.0f} s of compute")
    if manifest.get("streaming"):
        s = manifest["streaming"]
        console.print(f"streaming: {s['chunk_ms']:.0f} ms chunks, "
                      f"algorithmic delay {s['algorithmic_delay_ms']:.0f} ms, "
                      f"compute p95 {s['compute_ms_p95']:.1f} ms per chunk, real-time in "
                      f"{100 * s['realtime_fraction']:.0f}% of chunks")
    print_corpus_summary(open_dataset(out), manifest)
