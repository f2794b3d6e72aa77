"""Shared fixtures: a small simulated corpus (real espeak-ng + WORLD), made once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def sim_corpus(tmp_path_factory) -> Path:
    """2 speakers x 21 challenges x 2 sentences, desktop; the real simulator."""
    from bench.simcorpus import simulate_corpus

    out = tmp_path_factory.mktemp("sim") / "corpus"
    simulate_corpus(out, speakers=2, sentences=2, seed=0, workers=2)
    return out


def run_bench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``bench`` CLI in a subprocess; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=600)
