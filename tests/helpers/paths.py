"""Where the tests find the repository and the weights and papers that are not part of it."""

from __future__ import annotations

from pathlib import Path

#: the repository root (the folder holding ``bench/`` and ``tests/``)
REPO = Path(__file__).resolve().parents[2]
#: the tests folder (``tests/data`` holds committed inputs)
TESTS = REPO / "tests"
#: the read-only folder beside the repository with weights (``models/nisqa``) and papers; absent on CI
SHARED = REPO.parent / "shared"
