"""`bench models`: fetch and inspect model assets that cannot ship in the package."""

from __future__ import annotations

import typer

from bench.cli.output import console, print_json

app = typer.Typer(help="Model assets users supply (e.g. NISQA weights, CC BY-NC-SA 4.0).", no_args_is_help=True)


@app.command()
def pull(
    name: str = typer.Argument(..., help="Asset name: nisqa."),
    source: str = typer.Option(None, "--from", help="Install from a local file/folder or a URL instead of upstream."),
) -> None:
    """Download (or copy) and checksum-verify model weights into the bench cache."""
    from bench.models import pull as pull_asset

    path = pull_asset(name, source=source)
    console.print(f"installed {name} into {path}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What is installed in the bench model cache."""
    from rich.table import Table

    from bench.models import status

    rows = status()
    if as_json:
        print_json(rows)
        return
    table = Table(title="bench model cache")
    for col in ("name", "installed", "files", "license", "path"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], "yes" if r["installed"] else "no", ", ".join(r["files"]) or "-", r["license"],
                      r["path"])
    console.print(table)
