"""`bench gate`: fail CI when a detector (or the server) got worse than a baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bench.cli.output import console, print_json
from bench.cli.params import number


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def gate(
    baseline: Path = typer.Option(..., "--baseline", "-b", help="Baseline results JSON (bench evaluate's "
                                  "result.json, or bench latency's latency.json)."),
    current: Path = typer.Option(..., "--current", "-c", help="Current results JSON (the same kind)."),
    config: Path = typer.Option(None, "--config", help="TOML file with [gate] tolerances."),
    max_auroc_drop: float = typer.Option(None, parser=number(0.0), help="Allowed AUROC drop (absolute, default 0.02)."),
    max_eer_rise: float = typer.Option(None, parser=number(0.0), help="Allowed EER rise (absolute, default 0.02)."),
    max_latency_rise: float = typer.Option(None, parser=number(0.0),
                                           help="Allowed p95 latency rise (relative, default 0.20)."),
    max_throughput_fall: float = typer.Option(None, parser=number(0.0),
                                              help="Allowed throughput fall (relative, default 0.30)."),
    ci_aware: bool = typer.Option(None, "--ci-aware/--no-ci-aware", help="Ignore drops inside the current CI."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Compare results with a baseline: exit 1 on regression, 0 otherwise, 2 on bad input."""
    from rich.table import Table

    from bench.evaluation.gate import Tolerances, compare_any, load_for_gate

    tol = Tolerances.from_file(config) if config else Tolerances()
    for name, value in (("auroc_drop", max_auroc_drop), ("eer_rise", max_eer_rise),
                        ("latency_p95_rise", max_latency_rise), ("throughput_fall", max_throughput_fall),
                        ("ci_aware", ci_aware)):
        if value is not None:
            setattr(tol, name, value)
    tol.validate()
    checks = compare_any(load_for_gate(baseline), load_for_gate(current), tol)
    failed = [c for c in checks if c.status == "regression"]
    if as_json:
        print_json({"passed": not failed, "checks": [c.__dict__ for c in checks]})
    else:
        table = Table(title=f"bench gate: {current} vs baseline {baseline}")
        for col in ("metric", "baseline", "current", "tolerance", "status", "detail"):
            table.add_column(col)
        style = {"regression": "bold red", "improved": "green", "noise": "yellow"}
        for c in checks:
            table.add_row(c.metric, _fmt(c.baseline), _fmt(c.current), c.tolerance,
                          f"[{style.get(c.status, '')}]{c.status}[/]" if c.status in style else c.status, c.detail)
        console.print(table)
        console.print(f"[bold red]FAIL[/]: {len(failed)} regression(s)" if failed else "[bold green]PASS[/]: "
                      "no regression beyond tolerance")
    sys.exit(1 if failed else 0)
