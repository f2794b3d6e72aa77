"""`bench tag`: the tag a contact-centre agent sees for one challenge response, with its confidence and rationale."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.generate_cmd import parse_params
from bench.cli.output import console, print_json


def tag(
    call: Path = typer.Argument(..., help="The caller's response to one challenge (WAV, FLAC, OGG, MP3...)."),
    challenge: str = typer.Option(..., "--challenge", "-c", help="The challenge asked: key (whisper) or id (3)."),
    detector: str = typer.Option("pitch-lite", "--detector", "-d", help="A detector (bench plugins list)."),
    model: str = typer.Option(None, "--model", "-m", help="NAME@VERSION or a model folder (waveform detectors)."),
    compliance: Path = typer.Option(None, "--compliance", help="Challenge-compliance classifiers (bench train "
                                    "compliance) for pitch detectors; without them the task is not checked."),
    script: str = typer.Option(None, "--script", help="The sentence the caller was asked to say (default: the "
                                                      "closest scripted sentence of the challenge)."),
    calibration: Path = typer.Option(None, "--calibration", help="calibration.json from bench human report "
                                     "(default for pitch-lite: the packaged one, fitted on simulated speech)."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Detector setting KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the tag as JSON."),
) -> None:
    """Tag one call as Pitch A.3 suggests: Deepfake-Certainly, Deepfake-Likely, or none, with the calibrated
    confidence and the rationale the detector exposes (for pitch detectors: task, words, voice)."""
    from bench.errors import BenchError
    from bench.runs.tag import tag_call

    if not call.is_file():
        raise BenchError(f"{call}: no such file")
    params = parse_params(param or [])
    if model:
        params["model"] = model
    if compliance is not None:
        if not compliance.is_dir():
            raise BenchError(f"{compliance}: no such compliance folder")
        params["compliance"] = str(compliance)
    out = tag_call(call, challenge, detector=detector, params=params, script=script, calibration=calibration)
    if as_json:
        print_json(out)
        return
    label = out["tag"] or "no tag (the machine says bona fide)"
    console.print(f"{out['file']} (#{out['challenge']['id']} {out['challenge']['name']}): {label}", markup=False,
                  highlight=False)
    cut = "never" if out["certain_cut"] is None else f"confidence >= {out['certain_cut']:.2f}"
    console.print(f"confidence {out['confidence']:.2f} (p(fake) {out['p_fake']:.2f}; score {out['score']:.3f} vs "
                  f"threshold {out['threshold']:.3f}, temperature {out['temperature']:.3f}; Deepfake-Certainly at "
                  f"{cut})", markup=False, highlight=False)
    if not out["rationale"]:
        console.print(f"rationale: {out['detector']} exposes only its score", markup=False, highlight=False)
    for r in out["rationale"]:
        console.print(f"  {'!' if r['flagged'] else '-'} {r['reason']}: {r['detail']}", markup=False, highlight=False)
    if "compliance" not in out["components"] and out["detector"] in ("pitch-lite", "pitch"):
        console.print("  (the task was not checked: pass --compliance DIR from bench train compliance)", markup=False,
                      highlight=False)
    cal = out["calibration"]
    console.print(f"calibration: {cal['source']} ({cal['variant']}); fitted on {cal['fitted_on']}", markup=False,
                  highlight=False)
