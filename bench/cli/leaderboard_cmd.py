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
    dataset: list[Path] = typer.Option(None, "--dataset", help="A `bench evaluate --dataset` result (result.json "
                                                               "or its folder) on a field dataset; repeatable."),
    overwrite: bool = overwrite_option("leaderboard"),
) -> None:
    """Build README.md, index.html, leaderboard.json and figures/ from results."""
    from bench.leaderboard.build import build as run_build

    doc = run_build(results, out, title=title, overwrite=overwrite, privacy=privacy or [], latency=latency or [],
                    human=human or [], datasets=dataset or [])
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


@app.command("export-arena")
def export_arena(
    result: Path = typer.Argument(..., help="A `bench evaluate --dataset` result folder (result.json, "
                                            "scores.parquet) of an Arena dataset."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: scores.txt, arena.json, submission.yaml."),
    dataset_id: str = typer.Option(None, "--dataset-id", help="The Arena dataset repo (default: the repo the "
                                   "result streamed)."),
    dataset_revision: str = typer.Option(None, "--dataset-revision", help="Its commit (default: the one the "
                                         "result streamed; required for a local copy)."),
    system: Path = typer.Option(None, "--system", help="YAML with system (name, slug, description, code, "
                                "checkpoint, paper{arxiv_id, url, bibtex}) and submitter (hf_username, contact)."),
    scores_repo: str = typer.Option(None, "--scores-repo", help="Model repo scores.txt will be uploaded to."),
    scores_revision: str = typer.Option(None, "--scores-revision", help="Its commit after the upload."),
    overwrite: bool = overwrite_option("export"),
) -> None:
    """Export a dataset result in the Speech Anti-Spoofing Arena's submission format, its EER recomputed the
    Arena's way from the file as written."""
    from bench.leaderboard.arena import export_arena as run_export

    rec = run_export(result, out, dataset_id=dataset_id, dataset_revision=dataset_revision, system=system,
                     scores_repo=scores_repo, scores_revision=scores_revision, overwrite=overwrite)
    s = rec["scores"]
    console.print(f"{rec['dataset']['id']}@{rec['dataset']['revision'][:12]} ({rec['dataset']['split']}): EER "
                  f"{s['eer_percent']:.4f} % by the Arena's procedure (organisers' compute_eer: "
                  f"{rec['asvspoof_eer_percent']:.4f} %), {s['n_trials']} trials, {s['n_skipped']} skipped; "
                  f"scores.txt sha256 {rec['scores_sha256'][:16]}...", markup=False, highlight=False)
    if (out / "submission.yaml").exists():
        console.print(f"wrote {out / 'submission.yaml'}: upload scores.txt to the scores_url it names, then open "
                      "the pull request on the dataset repo (docs/datasets.md)", markup=False, highlight=False)
    else:
        console.print("no submission.yaml: give --system FILE, --scores-repo and --scores-revision for it",
                      markup=False, highlight=False)
