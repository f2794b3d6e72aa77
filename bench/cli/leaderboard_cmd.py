"""`bench leaderboard`: build and publish leaderboards from results JSONs."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console
from bench.cli.params import overwrite_option

app = typer.Typer(help="Leaderboards: Markdown, a self-contained HTML page, JSON and figures.", no_args_is_help=True)


@app.command()
def build(
    results: list[Path] = typer.Argument(..., help="Results JSONs (or result folders) from `bench evaluate`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    title: str = typer.Option("bench leaderboard", help="Page title."),
    privacy: list[Path] = typer.Option(None, "--privacy", help="A `bench privacy` report (privacy.json or its "
                                                               "folder) of a split model; repeatable."),
    latency: list[Path] = typer.Option(None, "--latency", help="A `bench latency` result (latency.json or its "
                                                               "folder); repeatable."),
    human: list[Path] = typer.Option(None, "--human", help="A `bench human report` output (human.json or its "
                                                           "folder); repeatable."),
    overwrite: bool = overwrite_option("leaderboard"),
) -> None:
    """Build README.md, index.html, leaderboard.json and figures/ from results."""
    from bench.leaderboard.build import build as run_build

    doc = run_build(results, out, title=title, overwrite=overwrite, privacy=privacy or [], latency=latency or [],
                    human=human or [])
    console.print(f"leaderboard with {len(doc['entries'])} entries and {len(doc['figures'])} figures: "
                  f"{out / 'index.html'}")


@app.command()
def push(
    folder: Path = typer.Argument(..., help="A folder from `bench leaderboard build`."),
    repo_id: str = typer.Option(None, "--repo-id", help="Hub repo id (owner/name)."),
    repo_type: str = typer.Option("dataset", "--repo-type", help="dataset or space."),
    to_folder: Path = typer.Option(None, "--to-folder", help="Copy to a local folder instead (a repo checkout)."),
    private: bool = typer.Option(False, help="Create the repo as private."),
    overwrite: bool = overwrite_option("--to-folder"),
) -> None:
    """Publish a leaderboard to a Hub dataset or Space repo (token from HF_TOKEN)."""
    from bench.leaderboard.publish import push as run_push

    where = run_push(folder, repo_id=repo_id, repo_type=repo_type, to_folder=to_folder, private=private,
                     overwrite=overwrite)
    console.print(f"published {folder} to {where}")
