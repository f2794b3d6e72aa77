"""The Pitch scripts (Table A.1): general sentences, their question forms, foreign sentences."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

from pydantic import BaseModel


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


@lru_cache(maxsize=1)
def scripts() -> Scripts:
    """The packaged scripts, validated."""
    text = files("challenges").joinpath("data/scripts.json").read_text(encoding="utf-8")
    return Scripts.model_validate(json.loads(text))


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
