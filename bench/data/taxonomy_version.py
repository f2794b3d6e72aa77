"""Which challenge numbering a piece of data uses, and the refusal of data written with another one.

bench 0.1 numbered challenges with a reconstruction made before the Pitch paper was at
hand (taxonomy 1); since then ids are the paper's (Tables 2 and 3, taxonomy 2). Every
corpus, fakes dataset, result and compliance model records ``taxonomy_version``; data
without it was written by bench 0.1. Reading such data with today's ids would silently
swap challenges (old #1 whisper is today's #3), so it is refused until
``bench data migrate`` renumbers it.
"""

from __future__ import annotations

from bench.errors import BenchError

#: the numbering in force: 2 = Pitch Tables 2 and 3
TAXONOMY_VERSION = 2
#: numberings ``bench data migrate`` can convert from
MIGRATABLE = (1,)


def recorded_version(doc: dict) -> int | None:
    """The taxonomy version a manifest or document records (1 when bench 0.1 wrote it without one)."""
    return doc.get("taxonomy_version", 1)


def check_version(version: object, where: str) -> None:
    """One-line BenchError unless ``version`` is today's numbering."""
    if version == TAXONOMY_VERSION and not isinstance(version, bool):
        return
    if version in MIGRATABLE and not isinstance(version, bool):
        raise BenchError(f"{where} numbers challenges with bench's old taxonomy {version} (before the Pitch "
                         f"paper's numbering); run `bench data migrate {where}` to renumber it, or re-create it")
    raise BenchError(f"{where}: unknown taxonomy version {version!r} (this bench reads {TAXONOMY_VERSION}); "
                     "written by another bench version or edited by hand")
