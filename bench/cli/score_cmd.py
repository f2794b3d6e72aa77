"""`bench score`: one detector's score for single audio files, with its threshold and verdict."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, print_json


def score(
    files: list[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, OGG, MP3...; any sample rate, "
                                                 "resampled to 16 kHz mono)."),
    detector: str = typer.Option(..., "--detector", "-d", help="A detector that scores waveforms with one model "
                                                               "(bench plugins list)."),
    model: str = typer.Option(None, "--model", "-m", help="NAME@VERSION, NAME, a model folder, or a packaged "
                                                          "model such as aasist-asvspoof2019 (bench models list)."),
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    protocol: str = typer.Option("bench", "--protocol", help="bench (the default: bench's input rule and score "
                                 "for every model), or a protocol the model's card declares, e.g. official for "
                                 "aasist-asvspoof2019 (the official evaluation's input and score rules; bench "
                                 "prints minus the official score, so that higher = more likely fake)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file, in a list."),
) -> None:
    """Score single files: the score (higher = more likely fake), the threshold, the verdict and what the
    score means."""
    from bench.api.registry import DETECTORS
    from bench.countermeasures.base import CMDetector
    from bench.errors import BenchError

    meta = DETECTORS.meta(detector)
    det = DETECTORS.create(detector, **({"model": model} if model else {}), device=device, protocol=protocol) \
        if _takes_model(detector) else None
    if not isinstance(det, CMDetector):
        raise BenchError(f"detector {meta.name} scores challenge calls (it needs the challenge, script and a "
                         "reference recording), not single files; use bench evaluate, or a waveform detector "
                         f"({', '.join(n for n in DETECTORS.names() if _takes_model(n)) or 'none installed'})")
    for f in files:
        if not f.is_file():
            raise BenchError(f"{f}: no such file")
    det.check("")
    rows = det.score_files([str(f) for f in files])
    if as_json:
        print_json(rows)
        return
    first = rows[0]
    console.print(f"detector {first['detector']}, model {first['model']}: score = {first['meaning']}; "
                  f"{first['polarity']}; threshold {first['threshold']:g} ({first['threshold_source']})",
                  markup=False, highlight=False)
    console.print(f"protocol: {first['protocol']} ({det.score_protocol().description})", markup=False,
                  highlight=False)
    console.print(f"input: {first['input']}", markup=False, highlight=False)
    for caveat in det.score_caveats():
        console.print(f"caveat: {caveat}", markup=False, highlight=False)
    for r in rows:
        seeds = f"  (seeds: {', '.join(f'{s:+.3f}' for s in r['seed_scores'])})" if "seed_scores" in r else ""
        console.print(f"{r['file']}: score {r['score']:+.4f} -> {r['verdict'].upper()}  "
                      f"[{r['seconds']:.2f} s audio at {r['sample_rate_in']} Hz, {r['time_s']:.2f} s]{seeds}",
                      markup=False, highlight=False)


def _takes_model(name: str) -> bool:
    from bench.api.registry import DETECTORS
    from bench.countermeasures.base import CMDetector

    factory = DETECTORS.factory(name)
    return isinstance(factory, type) and issubclass(factory, CMDetector)
