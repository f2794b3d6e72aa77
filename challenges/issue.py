"""Challenge issuance: what a defender's agent runs during a call to pick the next challenge."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from pydantic import BaseModel

from bench.challenges.scripts import scripts
from bench.challenges.taxonomy import Challenge, all_challenges
from bench.errors import BenchError

EMOTIONS = ["happy", "angry", "surprised", "sad"]
NONVERBAL = ["cough", "whistle"]
MUSIC = ["upbeat pop instrumental", "slow piano ballad", "acoustic guitar strumming", "jazz trio"]
SONGS = ["a pop song with vocals", "a folk song with vocals", "a rock chorus with vocals"]
ACCENTS = ["French", "German", "Spanish", "Italian", "Indian", "Polish"]


class IssuedChallenge(BaseModel):
    """One challenge as a caller would be asked to perform it."""

    position: int
    id: int
    key: str
    name: str
    prompt: str
    parameters: dict[str, Any]


def ranking(challenges: list[Challenge]) -> list[Challenge]:
    """The paper's top-10 (Table 4) first, each group by its Table 3 AUROC (highest first), then id."""
    from bench.references.pitch import paper_series, top10

    auroc, best = paper_series("pitch").per_challenge, set(top10())
    return sorted(challenges, key=lambda c: (c.id not in best, -auroc.get(c.id, 0.0), c.id))


def candidate_pool(top: int | None = None, device: str | None = None) -> list[Challenge]:
    """Challenges that may be issued (#0 is not a challenge), optionally top-N and per device."""
    if device not in (None, "desktop", "mobile"):
        raise BenchError(f"--device must be desktop or mobile, got {device!r}")
    pool = [c for c in all_challenges() if c.id != 0]
    if top is not None:
        if top < 1:
            raise BenchError("--top must be at least 1")
        pool = ranking(pool)[:top]
    if device is not None:
        pool = [c for c in pool if c.available_on(device)]
    return pool


def _parameters(c: Challenge, rng: np.random.Generator) -> tuple[dict[str, Any], str]:
    s = scripts()
    sentence = s.sentences[int(rng.integers(len(s.sentences)))]
    params: dict[str, Any] = {}
    if c.key == "foreign":
        f = s.foreign[int(rng.integers(len(s.foreign)))]
        params = {"sentence_id": f.id, "language": f.language, "text": f.text}
        return params, f"{c.instruction} ({f.language}): \"{f.text}\""
    if c.key == "question":
        q = s.questions[int(rng.integers(len(s.questions)))]
        params = {"sentence_id": q.id, "text": q.text}
        return params, f"{c.instruction} \"{q.text}\""
    if c.key == "nonverbal":
        kind = NONVERBAL[int(rng.integers(len(NONVERBAL)))]
        return {"nonverbal_kind": kind}, f"Please {kind} two or three times."
    params = {"sentence_id": sentence.id, "text": sentence.text}
    extra = ""
    if c.key == "emotion":
        params["emotion"] = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        extra = f" Sound {params['emotion']}."
    elif c.key == "accent":
        params["accent"] = ACCENTS[int(rng.integers(len(ACCENTS)))]
        extra = f" Use a {params['accent']} accent."
    elif c.key == "instrumental_playback":
        params["music"] = MUSIC[int(rng.integers(len(MUSIC)))]
        extra = f" Music to play: {params['music']}."
    elif c.key == "lyrical_playback":
        params["music"] = SONGS[int(rng.integers(len(SONGS)))]
        extra = f" Music to play: {params['music']}."
    return params, f"{c.instruction}{extra} Sentence: \"{sentence.text}\""


def issue(count: int = 1, seed: int | None = None, top: int | None = None,
          device: str | None = None) -> tuple[int, list[IssuedChallenge]]:
    """Draw ``count`` distinct challenges with randomised parameters; returns (seed, challenges).

    Without ``seed`` a fresh one is drawn and returned so the sequence can be replayed.
    """
    if count < 1:
        raise BenchError("--count must be at least 1")
    pool = candidate_pool(top, device)
    if count > len(pool):
        raise BenchError(f"--count {count} exceeds the {len(pool)} distinct challenges available "
                         f"(top={top}, device={device}); a sequence never repeats a challenge")
    seed = secrets.randbits(32) if seed is None else seed
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))[:count]
    issued = []
    for pos, idx in enumerate(order, start=1):
        c = pool[int(idx)]
        params, prompt = _parameters(c, rng)
        issued.append(IssuedChallenge(position=pos, id=c.id, key=c.key, name=c.name, prompt=prompt,
                                      parameters=params))
    return seed, issued
