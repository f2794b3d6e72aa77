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
    from bench.runs.simulate_corpus import simulate_corpus

    out = tmp_path_factory.mktemp("sim") / "corpus"
    simulate_corpus(out, speakers=2, sentences=2, seed=0, workers=2)
    return out


def run_bench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``bench`` CLI in a subprocess; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=600)


@pytest.fixture(scope="session")
def evaluated(sim_corpus, tmp_path_factory):
    """world fakes + compliance classifiers + an uninterrupted pitch-lite evaluation of the 2-speaker corpus."""
    root = tmp_path_factory.mktemp("eval")
    assert run_bench("generate", "--corpus", str(sim_corpus), "--out", str(root / "fakes"),
                     "--workers", "2").returncode == 0
    res = run_bench("train", "compliance", "--corpus", str(sim_corpus), "--out", str(root / "compliance"),
                    "--epochs", "3", "--test-speakers", "1")
    assert res.returncode == 0, res.stderr
    res = run_bench(*evaluate_args(sim_corpus, root, root / "result"))
    assert res.returncode == 0, res.stderr
    return root, res


def evaluate_args(corpus: Path, root: Path, out: Path) -> list[str]:
    """The `bench evaluate` command line of the ``evaluated`` fixture, writing to ``out``."""
    return ["evaluate", "--detector", "pitch-lite", "--corpus", str(corpus), "--fakes", str(root / "fakes"),
            "--compliance", str(root / "compliance"), "--out", str(out), "--workers", "2", "--bootstrap", "200"]


@pytest.fixture(scope="session")
def zoo_inputs(tmp_path_factory):
    """4 speakers x 3 challenges x 2 sentences and their WORLD fakes: enough for train/val/test speakers."""
    from bench.runs.generate import generate
    from bench.runs.simulate_corpus import simulate_corpus

    root = tmp_path_factory.mktemp("zoo")
    simulate_corpus(root / "corpus", speakers=4, sentences=2, challenges=[0, 1, 3], seed=0, workers=2)
    generate(root / "corpus", root / "fakes", pairs_per_source=2, workers=2)
    return root


@pytest.fixture
def at_most_two_torch_threads():
    """At most 2 torch threads while a test runs (the machine is shared); restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def devox_model(zoo_inputs, tmp_path_factory):
    """devox-small@1 (2 seeds, 2 epochs) trained by the CLI on zoo_inputs in its own store; a call recording."""
    root = tmp_path_factory.mktemp("devox")
    env = {"BENCH_MODEL_STORE": str(root / "store")}
    res = run_bench("train", "--detector", "devox", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                    str(zoo_inputs / "fakes"), "--out", str(root / "m"), "--seeds", "0,1", "--set", "epochs=2",
                    env=env)
    assert res.returncode == 0, res.stderr
    from bench.audio import load_entry, write_wav
    from bench.data.corpus import open_dataset

    wav = root / "call.wav"
    write_wav(wav, load_entry(open_dataset(zoo_inputs / "corpus")[5]["audio"]))
    return root, env, wav
