"""`bench challenges`: list, show and issue challenges from the Pitch taxonomy."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bench.cli.output import console, print_json

app = typer.Typer(help="The challenge taxonomy: list, show, and issue challenges during a call.",
                  no_args_is_help=True)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


@app.command("list")
def list_(
    device: str = typer.Option(None, help="Only challenges possible on this device (desktop|mobile)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """All 21 challenges (#0 no challenge ... #20) with category, device support and checks."""
    from challenges.taxonomy import all_challenges

    if device not in (None, "desktop", "mobile"):
        raise typer.BadParameter("must be desktop or mobile", param_hint="--device")
    items = [c for c in all_challenges() if device is None or c.available_on(device)]
    if as_json:
        print_json([c.model_dump() for c in items])
        return
    table = Table(title=f"Pitch challenge taxonomy ({len(items)} challenges)")
    for col in ("#", "key", "name", "category", "mobile", "compliance", "content", "shortlist",
                "paper AUROC %"):
        table.add_column(col, justify="right" if col in ("#", "paper AUROC %") else "left")
    for c in items:
        table.add_row(str(c.id), c.key, c.name, c.category, "yes" if c.mobile else "no", c.compliance,
                      c.content, "*" if c.paper_shortlist else "", _pct(c.paper.auroc))
    console.print(table)
    console.print("[dim]paper figures are quoted from the Pitch paper where known ('-' = not available "
                  "offline); shortlist = the authors' top challenges[/dim]")


@app.command()
def show(challenge: str = typer.Argument(..., help="Challenge id (0-20) or key, e.g. 1 or whisper."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Everything known about one challenge."""
    from challenges.taxonomy import get

    c = get(challenge)
    if as_json:
        print_json(c.model_dump())
        return
    table = Table(show_header=False, title=f"#{c.id} {c.name}")
    for k, v in c.model_dump().items():
        table.add_row(k, str(v))
    console.print(table)


@app.command()
def issue(
    count: int = typer.Option(1, "--count", "-n", min=1, help="Number of challenges in the sequence (no repeats)."),
    seed: int = typer.Option(None, min=0, help="Seed for a reproducible draw (printed when omitted)."),
    top: int = typer.Option(None, min=1, help="Draw only from the top-N challenges by reference AUROC."),
    device: str = typer.Option(None, help="Caller's device: desktop or mobile (no playback on mobile)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    scripts_file: Path = typer.Option(None, "--scripts", help="Scripts JSON to draw sentences from."),
) -> None:
    """Draw random challenges with randomised parameters, as a defender's agent would in a call."""
    from challenges.issue import issue as issue_challenges
    from challenges.scripts import use_scripts

    use_scripts(scripts_file)
    used_seed, items = issue_challenges(count=count, seed=seed, top=top, device=device)
    if as_json:
        print_json({"seed": used_seed, "challenges": [i.model_dump() for i in items]})
        return
    table = Table(title=f"Issued challenges (seed {used_seed})")
    for col in ("step", "#", "challenge", "ask the caller"):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(str(i.position), str(i.id), i.name, i.prompt)
    console.print(table)


