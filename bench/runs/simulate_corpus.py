"""Write a simulated challenge corpus to disk: plan, render in parallel, resume, save.

Each utterance is rendered to ``OUT/audio/<utterance_id>.wav`` (atomically), so an
interrupted run resumes by rendering only what is missing; the dataset is then built
from the WAV files and saved next to them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import soundfile as sf

from bench import SAMPLE_RATE, __version__
from bench.audio import write_wav
from bench.challenges.scripts import script_for
from bench.challenges.simulate import Item, make_speakers, plan, render
from bench.challenges.taxonomy import get as get_challenge
from bench.data.corpus import build_dataset, save
from bench.errors import BenchError, RunFailed
from bench.outdir import claim_output
from bench.parallel import run_items


def _render_one(item: Item, out: str, n_speakers: int, seed: int) -> str:
    path = Path(out) / "audio" / f"{item.utterance_id}.wav"
    if not path.exists():
        speakers = make_speakers(n_speakers, seed)
        audio, _ = render(item, speakers, seed)
        write_wav(path, audio, SAMPLE_RATE)
    return str(path)


def _scripts_id() -> str:
    """Which scripts the corpus was spoken from: the set's name and a hash of its sentences."""
    import hashlib

    from bench.challenges.scripts import scripts

    s = scripts()
    sentences = s.model_dump_json(include={"sentences", "questions", "foreign"})
    return f"{s.name}:sha256:{hashlib.sha256(sentences.encode()).hexdigest()[:16]}"


def simulate_corpus(out: str | Path, speakers: int = 6, sentences: int = 2, challenges: list[int] | None = None,
                    devices: tuple[str, ...] = ("desktop",), seed: int = 0, workers: int = 1,
                    overwrite: bool = False, inputs: list[str | Path | None] | None = None) -> dict[str, Any]:
    """Simulate a corpus into ``out``; returns its manifest (with any per-item failures).

    ``inputs``: files the run reads (a scripts file), which ``out`` must not be or contain.
    Raises :class:`RunFailed` when no utterance could be rendered.
    """
    if speakers < 1:
        raise BenchError("--speakers must be at least 1")
    if not 1 <= sentences <= 10:
        raise BenchError("--sentences must be between 1 and 10")
    if seed < 0:
        raise BenchError("--seed must be >= 0")
    challenges = challenges if challenges is not None else list(range(21))
    items = plan(speakers, sentences, challenges, list(devices))
    if not items:
        names = ", ".join(f"#{c} {get_challenge(c).key}" for c in challenges)
        raise BenchError(f"nothing to simulate: {names} cannot be done on {' or '.join(devices)} "
                         "(playback challenges are desktop-only); use --device desktop or both")
    out = Path(out)
    params = {"speakers": speakers, "sentences": sentences, "challenges": challenges,
              "devices": list(devices), "seed": seed, "version": __version__, "scripts": _scripts_id()}
    claim_output(out, "data simulate", params, inputs=inputs or (), overwrite=overwrite)
    for tmp in (out / "audio").glob(".*.tmp"):  # left by a worker stopped mid-write
        tmp.unlink(missing_ok=True)

    fn = functools.partial(_render_one, out=str(out), n_speakers=speakers, seed=seed)
    failures = []
    for outcome in run_items(fn, items, workers=workers, description="simulating"):
        if not outcome.ok:
            failures.append({"utterance_id": outcome.item.utterance_id, "error": outcome.error})
    if len(failures) == len(items):
        raise RunFailed(f"no utterance could be rendered ({len(failures)} failed; first: {failures[0]['error']})")

    speaker_list = make_speakers(speakers, seed)
    rows = []
    for item in items:
        path = out / "audio" / f"{item.utterance_id}.wav"
        if not path.exists():
            continue
        data = path.read_bytes()
        info = sf.info(str(path))
        rows.append({
            "utterance_id": item.utterance_id, "subject": speaker_list[item.speaker].subject,
            "challenge": item.challenge, "sentence_id": item.sentence_id,
            "script": script_for(get_challenge(item.challenge).key, item.sentence_id)[0],
            "device": item.device, "audio": {"bytes": data, "path": f"audio/{path.name}"},
            "sample_rate": info.samplerate, "duration_s": info.frames / info.samplerate,
        })
    manifest = {
        "kind": "corpus", "simulated": True, "name": f"bench-sim-s{seed}",
        "note": "Simulated speech (espeak-ng + WORLD): numbers measured on it describe the "
                "simulation, not the Pitch recordings.",
        "params": params, "speakers": [s.__dict__ for s in speaker_list], "failures": failures,
    }
    ds = build_dataset(rows, description=json.dumps({"simulated": True, "generator": "bench data simulate"}))
    return save(ds, out, manifest)
