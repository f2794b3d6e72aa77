"""`bench demo`: the main job on embedded defaults, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.evaluate_cmd import print_summary
from bench.cli.output import console
from bench.errors import BenchError


def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Where everything goes (resumes if it exists)."),
    speakers: int = typer.Option(6, help="Synthetic speakers (at least 4: half are held out for evaluation)."),
    sentences: int = typer.Option(2, help="Sentences per speaker and challenge (at least 2 for VC references)."),
    seed: int = typer.Option(0, help="Seed for every step."),
    workers: int = typer.Option(2, help="Worker processes."),
) -> None:
    """Simulate a corpus, generate WORLD fakes, train + evaluate pitch-lite, build the leaderboard."""
    from bench.demo import run_demo
    from bench.results import load_result

    if speakers < 4:
        raise BenchError("--speakers must be at least 4 (half are held out from the compliance classifiers)")
    if sentences < 2:
        raise BenchError("--sentences must be at least 2 (a VC reference must be another sentence)")
    if workers < 1:
        raise BenchError("--workers must be at least 1")
    made = run_demo(out, speakers=speakers, sentences=sentences, seed=seed, workers=workers,
                    log=lambda m: console.print(m, markup=False))
    print_summary(load_result(made["result"]), made["result"].parent)
    console.print(f"\n[bold]leaderboard:[/bold] {made['leaderboard']} (open it in a browser); "
                  f"results: {made['result']}")
    console.print("[dim]simulated speech: these numbers describe the simulation, not the Pitch recordings[/dim]")
