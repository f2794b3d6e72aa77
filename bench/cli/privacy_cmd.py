"""`bench privacy`: what a split detector's features leak (speech content and speaker identity)."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import console, print_json
from bench.cli.params import overwrite_option


def privacy(
    model: str = typer.Option(..., "--model", "-m", help="A trained split model: NAME@VERSION or a model folder "
                                                         "(devox, deepdetection)."),
    corpus: Path = typer.Option(..., "--corpus", help="The corpus the model was trained on (its training speakers "
                                                      "train the inversion; its held-out speakers are attacked)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for privacy.json and reconstructed audio (owned: never "
                             "the corpus, the model folder or a folder bench did not write)."),
    max_recordings: int = typer.Option(60, min=1, help="Held-out recordings to reconstruct and transcribe."),
    epochs: int = typer.Option(15, min=1, help="Epochs of the inversion network."),
    threads: int = typer.Option(2, min=1, help="Torch threads."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    overwrite: bool = overwrite_option("report"),
) -> None:
    """Play the server operator: reconstruct calls from the feature messages (ASR WIL against the original's) and
    name the speaker from the features (probe accuracy against chance and against the raw audio)."""
    from bench.errors import BenchError
    from bench.serve.privacy_report import privacy_report

    if not corpus.exists():
        raise BenchError(f"{corpus}: no such corpus")
    rep = privacy_report(model, corpus, out, max_recordings=max_recordings, epochs=epochs, threads=threads,
                         overwrite=overwrite,
                         progress=lambda m: console.print(m, markup=False, highlight=False, style="dim"))
    if as_json:
        print_json(rep)
        return
    c, i, m = rep["content"], rep["identity"], rep["message"]
    console.print(f"{rep['detector']} {rep['model']}: {m['bytes']} bytes per second of audio on the uplink "
                  f"(16-bit PCM at 8 kHz: {m['pcm16_8k_bytes']})", markup=False, highlight=False)
    extra = "".join(f", {k.replace('_', ' ')} {c[k]['wil']:.2f}" for k in ("band_limited_8k",
                                                                           "decoder_with_pooling_indices") if k in c)
    console.print(f"content: WIL original {c['original']['wil']:.2f}, reconstructed from the features "
                  f"{c['reconstructed']['wil']:.2f}{extra} ({c['n_recordings']} held-out recordings)",
                  markup=False, highlight=False)
    console.print(f"identity: speaker probe {100 * i['features']['accuracy']:.1f}% on the features, "
                  f"{100 * i['raw_audio_logmel']['accuracy']:.1f}% on the raw audio, chance "
                  f"{100 * i['features']['chance']:.1f}% ({i['features']['n_speakers']} speakers)",
                  markup=False, highlight=False)
    console.print(f"report: {out / 'privacy.json'}", markup=False, highlight=False)
