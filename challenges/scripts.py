"""The Pitch scripts (Table A.1): general sentences, their question forms, foreign sentences."""

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


class Sentence(BaseModel):
    id: int
    text: str


class ForeignSentence(BaseModel):
    id: int
    language: str
    espeak: str
    text: str
    english: str | None = None


class Scripts(BaseModel):
    source: str
    sentences: list[Sentence]
    questions: list[Sentence]
    foreign: list[ForeignSentence]


@lru_cache(maxsize=4)
def _load(path: str | None) -> Scripts:
    if path is None:
        text = files("challenges").joinpath("data/scripts.json").read_text(encoding="utf-8")
        return Scripts.model_validate(json.loads(text))
    p = Path(path)
    if not p.is_file():
        raise BenchError(f"{p}: no such scripts file (set with --scripts or {ENV})")
    try:
        doc = Scripts.model_validate(read_json(p, "scripts file", object))
    except (BenchError, ValidationError) as exc:
        raise BenchError(f"{p}: not a scripts file like challenges/data/scripts.json "
                         f"({first_line(exc)})") from None
    if not (len(doc.sentences) == len(doc.questions) and doc.sentences and doc.foreign):
        raise BenchError(f"{p}: needs sentences, as many questions, and at least one foreign sentence")
    return doc


def scripts() -> Scripts:
    """The scripts in use: the file named by ``BENCH_SCRIPTS`` (e.g. the paper's Table A.1), else the packaged ones."""
    return _load(os.environ.get(ENV) or None)


def use_scripts(path: str | os.PathLike | None) -> None:
    """Use the scripts in ``path`` from now on, in this process and the workers it starts."""
    if path is None:
        return
    _load(str(Path(path).resolve()))  # validate now: one clear error before any work
    os.environ[ENV] = str(Path(path).resolve())


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
