"""`bench data`: build, import, inspect and move challenge corpora."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bench.cli.output import console, print_json
from bench.corpus import open_dataset, read_manifest, summarize
from bench.errors import BenchError
from bench.parallel import default_workers
from challenges.taxonomy import get, parse_selection

app = typer.Typer(help="Challenge corpora: simulate one offline, import recordings, inspect, Hub round trip.",
                  no_args_is_help=True)


def _devices(device: str) -> tuple[str, ...]:
    choices = {"desktop": ("desktop",), "mobile": ("mobile",), "both": ("desktop", "mobile")}
    if device not in choices:
        raise typer.BadParameter("must be desktop, mobile or both", param_hint="--device")
    return choices[device]


def _workers(workers: int | None) -> int:
    if workers is not None and workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    return workers or default_workers()


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory (resumes if it exists)."),
    speakers: int = typer.Option(6, help="Number of synthetic speakers."),
    sentences: int = typer.Option(2, help="Sentences per speaker and challenge (1-10)."),
    challenges: str = typer.Option("all", help="Challenges to render: 'all', ids '0,1,5-7' or keys."),
    device: str = typer.Option("desktop", help="desktop, mobile or both."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same corpus, bit for bit."),
    workers: int = typer.Option(None, help="Worker processes (default: all CPUs)."),
    overwrite: bool = typer.Option(False, help="Replace a corpus made with other settings."),
    scripts_file: Path = typer.Option(None, "--scripts", help="Scripts JSON (e.g. the paper's Table A.1) in the "
                                      "format of challenges/data/scripts.json."),
) -> None:
    """Simulate an offline challenge corpus (synthetic speakers; every challenge rendered)."""
    from bench.simcorpus import simulate_corpus
    from challenges.scripts import use_scripts

    use_scripts(scripts_file)

    manifest = simulate_corpus(out, speakers=speakers, sentences=sentences,
                               challenges=parse_selection(challenges), devices=_devices(device), seed=seed,
                               workers=_workers(workers), overwrite=overwrite)
    _report_written(out, manifest)
    _print_summary(open_dataset(out), manifest)


@app.command("load")
def load_local(
    src: Path = typer.Argument(..., help="Folder with metadata.csv, or SUBJECT/CHALLENGE/FILE layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory."),
    layout: str = typer.Option("auto", help="auto, metadata or pitch."),
    trim_silence: bool = typer.Option(False, "--trim-silence", help="Trim leading/trailing silence (VAD)."),
    workers: int = typer.Option(None, help="Worker processes (default: all CPUs)."),
) -> None:
    """Import recordings from a local folder (resampled to 16 kHz mono; bad files are skipped)."""
    from bench.localcorpus import import_local

    manifest = import_local(src, out, layout=layout, trim=trim_silence, workers=_workers(workers))
    _report_written(out, manifest)


@app.command()
def info(
    path: Path = typer.Argument(..., help="A corpus or fakes directory."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts per subject, challenge and device; durations and sample rates."""
    ds = open_dataset(path)
    manifest = read_manifest(path)
    summary = summarize(ds)
    if as_json:
        print_json({"path": str(path), "manifest": {k: v for k, v in manifest.items() if k != "speakers"},
                    **summary})
        return
    _print_summary(ds, manifest, summary)


@app.command()
def pull(
    repo_id: str = typer.Argument(..., help="Hub dataset repo id (owner/name) or a local folder in Hub layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus directory."),
    revision: str = typer.Option(None, help="Branch, tag or commit (default: main)."),
) -> None:
    """Load a corpus from the Hugging Face Hub (uses the local cache; works with HF_HUB_OFFLINE=1)."""
    from bench.hub import pull as hub_pull

    manifest = hub_pull(repo_id, out, revision=revision)
    _report_written(out, manifest)


@app.command()
def push(
    path: Path = typer.Argument(..., help="A corpus or fakes directory."),
    repo_id: str = typer.Option(None, "--repo-id", help="Hub dataset repo id (owner/name)."),
    to_folder: Path = typer.Option(None, "--to-folder", help="Write the Hub repo layout to a folder instead."),
    revision: str = typer.Option(None, help="Branch to push to (created if missing)."),
    private: bool = typer.Option(False, help="Create the repo as private."),
) -> None:
    """Publish a corpus to a Hub dataset repo (token from HF_TOKEN), or export the repo layout."""
    from bench.hub import export_folder
    from bench.hub import push as hub_push

    if (repo_id is None) == (to_folder is None):
        raise BenchError("give exactly one of --repo-id or --to-folder")
    if to_folder is not None:
        folder = export_folder(path, to_folder)
        console.print(f"wrote Hub layout to {folder}")
    else:
        url = hub_push(path, repo_id, revision=revision, private=private)
        console.print(f"pushed {path} to {url}")


@app.command()
def subset(
    hard: bool = typer.Option(False, "--hard", help="Pitch's hard balanced subset (required for now)."),
    result: Path = typer.Option(..., "--result", "-r", help="A `bench evaluate` output folder (scores.parquet)."),
    corpus: Path = typer.Option(..., "--corpus", "-c", help="The corpus that was evaluated."),
    fakes: Path = typer.Option(..., "--fakes", "-f", help="The fakes that were evaluated."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (gets corpus/ and fakes/)."),
    match: float = typer.Option(0.50, help="Minimum speaker match of a fake to its target (Pitch: 0.25 / 0.50)."),
    min_mos: float = typer.Option(None, "--min-mos", help="Minimum predicted MOS of a fake."),
    per_challenge: int = typer.Option(10, "--per-challenge", help="Fakes (and as many originals) per challenge."),
    seed: int = typer.Option(0, help="Sampling seed."),
) -> None:
    """Select a hard, balanced subset: convincing fakes (speaker match, pMOS) + originals per challenge."""
    from bench.subset import hard_subset

    if not hard:
        raise BenchError("only --hard subsets exist so far; pass --hard")
    summary = hard_subset(result, corpus, fakes, out, match=match, min_mos=min_mos, per_challenge=per_challenge,
                          seed=seed)
    console.print(f"hard subset: {summary['fakes']} fakes + {summary['originals']} originals in {out} "
                  f"(per challenge: {summary['per_challenge']})")


def _report_written(out: Path, manifest: dict) -> None:
    console.print(f"wrote {manifest['rows']} rows to {out} (content hash {manifest['content_hash']})")
    problems = manifest.get("skipped") or manifest.get("failures") or []
    if problems:
        console.print(f"[yellow]{len(problems)} item(s) skipped:[/yellow]")
        for p in problems:
            console.print(f"  {p.get('file') or p.get('utterance_id')}: {p['error']}", markup=False)


def _print_summary(ds, manifest: dict, summary: dict | None = None) -> None:
    summary = summary or summarize(ds)
    kind = manifest.get("kind", "corpus")
    simulated = " [bold yellow](simulated speech)[/bold yellow]" if manifest.get("simulated") else ""
    console.print(f"[bold]{kind}[/bold] {manifest.get('name', '')}{simulated}: {summary['rows']} rows, "
                  f"{summary['subjects']} subjects, {summary['duration_s']['total']:.1f} s of audio, "
                  f"sample rates {summary['sample_rates']}")
    table = Table(title="rows per challenge and device")
    devices = sorted(summary["per_device"])
    for col in ("#", "challenge", *devices, "total"):
        table.add_column(col, justify="right" if col != "challenge" else "left")
    for cid, n in summary["per_challenge"].items():
        per = [str(summary["per_challenge_device"].get(f"{cid}/{d}", 0)) for d in devices]
        table.add_row(str(cid), get(cid).name, *per, str(n))
    console.print(table)
    if "per_status" in summary:
        console.print(f"status: {summary['per_status']}  generators: {summary['per_generator']}")
    d = summary["duration_s"]
    console.print(f"durations: mean {d['mean']:.2f} s, min {d['min']:.2f} s, max {d['max']:.2f} s; "
                  f"subjects: {', '.join(f'{k} ({v})' for k, v in summary['per_subject'].items())}")
