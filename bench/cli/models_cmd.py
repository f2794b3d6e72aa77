"""`bench models`: the local model registry (trained and packaged detector models: list, show, promote,
remove) and the model assets users supply (pull)."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, pct_spread, print_json, seed_summary, training_report_lines
from bench.cli.params import overwrite_option

app = typer.Typer(help="Detector models (trained by bench train, or packaged such as aasist-asvspoof2019) and the "
                       "model assets users supply (e.g. NISQA weights, CC BY-NC-SA 4.0).", no_args_is_help=True)


@app.command()
def pull(
    name: str = typer.Argument(..., help="An asset name (nisqa), or a detector model: a Hub model repo OWNER/NAME "
                                         "or a local folder in that layout (bench models push)."),
    source: str = typer.Option(None, "--from", help="Asset only: install from a local file/folder or a URL instead "
                                                    "of upstream."),
    revision: str = typer.Option(None, "--revision", help="Model repo only: a branch, tag or commit."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Install a model asset (checksum-verified into the bench cache), or add a detector model from the Hub (or a
    folder) to the local model store as its next version, every file checked against the card's SHA-256."""
    from bench.models.assets import MODELS
    from bench.models.assets import pull as pull_asset

    if name in MODELS:
        path = pull_asset(name, source=source)
        console.print(f"installed {name} into {path}")
        return
    from bench.errors import BenchError
    from bench.models.hub import describe_pull, pull_model

    if source:
        raise BenchError("--from is for assets (nisqa); give a model repo or folder as the argument")
    if "/" not in name and not Path(name).is_dir():
        raise BenchError(f"unknown model {name!r}: assets are {', '.join(sorted(MODELS))}; a detector model is "
                         "pulled from a Hub repo OWNER/NAME or a folder written by bench models push")
    entry = pull_model(name, revision=revision)
    if as_json:
        print_json(describe_pull(entry))
        return
    console.print(f"added {entry.card.ref} ({entry.card.detector}) from {name} to {entry.folder.parent.parent}")


@app.command()
def push(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME, or a model folder) of a model bench trained."),
    repo_id: str = typer.Option(None, "--repo-id", help="Hub model repo OWNER/NAME (uses HF_TOKEN)."),
    to_folder: str = typer.Option(None, "--to-folder", help="Write the repo layout to this local folder instead."),
    revision: str = typer.Option(None, "--revision", help="Branch to push to (created if missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace what --to-folder holds."),
) -> None:
    """Publish a stored model as a Hub model repo: its files, model.json (checksums, training record) and a README
    model card; `bench models pull OWNER/NAME` brings it back."""
    from bench.errors import BenchError
    from bench.models.hub import export_model, push_model

    if (repo_id is None) == (to_folder is None):
        raise BenchError("give exactly one of --repo-id or --to-folder")
    if to_folder:
        console.print(f"wrote {export_model(ref, to_folder, overwrite=overwrite)}")
        return
    console.print(f"pushed {ref}: {push_model(ref, repo_id, revision=revision, private=private)}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Stored and packaged detector models, and the installed model assets."""
    from rich.table import Table

    from bench.models.assets import status
    from bench.models.store import list_models, store_root

    models, assets = list_models(), status()
    if as_json:
        print_json({"store": str(store_root()), "models": models, "assets": assets})
        return
    table = Table(title=f"detector models ({store_root()})")
    for col in ("model", "detector", "architecture", "seeds", "promoted", "source", "test AUROC", "trained on"):
        table.add_column(col)
    for m in models:
        t = m["metrics"]
        auroc = pct_spread(t.get("auroc_mean"), t.get("auroc_std"))
        table.add_row(m["ref"], m["detector"], m["architecture"], ",".join(map(str, m["seeds"])) or "-",
                      "yes" if m["promoted"] else "", m["source"], auroc, m["trained_on"])
    console.print(table)
    table = Table(title="model assets (bench models pull)")
    for col in ("name", "installed", "files", "license", "path"):
        table.add_column(col)
    for r in assets:
        table.add_row(r["name"], "yes" if r["installed"] else "no", ", ".join(r["files"]) or "-", r["license"],
                      r["path"])
    console.print(table)


@app.command()
def show(ref: str = typer.Argument(..., help="NAME@VERSION, NAME, a model folder or a packaged model."),
         as_json: bool = typer.Option(False, "--json", help="The whole model card as JSON.")) -> None:
    """A model's card: what it is, what it was trained on, how to reproduce it, its metrics and files."""
    from bench.api.score_contract import InputSpec
    from bench.models.store import resolve

    entry = resolve(ref)
    card = entry.card
    entry.verify()
    if as_json:
        print_json({"folder": str(entry.folder), **card.model_dump()})
        return
    tr = card.training
    lines = [f"model {card.ref} ({card.source}) - detector {card.detector} v{card.detector_version}, architecture "
             f"{card.architecture or '-'}, {card.n_params or '?'} parameters, licence {card.license}",
             f"folder: {entry.folder} (files verified: {', '.join(card.files)})",
             f"trained on: {card.trained_on or '-'}",
             f"input: {InputSpec.from_dict(card.input).describe() if card.input else '-'}",
             f"score: {card.semantics.get('scale', '-')}; higher = more likely fake; threshold "
             f"{card.semantics.get('threshold', '-')}",
             f"seeds: {', '.join(map(str, card.seeds))}; settings: {tr.get('settings', '-')}"]
    if tr.get("splits"):
        sp = tr["splits"]
        lines.append(f"speakers: train {', '.join(sp['train'])}; validation {', '.join(sp['val'])}; test "
                     f"{', '.join(sp['test'])}")
    if tr.get("corpus"):
        lines.append(f"corpus {tr['corpus'].get('name')} (content hash {tr['corpus'].get('content_hash')}), fakes "
                     f"{tr['fakes'].get('generator')} (content hash {tr['fakes'].get('content_hash')}); training "
                     f"time {tr.get('seconds', 0):.0f} s on {tr.get('device')} with {tr.get('threads')} thread(s)")
        lines.append(f"reproduce: {(tr.get('run') or {}).get('command') or '-'}")
    for split in ("val", "test"):
        m = card.metrics.get(f"{split}_summary")
        if m:
            lines.append(f"{split} speakers: {seed_summary(m)}")
    lines += training_report_lines(card)
    if card.protocols:
        from bench.api.score_contract import ScoreProtocol

        lines.append("protocols: bench (default; its input and score above)")
        lines += [f"  {ScoreProtocol.checked(name, d).summary()} (--protocol {name})"
                  for name, d in card.protocols.items()]
    if card.reference:
        lines.append(f"reference: {card.reference}")
    for line in lines:
        console.print(line, markup=False, highlight=False)


@app.command()
def promote(ref: str = typer.Argument(..., help="NAME@VERSION to make the version NAME resolves to.")) -> None:
    """Make NAME@VERSION the default version of NAME."""
    from bench.models.store import promote as do_promote

    card = do_promote(ref)
    console.print(f"{card.name} now resolves to {card.ref}", markup=False)


@app.command()
def remove(ref: str = typer.Argument(..., help="NAME@VERSION to delete from the store.")) -> None:
    """Delete one stored model version (packaged models and folders outside the store are never touched)."""
    from bench.models.store import remove as do_remove

    folder = do_remove(ref)
    console.print(f"removed {ref} ({folder})", markup=False)


@app.command("export-device")
def export_device(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME, or a model folder) of a split model (devox, "
                                        "deepdetection)."),
    out: Path = typer.Option(..., "--out", help="Folder to write device-seed<N>.onnx and device.json into (owned)."),
    overwrite: bool = overwrite_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest (device.json) as JSON."),
) -> None:
    """Export a split model's device half as ONNX (one file per seed) plus device.json, what a phone or browser
    client needs to compute privacy-mode feature messages without bench (docs/serve.md, "The device half")."""
    from bench.serve.device_export import MANIFEST, export_device_half

    manifest = export_device_half(ref, out, overwrite=overwrite)
    if as_json:
        print_json(manifest)
        return
    console.print(f"wrote the device half of {manifest['model']} ({len(manifest['seeds'])} seed(s), model_version "
                  f"{manifest['model_version']}) to {out}; see {out / MANIFEST}")
