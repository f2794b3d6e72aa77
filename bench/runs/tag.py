"""`bench tag`: what a contact-centre agent sees for one challenge response (issue #25; Pitch §5.3, A.3).

The detector scores the call; the calibration turns the score into ``p(fake)`` and a confidence
(``bench.evaluation.calibration``: ``tanh(|s - t| / 2T)``); the tag follows Pitch A.3's two categories:

- **Deepfake-Certainly**: the machine says fake with confidence at or above the calibration's
  ``certain_cut`` (the routing cut: a call the machine would decide alone);
- **Deepfake-Likely**: the machine says fake, less confidently (the call goes to the person, tagged);
- no tag: the machine says bona fide.

The rationale is what the detector exposes (``Detector.rationale``): Pitch-style detectors give the task,
the words and the voice, each with its number; a waveform countermeasure gives only its score.

Calibrations (JSON, ``kind: bench-calibration``) come from ``bench human report`` (``calibration.json``,
fitted on a result's calls) or, for pitch-lite and pitch when none is given, from the packaged
``bench/references/pitch_lite_calibration.json`` (fitted on bench's *simulated* corpus; the output says so).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from bench.api import Sample
from bench.api.registry import DETECTORS
from bench.audio import audio_problem, load
from bench.challenges.scripts import scripts
from bench.challenges.taxonomy import get as get_challenge
from bench.errors import BenchError
from bench.evaluation.calibration import parse_calibration, tag_for

PACKAGED = {"pitch-lite": "pitch_lite_calibration.json", "pitch": "pitch_lite_calibration.json"}


def read_calibration(path: str | Path | None, detector: str) -> dict[str, Any]:
    """A calibration document, validated; the packaged one for pitch-lite / pitch when ``path`` is None."""
    if path is None:
        if detector not in PACKAGED:
            raise BenchError(f"no calibration for detector {detector}: run `bench human report` on a result of it "
                             "and pass --calibration REPORT/calibration.json")
        text, where = files("bench.references").joinpath(PACKAGED[detector]).read_text(encoding="utf-8"), "packaged"
    else:
        try:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as e:
            raise BenchError(f"cannot read calibration {path}: {e}") from None
    doc = parse_calibration(text, where)
    if doc.get("detector") not in (None, detector) and not (path is None and detector in PACKAGED):
        raise BenchError(f"{where} calibrates detector {doc.get('detector')}, not {detector}")
    return {**doc, "where": where}


def _closest_script(challenge_key: str, text: str) -> tuple[str, int]:
    """The scripted sentence closest to what was heard (the agent's prompt, when not given): the challenge's
    set (foreign sentences, questions, or Table A.1's sentences; none for non-verbal challenges)."""
    from jiwer import wil

    s = scripts()
    lines = ([f.text for f in s.foreign] if challenge_key == "foreign" else
             [q.text for q in s.questions] if challenge_key == "question" else
             [] if challenge_key == "nonverbal" else [x.text for x in s.sentences])
    if not lines:
        return "", 0
    heard = text.lower().strip() or "-"
    return min(lines, key=lambda s: wil(s.lower(), heard)), len(lines)


def tag_call(path: str | Path, challenge: str, detector: str = "pitch-lite", params: dict[str, Any] | None = None,
             script: str | None = None, calibration: str | Path | None = None) -> dict[str, Any]:
    """Score one call and return its tag, calibrated confidence and rationale (see the module docstring)."""
    ch = get_challenge(challenge)
    cal = read_calibration(calibration, detector)
    try:
        audio = load(str(path))
    except (OSError, ValueError, RuntimeError) as e:
        raise BenchError(f"{path}: cannot read audio ({type(e).__name__}: {e})") from None
    problem = audio_problem(audio, min_duration=0.5)
    if problem:
        raise BenchError(f"{path}: {problem}")
    det = DETECTORS.create(detector, **(params or {}))
    parts = det.call_components()
    names = {p.name for p in parts}
    variant_key = "with_compliance" if "compliance" in names else "without_compliance"
    variant = cal["variants"].get(variant_key) or (cal["variants"].get("default") if len(cal["variants"]) == 1
                                                   else None)
    if variant is None:
        raise BenchError(f"{cal['where']} has no calibration for {detector} {variant_key.replace('_', ' ')}; "
                         f"it has: {', '.join(cal['variants'])}")
    entry = {"path": str(Path(path).resolve())}
    sample = Sample(utterance_id=Path(path).name, label=-1, challenge=ch.id, subject="caller",
                    source_subject="caller", script=script or "", device="unknown", audio=entry,
                    duration_s=len(audio) / 16_000)
    values = {}
    for part in parts:
        part.load()
        values[part.name] = part.compute([sample])[0]
    guessed = None
    if script is None and "asr" in values:
        sample.script, n = _closest_script(ch.key, values["asr"]["text"])
        guessed = f"the closest of the {n} scripted sentences for this challenge" if n else None
    combined = det.combine(values, sample)
    score, t, temp = float(combined["score"]), float(variant["threshold"]), float(variant["temperature"])
    certain = cal.get("certain_cut")
    tagged = tag_for(score, t, temp, certain)
    p, conf, tag = tagged["p_fake"], tagged["confidence"], tagged["tag"]
    return {"file": str(path), "challenge": {"id": ch.id, "key": ch.key, "name": ch.name},
            "detector": detector, "score": score, "threshold": t, "temperature": temp, "p_fake": p,
            "confidence": conf, "tag": tag, "certain_cut": certain, "verdict": "fake" if p >= 0.5 else "bona fide",
            "rationale": det.rationale(values, combined, sample), "script": sample.script,
            "script_source": "given" if script is not None else guessed, "calibration": {
                "source": cal["where"], "variant": variant_key if variant_key in cal["variants"] else "default",
                "fitted_on": cal.get("fitted_on"), "simulated": bool(cal.get("simulated"))},
            "components": sorted(names)}
