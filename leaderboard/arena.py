"""Export a dataset result in the Speech Anti-Spoofing Arena's submission format.

``bench leaderboard export-arena RESULT --out DIR`` writes:

- ``scores.txt``: the Arena's score file (``UTTERANCE SCORE``, six decimals, higher = more bona fide: minus
  bench's score), in the order the result scored the split;
- ``arena.json``: what the Arena will recompute, recomputed here from ``scores.txt`` as written. That is the
  EER by the Arena's procedure (:mod:`bench.evaluation.arena_scoring`), with ``n_trials``, ``n_skipped``
  and the file's SHA-256; the dataset id, revision and split; and the organisers' EER for contrast;
- ``submission.yaml`` (schema_version 4), when ``--system FILE`` gives the system and submitter fields and
  ``--scores-repo``/``--scores-revision`` say where ``scores.txt`` will be uploaded. The Arena wants it at
  ``.eval_results/<dataset-org>/<dataset-name>/scores.txt`` in the model repo, and ``scores_url`` names that
  file at that revision.

Utterance ids are the result's own: the Arena joins on its ``notes.utterance_id``, so export a result of
the Arena's copy of the dataset (``--dataset SpeechAntiSpoofingBenchmarks/<Name>`` or a local copy of its
files).
"""

from __future__ import annotations

import hashlib
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.errors import BenchError
from bench.evaluation.arena_scoring import arena_eer_percent, arena_score_lines
from bench.evaluation.asvspoof_scoring import asvspoof_eer
from bench.evaluation.dataset_results import load_dataset_result
from bench.evaluation.results import read_scores
from bench.fileio import read_text, write_atomic, write_json
from bench.outdir import claim_output

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SYSTEM_KEYS = ("name", "slug", "description", "code", "checkpoint", "paper")
PAPER_KEYS = ("arxiv_id", "url", "bibtex")
SUBMITTER_KEYS = ("hf_username", "contact")
MAX_SYSTEM_BYTES = 64 << 10


def _bench_version() -> str:
    try:
        return f"vc-challenge-bench=={version('vc-challenge-bench')}"
    except PackageNotFoundError:  # a checkout that was never installed
        return "vc-challenge-bench (not installed)"


def _system(path: Path) -> dict[str, Any]:
    """The ``--system`` file: ``system`` (name, slug, description, code, checkpoint, paper{arxiv_id, url,
    bibtex}), ``submitter`` (hf_username, contact) and optional ``notes``, checked before anything is written."""
    if not path.is_file():
        raise BenchError(f"{path}: no such --system file")
    if path.stat().st_size > MAX_SYSTEM_BYTES:
        raise BenchError(f"{path}: larger than {MAX_SYSTEM_BYTES // 1024} kB; a system description is a few lines")
    try:
        doc = yaml.safe_load(read_text(path, "the --system file"))
    except yaml.YAMLError as exc:
        raise BenchError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("system"), dict) or not isinstance(doc.get("submitter"),
                                                                                            dict):
        raise BenchError(f"{path}: needs a 'system' and a 'submitter' mapping (docs/datasets.md)")
    sysd, sub = doc["system"], doc["submitter"]
    for keys, d, where in ((SYSTEM_KEYS, sysd, "system"), (SUBMITTER_KEYS, sub, "submitter"),
                           (PAPER_KEYS, sysd.get("paper") if isinstance(sysd.get("paper"), dict) else {},
                            "system.paper")):
        missing = [k for k in keys if d.get(k) in (None, "")]
        if missing:
            raise BenchError(f"{path}: {where}.{missing[0]} is missing (the Arena's submission schema needs it)")
    if not _SLUG.match(str(sysd["slug"])):
        raise BenchError(f"{path}: system.slug {sysd['slug']!r} must be lower-case letters, digits and '-'")
    return doc


def export_arena(result_dir: str | Path, out: str | Path, dataset_id: str | None = None,
                 dataset_revision: str | None = None, system: str | Path | None = None,
                 scores_repo: str | None = None, scores_revision: str | None = None,
                 overwrite: bool = False) -> dict[str, Any]:
    """Write the Arena's files for one dataset result into ``out``; returns ``arena.json``'s content."""
    result_dir = Path(result_dir)
    result = load_dataset_result(result_dir)
    d = result.dataset
    dataset_id = dataset_id or (d["source"] if _REPO.match(str(d["source"])) and not Path(d["source"]).exists()
                                else None)
    if not dataset_id or not _REPO.match(dataset_id):
        raise BenchError("--dataset-id OWNER/NAME: the Arena dataset this result scored (it was read from a folder: "
                         "name the Hub repo it is a copy of)")
    revision = dataset_revision or (d["revision"] if dataset_id == d["source"] else None)
    if not revision or not _SHA.match(revision):
        raise BenchError("--dataset-revision: the commit (7-40 hex digits) of the Arena dataset the copy was taken "
                         "from; the Arena recomputes against that revision")
    if bool(scores_repo) != bool(scores_revision):
        raise BenchError("--scores-repo and --scores-revision go together (where scores.txt is uploaded)")
    if scores_repo and not _REPO.match(scores_repo):
        raise BenchError(f"--scores-repo {scores_repo!r} is not OWNER/NAME")
    if scores_revision and not _SHA.match(scores_revision):
        raise BenchError(f"--scores-revision {scores_revision!r} is not a commit (7-40 hex digits)")
    sysdoc = _system(Path(system)) if system else None
    rows = [r for r in read_scores(result_dir / "scores.parquet") if r["split"] == d["split"]]
    ids = [r["utterance_id"] for r in rows]
    if len(set(ids)) != len(ids) or any(not i or any(c.isspace() for c in i) for i in ids):
        raise BenchError(f"{result_dir}: utterance ids must be unique and without spaces to be an Arena score file")
    skipped = len([s for s in result.evaluation_scope.get("skipped_samples", []) if s.get("split") == d["split"]])
    claim_output(Path(out), "leaderboard export-arena", {"result": str(result_dir.resolve()), "dataset": dataset_id,
                                                          "revision": revision}, inputs=[result_dir],
                 overwrite=overwrite)
    out = Path(out)
    text = "".join(arena_score_lines([(r["utterance_id"], -float(r["score"])) for r in rows]))
    write_atomic(out / "scores.txt", text.encode())
    written = [line.split() for line in text.splitlines()]  # recompute from the file as written (6 decimals)
    label = {r["utterance_id"]: r["label"] for r in rows}
    bona = np.array([float(s) for u, s in written if label[u] == 0])
    spoof = np.array([float(s) for u, s in written if label[u] == 1])
    eer, thr = arena_eer_percent(bona, spoof)
    sha = hashlib.sha256(text.encode()).hexdigest()
    record = {"dataset": {"id": dataset_id, "revision": revision, "split": d["split"]},
              "scores": {"eer_percent": eer, "n_trials": len(rows) + skipped, "n_skipped": skipped},
              "threshold": thr, "scores_sha256": sha, "score_scale": "higher = more bona fide (minus bench's score)",
              "eer_procedure": "the Arena's (bench.evaluation.arena_scoring): interpolated at the first FAR-FRR "
                               "sign change, from scores.txt as written",
              "asvspoof_eer_percent": 100 * asvspoof_eer(bona, spoof)[0], "detector": result.detector.name,
              "model": result.detector.config.get("model"), "bench_version": _bench_version()}
    write_json(out / "arena.json", record)
    if sysdoc and scores_repo:
        org, name = dataset_id.split("/")
        sub = {"schema_version": 4, "system": sysdoc["system"],
               "dataset": {"id": dataset_id, "revision": revision, "split": d["split"]},
               "scores": record["scores"],
               "artifact": {"scores_url": f"https://huggingface.co/{scores_repo}/resolve/{scores_revision}/"
                                          f".eval_results/{org}/{name}/scores.txt",
                            "scores_sha256": sha, "bench_version": record["bench_version"]},
               "reproduction": {}, "submitter": sysdoc["submitter"], "submitted_at": result.created[:10],
               "notes": str(sysdoc.get("notes") or f"exported by bench from {result.detector.name} "
                                                   f"({record['model']})")}
        write_atomic(out / "submission.yaml", yaml.safe_dump(sub, sort_keys=False).encode())
    return record
