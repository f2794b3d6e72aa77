"""Shared printing helpers for CLI commands: rich tables for people and JSON for machines on stdout,
problems on stderr."""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

# Wide output when piped (CI logs, files) so tables are not folded to 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def print_json(obj: Any) -> None:
    """Print JSON on stdout, unstyled, so it can be piped."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def json_stdout() -> Iterator[None]:
    """Inside the block stdout is kept for the JSON document (:func:`print_json`): everything the shared
    ``console`` prints (progress, tables, 'wrote ...') goes to stderr instead."""
    before = console.stderr
    console.stderr = True
    try:
        yield
    finally:
        console.stderr = before


def _json_aware(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` run inside :func:`json_stdout` when called with ``as_json=True`` (Typer reads the parameters
    of the wrapped function, so its options are unchanged)."""
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("as_json"):
            return command(*args, **kwargs)
        with json_stdout():
            return command(*args, **kwargs)

    return run


def json_commands_print_json_only(app: Any) -> None:
    """Every command of the Typer ``app`` (and its sub-apps) that has an ``as_json`` parameter (``--json``)
    prints only its JSON document on stdout when given ``--json``: called once, where the app is assembled,
    so new commands get it too."""
    infos = [*app.registered_commands, *([app.registered_callback] if app.registered_callback else [])]
    for info in infos:  # commands, and a group callback that runs a command itself (bench train --detector)
        if info.callback is not None and "as_json" in inspect.signature(info.callback).parameters:
            info.callback = _json_aware(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            json_commands_print_json_only(group.typer_instance)


def resolve_workers(workers: int | None) -> int:
    """The ``--workers`` value, or all CPUs this process may use when none was given; the execution engine
    (``BENCH_ENGINE``) is checked here too, before the command does anything."""
    from bench.parallel import check_engine, default_workers

    check_engine()
    return workers if workers is not None else default_workers()


def apply_gpus_per_worker(gpus: float | None) -> None:
    """Pass ``--gpus-per-worker`` to the Ray engine (``BENCH_GPUS_PER_WORKER``); one line when the engine is
    not Ray."""
    import os

    from bench.errors import BenchError
    from bench.parallel import engine_name, gpus_per_worker

    if gpus is None:
        return
    if engine_name() != "ray":
        raise BenchError("--gpus-per-worker applies to BENCH_ENGINE=ray (the local engine's workers use "
                         "--param device=cuda)")
    os.environ["BENCH_GPUS_PER_WORKER"] = repr(float(gpus))
    gpus_per_worker()


def report_problems(problems: list[dict[str, Any]], what: str, limit: int = 5) -> None:
    """Items that failed or were skipped, on stderr: grouped by reason, the most frequent first."""
    if not problems:
        return
    reasons = Counter(p.get("error") or "unknown error" for p in problems)
    err_console.print(f"warning: {len(problems)} {what}", markup=False)
    for reason, n in reasons.most_common(limit):
        example = next(p.get("file") or p.get("utterance_id") for p in problems if (p.get("error") or
                                                                                     "unknown error") == reason)
        err_console.print(f"  {n} x {reason} (e.g. {example})", markup=False)
    if len(reasons) > limit:
        err_console.print(f"  ... {len(reasons) - limit} other reason(s); the full list is in bench.json",
                          markup=False)


def report_written(out: Path, manifest: dict[str, Any]) -> None:
    """'wrote N rows' on stdout; skipped or failed items on stderr."""
    console.print(f"wrote {manifest['rows']} rows to {out} (content hash {manifest['content_hash']})")
    report_problems(manifest.get("skipped") or [], "file(s) skipped")
    report_problems(manifest.get("failures") or [], "item(s) failed")


def print_corpus_summary(ds, manifest: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
    """Rows per challenge and device, durations and subjects of a corpus or fakes dataset."""
    from rich.table import Table

    from bench.challenges.taxonomy import get
    from bench.data.corpus import summarize

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


def pct_spread(mean: float | None, std: float | None) -> str:
    """A fraction's mean and std over seeds as percent, "98.3 +- 0.1" (one seed: "98.3"; none: "-")."""
    if mean is None:
        return "-"
    return f"{100 * mean:.1f}" + (f" +- {100 * std:.1f}" if std is not None else "")


def seed_summary(m: dict[str, Any]) -> str:
    """A model card's ``<split>_summary``: AUROC and EER as mean +- std over its seeds."""
    return (f"AUROC {pct_spread(m['auroc_mean'], m.get('auroc_std'))} %, EER "
            f"{pct_spread(m['eer_mean'], m.get('eer_std'))} % over {m['seeds']} seed(s)")


def training_report_lines(card: Any) -> list[str]:
    """The detector's own lines about a model card's training record (``CMDetector.training_report``);
    none when the detector is not installed or has none."""
    from bench.api.registry import DETECTORS

    if card.detector not in DETECTORS:
        return []
    report = getattr(DETECTORS.factory(card.detector), "training_report", None)
    return list(report(card.training or {})) if callable(report) else []
