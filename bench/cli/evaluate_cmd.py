"""`bench evaluate`: run a detector on originals and fakes; print a Table-3-style summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bench.cli.generate_cmd import parse_params
from bench.cli.output import apply_gpus_per_worker, console, report_problems, resolve_workers
from bench.cli.params import gpus_per_worker_option, number, overwrite_option, seed_option, workers_option

if TYPE_CHECKING:
    from bench.evaluation.results import Result


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _ci(e, digits: int | None = None) -> str:
    """An estimate with its CI: percent by default, plain numbers with ``digits`` decimals."""
    if e is None or e.value is None:
        return "-"
    fmt = _pct if digits is None else (lambda x: "-" if x is None else f"{x:.{digits}f}")
    if e.ci_low is None:
        return fmt(e.value)
    return f"{fmt(e.value)} [{fmt(e.ci_low)}, {fmt(e.ci_high)}]"


def _v(e) -> float | None:
    return None if e is None else e.value


def _dcf(e) -> str:
    return "-" if e is None or e.value is None else f"{e.value:.3f}"


def print_summary(result: Result, out: Path) -> None:
    """Per-challenge AUROC with CIs and the paper's figure beside it (quoted, never mixed)."""
    from rich.table import Table

    sim = " - SIMULATED corpus" if result.simulated else ""
    paper = result.paper
    paper_col = f"paper AUROC % ({paper.source})" if paper else "paper AUROC %"
    table = Table(title=f"{result.detector.name} ({result.profile or 'default'}) vs {result.generator.name}{sim}")
    for col in ("#", "challenge", "n real", "n fake", "AUROC % [95% CI]", "EER %", "acc %", "F1 %", "minDCF",
                "mean score real", "mean score fake", paper_col):
        table.add_column(col, justify="left" if col == "challenge" else "right")
    for c in result.per_challenge:
        mark = "*" if c.challenge in result.top_challenges else ("~" if c.challenge in result.ranking.too_wide else "")
        table.add_row(f"{c.challenge}{mark}", c.name, str(c.n_bona_fide), str(c.n_fake), _ci(c.auroc),
                      _pct(c.eer.value), _pct(_v(c.accuracy)), _pct(_v(c.f1)), _dcf(c.min_dcf),
                      "-" if c.mean_score_bona_fide is None else f"{c.mean_score_bona_fide:.3f}",
                      "-" if c.mean_score_fake is None else f"{c.mean_score_fake:.3f}", _pct(c.paper_auroc))
    o = result.overall
    table.add_row("all", "all challenges", str(o.n_bona_fide), str(o.n_fake), _ci(o.auroc), _pct(o.eer.value),
                  _pct(_v(o.accuracy)), _pct(_v(o.f1)), _dcf(o.min_dcf),
                  f"{o.mean_score_bona_fide:.3f}" if o.mean_score_bona_fide is not None else "-",
                  f"{o.mean_score_fake:.3f}" if o.mean_score_fake is not None else "-", "-")
    console.print(table)
    if o.threshold is not None:
        console.print(f"accuracy, F1 at threshold {o.threshold:.4g}; minDCF: ASVspoof 5 parameters "
                      f"(result.json metric_settings)"
                      + (f"; actDCF {_ci(o.act_dcf, 3)}, Cllr {_ci(o.cllr, 3)} bits" if o.act_dcf else ""))
    if result.seeds:
        sp = result.seeds
        console.print(f"over the model's {len(sp.seeds)} seeds (each scored alone): AUROC {_pct(sp.auroc.mean)} +- "
                      f"{_pct(sp.auroc.std)} %, EER {_pct(sp.eer.mean)} +- {_pct(sp.eer.std)} % (the table scores "
                      "with the mean of the seeds' scores)")
    for line in comparison_lines(result):
        console.print(line)
    t = result.timings
    if t.get("rtfx_cpu"):
        parts = ", ".join(f"{k} {v['rtfx']:.1f}x" for k, v in t["components"].items() if v.get("rtfx"))
        console.print(f"throughput (audio-seconds per CPU-second of every value used, resumed or cached ones "
                      f"included): all components "
                      f"{t['rtfx_cpu']:.1f}x; {parts}")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"wrote {out / 'result.json'} and {out / 'scores.parquet'}")


def comparison_lines(result: Result) -> list[str]:
    """The paper's top-10 beside ours on the same ten, and our own ranking only where the CIs allow it."""
    paper, rk = result.paper, result.ranking
    ten = paper.top10 if paper else []
    lines = []
    if paper:
        quoted = f"{_pct(paper.top10_auroc)}" if paper.top10_auroc is not None else "not reported"
        present = result.paper_top10_present
        scope = "" if len(present) == len(ten) else f" (only {', '.join(f'#{i}' for i in present) or 'none'} in " \
                                                  "this run)"
        lines.append(f"paper's top-10 challenges {', '.join(f'#{i}' for i in ten)}: ours pooled "
                     f"{_ci(result.paper_top10_auroc)}{scope} vs the paper's {quoted} (quoted: {paper.source} "
                     f"'Average (top-10)', {paper.generator} fakes)")
        values = [c.auroc.value for c in result.per_challenge if c.auroc.value is not None]
        if values and paper.average_auroc is not None:
            lines.append(f"mean of the per-challenge AUROCs: ours {_pct(sum(values) / len(values))} over "
                         f"{len(values)} challenges vs the paper's {_pct(paper.average_auroc)} (quoted: "
                         f"{paper.source} 'Average')")
    width = f"{100 * rk.max_ci_halfwidth:.0f}"
    if rk.too_wide:
        lines.append(f"our ranking: {len(rk.too_wide)} of {len(rk.ranked) + len(rk.too_wide)} challenges (~ above) "
                     f"have, or with their sample sizes could have, a 95% CI wider than +-{width} AUROC points: "
                     "not ranked (bench demo --size paper-shape has enough samples)")
    if rk.ranked:
        lines.append(f"our top challenges (CI within +-{width} points, AUROC >= {100 * result.top_threshold:.0f}%, "
                     f"* above): {result.top_challenges or 'none'}; pooled {_ci(result.top_n_auroc)}")
    lines.append("[dim]paper figures are quoted from Pitch (100 recorded speakers, FreeVC fakes), never "
                 "measured here and never ranked with ours[/dim]")
    return lines


def evaluate(
    detector: str = typer.Option("pitch-lite", "--detector", "-d", help="Detector name (bench plugins list)."),
    corpus: Path = typer.Option(None, "--corpus", "-c", help="Corpus of original recordings (with --fakes)."),
    fakes: Path = typer.Option(None, "--fakes", "-f", help="Fakes directory from `bench generate`."),
    dataset: str = typer.Option(None, "--dataset", help="A labelled field dataset instead of --corpus/--fakes: "
                                "DIR[:SPLIT] in an official layout (ASVspoof 2019/2021/5, In-the-Wild, MLAAD) or of "
                                "parquet files, or a Hub REPO_ID[:SPLIT] (docs/datasets.md)."),
    out: Path = typer.Option(..., "--out", "-o", help="Result directory (result.json, scores.parquet, cache/)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Detector setting KEY=VALUE (repeatable)."),
    compliance: Path = typer.Option(None, "--compliance", help="Compliance classifiers (bench train compliance)."),
    cache: Path = typer.Option(None, "--cache", help="Shared component cache folder (default OUT/cache)."),
    threshold: float = typer.Option(None, parser=number(), help="Decision threshold on the score for accuracy "
                                    "(default: the overall EER point); with --dataset, also a carried-over "
                                    "threshold whose FPR/FNR/HTER are reported."),
    split: str = typer.Option(None, "--split", help="--dataset: the split to evaluate (default: its evaluation "
                              "split)."),
    dev_split: str = typer.Option(None, "--dev-split", help="--dataset: a development split whose EER threshold is "
                                  "carried over to the evaluated split (FPR, FNR, HTER there)."),
    threshold_from: list[str] = typer.Option(None, "--threshold-from", help="--dataset: where carried-over "
                                             "thresholds come from: card (the model card's), dev (--dev-split's "
                                             "EER point); repeatable (default: card, and dev with --dev-split)."),
    revision: str = typer.Option(None, "--revision", help="--dataset REPO_ID: the Hub revision (commit, tag or "
                                 "branch) to read; recorded in the result."),
    column: list[str] = typer.Option([], "--column", help="--dataset parquet: FIELD=COLUMN, a bench field (audio, "
                                     "label, attack, speaker, utterance_id) read from a column of another name "
                                     "(repeatable)."),
    audio_cache: Path = typer.Option(None, "--audio-cache", help="--dataset REPO_ID: where the streamed audio is "
                                     "kept for later runs (default: bench's cache root, $BENCH_CACHE or "
                                     "~/.cache/bench, under datasets/)."),
    no_audio_cache: bool = typer.Option(False, "--no-audio-cache", help="--dataset REPO_ID: keep no copy of the "
                                        "streamed audio (a rerun streams again what it still has to score)."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples for confidence intervals (0: none)."),
    seed: int = seed_option("Seed for bootstrap resampling."),
    workers: int = workers_option(),
    gpus_per_worker: float = gpus_per_worker_option(),
    overwrite: bool = overwrite_option("result"),
    held_out_only: bool = typer.Option(False, "--held-out-only", help="Score only speakers the detector did not "
                                       "train on (the metrics never count the others; `bench data subset` uses "
                                       "them)."),
) -> None:
    """Score originals and fakes with a detector; per-challenge AUROC/EER with bootstrap CIs. With --dataset,
    a waveform detector on a labelled field dataset: pooled and per attack, and at carried-over thresholds."""
    from bench.errors import BenchError

    config = parse_params(param)
    apply_gpus_per_worker(gpus_per_worker)
    if dataset is not None:
        _evaluate_dataset(detector, dataset, out, config, corpus=corpus, fakes=fakes, compliance=compliance,
                          held_out_only=held_out_only, cache=cache, threshold=threshold, split=split,
                          dev_split=dev_split, threshold_from=threshold_from, revision=revision, column=column,
                          bootstrap=bootstrap, seed=seed, workers=workers, overwrite=overwrite,
                          audio_cache=audio_cache, no_audio_cache=no_audio_cache)
        return
    dataset_only = [flag for flag, v in (("--split", split), ("--dev-split", dev_split),
                                         ("--threshold-from", threshold_from), ("--revision", revision),
                                         ("--column", column), ("--audio-cache", audio_cache),
                                         ("--no-audio-cache", no_audio_cache)) if v]
    if dataset_only:
        raise BenchError(f"{', '.join(dataset_only)} go(es) with --dataset")
    if corpus is None or fakes is None:
        raise BenchError("give --corpus and --fakes (a challenge corpus and its fakes), or --dataset (a labelled "
                         "field dataset)")
    from bench.runs.evaluate import evaluate as run_evaluate

    if compliance is not None:
        if "compliance" in config:
            raise BenchError("--param compliance and --compliance were both given; use one")
        config["compliance"] = str(compliance)
    result = run_evaluate(detector, corpus, fakes, out, config=config, workers=resolve_workers(workers), cache=cache,
                          threshold=threshold, n_boot=bootstrap, seed=seed, command=" ".join(sys.argv),
                          overwrite=overwrite, held_out_only=held_out_only)
    print_summary(result, out)
    report_problems(result.evaluation_scope.get("skipped_samples", []), "sample(s) left out (undecodable)")


def parse_columns(items: list[str]) -> dict[str, str]:
    """``--column FIELD=COLUMN`` options into a dict (one line for a malformed or repeated one)."""
    from bench.errors import BenchError

    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BenchError(f"--column expects FIELD=COLUMN, got {item!r}")
        if key.strip() in out:
            raise BenchError(f"--column {key.strip()} given twice")
        out[key.strip()] = value.strip()
    return out


def _evaluate_dataset(detector: str, dataset: str, out: Path, config: dict, *, corpus, fakes, compliance,
                      held_out_only, cache, threshold, split, dev_split, threshold_from, revision, column,
                      bootstrap, seed, workers, overwrite, audio_cache, no_audio_cache) -> None:
    from bench.cli.dataset_summary import print_dataset_summary
    from bench.errors import BenchError
    from bench.runs.evaluate_dataset import evaluate_dataset

    clash = [flag for flag, v in (("--corpus", corpus), ("--fakes", fakes), ("--compliance", compliance),
                                  ("--held-out-only", held_out_only)) if v]
    if clash:
        raise BenchError(f"--dataset replaces {', '.join(clash)}: give one or the other")
    if audio_cache is not None and no_audio_cache:
        raise BenchError("--audio-cache and --no-audio-cache: give one or the other")
    result = evaluate_dataset(detector, dataset, out, config=config, split=split, dev_split=dev_split,
                              threshold=threshold, threshold_from=threshold_from or None, revision=revision,
                              columns=parse_columns(column) or None, workers=resolve_workers(workers), cache=cache,
                              n_boot=bootstrap, seed=seed, command=" ".join(sys.argv), overwrite=overwrite,
                              audio_cache=False if no_audio_cache else (audio_cache or True))
    print_dataset_summary(result, out)
    report_problems(result.evaluation_scope.get("skipped_samples", []), "item(s) left out (unreadable audio)")
