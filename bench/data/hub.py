"""Hugging Face Hub round trip for corpora and fakes datasets.

A Hub dataset repo written by bench holds ``data/train-*.parquet`` (the rows, audio
bytes embedded), ``bench.json`` (the manifest) and a ``README.md`` dataset card.
``pull`` resolves the repo through ``huggingface_hub.snapshot_download`` so a repo that
is in the local cache works offline (``HF_HUB_OFFLINE=1``); ``push`` uploads the same
folder that :func:`export_folder` writes locally.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, DatasetInfo

from bench.data.corpus import CORPUS_FEATURES, FAKE_FEATURES, MANIFEST, check_rows, open_dataset, read_manifest, save
from bench.data.taxonomy_version import recorded_version
from bench.errors import BenchError, NetworkError, first_line
from bench.fileio import read_json, write_atomic
from bench.outdir import claim_output
from bench.templating import template_file

SHARD_BYTES = 500 * 1024 * 1024

#: the dataset card's metadata (its YAML header on the Hub)
CARD_DATA: dict[str, Any] = {
    "license": "other", "task_categories": ["audio-classification"],
    "tags": ["deepfake-detection", "anti-spoofing", "voice-conversion", "challenge-response"],
    "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.parquet"}]}],
}


def export_folder(corpus_dir: str | Path, folder: str | Path, repo_hint: str = "REPO_ID",
                  overwrite: bool = False, claim: bool = True) -> Path:
    """Write ``corpus_dir`` in the Hub repo layout (parquet shards, manifest, card) to ``folder``.

    ``claim``: ``folder`` must be new, empty or an earlier export of the same corpus
    (unless ``overwrite``); False for bench's own temporary folders.
    """
    ds = open_dataset(corpus_dir)
    manifest = read_manifest(corpus_dir)
    folder = Path(folder)
    if claim:
        claim_output(folder, "data push --to-folder", {"content_hash": manifest.get("content_hash")},
                     inputs=[corpus_dir], overwrite=overwrite, flag="--to-folder")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shards = max(1, math.ceil(ds.data.nbytes / SHARD_BYTES))
    for i in range(shards):
        target = folder / "data" / f"train-{i:05d}-of-{shards:05d}.parquet"
        tmp = target.with_name(f".{target.name}.tmp")
        ds.shard(shards, i, contiguous=True).to_parquet(str(tmp))
        os.replace(tmp, target)
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    write_atomic(folder / "README.md", dataset_card(manifest, ds, Path(corpus_dir).name, repo_hint).encode())
    return folder


def dataset_card(manifest: dict[str, Any], ds: Dataset, default_name: str, repo_hint: str) -> str:
    """The README.md dataset card: templates/dataset_card.md.j2 through huggingface_hub's DatasetCard."""
    from huggingface_hub import DatasetCard, DatasetCardData

    with template_file("bench.data", "dataset_card.md.j2") as path:
        card = DatasetCard.from_template(
            DatasetCardData(**CARD_DATA), template_path=str(path), name=manifest.get("name", default_name),
            kind=manifest.get("kind", "corpus"), simulated=bool(manifest.get("simulated")), rows=len(ds),
            content_hash=manifest.get("content_hash", "?"), columns=", ".join(f"`{c}`" for c in ds.column_names),
            taxonomy_version=recorded_version(manifest), repo_hint=repo_hint)
    return str(card)


def _read_folder(folder: Path) -> tuple[Dataset, dict[str, Any]]:
    files = sorted((folder / "data").glob("*.parquet")) or sorted(folder.glob("*.parquet"))
    if not files:
        raise BenchError(f"{folder}: no parquet files (expected data/train-*.parquet)")
    try:
        table = pa.concat_tables([pq.read_table(f) for f in files])
    except (pa.ArrowException, OSError) as exc:
        raise BenchError(f"{folder}: unreadable parquet ({first_line(exc)})") from None
    features = FAKE_FEATURES if "generator" in table.column_names else CORPUS_FEATURES
    missing = [c for c in features if c not in table.column_names]
    if missing:
        raise BenchError(f"{folder}: parquet lacks the columns {', '.join(missing)}")
    try:
        table = table.select(list(features)).cast(features.arrow_schema)
    except (pa.ArrowException, ValueError) as exc:
        raise BenchError(f"{folder}: parquet columns do not have the corpus types ({first_line(exc)})") from None
    manifest_path = folder / MANIFEST
    manifest = read_json(manifest_path, "corpus manifest") if manifest_path.is_file() else {}
    ds = Dataset(table, info=DatasetInfo(features=features))
    check_rows(ds, str(folder))
    return ds, manifest


def check_repo_id(repo_id: str) -> None:
    """A one-line error for a string that cannot be a Hub repo id (before any network access)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise BenchError(f"{repo_id!r} is neither a local folder nor a valid Hub repo id (owner/name): "
                         f"{first_line(exc)}") from None
    if "/" not in repo_id:
        raise BenchError(f"{repo_id!r} is neither a local folder nor a Hub repo id of the form owner/name")


def pull(repo_id: str, out: str | Path, revision: str | None = None, overwrite: bool = False,
         check: Callable[[Dataset], None] | None = None) -> dict[str, Any]:
    """Fetch a dataset repo (or read a local folder in that layout) into a corpus at ``out``;
    ``check`` validates the rows (e.g. challenge ids against the taxonomy) before anything is written."""
    local = Path(repo_id)
    if local.is_dir():
        folder, source = local, {"source": str(local)}
        params: dict[str, Any] = {"source": str(local.resolve())}
    else:
        check_repo_id(repo_id)
        folder = _snapshot(repo_id, revision)
        source = {"source": f"hf://datasets/{repo_id}", "revision": revision or "main",
                  "snapshot": folder.name}
        params = {"source": repo_id, "revision": revision}
    ds, manifest = _read_folder(folder)
    if manifest and "taxonomy_version" not in manifest:
        manifest["taxonomy_version"] = recorded_version(manifest)  # pushed by bench 0.1: kept, refused on use
    if check is not None:
        check(ds)
    claim_output(out, "data pull", params, inputs=[local] if local.is_dir() else [], overwrite=overwrite)
    return save(ds, out, {**manifest, **source, "pulled_from": repo_id})


def _snapshot(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        path = snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                 allow_patterns=["data/*.parquet", "*.parquet", MANIFEST, "README.md"])
    except HFValidationError as exc:
        raise BenchError(f"{repo_id!r} is neither a local folder nor a valid Hub repo id ({exc})") from None
    except Exception as exc:  # connection, offline-cache miss, 401/404 ... all become one line
        raise unreachable("dataset", repo_id, revision, exc) from None
    return Path(path)


def unreachable(kind: str, repo_id: str, revision: str | None, exc: BaseException) -> NetworkError:
    """The one-line error for a Hub repo that could not be fetched (offline, not cached, 401/404...)."""
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    how = ("HF_HUB_OFFLINE is set and the repo is not in the local cache"
           if offline else "the Hub could not be reached and the repo is not in the local cache")
    return NetworkError(f"cannot get {kind} {repo_id}@{revision or 'main'}: {how} ({first_line(exc)}); check the "
                        "network and HF_TOKEN, or pull it once where the Hub is reachable")


def push(corpus_dir: str | Path, repo_id: str, revision: str | None = None, private: bool = False,
         token: str | None = None) -> str:
    """Upload ``corpus_dir`` to a Hub dataset repo; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token or os.environ.get("HF_TOKEN"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        check_repo_id(repo_id)
        export_folder(corpus_dir, tmp, repo_hint=repo_id, claim=False)
        try:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            if revision:
                api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
            info = api.upload_folder(folder_path=str(tmp), repo_id=repo_id, repo_type="dataset",
                                     revision=revision, commit_message="bench data push")
        except Exception as exc:
            reason = first_line(exc)
            raise NetworkError(f"cannot push to dataset repo {repo_id}: {reason}; check the network and "
                               "HF_TOKEN, or use --to-folder to write the repo layout locally") from None
        return str(getattr(info, "commit_url", info))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
