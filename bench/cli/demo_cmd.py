"""`bench demo`: the main job on embedded defaults, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.evaluate_cmd import print_summary
from bench.cli.output import console, resolve_workers
from bench.cli.params import overwrite_option, seed_option


def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Where everything goes (resumes if it exists)."),
    size: str = typer.Option("small", "--size", help="small (minutes: the two-command demo) or paper-shape "
                             "(14 speakers x 10 sentences, half held out: per-challenge CIs within +-10 AUROC "
                             "points; see BENCHMARKS.md for its wall time)."),
    speakers: int = typer.Option(None, min=4, help="Synthetic speakers (at least 4: half are held out for "
                                                   "evaluation); overrides --size."),
    sentences: int = typer.Option(None, min=2, max=10, help="Sentences per speaker and challenge (2-10: a VC "
                                                            "reference must be another sentence); overrides --size."),
    seed: int = seed_option("Seed for every step."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    overwrite: bool = overwrite_option("demo"),
) -> None:
    """Simulate a corpus, generate WORLD fakes, train + evaluate pitch-lite, build the leaderboard."""
    from bench.evaluation.results import load_result
    from bench.runs.demo import run_demo

    made = run_demo(out, speakers=speakers, sentences=sentences, seed=seed, workers=resolve_workers(workers),
                    log=lambda m: console.print(m, markup=False), overwrite=overwrite, size=size)
    print_summary(load_result(made["result"]), made["result"].parent)
    console.print(f"\n[bold]leaderboard:[/bold] {made['leaderboard']} (open it in a browser); "
                  f"results: {made['result']}")
    console.print(f"human-AI report (SIMULATED raters, not people): {made['human']}", markup=False)
    console.print("[dim]simulated speech: these numbers describe the simulation, not the Pitch recordings[/dim]")
