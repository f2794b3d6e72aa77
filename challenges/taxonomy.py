"""The Pitch challenge taxonomy (#0 no challenge ... #20), numbered as Pitch Tables 2 and 3.

Loaded from ``data/taxonomy.json``. ``TAXONOMY_VERSION`` is written into every corpus,
fakes dataset, result and compliance model bench makes; data written with an earlier
numbering is refused (``check_version``) until ``bench data migrate`` renumbers it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, Field

from bench.data.taxonomy_version import TAXONOMY_VERSION
from bench.errors import BenchError

Device = Literal["desktop", "mobile"]
_ID = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses


class Challenge(BaseModel):
    """One challenge: what the caller is asked to do and how a machine checks it."""

    id: int
    key: str
    name: str
    category: str
    subcategory: str = ""
    instruction: str
    paper_instruction: str = ""
    desktop: bool = True
    mobile: bool = True
    parameters: list[str] = Field(default_factory=list)
    compliance: Literal["none", "classifier"] = "classifier"
    content: Literal["wil", "foreign_wer", "question", "none"] = "wil"

    def available_on(self, device: str) -> bool:
        return self.desktop if device == "desktop" else self.mobile


class Taxonomy(BaseModel):
    taxonomy_version: int
    source: str
    provenance: dict[str, str] = Field(default_factory=dict)
    categories: list[dict] = Field(default_factory=list)
    challenges: list[Challenge]
    previous_numberings: dict[str, dict] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """The packaged taxonomy, validated."""
    text = files("bench.challenges").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    tax = Taxonomy.model_validate(json.loads(text))
    ids = [c.id for c in tax.challenges]
    if ids != list(range(len(ids))):
        raise RuntimeError("taxonomy.json must list challenges with ids 0..N in order")
    if tax.taxonomy_version != TAXONOMY_VERSION:
        raise RuntimeError(f"taxonomy.json is version {tax.taxonomy_version}, bench expects {TAXONOMY_VERSION}")
    return tax


def renumbering(version: int) -> dict[int, int]:
    """Old challenge id -> today's id for data written with taxonomy ``version`` (matched by key)."""
    old = taxonomy().previous_numberings.get(str(version))
    if old is None:
        raise BenchError(f"no migration from taxonomy version {version!r}")
    return {int(i): get(key).id for i, key in old["ids"].items()}


def all_challenges() -> list[Challenge]:
    return list(taxonomy().challenges)


def get(challenge: int | str) -> Challenge:
    """A challenge by id (int or numeric string) or key; BenchError if unknown."""
    items = taxonomy().challenges
    if isinstance(challenge, str) and _ID.fullmatch(challenge.strip().lstrip("#")):
        challenge = int(challenge.strip().lstrip("#"))
    for c in items:
        if c.id == challenge or c.key == challenge:
            return c
    raise BenchError(f"unknown challenge {challenge!r}; valid ids are 0-{len(items) - 1} "
                     "(see `bench challenges list`)")


def parse_selection(spec: str | None, flag: str = "--challenges") -> list[int]:
    """Parse '0,1,5-7' or keys ('whisper,sing') into sorted challenge ids; None or 'all' = every challenge.

    An empty selection ('' or ',') is an error, never read as 'all'.
    """
    if spec is None or spec.strip().lower() == "all":
        return [c.id for c in taxonomy().challenges]
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if "-" in part and all(_ID.fullmatch(p.strip()) for p in part.split("-", 1)):
            lo, hi = (int(p) for p in part.split("-", 1))
            if lo > hi:
                raise BenchError(f"{flag}: bad challenge range {part!r}: start is after end")
            out.update(get(i).id for i in range(lo, hi + 1))
        elif part:
            out.add(get(part).id)
    if not out:
        raise BenchError(f"{flag} {spec!r} selects no challenge; give 'all', ids such as '0,1,5-7' or keys")
    return sorted(out)


def check_ids(ids, where: str) -> None:
    """Every challenge id in ``ids`` is in the taxonomy (one-line BenchError naming ``where`` otherwise)."""
    known = {c.id for c in taxonomy().challenges}
    bad = sorted({int(i) for i in ids} - known)
    if bad:
        raise BenchError(f"{where}: challenge ids {bad[:5]} are not in the taxonomy (0-{max(known)})")
