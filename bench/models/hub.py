"""Detector models on the Hugging Face Hub: a stored model as a model repo, and back into the store.

A model repo written by bench holds the model folder as the store keeps it (``model.json``, the
model card of :mod:`bench.models.store`, and the files it lists with their SHA-256) plus a
``README.md`` Hub model card generated from it. ``pull_model`` resolves the repo through
``huggingface_hub.snapshot_download`` (so a repo in the local Hub cache works offline with
``HF_HUB_OFFLINE=1``), checks every file against the card's checksums, and adds it to the
local store as the next version of its name, recording where it came from.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.data.hub import check_repo_id, unreachable
from bench.errors import BenchError, NetworkError, first_line
from bench.fileio import confined, write_atomic
from bench.models.store import CARD_FILE, ModelEntry, add, read_card, resolve, write_card
from bench.outdir import claim_output
from bench.templating import template_file

#: the model card's metadata (its YAML header on the Hub); the detector's name is added to the tags
CARD_DATA: dict[str, Any] = {"license": "other", "library_name": "bench",
                             "tags": ["anti-spoofing", "deepfake-detection", "voice-conversion"]}


def export_model(ref: str, folder: str | Path, repo_hint: str = "OWNER/NAME", overwrite: bool = False,
                 claim: bool = True) -> Path:
    """Write model ``ref`` in the Hub repo layout (its files, ``model.json``, a README model card) to ``folder``."""
    entry = resolve(ref)
    if entry.card.source == "packaged":
        raise BenchError(f"{entry.card.ref} is a packaged model (its weights ship in a Python package); push the "
                         "models bench trained")
    entry.verify()
    folder = Path(folder)
    if claim:
        claim_output(folder, "models push --to-folder", {"model": entry.card.ref, "files": entry.card.files},
                     inputs=[entry.folder], overwrite=overwrite, flag="--to-folder")
    for rel in entry.card.files:
        write_atomic(confined(folder, rel, f"model {entry.card.ref}"), entry.path(rel).read_bytes())
    write_card(folder, entry.card)
    write_atomic(folder / "README.md", model_card(entry, repo_hint).encode())
    return folder


def model_card(entry: ModelEntry, repo_hint: str) -> str:
    """The README.md model card: templates/model_card.md.j2 through huggingface_hub's ModelCard."""
    from huggingface_hub import ModelCard, ModelCardData

    c = entry.card
    test = c.metrics.get("test_summary") or {}
    auroc = f"{100 * test['auroc_mean']:.1f} %" if test.get("auroc_mean") is not None else "not measured"
    data = ModelCardData(**{**CARD_DATA, "tags": [*CARD_DATA["tags"], c.detector]})
    with template_file("bench.models", "model_card.md.j2") as path:
        card = ModelCard.from_template(
            data, template_path=str(path), detector=c.detector, name=c.name, model_license=c.license,
            trained_on=c.trained_on or "unknown", architecture=c.architecture or "-", n_params=c.n_params or "?",
            seeds=",".join(map(str, c.seeds)), input=c.input or "-", score=(c.semantics or {}).get("scale", "-"),
            auroc=auroc, reference=c.reference or "-", repo_hint=repo_hint)
    return str(card)


def push_model(ref: str, repo_id: str, revision: str | None = None, private: bool = False,
               token: str | None = None) -> str:
    """Upload model ``ref`` to a Hub model repo; returns the commit URL."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    tmp = Path(tempfile.mkdtemp(prefix="bench-model-push-"))
    try:
        export_model(ref, tmp, repo_hint=repo_id, claim=False)
        api = HfApi(token=token or os.environ.get("HF_TOKEN"))
        try:
            api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
            if revision:
                api.create_branch(repo_id, repo_type="model", branch=revision, exist_ok=True)
            info = api.upload_folder(folder_path=str(tmp), repo_id=repo_id, repo_type="model", revision=revision,
                                     commit_message=f"bench models push {ref}")
        except Exception as exc:
            raise NetworkError(f"cannot push to model repo {repo_id}: {first_line(exc)}; check the network and "
                               "HF_TOKEN, or use --to-folder to write the repo layout locally") from None
        return str(getattr(info, "commit_url", info))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pull_model(source: str, revision: str | None = None) -> ModelEntry:
    """Add the model in a Hub model repo (or a local folder in that layout) to the store; checksums checked first."""
    local = Path(source)
    if local.is_dir():
        folder, origin, within = local, str(local.resolve()), None
    else:
        check_repo_id(source)
        folder = _snapshot(source, revision)
        origin = f"hf://{source}@{revision or 'main'} (snapshot {folder.name})"
        within = folder.parent.parent  # <cache>/models--OWNER--NAME: its snapshot files link to its blobs/
    if not (folder / CARD_FILE).is_file():
        raise BenchError(f"{source}: no {CARD_FILE} (not a model repo written by bench models push)")
    card = read_card(folder, within)
    ModelEntry(folder, card, within).verify()
    card = card.model_copy(update={"source": "pulled", "version": "",
                                   "training": {**card.training, "pulled_from": origin,
                                                "version_there": card.version}})
    return add(folder, card, within)


def _snapshot(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, repo_type="model", revision=revision))
    except Exception as exc:  # connection, offline-cache miss, 401/404 ... all become one line
        raise unreachable("model", repo_id, revision, exc) from None


def describe_pull(entry: ModelEntry) -> dict[str, Any]:
    """What ``bench models pull`` prints."""
    return {"model": entry.card.ref, "detector": entry.card.detector, "folder": str(entry.folder),
            "pulled_from": entry.card.training.get("pulled_from")}
