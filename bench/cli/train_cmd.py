"""`bench train`: train the models a detector needs from a corpus (Pitch's compliance classifiers)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bench.cli.output import (
    console,
    print_json,
    report_problems,
    resolve_workers,
    seed_summary,
    training_report_lines,
)
from bench.cli.params import number, overwrite_option, seed_option, workers_option

app = typer.Typer(help="Train detector models: a waveform detector on a corpus + fakes (bench train --detector "
                       "NAME ...), or Pitch's challenge-compliance classifiers on a corpus (bench train compliance).",
                  no_args_is_help=True, invoke_without_command=True)


def _settings(items: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as texts: bench train parses each as the type the detector declares for it."""
    from bench.errors import BenchError

    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--set expects KEY=VALUE, got {item!r}")
        if key in out:
            raise BenchError(f"--set {key} given twice")
        out[key] = value.strip()
    return out


@app.callback()
def _train(
    ctx: typer.Context,
    detector: str = typer.Option(None, "--detector", "-d", help="Waveform detector to train (lfcc-lcnn, specrnet, "
                                                               "aasist, rawnet2, svm, xgboost...: bench plugins "
                                                               "list)."),
    corpus: Path = typer.Option(None, "--corpus", "-c", help="Corpus of original recordings."),
    fakes: list[Path] = typer.Option(None, "--fakes", "-f", help="Fakes made from that corpus (bench generate); "
                                     "repeat it to train on several generators' fakes together."),
    out: Path = typer.Option(None, "--out", "-o", help="Model folder (model.json + weights; resumes: finished "
                                                       "seeds are kept, an interrupted one continues)."),
    seeds: str = typer.Option("0", "--seeds", help="Training seeds, e.g. 0,1,2: one network each; the model "
                                                   "scores with their mean and reports mean +- std."),
    set_: list[str] = typer.Option([], "--set", help="Training setting KEY=VALUE (repeatable), e.g. "
                                                     "architecture=aasist-l, epochs=10, init=aasist-asvspoof2019; "
                                                     "each detector's keys and defaults: bench plugins show NAME."),
    augment: str = typer.Option(None, "--augment", help="Channel-matched training: telephone channel profiles, "
                                "comma-separated (bench data channels); each training crop is also seen once "
                                "through one of them, drawn per crop and seed (waveform networks); 'clean' is the "
                                "same-steps control (the copy is the crop unchanged)."),
    name: str = typer.Option(None, "--name", help="Model name in the store (default: DETECTOR-ARCHITECTURE)."),
    test_speakers: int = typer.Option(None, "--test-speakers", min=1, help="Held-out test speakers (default: "
                                                                            "20%, >= 1; the same ones Pitch's "
                                                                            "compliance classifiers hold out)."),
    split_seed: int = typer.Option(0, "--split-seed", min=0, help="Seed of the speaker split (not the training "
                                                                  "seeds)."),
    device: str = typer.Option("cpu", help="cpu (default), cuda or cuda:N."),
    threads: int = typer.Option(1, min=1, help="Compute threads (torch's, or the classifier library's)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Add the model to the local model store "
                                                                         "(bench models list)."),
    overwrite: bool = overwrite_option("model"),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train detector models (see the subcommands, or --detector)."""
    if ctx.invoked_subcommand is not None:
        return
    from bench.errors import BenchError

    missing = [flag for flag, v in (("--detector", detector), ("--corpus", corpus), ("--fakes", fakes or None),
                                    ("--out", out)) if v is None]
    if missing:
        raise BenchError(f"bench train needs {', '.join(missing)} (or a subcommand: bench train compliance)")
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise BenchError(f"--seeds {seeds!r}: give integers separated by commas, e.g. 0,1,2") from None
    if len(set(seed_list)) != len(seed_list):
        raise BenchError(f"--seeds {seeds!r}: a seed is repeated; each seed trains one network, give each once")
    from bench.runs.train import train_detector

    log = (lambda msg: None) if as_json else (lambda msg: console.print(msg, markup=False, highlight=False))
    settings = _settings(set_)
    if augment is not None:
        if "augment" in settings:
            raise BenchError("give --augment or --set augment=..., not both")
        settings["augment"] = augment
    entry = train_detector(detector, corpus, fakes, out, seeds=seed_list, settings=settings, device=device,
                           threads=threads, test_speakers=test_speakers, split_seed=split_seed, name=name,
                           register=register, overwrite=overwrite, command=" ".join(["bench", *sys.argv[1:]]),
                           progress=log)
    card = entry.card
    if as_json:
        print_json(card.model_dump())
        return
    for split in ("val", "test"):
        summ = card.metrics.get(f"{split}_summary")
        if summ:
            console.print(f"{split} speakers: {seed_summary(summ)}")
    for line in training_report_lines(card):
        console.print(line, markup=False, highlight=False)
    console.print(f"model {card.ref}: {card.n_params or '?'} parameters, trained in "
                  f"{card.training.get('seconds', 0):.0f} s; folder {entry.folder}")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


@app.command()
def compliance(
    corpus: Path = typer.Option(..., "--corpus", "-c", help="Corpus of ORIGINAL recordings (not fakes)."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint directory (resumes: trained challenges are kept)."),
    backbone: str = typer.Option("logmel-cnn", help="logmel-cnn (small CNN, CPU) or wav2vec2 (transformers)."),
    model: str = typer.Option(None, "--model", help="wav2vec2: local model directory or Hub id "
                                                     "(e.g. facebook/wav2vec2-base; offline: must be cached)."),
    finetune: bool = typer.Option(False, "--finetune/--frozen", help="wav2vec2: fine-tune the transformer "
                                                                     "(default: frozen, only the head trains)."),
    challenges: str = typer.Option("all", help="Challenges: 'all' (every classifier challenge in the corpus), "
                                               "ids '1,5-7' or keys."),
    folds: int = typer.Option(5, min=2, help="Speaker-disjoint cross-validation folds (capped at the training "
                                             "speakers)."),
    test_speakers: int = typer.Option(None, "--test-speakers", min=1,
                                      help="Held-out test speakers (default: 20%, >= 1)."),
    epochs: int = typer.Option(None, min=1, help="Maximum epochs per fold (default: 30; wav2vec2 fine-tuning: 10)."),
    lr: float = typer.Option(None, parser=number(0.0, 1.0, lo_open=True),
                             help="AdamW learning rate (default: logmel-cnn 1e-3, wav2vec2 5e-5)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Training batch size."),
    seed: int = seed_option("Seed for the speaker split, initialisation and shuffling."),
    workers: int = workers_option(),
    threads: int = typer.Option(1, min=1, help="Torch threads for training (1 suits the small CNN; more help "
                                               "wav2vec2 on an idle CPU)."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    overwrite: bool = overwrite_option("classifiers"),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics table as JSON."),
) -> None:
    """Train one classifier per challenge (challenge c vs #0) on original recordings, speaker-disjoint."""
    from rich.table import Table

    from bench.api.registry import TOOLS
    from bench.challenges.taxonomy import parse_selection

    training = TOOLS.create("compliance-training")

    selection = None if challenges.strip().lower() == "all" else parse_selection(challenges)
    config = training.TrainConfig(backbone=backbone, model=model, finetune=finetune, folds=folds,
                                  test_speakers=test_speakers, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                  workers=resolve_workers(workers), threads=threads, device=device)
    log = (lambda msg: None) if as_json else (lambda msg: console.print(msg, markup=False))
    doc = training.train(corpus, out, challenges=selection, config=config, overwrite=overwrite, log=log)
    rows = training.metrics_table(doc)
    if as_json:
        print_json({"out": str(out), "backbone": doc["backbone"], "speakers": doc["speakers"], "rows": rows,
                    "failures": doc["failures"]})
        return
    sp = doc["speakers"]
    console.print(f"speakers: {len(sp['train'])} training ({len(sp['folds'])} folds), "
                  f"{len(sp['test'])} test ({', '.join(sp['test'])})")
    table = Table(title=f"challenge compliance classifiers ({doc['backbone']}), cf. Pitch Table A.2")
    for col in ("#", "challenge", "val acc", "val AUROC", "test acc", "test AUROC", "train n", "test n",
                "paper val acc", "paper AUC", "paper human"):
        table.add_column(col, justify="left" if col == "challenge" else "right")
    for r in rows:
        table.add_row(str(r["challenge"]), r["name"], _fmt(r["val_accuracy"]), _fmt(r["val_auroc"]),
                      _fmt(r["test_accuracy"]), _fmt(r["test_auroc"]), str(r["n_train"]), str(r["n_test"]),
                      _fmt(r["paper_val_accuracy"]), _fmt(r["paper_auroc"]), _fmt(r["paper_human_baseline"]))
    console.print(table)
    console.print("[dim]paper: Pitch Table A.2, quoted (fine-tuned Wav2Vec2 on 100 recorded speakers; its "
                  "per-challenge test accuracy was lost in the text extraction; mean 0.836)[/dim]")
    report_problems([{"utterance_id": f"#{cid}", "error": why} for cid, why in doc["failures"].items()],
                    "challenge(s) not trained")
    console.print(f"wrote {out / 'compliance.json'}, {out / training.METRICS_FILE} and {len(rows)} weights file(s)")
