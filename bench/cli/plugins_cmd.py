"""`bench plugins`: what the generator and detector registries hold."""

from __future__ import annotations

import typer
from rich.table import Table

from bench.api.registry import DETECTORS, GENERATORS
from bench.cli.output import console, err_console, print_json

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


@app.command("show")
def show(name: str = typer.Argument(..., help="A generator or detector name (bench plugins list)."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """One plugin's metadata, and for a trainable detector its training settings (bench train --set)."""
    from bench.errors import BenchError

    kind, registry = next(((k, r) for k, r in (("detector", DETECTORS), ("generator", GENERATORS))
                           if name in r.names()), (None, None))
    if registry is None:
        known = sorted([*DETECTORS.names(), *GENERATORS.names()])
        raise BenchError(f"no plugin named {name!r}; known: {', '.join(known)}")
    meta = registry.meta(name)
    doc = {"kind": kind, **meta.model_dump()}
    if kind == "detector" and getattr(registry.factory(name), "trainable", False):
        doc["training_settings"] = registry.create(name).training_defaults()
    if as_json:
        print_json(doc)
        return
    for key, value in doc.items():
        if value not in (None, "", [], {}):
            console.print(f"[bold]{key}[/bold]: {value}", highlight=False)
