"""`bench human`: ratings of calls by people (or by simulated raters), and Pitch's human-AI tables from them."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, print_json
from bench.cli.params import overwrite_option

app = typer.Typer(help="Human ratings: simulate raters, and report calibration, routing and Pitch's human tables.",
                  no_args_is_help=True)


@app.command("simulate")
def simulate(
    result: Path = typer.Option(..., "--result", "-r", help="A bench evaluate result folder (result.json and "
                                                            "scores.parquet) whose calls are rated."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for ratings.csv (owned by this command)."),
    subset: Path = typer.Option(None, "--subset", help="Rate only the calls of a bench data subset folder (e.g. "
                                                       "the hard balanced subset, bench data subset --hard)."),
    raters: int = typer.Option(3, min=1, help="Raters per call (Pitch: 3, majority vote)."),
    pool: int = typer.Option(12, min=1, help="Simulated raters in all."),
    seed: int = typer.Option(0, min=0),
    overwrite: bool = overwrite_option("ratings"),
) -> None:
    """Write SIMULATED ratings (a model following Pitch Tables 4 and 5, never people) of a result's calls, so the
    whole human-AI analysis runs offline; every row is marked simulated."""
    from bench.runs.human_report import simulate as run

    s = run(result, out, subset=subset, raters=raters, pool=pool, seed=seed, overwrite=overwrite)
    console.print(f"{s['ratings']} simulated ratings of {s['samples']} calls -> {s['out']} (simulated raters, "
                  "not people)", markup=False, highlight=False)


@app.command("report")
def report(
    result: Path = typer.Option(..., "--result", "-r", help="The bench evaluate result the ratings' calls come "
                                                            "from (the machine's scores)."),
    ratings: Path = typer.Option(..., "--ratings", help="The ratings CSV (bench rate or bench human simulate)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for human.json and README.md (owned)."),
    threshold: float = typer.Option(None, help="The machine's decision threshold (default: the EER threshold of "
                                               "the other speakers' calls, cross-fitted)."),
    automation: float = typer.Option(0.44, help="Target share of calls the machine decides (Pitch: 44 %)."),
    target_accuracy: float = typer.Option(None, "--target-accuracy", help="Also report the most automation whose "
                                          "joint accuracy reaches this (a fraction, e.g. 0.85)."),
    folds: int = typer.Option(2, min=2, help="Speaker-disjoint folds for fitting threshold and temperature."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    overwrite: bool = overwrite_option("report"),
) -> None:
    """Calibration (reliability, ECE, Brier, actDCF), routing (Fig. 4, risk-coverage and AURC) and Pitch's human
    tables (Table 4's columns, Table 5's scenarios, agreement, correlations), Pitch's numbers quoted beside."""
    from bench.runs.human_report import report as run

    doc = run(result, ratings, out, threshold=threshold, automation=automation, folds=folds, overwrite=overwrite,
              target_accuracy=target_accuracy)
    if as_json:
        print_json(doc)
        return
    console.print((out / "README.md").read_text(encoding="utf-8"), markup=False, highlight=False)
