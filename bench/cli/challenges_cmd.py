"""`bench challenges`: list, show and issue challenges from the Pitch taxonomy."""

from __future__ import annotations

import typer
from rich.table import Table

from bench.cli.output import console, print_json
from bench.cli.params import scripts_option

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
    from bench.challenges.taxonomy import TAXONOMY_VERSION, all_challenges
    from bench.references.pitch import paper_series, top10

    if device not in (None, "desktop", "mobile"):
        raise typer.BadParameter("must be desktop or mobile", param_hint="--device")
    items = [c for c in all_challenges() if device is None or c.available_on(device)]
    auroc, best = paper_series("pitch").per_challenge, set(top10())
    if as_json:
        print_json([{**c.model_dump(), "paper_top10": c.id in best, "paper_auroc": auroc.get(c.id)}
                    for c in items])
        return
    table = Table(title=f"Pitch challenge taxonomy, numbered as the paper's Tables 2-3 (taxonomy "
                        f"{TAXONOMY_VERSION}; {len(items)} challenges)")
    for col in ("#", "key", "name", "category", "sub-category", "mobile", "compliance", "content", "top-10",
                "paper AUROC %"):
        table.add_column(col, justify="right" if col in ("#", "paper AUROC %") else "left")
    for c in items:
        table.add_row(str(c.id), c.key, c.name, c.category, c.subcategory, "yes" if c.mobile else "no",
                      c.compliance, c.content, "*" if c.id in best else "", _pct(auroc.get(c.id)))
    console.print(table)
    console.print("[dim]paper AUROC: Pitch Table 3, quoted (FreeVC fakes; '-' = row missing from the paper's "
                  "text); top-10: the paper's ten effective challenges (Table 4)[/dim]")


@app.command()
def show(challenge: str = typer.Argument(..., help="Challenge id (0-20) or key, e.g. 1 or whisper."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Everything known about one challenge."""
    from bench.challenges.taxonomy import get
    from bench.references.pitch import row, table_label, top10

    c = get(challenge)
    paper = {name: row(name, c.id) for name in ("table3", "tableA2", "tableA3", "table4")}
    doc = {**c.model_dump(), "paper_top10": c.id in top10(),
           "paper": {table_label(k): v for k, v in paper.items() if v is not None}}
    if as_json:
        print_json(doc)
        return
    table = Table(show_header=False, title=f"#{c.id} {c.name}")
    for k, v in c.model_dump().items():
        table.add_row(k, str(v))
    table.add_row("paper top-10", "yes (Table 4)" if doc["paper_top10"] else "no")
    console.print(table)
    for label, figures in doc["paper"].items():
        shown = ", ".join(f"{k} {'-' if v is None else v}" for k, v in figures.items())
        console.print(f"[bold]Pitch {label}[/bold] (quoted): {shown}")
    if paper["table3"] is None:
        console.print("[dim]Pitch Table 3 has no row for this challenge in the paper's text[/dim]")
    if paper["table3"] is not None:
        console.print("[dim]Table 3 column names are inferred (the extraction lost the header); see "
                      "bench/references/pitch_reference.json[/dim]")


@app.command()
def issue(
    count: int = typer.Option(1, "--count", "-n", min=1, help="Number of challenges in the sequence (no repeats)."),
    seed: int = typer.Option(None, min=0, help="Seed for a reproducible draw (printed when omitted)."),
    top: int = typer.Option(None, min=1, help="Draw only from the top-N challenges by reference AUROC."),
    device: str = typer.Option(None, help="Caller's device: desktop or mobile (no playback on mobile)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    script_set: str = scripts_option(),
) -> None:
    """Draw random challenges with randomised parameters, as a defender's agent would in a call."""
    from bench.challenges.issue import issue as issue_challenges
    from bench.challenges.scripts import use_scripts

    use_scripts(script_set)
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


