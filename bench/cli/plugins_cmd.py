"""`bench plugins`: what the generator and detector registries hold."""

from __future__ import annotations

import typer
from rich.table import Table

from bench.cli.output import console, err_console, print_json
from bench.registry import DETECTORS, GENERATORS

app = typer.Typer(help="Registered generator and detector plugins (built in and from entry points).",
                  no_args_is_help=True)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List generators and detectors with their metadata."""
    entries = [("generator", m) for m in GENERATORS] + [("detector", m) for m in DETECTORS]
    broken = {**{f"generator {k}": v for k, v in GENERATORS.broken.items()},
              **{f"detector {k}": v for k, v in DETECTORS.broken.items()}}
    for name, why in broken.items():
        err_console.print(f"warning: plugin {name} cannot be imported: {why}", markup=False)
    if as_json:
        print_json([{"kind": k, **m.model_dump()} for k, m in entries])
        return
    table = Table(title="bench plugins")
    for col in ("kind", "name", "version", "license", "devices", "offline", "assets", "source"):
        table.add_column(col)
    for kind, m in entries:
        table.add_row(kind, m.name, m.version, m.license, ",".join(m.devices), "yes" if m.offline else "no",
                      ", ".join(m.assets) or "-", m.source)
    console.print(table)
    if not entries:
        console.print("no plugins registered yet")
