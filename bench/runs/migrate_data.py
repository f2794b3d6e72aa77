"""`bench data migrate`: renumber data bench 0.1 wrote with its old challenge numbering.

bench 0.1 numbered challenges with a reconstruction (taxonomy 1); today's ids are the
Pitch paper's (taxonomy 2). Challenge keys never changed, so every id maps one to one.
This module rewrites, in place, what carries challenge ids; every file is replaced
atomically and a migration interrupted half-way is finished by running it again (each
piece knows whether it was already renumbered, so nothing is renumbered twice):

- a corpus or fakes dataset folder (the ``challenge`` column; its manifest remembers the
  content hash it had, so fakes made from the old corpus still match it),
- a result folder (``result.json`` and ``scores.parquet``) or a lone results JSON,
- a compliance classifier folder (``compliance.json`` and the weights' file names).

Leaderboards and caches are not migrated: rebuild a leaderboard from migrated results;
caches key their values by challenge id and simply miss.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.data.corpus import MANIFEST, read_manifest, save
from bench.data.taxonomy_version import MIGRATABLE, TAXONOMY_VERSION, recorded_version
from bench.errors import BenchError
from bench.fileio import read_json, write_atomic
from bench.models.assets import sha256_file


def migrate(path: str | Path, log: Callable[[str], None] = print) -> str:
    """Renumber what ``path`` holds to today's taxonomy; returns what was done (one line)."""
    p = Path(path)
    if not p.exists():
        raise BenchError(f"{p}: no such file or folder")
    if p.is_file() and p.name == "result.json":  # the scores beside it carry the same ids
        p = p.parent
    if p.is_file():
        return _migrate_result_file(p, None)
    if (p / "result.json").is_file():
        return _migrate_result_file(p / "result.json", p / "scores.parquet")
    if (p / "compliance.json").is_file():
        return _migrate_compliance(p)
    if (p / "state.json").is_file() and (p / MANIFEST).is_file():
        return _migrate_dataset(p)
    if (p / "leaderboard.json").is_file():
        raise BenchError(f"{p}: a leaderboard is not migrated; migrate its results and run `bench leaderboard "
                         "build` again")
    raise BenchError(f"{p}: not a corpus, fakes, result or compliance folder bench wrote (nothing to migrate)")


def _mapping(version: Any, where: Path) -> dict[int, int] | None:
    """Old id -> new id, or None when ``where`` already uses today's numbering."""
    from bench.challenges.taxonomy import renumbering

    if version == TAXONOMY_VERSION and not isinstance(version, bool):
        return None
    if version not in MIGRATABLE:
        raise BenchError(f"{where}: taxonomy version {version!r} cannot be migrated (known: "
                         f"{', '.join(map(str, MIGRATABLE))})")
    return renumbering(version)


def _renumber(ids: list[int], mapping: dict[int, int], where: Path) -> list[int]:
    bad = sorted({i for i in ids if i not in mapping})
    if bad:
        raise BenchError(f"{where}: challenge ids {bad[:5]} are not in the old numbering")
    return [mapping[i] for i in ids]


def _already(p: Path) -> str:
    return f"{p}: already numbered as taxonomy {TAXONOMY_VERSION} (the Pitch paper's); nothing to do"


# ---------------------------------------------------------------- datasets
def _migrate_dataset(p: Path) -> str:
    import datasets

    manifest = read_manifest(p)
    mapping = _mapping(recorded_version(manifest), p)
    if mapping is None:
        return _already(p)
    from bench.data.corpus import content_hash

    ds = datasets.load_from_disk(str(p))
    old_hash = manifest.get("content_hash")
    if old_hash and content_hash(ds) != old_hash:
        back = {new: old for old, new in mapping.items()}
        if content_hash(_with_ids(ds, back, p)) != old_hash:
            raise BenchError(f"{p}: its rows do not match its manifest (content hash); re-create it")
        ds = _with_ids(ds, back, p)  # an interrupted migration swapped the rows but not the manifest
    migrated = _with_ids(ds, mapping, p)
    history = [*manifest.get("migrated_from", []), *([old_hash] if old_hash else [])]
    saved = save(migrated, p, {**manifest, "taxonomy_version": TAXONOMY_VERSION, "migrated_from": history})
    return (f"{p}: {len(migrated)} rows renumbered to taxonomy {TAXONOMY_VERSION} (content hash {old_hash} -> "
            f"{saved['content_hash']}; the old hash is kept so fakes made from it still match)")


def _with_ids(ds: Any, mapping: dict[int, int], where: Path) -> Any:
    """``ds`` with its challenge column renumbered by ``mapping`` (audio untouched)."""
    import datasets

    table = ds.data.table
    idx = table.column_names.index("challenge")
    new_ids = _renumber(table.column("challenge").to_pylist(), mapping, where)
    return datasets.Dataset(table.set_column(idx, "challenge", pa.array(new_ids, type=pa.int32())), info=ds.info)


# ---------------------------------------------------------------- results
def _migrate_result_file(path: Path, scores: Path | None) -> str:
    """The results JSON (by its schema version) and the scores beside it (by their tag), each on its own."""
    from bench.evaluation.results import SCHEMA_VERSION, UPGRADABLE, Result, scores_version, upgrade

    doc = read_json(path, "results file")
    if doc.get("kind", "detection") != "detection" or "per_challenge" not in doc:
        raise BenchError(f"{path}: not a bench results file (nothing to migrate)")
    scores = scores if scores is not None and scores.is_file() else None
    scores_old = scores is not None and scores_version(scores) != TAXONOMY_VERSION
    done = []
    old_schema = doc.get("schema_version")
    if doc.get("schema_version") not in (SCHEMA_VERSION, "1.0", *UPGRADABLE):
        raise BenchError(f"{path}: results schema {doc.get('schema_version')!r} cannot be migrated")
    if doc.get("schema_version") != SCHEMA_VERSION:
        if doc.get("schema_version") == "1.0":
            mapping = _mapping(doc.get("taxonomy_version", 1), path)
            ids_now = mapping if scores_old else {i: i for i in mapping.values()}  # the scores' ids -> today's
            doc = _result_v11(doc, mapping, (scores, ids_now) if scores else None, path)
        doc = upgrade(doc)
        Result.model_validate(doc)  # the migrated document must be valid before anything is written
        write_atomic(path, json.dumps(doc, indent=2).encode())
        done.append(f"results (schema {SCHEMA_VERSION})")
    if scores_old:
        version = scores_version(scores)
        mapping = _mapping(version, scores)
        if mapping is not None:
            _migrate_scores(scores, mapping)
            done.append("scores")
    if not done:
        return _already(path)
    if done == [f"results (schema {SCHEMA_VERSION})"] and old_schema != "1.0":
        return f"{path}: results upgraded from schema {old_schema} to {SCHEMA_VERSION} (challenge ids unchanged)"
    return f"{path}: {' and '.join(done)} renumbered to taxonomy {TAXONOMY_VERSION}"


def _result_v11(doc: dict[str, Any], mapping: dict[int, int], scores: tuple[Path, dict[int, int]] | None,
                where: Path) -> dict[str, Any]:
    """Schema 1.0 -> 1.1 (then :func:`bench.evaluation.results.upgrade` takes it to today's): new challenge ids, the
    paper's figures keyed by detector, the CI rule's ranking."""
    from bench.api.registry import DETECTORS
    from bench.challenges.taxonomy import get
    from bench.evaluation.paper_comparison import paper_comparison, rank_challenges, summary
    from bench.evaluation.results import ChallengeResult

    name = (doc.get("detector") or {}).get("name", "")
    paper_name = DETECTORS.meta(name).paper_name if name in DETECTORS.names() else None
    comparison = paper_comparison(paper_name, (doc.get("generator") or {}).get("name"))
    per = []
    for c in doc["per_challenge"]:
        cid = _renumber([c["challenge"]], mapping, where)[0]
        ch = get(cid)
        per.append({**c, "challenge": cid, "key": ch.key, "name": ch.name,
                    "paper_auroc": comparison.per_challenge.get(cid) if comparison else None})
    per.sort(key=lambda c: c["challenge"])
    ranking = rank_challenges([ChallengeResult.model_validate({**c, "accuracy": None}) for c in per])
    top = [i for i in _renumber(doc.get("top_challenges", []), mapping, where) if i in ranking.ranked]
    out = {**doc, "schema_version": "1.1", "taxonomy_version": TAXONOMY_VERSION, "per_challenge": per,
           "top_challenges": top, "ranking": ranking.model_dump(),
           "paper": summary(comparison).model_dump() if comparison else None,
           "paper_top10_auroc": _top10_from_scores(*scores) if scores else None,
           "notes": [*doc.get("notes", []), f"migrated from bench's taxonomy 1 to {TAXONOMY_VERSION} (the Pitch "
                     "paper's numbering) by `bench data migrate`"]}
    if top != _renumber(doc.get("top_challenges", []), mapping, where):
        out["top_n_auroc"] = None  # the old top set included challenges whose CIs are too wide to rank
    return out


def _top10_from_scores(scores: Path, mapping: dict[int, int]) -> dict[str, Any] | None:
    from bench.evaluation.estimates import estimates
    from bench.references.pitch import top10

    t = pq.read_table(scores).to_pydict()
    rows = [i for i, s in enumerate(t.get("in_scope", [True] * len(t["label"]))) if s]
    challenge = np.array([mapping.get(t["challenge"][i], -1) for i in rows])
    labels, values = np.array([t["label"][i] for i in rows]), np.array([t["score"][i] for i in rows], dtype=float)
    pick = np.isin(challenge, top10())
    if not pick.any():
        return None
    return estimates(labels[pick], values[pick], 1000, 0)[0].model_dump()


def _migrate_scores(path: Path, mapping: dict[int, int]) -> None:
    from bench.evaluation.results import write_scores

    table = pq.read_table(path)
    idx = table.column_names.index("challenge")
    new = _renumber(table.column("challenge").to_pylist(), mapping, path)
    table = table.set_column(idx, "challenge", pa.array(new, type=table.schema.field("challenge").type))
    write_scores(path, [], table=table)  # tagged with today's version: never renumbered twice


# ---------------------------------------------------------------- compliance classifiers
def _migrate_compliance(p: Path) -> str:
    from bench.challenges.taxonomy import get

    meta_path = p / "compliance.json"
    doc = read_json(meta_path, "compliance classifiers")
    mapping = _mapping(recorded_version(doc), p)
    if mapping is None:
        return _already(p)
    challenges = {}
    for key, entry in doc.get("challenges", {}).items():
        new = _renumber([int(key)], mapping, p)[0]
        ch = get(new)
        weights = f"c{new:02d}-{ch.key}.pt"  # names carry the key, so no two classifiers can collide
        old_file = p / str(entry.get("weights", ""))
        if entry.get("weights") and old_file.name != weights and old_file.is_file():
            os.replace(old_file, p / weights)
        if entry.get("weights") and not (p / weights).is_file():
            raise BenchError(f"{p}: weights of #{key} ({entry['weights']}) are missing; nothing was changed "
                             "in compliance.json")
        if entry.get("sha256") and sha256_file(p / weights) != entry["sha256"]:
            raise BenchError(f"{p / weights}: checksum differs from compliance.json; re-train this folder")
        challenges[str(new)] = {**entry, "challenge": new, "key": ch.key, "name": ch.name, "weights": weights}
    failures = {str(_renumber([int(k)], mapping, p)[0]): v for k, v in doc.get("failures", {}).items()}
    doc = {**doc, "taxonomy_version": TAXONOMY_VERSION, "failures": failures,
           "skipped": _renumber([int(i) for i in doc.get("skipped", [])], mapping, p),
           "challenges": {k: challenges[k] for k in sorted(challenges, key=int)}}
    write_atomic(meta_path, json.dumps(doc, indent=2).encode())  # last: a re-run finds the files already moved
    metrics = p / "metrics.json"
    if metrics.is_file():
        from bench.api.registry import TOOLS

        old = read_json(metrics, "compliance metrics")
        rows = TOOLS.create("compliance-training").metrics_table(doc)
        write_atomic(metrics, json.dumps({**old, "rows": rows}, indent=2).encode())
    return f"{p}: {len(challenges)} classifiers renumbered to taxonomy {TAXONOMY_VERSION}"

