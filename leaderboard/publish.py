"""Publish a built leaderboard folder to a Hugging Face Hub dataset or Space repo."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bench.errors import BenchError, NetworkError, first_line
from bench.fileio import write_atomic
from bench.outdir import MARKER, claim_output


def push(folder: str | Path, repo_id: str | None = None, repo_type: str = "dataset",
         to_folder: str | Path | None = None, token: str | None = None, private: bool = False,
         overwrite: bool = False) -> str:
    """Upload ``folder`` (from `bench leaderboard build`) to ``repo_id``, or copy it to ``to_folder``
    (a new or empty folder, or an earlier copy of this command's, unless ``overwrite``)."""
    folder = Path(folder)
    if not (folder / "index.html").is_file() or not (folder / "leaderboard.json").is_file():
        raise BenchError(f"{folder}: not a leaderboard folder (build one with `bench leaderboard build`)")
    if repo_type not in ("dataset", "space"):
        raise BenchError(f"--repo-type must be dataset or space, got {repo_type!r}")
    if (repo_id is None) == (to_folder is None):
        raise BenchError("give exactly one of --repo-id or --to-folder")
    if to_folder is not None:
        dest = Path(to_folder)
        board = hashlib.sha256((folder / "leaderboard.json").read_bytes()).hexdigest()[:16]
        claim_output(dest, "leaderboard push --to-folder", {"repo_type": repo_type, "leaderboard": board},
                     inputs=[folder], overwrite=overwrite, flag="--to-folder")
        _copy_atomic(folder, dest)
        if repo_type == "space":
            _space_card(dest)
        return str(dest)
    from huggingface_hub import HfApi

    from bench.data.hub import check_repo_id

    check_repo_id(repo_id)
    api = HfApi(token=token or os.environ.get("HF_TOKEN"))
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True,
                        **({"space_sdk": "static"} if repo_type == "space" else {}))
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 commit_message="bench leaderboard push", ignore_patterns=[MARKER])
    except Exception as exc:
        reason = first_line(exc)
        raise NetworkError(f"cannot push leaderboard to {repo_type} repo {repo_id}: {reason}; check the network "
                           "and HF_TOKEN, or use --to-folder") from None
    return str(getattr(info, "commit_url", info))


def _copy_atomic(src: Path, dest: Path) -> None:
    """Copy every file of ``src`` (but its run marker) into ``dest``, each through a temporary file."""
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.name != MARKER:
            write_atomic(dest / path.relative_to(src), path.read_bytes())


def _space_card(dest: Path) -> None:
    readme = dest / "README.md"
    body = readme.read_text() if readme.is_file() else ""
    if not body.startswith("---"):
        write_atomic(readme, ("---\ntitle: bench leaderboard\nsdk: static\napp_file: index.html\n---\n"
                              + body).encode())
