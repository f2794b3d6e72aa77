"""`bench mlops cycle`: ship the edge's kept features to the core, retrain, register, gate, promote, hot-swap."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, print_json
from bench.cli.params import overwrite_option

app = typer.Typer(help="DevoX's MLOps loop: continuous training from the edge's kept features.",
                  no_args_is_help=True)


@app.command()
def cycle(
    model: str = typer.Option(..., "--model", "-m", help="The running split model: NAME (its promoted version) or "
                                                         "NAME@VERSION."),
    keep_dir: Path | None = typer.Option(None, "--keep-dir", help="The edge's keep folder (bench serve --keep-dir); "
                                         "or --fetch."),
    fetch: bool = typer.Option(False, "--fetch", help="Fetch the kept features from --server over the network "
                                                      "(GET /v1/kept with --token-file) instead of a folder."),
    token_file: Path | None = typer.Option(None, "--token-file", help="The server's token, for --fetch (or "
                                           "BENCH_SERVE_TOKEN)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the cycle's files, state.json and cycle.json (owned: "
                             "the same command resumes there; a folder bench did not write is refused)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="The model's training corpus (default: its card's)."),
    fakes: Path | None = typer.Option(None, "--fakes", help="Its fakes (default: its card's)."),
    epochs: int = typer.Option(30, min=1, max=1000, help="Fine-tuning epochs of the server half (DevoX: 30)."),
    lr: float = typer.Option(1e-4, min=1e-7, max=1.0, help="Learning rate."),
    threads: int = typer.Option(2, min=1, help="Torch threads."),
    server: str | None = typer.Option(None, "--server", help="The running server's URL: checked up front (GET "
                                      "/healthz); wait until it serves the new version (deployment time)."),
    deploy_timeout: float = typer.Option(120.0, "--deploy-timeout", min=1.0, max=86400.0, help="Seconds to wait for "
                                         "--server to serve the new version (exit 1 if it does not)."),
    gate_config: Path | None = typer.Option(None, "--gate-config", help="bench gate tolerances (TOML)."),
    as_json: bool = typer.Option(False, "--json", help="Print cycle.json."),
    overwrite: bool = overwrite_option("cycle"),
) -> None:
    """One MLOps cycle, each stage timed beside DevoX Table 2: upload, preparation, training, gate (against the
    running version), registration (only once gated), deployment (promote if the gate passed; hot swap).
    Every input is checked before anything is written; the same command resumes an interrupted cycle."""
    from bench.cli.params import read_token
    from bench.errors import BenchError
    from bench.references.devox import DEVOX_TABLE2
    from bench.serve.mlops import mlops_cycle

    if fetch == (keep_dir is not None):
        raise BenchError("give either --keep-dir FOLDER or --fetch (with --server URL and the token)")
    if fetch and not server:
        raise BenchError("--fetch needs --server URL (the edge server that kept the features)")
    token = read_token(token_file, required=True) if fetch else None
    doc = mlops_cycle(model, server if fetch else keep_dir, out, token=token, corpus=str(corpus) if corpus else None,
                      fakes=str(fakes) if fakes else None, epochs=epochs, lr=lr, threads=threads, server=server,
                      gate_config=str(gate_config) if gate_config else None, deploy_timeout=deploy_timeout,
                      overwrite=overwrite,
                      progress=lambda m: console.print(m, markup=False, highlight=False, style="dim"))
    if as_json:
        print_json(doc)
        return
    from rich.table import Table

    table = Table(title=f"MLOps cycle {doc['running']} -> {doc['candidate']}")
    for col in ("stage", "seconds", "DevoX Table 2 (quoted, s)"):
        table.add_column(col)
    quoted = {"upload": DEVOX_TABLE2["upload_s"], "preparation": DEVOX_TABLE2["preparation_s"],
              "training": DEVOX_TABLE2["training_s"], "deployment": DEVOX_TABLE2["deployment_s"]}
    for stage, s in doc["stages_s"].items():
        table.add_row(stage, f"{s:.2f}", f"{quoted[stage]:.2f}" if stage in quoted else "-")
    console.print(table)
    g = doc["gate"]
    console.print(f"gate {'passed' if g['passed'] else 'FAILED (' + ', '.join(g['regressions']) + ')'}; "
                  f"{'promoted' if doc['deployment']['promoted'] else 'not promoted'}; wrote {out / 'cycle.json'}",
                  markup=False)
