"""Script sets: the sentences callers read (general sentences, their question forms, foreign sentences).

Two sets ship with bench: ``pitch`` (the default), Pitch Table A.1 verbatim, and
``bench``, the project's own sentences in the same form. ``--scripts`` or
``BENCH_SCRIPTS`` name a packaged set or a JSON file in the same format.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bench.errors import BenchError, first_line
from bench.fileio import read_json

ENV = "BENCH_SCRIPTS"
DEFAULT = "pitch"
PACKAGED = ("pitch", "bench")


class Sentence(BaseModel):
    id: int
    text: str


class ForeignSentence(BaseModel):
    id: int
    language: str
    espeak: str
    text: str
    english: str | None = None
    transliterated: bool = False


class Scripts(BaseModel):
    name: str = "custom"
    source: str
    sentences: list[Sentence]
    questions: list[Sentence]
    foreign: list[ForeignSentence]


@lru_cache(maxsize=8)
def _load(spec: str) -> Scripts:
    if spec in PACKAGED:
        text = files("bench.challenges").joinpath(f"data/scripts/{spec}.json").read_text(encoding="utf-8")
        return Scripts.model_validate(json.loads(text))
    p = Path(spec)
    if not p.is_file():
        raise BenchError(f"{p}: no such scripts file (--scripts or {ENV} take {' or '.join(PACKAGED)}, "
                         "or a JSON file)")
    try:
        doc = Scripts.model_validate(read_json(p, "scripts file", object))
    except (BenchError, ValidationError) as exc:
        raise BenchError(f"{p}: not a scripts file like challenges/data/scripts/pitch.json "
                         f"({first_line(exc)})") from None
    if not (len(doc.sentences) == len(doc.questions) and doc.sentences and doc.foreign):
        raise BenchError(f"{p}: needs sentences, as many questions, and at least one foreign sentence")
    return doc


def _resolve(spec: str) -> str:
    return spec if spec in PACKAGED else str(Path(spec).resolve())


def script_set(spec: str) -> Scripts:
    """A packaged script set by name (``pitch``, ``bench``) or a scripts JSON file, validated."""
    return _load(_resolve(spec))


def _spec() -> str:
    return os.environ.get(ENV) or DEFAULT


def scripts() -> Scripts:
    """The script set in use: ``BENCH_SCRIPTS`` (a packaged set's name or a file), else Pitch Table A.1."""
    return _load(_spec())


def scripts_file() -> str | None:
    """The scripts file in use when it is a user's file (an input no output may overwrite), else None."""
    spec = _spec()
    return None if spec in PACKAGED else spec


def use_scripts(spec: str | os.PathLike | None) -> None:
    """Use a packaged set (``pitch``, ``bench``) or the file ``spec`` from now on, here and in workers."""
    if spec is None:
        return
    resolved = _resolve(str(spec))
    _load(resolved)  # validate now: one clear error before any work
    os.environ[ENV] = resolved


def script_for(challenge_key: str, sentence_id: int) -> tuple[str, str]:
    """(text the caller must say, espeak language) for a challenge and sentence id."""
    s = scripts()
    if challenge_key == "foreign":
        f = s.foreign[sentence_id % len(s.foreign)]
        return f.text, f.espeak
    if challenge_key == "question":
        return s.questions[sentence_id % len(s.questions)].text, "en-us"
    if challenge_key == "nonverbal":
        return "", "en-us"
    return s.sentences[sentence_id % len(s.sentences)].text, "en-us"
